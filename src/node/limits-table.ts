/**
 * What the server remembers of each client key for the per-client limits: its connections (open or
 * in their handshake) and its handshake token bucket. A `Map` kept in least-recently-seen order (a
 * key seen again moves to the end), bounded without any timer: each new key first looks at a few of
 * the oldest ones, forgets those that hold nothing (no connection, a full bucket: forgetting them
 * changes nothing), and, once the table is at its bound, forgets idle ones whatever their bucket
 * (a flood from more addresses than the bound then gets fresh buckets: it fails open on rate, never
 * on connection counts). A key with connections is never forgotten, so the table holds at most
 * `maxEntries` plus the keys of open connections.
 */
import { TokenBucket } from './rate-bucket.js';
import type { LimitCode, NormalizedClientLimits } from './limits-options.js';

/** One client key's state. */
export class ClientEntry {
  readonly key: string;
  readonly table: ClientTable;
  connections = 0;
  /** null while the handshake rate is unlimited. */
  readonly bucket: TokenBucket | null;

  constructor(key: string, table: ClientTable, limits: NormalizedClientLimits, now: number) {
    this.key = key;
    this.table = table;
    this.bucket = limits.handshakesPerSecond === Infinity ? null : new TokenBucket(limits.handshakesPerSecond, limits.handshakeBurst, now);
  }

  /** A connection of this key is over (its socket or stream closed). */
  release(): void {
    if (this.connections > 0) this.connections--;
  }
}

/** A refused handshake: the code, the status, and `Retry-After` in seconds. */
export interface TableRefusal {
  code: LimitCode;
  status: number;
  retryAfter: number;
  message: string;
}

/** Oldest entries looked at per new key. */
const SWEEP = 4;

export class ClientTable {
  private readonly entries = new Map<string, ClientEntry>();
  private readonly limits: NormalizedClientLimits;
  private readonly maxEntries: number;
  private readonly retryAfter: number;

  constructor(limits: NormalizedClientLimits, maxEntries: number, retryAfter: number) {
    this.limits = limits;
    this.maxEntries = maxEntries;
    this.retryAfter = retryAfter;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry of `key`, if remembered (for tests and statistics). */
  peek(key: string): ClientEntry | undefined {
    return this.entries.get(key);
  }

  /**
   * A handshake of `key` at `now`: takes a handshake token, then a connection slot. The entry (its
   * `connections` counted up) to `release` when the connection is over, or why it is refused.
   */
  admit(key: string, now: number): ClientEntry | TableRefusal {
    const entries = this.entries;
    let entry = entries.get(key);
    if (entry === undefined) {
      this.sweep(now);
      entry = new ClientEntry(key, this, this.limits, now);
    } else {
      entries.delete(key); // seen again: to the end of the order
    }
    entries.set(key, entry);
    const bucket = entry.bucket;
    if (bucket !== null && !bucket.tryTake(1, now)) {
      return {
        code: 'FD_ERR_CLIENT_HANDSHAKE_RATE',
        status: 429,
        retryAfter: Math.max(1, Math.ceil(bucket.msUntil(1, now) / 1000)),
        message: 'Too many handshakes from this client',
      };
    }
    if (entry.connections >= this.limits.maxConnections) {
      return { code: 'FD_ERR_CLIENT_CONNECTIONS', status: 503, retryAfter: this.retryAfter, message: 'Too many connections from this client' };
    }
    entry.connections++;
    return entry;
  }

  /** Before a new key: forget a few of the oldest that hold nothing (or, at the bound, that are idle). */
  private sweep(now: number): void {
    const entries = this.entries;
    let looked = 0;
    for (const entry of entries.values()) {
      if (looked++ >= SWEEP) break;
      if (entry.connections > 0) {
        // Busy: to the end, so that idle keys behind it come forward.
        entries.delete(entry.key);
        entries.set(entry.key, entry);
        continue;
      }
      if (entries.size >= this.maxEntries || entry.bucket === null || entry.bucket.isFull(now)) entries.delete(entry.key);
    }
  }
}
