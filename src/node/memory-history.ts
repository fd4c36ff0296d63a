/**
 * A {@link HistoryStore} in this process's memory: the history of a single server (no backplane), with
 * the semantics of the Redis store (src/node/redis-history.ts) so that a server behaves the same on both.
 *
 *  - Per topic a ring of the kept messages, bounded by `maxMessages` (the oldest go first) and by
 *    `maxAgeMs` (checked when appending and when reading). Appending is O(1) (no array shifting: the ring
 *    grows by doubling up to `maxMessages`), reading costs what it returns (index arithmetic into the ring).
 *  - A topic's epoch is made (random) the first time the store hears of the topic (append, read,
 *    position or subscribe); a restarted process therefore has new epochs, and clients are told.
 *  - `append` hands the message to the sink of a subscribed topic synchronously, before it resolves, so
 *    the feed is in offset order with no gap by construction.
 *  - Idempotency keys of appends: per topic and key the offset of the first append with it, kept
 *    `idempotencyTtlMs` and at most `maxIdempotencyKeys` keys in all (the oldest go first).
 *  - Topics are never forgotten (forgetting one would change its epoch): a process with very many
 *    short-lived history topics keeps one small record per topic.
 */
import { performance } from 'node:perf_hooks';
import type { HistoryBounds, HistoryEntry, HistoryRead, HistorySink, HistoryStore, Position } from './history.js';
import { checkBounds, checkIdempotencyKey, checkPayload, checkRead, checkTopic, newEpoch, positiveIntegerOption } from './history-input.js';

/** The options of `new MemoryHistory(options)`. */
export interface MemoryHistoryOptions {
  /** The clock (ms, monotonic) the age bound is measured with. Default `performance.now`. */
  now?: () => number;
  /** Errors thrown by the sink (they never reach the publisher). Default: ignored. */
  onError?: (error: Error) => void;
  /** How long an append's idempotency key is remembered, in ms (of the `now` clock). Default 600,000 (10 minutes). */
  idempotencyTtlMs?: number;
  /** At most this many idempotency keys are remembered (the oldest are forgotten first). Default 100,000. */
  maxIdempotencyKeys?: number;
}

const NAME = 'MemoryHistory';
const INITIAL_CAPACITY = 16;

/** One topic: its epoch and the ring of its kept messages. */
class TopicRing {
  readonly epoch = newEpoch();
  /** The latest offset given (0: nothing yet). */
  top = 0;
  #entries: Array<HistoryEntry | undefined> = [];
  #times = new Float64Array(0);
  /** Index of the oldest kept entry. */
  #head = 0;
  #count = 0;
  #maxAgeMs: number | undefined;

  /** The offset of the oldest kept entry (top + 1 when none is kept). */
  get first(): number {
    return this.top - this.#count + 1;
  }

  append(payload: Buffer, binary: boolean, bounds: HistoryBounds, now: number): HistoryEntry {
    this.#maxAgeMs = bounds.maxAgeMs;
    const max = bounds.maxMessages;
    while (this.#count >= max) this.#dropOldest();
    this.expire(now);
    const capacity = this.#entries.length;
    if (this.#count === capacity) this.#resize(Math.min(max, Math.max(INITIAL_CAPACITY, capacity * 2)));
    else if (capacity > max && capacity > INITIAL_CAPACITY) this.#resize(Math.max(max, INITIAL_CAPACITY)); // the bound shrank
    const entry: HistoryEntry = { offset: ++this.top, payload, binary };
    const index = (this.#head + this.#count) % this.#entries.length;
    this.#entries[index] = entry;
    this.#times[index] = now;
    this.#count++;
    return entry;
  }

  /** Drop the entries older than the age bound (of the latest append). */
  expire(now: number): void {
    const maxAge = this.#maxAgeMs;
    if (maxAge === undefined) return;
    while (this.#count > 0 && now - (this.#times[this.#head] ?? now) > maxAge) this.#dropOldest();
  }

  /** Up to `limit` kept entries from offset `from` (≥ first, ≤ top). */
  slice(from: number, limit: number): HistoryEntry[] {
    const n = Math.min(limit, this.top - from + 1);
    const capacity = this.#entries.length;
    const start = this.#head + (from - this.first);
    const out = new Array<HistoryEntry>(n);
    for (let i = 0; i < n; i++) out[i] = this.#entries[(start + i) % capacity]!;
    return out;
  }

  #dropOldest(): void {
    this.#entries[this.#head] = undefined; // let the payload go
    this.#head = (this.#head + 1) % this.#entries.length;
    this.#count--;
  }

  #resize(capacity: number): void {
    const entries = new Array<HistoryEntry | undefined>(capacity);
    const times = new Float64Array(capacity);
    const old = this.#entries.length;
    for (let i = 0; i < this.#count; i++) {
      const from = (this.#head + i) % old;
      entries[i] = this.#entries[from];
      times[i] = this.#times[from] ?? 0;
    }
    this.#entries = entries;
    this.#times = times;
    this.#head = 0;
  }
}

/**
 * A {@link HistoryStore} in this process's memory: the history of a single server (no backplane), with the
 * semantics of `RedisHistory`. Per topic a ring of the kept messages, bounded by `maxMessages` and
 * `maxAgeMs`; a topic's epoch is made (random) the first time the store hears of it, so a restarted
 * process has new epochs and clients are told (a `gap`). The default `history.store` of a `WebSocketServer`.
 */
export class MemoryHistory implements HistoryStore {
  readonly #topics = new Map<string, TopicRing>();
  readonly #subscribed = new Set<string>();
  readonly #now: () => number;
  readonly #onError: (error: Error) => void;
  #sink: HistorySink | null = null;
  #closed = false;
  readonly #keyTtl: number;
  readonly #maxKeys: number;
  /** Idempotency keys (`<topic length>:<topic><key>`) in the order appended: the offset and the expiry. */
  readonly #keys = new Map<string, { readonly offset: number; readonly expires: number }>();

  constructor(options: MemoryHistoryOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#onError = options.onError ?? (() => {});
    this.#keyTtl = positiveIntegerOption(NAME, options.idempotencyTtlMs, 600_000, 'idempotencyTtlMs');
    this.#maxKeys = positiveIntegerOption(NAME, options.maxIdempotencyKeys, 100_000, 'maxIdempotencyKeys');
  }

  /** {@inheritDoc HistoryStore.attach} */
  attach(sink: HistorySink): void {
    if (this.#sink !== null) throw new Error(`${NAME}: attach() was called already`);
    if (sink === null || typeof sink !== 'object' || typeof sink.deliver !== 'function' || typeof sink.reset !== 'function') {
      throw new TypeError(`${NAME}: the sink must have deliver() and reset()`);
    }
    this.#sink = sink;
  }

  /** {@inheritDoc HistoryStore.append} */
  async append(topic: string, payload: Buffer, binary: boolean, bounds: HistoryBounds, idempotencyKey?: string): Promise<Position> {
    checkTopic(NAME, topic);
    checkPayload(NAME, payload, binary);
    checkBounds(NAME, bounds);
    checkIdempotencyKey(NAME, idempotencyKey);
    if (this.#closed) throw new Error(`${NAME}: closed; the message on "${topic}" was not stored`);
    const ring = this.#ring(topic);
    const now = this.#now();
    let key: string | null = null;
    if (idempotencyKey !== undefined) {
      this.#expireKeys(now);
      key = `${topic.length}:${topic}${idempotencyKey}`;
      const seen = this.#keys.get(key);
      if (seen !== undefined) return { epoch: ring.epoch, offset: seen.offset };
    }
    const entry = ring.append(payload, binary, bounds, now);
    if (key !== null) {
      this.#keys.set(key, { offset: entry.offset, expires: now + this.#keyTtl });
      if (this.#keys.size > this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value!);
    }
    const sink = this.#sink;
    if (sink !== null && this.#subscribed.has(topic)) {
      try {
        sink.deliver(topic, ring.epoch, entry);
      } catch (error) {
        this.#report(error);
      }
    }
    return { epoch: ring.epoch, offset: entry.offset };
  }

  /** {@inheritDoc HistoryStore.read} */
  async read(topic: string, epoch: string | null, after: number, limit: number): Promise<HistoryRead> {
    checkTopic(NAME, topic);
    checkRead(NAME, epoch, after, limit);
    const ring = this.#ring(topic);
    const top = ring.top;
    ring.expire(this.#now());
    // A position past the top cannot be of this history: as if of another epoch.
    if ((epoch !== null && epoch !== ring.epoch) || after > top) return { kind: 'gone', epoch: ring.epoch, top, first: ring.first, reason: 'epoch' };
    if (after === top) return { kind: 'entries', epoch: ring.epoch, entries: [], top };
    if (after + 1 < ring.first) return { kind: 'gone', epoch: ring.epoch, top, first: ring.first, reason: 'trimmed' };
    return { kind: 'entries', epoch: ring.epoch, entries: ring.slice(after + 1, limit), top };
  }

  /** {@inheritDoc HistoryStore.position} */
  async position(topic: string): Promise<Position> {
    checkTopic(NAME, topic);
    const ring = this.#ring(topic);
    return { epoch: ring.epoch, offset: ring.top };
  }

  /** {@inheritDoc HistoryStore.subscribe} */
  subscribe(topic: string): void {
    checkTopic(NAME, topic);
    if (this.#sink === null) throw new Error(`${NAME}: attach() must be called first`);
    if (this.#closed) return;
    this.#ring(topic); // the feed starts from the current position, in the topic's epoch
    this.#subscribed.add(topic);
  }

  /** {@inheritDoc HistoryStore.unsubscribe} */
  unsubscribe(topic: string): void {
    checkTopic(NAME, topic);
    this.#subscribed.delete(topic);
  }

  /** {@inheritDoc HistoryStore.close} */
  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribed.clear();
  }

  #expireKeys(now: number): void {
    for (const [key, seen] of this.#keys) {
      if (seen.expires > now) return;
      this.#keys.delete(key);
    }
  }

  #ring(topic: string): TopicRing {
    let ring = this.#topics.get(topic);
    if (ring === undefined) {
      ring = new TopicRing();
      this.#topics.set(topic, ring);
    }
    return ring;
  }

  #report(error: unknown): void {
    try {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // an onError that throws must not break the publisher
    }
  }
}
