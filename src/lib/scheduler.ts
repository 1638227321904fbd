/**
 * Deferred work, injected beside the {@link Clock} so tests can move time forward and run what
 * became due without sleeping. Production code uses {@link systemScheduler} (timers).
 */
import { createManualClock, type ManualClock } from './clock.ts';

/** Cancels a scheduled task; calling it after the task ran does nothing. */
export type Cancel = () => void;

/** What a scheduled task may return: a promise makes a manual scheduler wait for it. */
export type Task = () => void | Promise<void>;

export interface Scheduler {
  /** Runs `task` once, `delayMs` from now (0 when negative). */
  schedule(delayMs: number, task: Task): Cancel;
}

/** Real timers. A task's rejection is its own business: tasks must handle their errors. */
export const systemScheduler: Scheduler = {
  schedule(delayMs, task) {
    // setTimeout caps delays at 2^31-1 ms (~24.8 days); longer ones would fire at once.
    const t = setTimeout(() => void task(), Math.min(Math.max(0, delayMs), 2 ** 31 - 1));
    return () => clearTimeout(t);
  },
};

/** A scheduler that runs tasks only when told to, on a manual clock; for tests. */
export interface ManualScheduler extends Scheduler {
  readonly clock: ManualClock;
  /** How many tasks are waiting. */
  pending(): number;
  /** When the earliest waiting task is due (epoch ms), if any. */
  nextDue(): number | undefined;
  /**
   * Moves the clock forward by `ms`, running every task that falls due on the way, each at its own
   * due time and in order (a task scheduled by a task runs too if it falls inside the window).
   * Waits for each task's promise before the next.
   */
  advance(ms: number): Promise<void>;
  /** Moves the clock to the earliest waiting task's due time and runs it; false when none waits. */
  runNext(): Promise<boolean>;
}

export function createManualScheduler(clock: ManualClock = createManualClock()): ManualScheduler {
  let seq = 0;
  const tasks = new Map<number, { due: number; seq: number; task: Task }>();
  const earliest = () => {
    let best: [number, { due: number; seq: number; task: Task }] | undefined;
    for (const e of tasks) if (!best || e[1].due < best[1].due || (e[1].due === best[1].due && e[1].seq < best[1].seq)) best = e;
    return best;
  };
  const runOne = async (id: number, task: Task) => {
    tasks.delete(id);
    await task();
  };
  return {
    clock,
    schedule(delayMs, task) {
      const id = ++seq;
      tasks.set(id, { due: clock.now() + Math.max(0, delayMs), seq: id, task });
      return () => void tasks.delete(id);
    },
    pending: () => tasks.size,
    nextDue: () => earliest()?.[1].due,
    async advance(ms) {
      const target = clock.now() + ms;
      for (;;) {
        const next = earliest();
        if (!next || next[1].due > target) break;
        if (next[1].due > clock.now()) clock.set(next[1].due);
        await runOne(next[0], next[1].task);
      }
      clock.set(Math.max(clock.now(), target));
    },
    async runNext() {
      const next = earliest();
      if (!next) return false;
      if (next[1].due > clock.now()) clock.set(next[1].due);
      await runOne(next[0], next[1].task);
      return true;
    },
  };
}
