import { readFileSync } from 'node:fs';
import { CliError } from './client.ts';

/** Everything on stdin, without the one trailing newline `echo` or a heredoc adds. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** A file's text, or stdin's for `-`; one that cannot be read is a usage error naming `flag`. */
export async function readFileOrStdin(file: string, flag: string, example: string): Promise<string> {
  if (file === '-') return readStdin();
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, 'ERR_VALIDATION', flag, example, 2);
  }
}
