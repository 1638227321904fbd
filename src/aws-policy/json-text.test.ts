import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsonSyntaxError, parseJsonText } from './json-text.ts';

describe('parseJsonText', () => {
  const refused: { name: string; text: string; message: RegExp; path?: (string | number)[] }[] = [
    { name: 'a comment (JSON has none)', text: '{"a": 1 /* no */}', message: /comments are not JSON at line 1, column 9/ },
    { name: 'a trailing comma in an object', text: '{"a": {"b": 1,}}', message: /expected a key in double quotes at line 1, column 15/, path: ['a'] },
    { name: 'a trailing comma in an array', text: '{"a": [1,]}', message: /where a value was expected/ },
    { name: 'a single-quoted string', text: "{'a': 1}", message: /unexpected character "'"/ },
    { name: 'a missing colon', text: '{"a" 1}', message: /expected ":" after the key "a"/ },
    { name: 'an unclosed object', text: '{"a": {"b": 1}', message: /expected "," or "}" after the value of "a"/ },
    { name: 'a control character in a string', text: '{"a": "x\ty"}', message: /unescaped control character/ },
    { name: 'a bad escape', text: '{"a": "\\q"}', message: /bad escape/ },
    { name: 'text after the document', text: '{} {}', message: /unexpected text after the end of the document at line 1, column 4/ },
    { name: 'nothing at all', text: '', message: /unexpected end of text/ },
    { name: 'nesting deeper than any policy', text: '['.repeat(10_000), message: /nested too deeply/ },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => {
      assert.throws(
        () => parseJsonText(c.text),
        (err: unknown) => {
          assert.ok(err instanceof JsonSyntaxError, String(err));
          assert.match(err.message, c.message);
          if (c.path) assert.deepEqual(err.path, c.path);
          return true;
        },
      );
    });
  }

  it('reports every repeated key with all its values, where it sits', () => {
    const r = parseJsonText('{"S": [{"C": {"k": 1, "k": 2, "k": 3}}], "S": 0}');
    assert.deepEqual(
      r.duplicates.map((d) => ({ path: d.path, key: d.key, values: d.values })),
      [
        { path: ['S', 0, 'C'], key: 'k', values: [1, 2, 3] },
        { path: [], key: 'S', values: [[{ C: { k: 3 } }], 0] },
      ],
    );
  });

  it('reads what JSON.parse reads, a byte-order mark and "__proto__" keys included', () => {
    const text = '\ufeff {"a": [1, -2.5e3, true, null, "\\u00e9\\n"], "__proto__": {"x": 1}} ';
    const r = parseJsonText(text);
    assert.deepEqual(r.duplicates, []);
    assert.deepEqual(JSON.stringify(r.value), JSON.stringify(JSON.parse(text.slice(1))));
    assert.equal(Object.getPrototypeOf(r.value), Object.prototype);
    assert.deepEqual(Object.keys(r.value as object), ['a', '__proto__']);
  });
});
