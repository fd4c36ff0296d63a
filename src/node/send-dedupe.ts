/**
 * Idempotent client sends of the resume subprotocol (docs/recovery.md "Guarantees"): a send is keyed by
 * (session, seq) and its 'message' handler runs once per key, even when the client re-sends it after a
 * reconnect, to the same server or another.
 *
 * What is remembered per session is one number: the highest seq applied. That is enough because a
 * connection carries a session's seqs in increasing order, one by one from the first it carries, and
 * the server considers them in that order (src/node/resume-session.ts): a seq at or below the highest
 * applied was applied before (a duplicate); a higher one is new. A seq that jumps ahead (the first of
 * a connection) is new too: the client re-sends everything it has not seen acked, so the seqs below
 * were acked, i.e. applied.
 *
 *  - `MemoryDedupe`: in this process, per session the highest seq applied, kept `sessionTtlMs` after the
 *    session's last send, at most `maxSessions` sessions (the least recently active go first).
 *  - Across servers: a history store that offers `claimSend` (RedisHistory: one atomic script per send
 *    on a key per session with the same expiry) is used instead, so a send re-sent to another server
 *    after a reconnect is recognised there.
 */

/** Decides whether a send is new. */
export interface SendDedupe {
  /**
   * Record that `seq` of `session` is being applied: true when it is new (apply it), false when a seq
   * at or above it was applied already (a duplicate: do not apply). Rejects when it cannot tell (the
   * broker is unreachable): then nothing was recorded.
   */
  claim(session: string, seq: number): boolean | Promise<boolean>;
}

export interface MemoryDedupeOptions {
  /** Forget a session this long after its last send, in ms. Default 600,000 (10 minutes). */
  sessionTtlMs?: number;
  /** Remember at most this many sessions (the least recently active are forgotten first). Default 100,000. */
  maxSessions?: number;
  /** The clock (ms). Default `Date.now`. */
  now?: () => number;
}

export const SEND_DEDUPE_DEFAULTS = Object.freeze({ sessionTtlMs: 600_000, maxSessions: 100_000 });

interface SessionRecord {
  highest: number;
  expires: number;
}

/** The dedupe memory of one process (see the top of this file). */
export class MemoryDedupe implements SendDedupe {
  readonly sessionTtlMs: number;
  readonly maxSessions: number;
  readonly #now: () => number;
  /** In order of last activity (a Map keeps insertion order: a touched session moves to the end). */
  readonly #sessions = new Map<string, SessionRecord>();

  constructor(options: MemoryDedupeOptions = {}) {
    this.sessionTtlMs = positiveInteger(options.sessionTtlMs, SEND_DEDUPE_DEFAULTS.sessionTtlMs, 'sessionTtlMs');
    this.maxSessions = positiveInteger(options.maxSessions, SEND_DEDUPE_DEFAULTS.maxSessions, 'maxSessions');
    this.#now = options.now ?? Date.now;
  }

  /** How many sessions are remembered now. */
  get size(): number {
    return this.#sessions.size;
  }

  claim(session: string, seq: number): boolean {
    const now = this.#now();
    this.#expire(now);
    const record = this.#sessions.get(session);
    if (record !== undefined) {
      this.#sessions.delete(session);
      this.#sessions.set(session, record);
      record.expires = now + this.sessionTtlMs;
      if (seq <= record.highest) return false;
      record.highest = seq;
      return true;
    }
    this.#sessions.set(session, { highest: seq, expires: now + this.sessionTtlMs });
    while (this.#sessions.size > this.maxSessions) this.#sessions.delete(this.#sessions.keys().next().value!);
    return true;
  }

  #expire(now: number): void {
    for (const [session, record] of this.#sessions) {
      if (record.expires > now) return;
      this.#sessions.delete(session);
    }
  }
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new TypeError(`The resume.${name} option must be a positive integer; got ${String(value)}`);
  return value;
}
