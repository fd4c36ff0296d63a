/**
 * One timer for many deadlines of the same length (the standalone server's handshake timeout, from
 * each TCP accept): entries join at the tail, so the list stays in deadline order; a single unref'd
 * timer fires at the head's deadline and expires every entry due. Adding and removing an entry is a
 * few pointer writes: no timer is created or cleared per connection (Node's `setTimeout` allocates a
 * `Timeout` and asks libuv for the time on each call; at thousands of handshakes a second it shows).
 */
export class DeadlineEntry {
  /** @internal */ prev: DeadlineEntry | null = null;
  /** @internal */ next: DeadlineEntry | null = null;
  /** @internal performance.now() at which it expires; -1 when not in a list. */
  deadline = -1;
}

export class DeadlineList<T extends DeadlineEntry> {
  readonly #delay: number;
  readonly #expire: (entry: T) => void;
  #head: T | null = null;
  #tail: T | null = null;
  #timer: NodeJS.Timeout | null = null;

  /** `expire(entry)` runs for an entry still in the list `delay` ms after it was added (it is removed first). */
  constructor(delay: number, expire: (entry: T) => void) {
    this.#delay = delay;
    this.#expire = expire;
  }

  add(entry: T): void {
    entry.deadline = performance.now() + this.#delay;
    entry.prev = this.#tail;
    entry.next = null;
    if (this.#tail === null) this.#head = entry;
    else this.#tail.next = entry;
    this.#tail = entry;
    if (this.#timer === null) this.#schedule(this.#delay);
  }

  remove(entry: T): void {
    if (entry.deadline === -1) return;
    entry.deadline = -1;
    const { prev, next } = entry;
    if (prev === null) this.#head = next as T | null;
    else prev.next = next;
    if (next === null) this.#tail = prev as T | null;
    else next.prev = prev;
    entry.prev = null;
    entry.next = null;
  }

  #schedule(delay: number): void {
    // At least 1 ms: a timer set for a deadline a fraction of a ms away must not fire before it.
    this.#timer = setTimeout(this.#sweep, Math.max(1, Math.ceil(delay)));
    this.#timer.unref();
  }

  readonly #sweep = (): void => {
    this.#timer = null;
    const now = performance.now();
    let entry = this.#head;
    while (entry !== null && entry.deadline <= now) {
      this.remove(entry);
      this.#expire(entry);
      entry = this.#head;
    }
    if (entry !== null) this.#schedule(entry.deadline - now);
  };
}
