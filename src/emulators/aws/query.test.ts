import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AwsError } from './errors.ts';
import { checkString, intParam, parseQueryForm } from './query.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof AwsError);
    return err.code;
  }
}

describe('query-protocol form parsing', () => {
  it('collects Name.member.N lists in index order, whatever the parameter order, with gaps', () => {
    const p = parseQueryForm('ClientIDList.member.10=ten&Action=CreateOpenIDConnectProvider&ClientIDList.member.2=two&ClientIDList.member.1=sts.amazonaws.com&Url=https%3A%2F%2Fexample.com');
    assert.deepEqual(p.list('ClientIDList'), ['sts.amazonaws.com', 'two', 'ten']);
    assert.equal(p.get('Url'), 'https://example.com');
    assert.deepEqual(p.list('ThumbprintList'), []);
  });

  it('does not treat .member.0 or non-numeric indexes as list members', () => {
    const p = parseQueryForm('L.member.0=a&L.member.x=b&L.member.1=c');
    assert.deepEqual(p.list('L'), ['c']);
  });

  it('decodes + as space and percent-escapes as UTF-8, and keeps the first of repeated names', () => {
    const p = parseQueryForm('A=a+b%2Bc&B=%C3%BC&A=second');
    assert.equal(p.get('A'), 'a b+c');
    assert.equal(p.get('B'), 'ü');
  });

  it('reports a missing or empty required parameter as MissingParameter', () => {
    const p = parseQueryForm('RoleName=');
    assert.equal(codeOf(() => p.require('RoleName')), 'MissingParameter');
    assert.equal(codeOf(() => p.require('Other')), 'MissingParameter');
  });

  const ints: { raw: string; expect: number | string | undefined }[] = [
    { raw: '', expect: undefined },
    { raw: 'D=900', expect: 900 },
    { raw: 'D=43200', expect: 43200 },
    { raw: 'D=899', expect: 'ValidationError' },
    { raw: 'D=43201', expect: 'ValidationError' },
    { raw: 'D=1e3', expect: 'ValidationError' },
    { raw: 'D=12.5', expect: 'ValidationError' },
  ];
  for (const c of ints) {
    it(`DurationSeconds ${JSON.stringify(c.raw)} → ${String(c.expect)}`, () => {
      const p = parseQueryForm(c.raw);
      if (typeof c.expect === 'string') assert.equal(codeOf(() => intParam(p, 'D', 900, 43200)), c.expect);
      else assert.equal(intParam(p, 'D', 900, 43200), c.expect);
    });
  }

  it('checks string length and pattern with AWS ValidationError wording', () => {
    const rule = { min: 2, max: 64, pattern: /^[\w+=,.@-]*$/, patternText: '[\\w+=,.@-]*' };
    assert.equal(checkString('RoleSessionName', 'etl-run.1@x', rule), 'etl-run.1@x');
    assert.throws(() => checkString('RoleSessionName', 'a b', rule), /at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern/);
    assert.equal(codeOf(() => checkString('RoleSessionName', 'a', rule)), 'ValidationError');
    assert.equal(codeOf(() => checkString('RoleSessionName', 'a'.repeat(65), rule)), 'ValidationError');
  });
});
