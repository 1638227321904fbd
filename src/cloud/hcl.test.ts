import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from '@cdktf/hcl2json';
import {
  hclAttribute,
  hclBlock,
  hclComment,
  hclIdentifier,
  hclJsonencode,
  hclReference,
  hclString,
  hclValue,
  isHclIdentifier,
  renderHcl,
  type HclInput,
} from './hcl.ts';
import { tfJsonString, tfJsonValue } from '../../test/helpers/terraform.ts';

async function parseValue(value: HclInput): Promise<unknown> {
  const text = renderHcl([hclAttribute('v', value)]);
  const parsed = await parse('test.tf', text);
  return tfJsonValue(parsed.v);
}

const HOSTILE: { name: string; value: string }[] = [
  { name: 'interpolation', value: '${file("/etc/passwd")}' },
  { name: 'escaped interpolation as input', value: '$${not.a.ref}' },
  { name: 'triple dollar', value: '$$${var.x}' },
  { name: 'directive', value: '%{ if true }yes%{ endif }' },
  { name: 'escaped directive as input', value: '%%{x}' },
  { name: 'quote ends the string', value: 'a" \n evil = "b' },
  { name: 'backslashes', value: 'C:\\path\\to\\"x\\' },
  { name: 'trailing backslash', value: 'x\\' },
  { name: 'newlines and tabs', value: 'line1\nline2\r\nline3\tend' },
  { name: 'control characters', value: '\u0000\u0001\u001b[31m\u007f' },
  { name: 'unicode separators', value: 'a\u2028b\u2029c' },
  { name: 'heredoc opener', value: '<<EOT\nhello\nEOT' },
  { name: 'comment openers', value: '# not a comment // nor /* this */' },
  { name: 'lone sigils', value: '$ % $% %$ ${ %{ } $' },
  { name: 'non-ASCII', value: 'Zürich 東京 😀' },
  { name: 'empty', value: '' },
];

describe('hclString', () => {
  for (const { name, value } of HOSTILE) {
    it(`round-trips through a real HCL parser: ${name}`, async () => {
      assert.equal(await parseValue(value), value);
    });
  }

  it('round-trips 300 random strings over an alphabet of HCL metacharacters', async () => {
    // A fixed LCG so the run is reproducible.
    let seed = 0x2f6b3a1d;
    const rand = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    const alphabet = ['$', '%', '{', '}', '"', '\\', '\n', '\r', '\t', 'a', ' ', '#', '/', '*', '<', '=', '\u2028', 'é', '\u0007'];
    const values: string[] = [];
    for (let i = 0; i < 300; i++) {
      const len = Math.floor(rand() * 12);
      let s = '';
      for (let j = 0; j < len; j++) s += alphabet[Math.floor(rand() * alphabet.length)];
      values.push(s);
    }
    // One file with 300 attributes: one parse, and any escape that leaks breaks the whole file.
    const body = values.map((v, i) => hclAttribute(`v${i}`, v));
    const parsed = (await parse('fuzz.tf', renderHcl(body))) as Record<string, unknown>;
    values.forEach((v, i) => assert.equal(tfJsonString(parsed[`v${i}`] as string), v, `value ${JSON.stringify(v)}`));
  });

  it('writes the escapes the HCL spec defines', () => {
    assert.equal(hclString('${a}'), '"$${a}"');
    assert.equal(hclString('%{a}'), '"%%{a}"');
    assert.equal(hclString('a"b\\c\nd'), '"a\\"b\\\\c\\nd"');
    assert.equal(hclString('\u0001'), '"\\u0001"');
    assert.equal(hclString('$x %y'), '"$x %y"');
  });

  it('refuses a lone surrogate, which has no UTF-8 form', () => {
    assert.throws(() => hclString('a\uD800b'), /lone surrogate/);
    assert.equal(hclString('😀'), '"😀"');
  });
});

describe('hclValue and jsonencode', () => {
  it('object keys that are not identifiers are quoted and escaped; the structure round-trips', async () => {
    const value = {
      Version: '2012-10-17',
      'issuer.example.com/clusters/x:sub': ['a', 'b'],
      '${evil}': { '"quoted"': 'x', 'new\nline': '%{y}' },
      null: 'keyword as key',
      true: false,
      n: 42,
      f: 1.5,
      neg: -3,
      nothing: null,
      empty: {},
      list: [],
      nested: [{ a: 1 }, [2, 3], 'four'],
    };
    assert.deepEqual(await parseValue(value), value);
  });

  it('jsonencode content can be parsed back to the same object', async () => {
    const doc = { Statement: [{ Condition: { StringEquals: { 'h/p:aud': 'sts.amazonaws.com', 'h/p:sub': ['s1', 's2'] } } }] };
    const text = renderHcl([hclBlock('locals', [], [hclAttribute('policy', hclJsonencode(doc))])]);
    const parsed = (await parse('main.tf', text)) as { locals: Record<string, string>[] };
    const expr = parsed.locals[0]!.policy!;
    const m = /^\$\{jsonencode\(([\s\S]*)\)\}$/.exec(expr);
    assert.ok(m, `unexpected expression ${expr}`);
    const again = await parse('inner.tf', `v = ${m[1]}\n`);
    assert.deepEqual(tfJsonValue(again.v), doc);
  });

  it('long tuples of scalars go one per line with trailing commas; short ones stay inline', () => {
    assert.equal(hclValue(['a', 'b']), '["a", "b"]');
    const long = Array.from({ length: 8 }, (_, i) => `system:serviceaccount:ns:sa-${i}`);
    const text = hclValue(long);
    assert.ok(text.startsWith('[\n  "system'));
    assert.ok(text.endsWith(',\n]'));
  });

  it('data shaped like an expression is rendered as escaped data, never verbatim', async () => {
    const forged = { kind: 'expression', text: '${file("/etc/passwd")}' };
    assert.deepEqual(await parseValue({ policy: forged }), { policy: forged });
    assert.equal(hclValue(hclReference('var', 'x')), 'var.x');
  });

  it('refuses values HCL cannot hold', () => {
    assert.throws(() => hclValue(Number.NaN), /cannot be written/);
    assert.throws(() => hclValue(Number.POSITIVE_INFINITY), /cannot be written/);
    assert.throws(() => hclValue({ a: undefined } as unknown as HclInput), /no value/);
  });
});

describe('identifiers, references, blocks and comments', () => {
  it('hclIdentifier always yields a valid identifier', () => {
    for (const s of ['etl-7f3k2q9x', '7abc', '', '___', 'a.b/c', '${x}', 'dag-processor', 'Ünïcode']) {
      const id = hclIdentifier(s);
      assert.ok(isHclIdentifier(id), `${JSON.stringify(s)} -> ${id}`);
    }
    assert.equal(hclIdentifier('etl-7f3k2q9x dag-processor'), 'etl_7f3k2q9x_dag_processor');
    assert.equal(hclIdentifier('7abc'), 'r_7abc');
  });

  it('references and block parts accept identifiers only', () => {
    assert.equal(hclReference('var', 'customer_role_name').text, 'var.customer_role_name');
    assert.throws(() => hclReference('var', 'x}${y'), /not an identifier/);
    assert.throws(() => hclBlock('resource', ['aws_iam_role', 'a"b'], []), /not an identifier/);
    assert.throws(() => hclBlock('bad type', [], []), /block type/);
    assert.throws(() => hclAttribute('a b', 1), /attribute name/);
  });

  it('a comment cannot end early and smuggle configuration in', async () => {
    const text = renderHcl([
      hclComment('role: evil\nx = "injected"\r y = 1\u2028z = 2'),
      hclBlock('locals', [], [hclAttribute('a', 1)]),
    ]);
    const parsed = (await parse('main.tf', text)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['locals']);
    assert.deepEqual(parsed.locals, [{ a: 1 }]);
  });

  it('renders a document terraform fmt would leave alone (aligned =, blank line between blocks)', () => {
    const text = renderHcl([
      hclBlock('resource', ['aws_iam_openid_connect_provider', 'airlock'], [
        hclAttribute('url', 'https://issuer.example.com/clusters/cl_1'),
        hclAttribute('client_id_list', ['sts.amazonaws.com']),
      ]),
      hclBlock('variable', ['name'], [hclAttribute('type', hclReference('string'))]),
    ]);
    assert.equal(
      text,
      [
        'resource "aws_iam_openid_connect_provider" "airlock" {',
        '  url            = "https://issuer.example.com/clusters/cl_1"',
        '  client_id_list = ["sts.amazonaws.com"]',
        '}',
        '',
        'variable "name" {',
        '  type = string',
        '}',
        '',
      ].join('\n'),
    );
  });
});
