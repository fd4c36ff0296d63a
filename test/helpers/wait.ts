/**
 * Waiting in the tests, with a scaled guard (test/helpers/time.ts), and undoing what a test set up:
 *
 *   const cleanup = cleanupAfterEach();                 // in a describe: steps run after each test, last first
 *   await pollUntil('open', () => log.includes('open')); // polled every 5 ms
 *   readonly #wakeups = new Wakeups();                   // in a fake server: wake() on every event it sees,
 *   await this.#wakeups.until('the hello', () => ...);   // and until() re-checks then (and every 20 ms)
 */
import { afterEach } from 'node:test';
import { scaled } from './time.js';

/** The guard of a wait when the caller names none. */
const GUARD_MS = 10_000;

/** Wait until `ready()` holds, polling every 5 ms; fails after scaled(10 s) with `what` (and `detail()`, when given). */
export async function pollUntil(what: string, ready: () => boolean, detail?: () => unknown): Promise<void> {
  const deadline = Date.now() + scaled(GUARD_MS);
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${detail === undefined ? '' : `: ${JSON.stringify(detail())}`}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits woken by the events of whatever holds it (`wake()`), re-checked every 20 ms too. */
export class Wakeups {
  readonly #waiters: Array<() => void> = [];

  /** Something happened: every `until` checks its condition again. */
  wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Wait until `ready()` holds; fails after `guardMs` (default scaled(10 s)) with `what`. */
  async until(what: string, ready: () => boolean, guardMs = scaled(GUARD_MS)): Promise<void> {
    const deadline = Date.now() + guardMs;
    while (!ready()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 20);
      });
    }
  }
}

/** A list of steps that the calling suite runs after each test, the last pushed first (each awaited). */
export function cleanupAfterEach(): Array<() => unknown> {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });
  return cleanup;
}
