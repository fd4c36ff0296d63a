/**
 * One timer for many deadlines: the connections' lifetimes (`maxLifetime`) and the ends of their
 * rate-limit pauses. A binary min-heap of entries ordered by deadline, and a single `setTimeout`
 * armed for the earliest (re-armed only when an earlier deadline arrives, unref'd: it never keeps
 * the process alive). Entries know their place in the heap, so removing one (its connection closed)
 * is O(log n) and leaves nothing behind: memory is bounded by the entries scheduled.
 */

/** A scheduled deadline. Reuse one per owner (a connection): `schedule` moves it if it is queued. */
export interface Deadline {
  /** When it is due (ms, on the queue's clock). */
  at: number;
  /** Place in the heap; -1 when not scheduled. */
  index: number;
  /** Called once when due (after being taken out of the queue). */
  fire(): void;
}

export type Clock = () => number;

/** `performance.now()`: monotonic, in ms. */
export const monotonic: Clock = () => performance.now();

let turnNow = -1;
function newTurn(): void {
  turnNow = -1;
}

/**
 * `performance.now()` read once per turn of the event loop (reset in its check phase): the messages
 * of a turn arrive at the same instant as far as a rate is concerned, and reading the clock costs
 * more than the rest of the per-message accounting. The time it gives lags the real one by at most a
 * turn, so a bucket refills that much later (never more than it should).
 */
export const turnClock: Clock = () => {
  if (turnNow < 0) {
    turnNow = performance.now();
    setImmediate(newTurn);
  }
  return turnNow;
};

export class DeadlineQueue {
  private readonly heap: Deadline[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The deadline the timer is armed for (Infinity when none). */
  private armedAt = Infinity;
  private readonly now: Clock;
  private readonly onTimer = (): void => this.run();

  constructor(now: Clock = monotonic) {
    this.now = now;
  }

  get size(): number {
    return this.heap.length;
  }

  /** Schedule `entry` at `at` (moved if it was already scheduled). */
  schedule(entry: Deadline, at: number): void {
    if (entry.index !== -1) this.remove(entry);
    entry.at = at;
    entry.index = this.heap.length;
    this.heap.push(entry);
    this.up(entry.index);
    if (at < this.armedAt) this.arm();
  }

  /** Take `entry` out (nothing if it is not scheduled). The timer stays as it is: a spurious wake-up is cheap. */
  remove(entry: Deadline): void {
    const index = entry.index;
    if (index === -1) return;
    entry.index = -1;
    const last = this.heap.pop()!;
    if (last === entry) return;
    this.heap[index] = last;
    last.index = index;
    this.down(index);
    this.up(last.index);
  }

  /** Fire everything due, then arm the timer for what is left. */
  private run(): void {
    this.timer = null;
    this.armedAt = Infinity;
    const now = this.now();
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.at <= now) {
      const entry = heap[0]!;
      this.remove(entry);
      entry.fire();
    }
    if (heap.length > 0 && this.timer === null) this.arm();
  }

  private arm(): void {
    const first = this.heap[0];
    if (first === undefined) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.armedAt = first.at;
    // Node timers have 1 ms resolution and may fire up to a tick before a sub-ms fraction: round up.
    this.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil(first.at - this.now())));
    this.timer.unref();
  }

  private up(index: number): void {
    const heap = this.heap;
    const entry = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (parent.at <= entry.at) break;
      heap[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.index = index;
  }

  private down(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const entry = heap[index]!;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= length) break;
      if (child + 1 < length && heap[child + 1]!.at < heap[child]!.at) child++;
      const smaller = heap[child]!;
      if (smaller.at >= entry.at) break;
      heap[index] = smaller;
      smaller.index = index;
      index = child;
    }
    heap[index] = entry;
    entry.index = index;
  }
}
