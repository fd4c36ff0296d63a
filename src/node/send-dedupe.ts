/**
 * Idempotent client sends of the resume subprotocol (docs/recovery.md "Guarantees"): a send is keyed by
 * (session, seq); it is recorded as applied only AFTER its 'message' handlers settled (claim-after-apply),
 * so a server that dies before that leaves it unrecorded and the client's re-send is applied (at least
 * once, never lost); one that dies after has recorded it, and the re-send is only acked.
 *
 * Two steps per send:
 *  - `claim(session, seq, owner)` before the handlers run: 'applied' when a seq at or above it was
 *    committed (a duplicate: ack it, do not run it); 'running' when another owner (a connection, on this
 *    server or another) holds an unexpired lease on it (it is being applied there: ask again a moment
 *    later); else 'new', and the lease is the owner's for `leaseMs` (run it).
 *  - `commit(session, seq)` once every send up to `seq` settled (the connection's acked prefix).
 *
 * What is remembered per session: the highest seq committed, and the lease (the highest seq leased, its
 * owner, its expiry). One number suffices for "applied" because a connection carries a session's seqs in
 * increasing order, one by one from the first it carries, and commits are cumulative: a seq at or below
 * the highest committed was applied; a higher one was not (or its server died before committing it).
 * A seq that jumps ahead (the first of a connection) is new: the client re-sends everything not acked,
 * so the seqs below were acked, i.e. applied.
 *
 * The lease only keeps a re-send (the link dropped while the handler ran, the client came back on another
 * connection) from running concurrently with the original. After `leaseMs` a re-send runs even if the
 * original is still running (a handler slower than the lease): then the send is applied twice, which the
 * idempotency key given to the handler (resume-session.ts) is there to absorb. A server SIGKILLed while
 * holding a lease delays the re-send's application by up to `leaseMs`.
 *
 *  - `MemoryDedupe`: in this process, kept `sessionTtlMs` after the session's last claim or commit, at
 *    most `maxSessions` sessions (the least recently active go first).
 *  - Across servers: a history store that offers `claimSend` and `commitSend` (RedisHistory: one atomic
 *    script each on a key per session with the same expiry) is used instead, so a send re-sent to another
 *    server after a reconnect is recognised there.
 */
import type { SendClaim } from './history.js';
import { positiveIntegerOption } from './history-input.js';

export type { SendClaim };

/** Decides whether a send is to be applied, and records it applied. */
export interface SendDedupe {
  /**
   * Whether send `seq` of `session` is to be run by `owner` (see the top of this file). Rejects (or
   * throws) when it cannot tell (the broker is unreachable): then nothing was recorded.
   */
  claim(session: string, seq: number, owner: string): SendClaim | Promise<SendClaim>;
  /** Every send of `session` up to `seq` was applied (its handlers settled). */
  commit(session: string, seq: number): void | Promise<void>;
}

/** The options of `new MemoryDedupe(options)`. */
export interface MemoryDedupeOptions {
  /** Forget a session this long after its last send, in ms. Default 600,000 (10 minutes). */
  sessionTtlMs?: number;
  /** Remember at most this many sessions (the least recently active are forgotten first). Default 100,000. */
  maxSessions?: number;
  /** How long a claim keeps other owners from running the same send, in ms. Default 5,000. */
  leaseMs?: number;
  /** The clock (ms). Default `Date.now`. */
  now?: () => number;
}

export const SEND_DEDUPE_DEFAULTS = Object.freeze({ sessionTtlMs: 600_000, maxSessions: 100_000, sendLeaseMs: 5_000 });

interface SessionRecord {
  /** The highest seq committed (applied). */
  applied: number;
  /** The highest seq leased, by whom, until when. */
  leased: number;
  owner: string;
  until: number;
  expires: number;
}

/** The dedupe memory of one process (see the top of this file). */
export class MemoryDedupe implements SendDedupe {
  /** The `sessionTtlMs` option: a session is forgotten this long after its last claim or commit (ms). */
  readonly sessionTtlMs: number;
  /** The `maxSessions` option: at most this many sessions are remembered. */
  readonly maxSessions: number;
  /** The `leaseMs` option: how long a claim keeps other owners from running the same send (ms). */
  readonly leaseMs: number;
  readonly #now: () => number;
  /** In order of last activity (a Map keeps insertion order: a touched session moves to the end). */
  readonly #sessions = new Map<string, SessionRecord>();

  constructor(options: MemoryDedupeOptions = {}) {
    this.sessionTtlMs = positiveIntegerOption('WebSocketServer', options.sessionTtlMs, SEND_DEDUPE_DEFAULTS.sessionTtlMs, 'resume.sessionTtlMs');
    this.maxSessions = positiveIntegerOption('WebSocketServer', options.maxSessions, SEND_DEDUPE_DEFAULTS.maxSessions, 'resume.maxSessions');
    this.leaseMs = positiveIntegerOption('WebSocketServer', options.leaseMs, SEND_DEDUPE_DEFAULTS.sendLeaseMs, 'resume.sendLeaseMs');
    this.#now = options.now ?? Date.now;
  }

  /** How many sessions are remembered now. */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * Before running send `seq` of `session`: `'applied'` when a seq at or above it was committed (a duplicate: ack it, do not run it); `'running'` when another owner holds an unexpired lease on it (ask again later); else `'new'`, and the lease is `owner`'s for `leaseMs` (run it).
   */
  claim(session: string, seq: number, owner: string): SendClaim {
    const now = this.#now();
    const record = this.#touch(session, now);
    if (seq <= record.applied) return 'applied';
    if (seq <= record.leased && record.owner !== owner && record.until > now) return 'running';
    record.leased = Math.max(record.leased, seq);
    record.owner = owner;
    record.until = now + this.leaseMs;
    return 'new';
  }

  /** {@inheritDoc SendDedupe.commit} */
  commit(session: string, seq: number): void {
    const record = this.#touch(session, this.#now());
    if (seq > record.applied) record.applied = seq;
  }

  #touch(session: string, now: number): SessionRecord {
    this.#expire(now);
    let record = this.#sessions.get(session);
    if (record !== undefined) {
      this.#sessions.delete(session);
    } else {
      record = { applied: 0, leased: 0, owner: '', until: 0, expires: 0 };
    }
    this.#sessions.set(session, record);
    record.expires = now + this.sessionTtlMs;
    while (this.#sessions.size > this.maxSessions) this.#sessions.delete(this.#sessions.keys().next().value!);
    return record;
  }

  #expire(now: number): void {
    for (const [session, record] of this.#sessions) {
      if (record.expires > now) return;
      this.#sessions.delete(session);
    }
  }
}

/**
 * The third argument of a `message` listener on a resume connection: the send's idempotency key, for a
 * handler to make its own effect idempotent (a send is applied at least once: see the top of this file).
 * `wss.publish(topic, data, { idempotencyKey })` on a topic with history makes a publish exactly-once.
 */
export interface ResumeSendInfo {
  readonly session: string;
  readonly seq: number;
  /** `${session}:${seq}`: unique per send of a session (sessions are random or chosen by the client). */
  readonly idempotencyKey: string;
}
