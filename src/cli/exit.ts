/**
 * How a command action hands its exit status to main: `airlock exec` exits with its child's code,
 * which is not an error and must not go through the error path.
 */
let code: number | undefined;
let now = false;

/** Sets the status `run` returns; with `exitNow`, main exits as soon as the command returns. */
export function setExitCode(value: number, o: { exitNow?: boolean } = {}): void {
  code = value;
  now = o.exitNow ?? false;
}

/** The status a command set (once; cleared for the next run in the same process). */
export function takeExitCode(): number | undefined {
  const c = code;
  code = undefined;
  return c;
}

export function exitRequested(): boolean {
  return now;
}
