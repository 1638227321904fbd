/**
 * POSIX shell quoting for the commands setup prints.
 *
 * Every value that reaches a command goes through {@link quoteWord}, so a value can never end
 * its word, start a command substitution or expand a variable, whatever characters it holds.
 * The one deliberate exception is a placeholder: `${NAME}` is emitted inside double quotes so the
 * shell expands it, which lets a user run `NAME=…` once (setup prints the lookup command) and paste
 * the remaining commands unchanged. Placeholder names are fixed upper-case identifiers chosen by
 * Airlock, never user input.
 *
 * Shared by every cloud's setup generator.
 */

/** A shell variable reference inside a word, rendered as `${name}`. */
export interface ShellVar {
  readonly variable: string;
}

/** One shell word: literal text, or literal text mixed with variable references. */
export type Word = string | readonly (string | ShellVar)[];

const VAR_NAME = /^[A-Z_][A-Z0-9_]*$/;
/** Characters that need no quoting at all. */
const BARE = /^[A-Za-z0-9_@%+=:,./-]+$/;
/**
 * Characters that keep their special meaning inside double quotes (`$`, backquote, backslash,
 * `"`), plus `!` (history expansion in interactive bash) and control characters.
 */
// eslint-disable-next-line no-control-regex -- control characters cannot sit in a double-quoted shell string
const NOT_DOUBLE_QUOTABLE = /[$`\\"!\u0000-\u001f\u007f]/;

/** A variable reference for use inside a {@link Word}. */
export function shellVar(name: string): ShellVar {
  if (!VAR_NAME.test(name)) throw new TypeError(`not a shell variable name: ${name}`);
  return { variable: name };
}

function quoteLiteral(s: string): string {
  if (s === '') return "''";
  if (BARE.test(s)) return s;
  if (!NOT_DOUBLE_QUOTABLE.test(s)) return `"${s}"`;
  // Inside single quotes nothing is special; a single quote itself is closed, escaped and reopened.
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function quoteParts(parts: readonly (string | ShellVar)[]): string {
  const ps = parts.filter((p) => p !== '');
  if (ps.length === 0) return "''";
  if (ps.length === 1 && typeof ps[0] === 'string') return quoteLiteral(ps[0]);
  if (ps.every((p) => typeof p !== 'string' || !NOT_DOUBLE_QUOTABLE.test(p))) {
    return `"${ps.map((p) => (typeof p === 'string' ? p : `\${${p.variable}}`)).join('')}"`;
  }
  // Adjacent quoted segments form one word: 'lit'"${VAR}"'lit'.
  return ps.map((p) => (typeof p === 'string' ? quoteLiteral(p) : `"\${${p.variable}}"`)).join('');
}

const FLAG_PREFIX = /^--[A-Za-z0-9][A-Za-z0-9-]*=/;

/**
 * Quotes one word so the shell passes it to the program exactly as given. A `--flag=` prefix stays
 * outside the quotes (`--display-name="Airlock prod"`), which is the same word to the shell.
 */
export function quoteWord(word: Word): string {
  const parts = typeof word === 'string' ? [word] : [...word];
  const head = parts[0];
  if (typeof head === 'string') {
    const flag = FLAG_PREFIX.exec(head)?.[0];
    if (flag) {
      const rest = [head.slice(flag.length), ...parts.slice(1)];
      if (rest.every((p) => p === '')) return flag;
      return flag + quoteParts(rest);
    }
  }
  return quoteParts(parts);
}

/**
 * Renders a command. Words before the first `--flag` stay on the first line; with `multiline`,
 * each flag goes on its own continuation line, which is still one command to the shell.
 */
export function renderCommand(words: readonly Word[], options: { multiline?: boolean } = {}): string {
  const quoted = words.map(quoteWord);
  if (!options.multiline) return quoted.join(' ');
  const firstFlag = words.findIndex((w) => {
    const head = typeof w === 'string' ? w : w[0];
    return typeof head === 'string' && head.startsWith('--');
  });
  if (firstFlag <= 0) return quoted.join(' ');
  return [quoted.slice(0, firstFlag).join(' '), ...quoted.slice(firstFlag)].join(' \\\n    ');
}

/**
 * One argument, quoted the simple way: a whole-word placeholder (`${NAME}`) is double-quoted so an
 * exported variable fills it, a plain word stays bare, anything else is single-quoted.
 */
export function shellArg(value: string): string {
  if (/^\$\{[A-Z][A-Z0-9_]*\}$/.test(value)) return `"${value}"`;
  if (BARE.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
