// Reads .env text as `airlock deployment variable create --load` does (src/variables/rules.ts,
// parseDotenv: blank lines and # comments skipped, an optional `export `, single quotes literal,
// double quotes with \n \r \" \\ escapes). That module cannot be bundled for the browser (it pulls
// in the connection codec, which uses node:net), so the same rules are restated here; the API
// checks every key and value again. Errors name the line, never the value (it may be a secret).

export interface DotenvEntry {
  key: string;
  value: string;
}

export function parseDotenv(text: string): DotenvEntry[] {
  const out: DotenvEntry[] = [];
  const seen = new Map<string, number>();
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const n = i + 1;
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const body = line.startsWith('export ') ? line.slice(7).trimStart() : line;
      const at = body.indexOf('=');
      if (at < 0) throw new Error(`line ${n} is not KEY=VALUE`);
      const key = body.slice(0, at).trim();
      let value = body.slice(at + 1).trim();
      if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) value = value.slice(1, -1);
      else if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\\([\\"nr])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`line ${n}: "${key.slice(0, 60)}" is not a variable name (letters, digits and _, not starting with a digit)`);
      if (value === '') throw new Error(`line ${n}: ${key} has an empty value`);
      const first = seen.get(key);
      if (first !== undefined) throw new Error(`${key} is set twice (lines ${first} and ${n}); keep one`);
      seen.set(key, n);
      out.push({ key, value });
    });
  return out;
}
