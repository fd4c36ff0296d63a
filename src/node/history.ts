/**
 * History of topics (docs/recovery.md): every message published to a topic that keeps history gets a
 * position, and a subscriber that comes back can be given what it missed, exactly once and in order.
 *
 * A position is `(epoch, offset)`:
 *  - `offset` counts the topic's messages 1, 2, 3 ... with no holes within an epoch, so that a missing
 *    offset is always noticed (by the server filling its feed, and by the client checking what it got).
 *  - `epoch` names one continuous history of the topic (a short random string). A new epoch means that
 *    what came before is gone (a Redis that lost its data, the memory of a restarted process); offsets
 *    start again at 1. A client whose position is of another epoch is told so, never given a hole.
 *
 * A store keeps the messages (bounded by count and age, per topic) and gives each server an ordered feed
 * of the topics it has subscribers for: `sink.deliver` is called for every message in offset order with
 * no gap — the store fills any hole of its live channel from the kept history before going on — and
 * `sink.reset` when the epoch changed or a hole cannot be filled (trimmed away). Every server, the
 * publishing one too, delivers a topic's messages from this feed, so all see one order.
 */

/** Where a message stands in its topic's history. */
export interface Position {
  /** The epoch of the topic's history: changes when the history is replaced (then offsets start again). */
  readonly epoch: string;
  /** 1 for the first message of the epoch; 0 for "before the first" (nothing published yet). */
  readonly offset: number;
}

/** How much history a topic keeps. */
export interface HistoryBounds {
  /** At most this many messages (the oldest go first). A positive integer. */
  readonly maxMessages: number;
  /** Messages older than this (ms since they were appended) are gone. Unset: kept until the count bound. */
  readonly maxAgeMs?: number | undefined;
}

/** One message kept in a topic's history. */
export interface HistoryEntry {
  /** Its offset in the epoch (1 for the first message). */
  readonly offset: number;
  /** The message's bytes (UTF-8 for text). */
  readonly payload: Buffer;
  /** Whether it is a binary message (false: text). */
  readonly binary: boolean;
}

/** The answer of `HistoryStore.read`. */
export type HistoryRead =
  /** The kept entries after the asked offset (in order, contiguous, starting at `after + 1`), at most `limit`; `top` is the topic's latest offset when read. */
  | { readonly kind: 'entries'; readonly epoch: string; readonly entries: readonly HistoryEntry[]; readonly top: number }
  /**
   * What was asked for is not there: the epoch differs, or entries right after `after` were trimmed (by
   * count or age). `first` is where the history that is kept begins: the offset of the oldest message
   * still kept in `epoch` (the current one), `top + 1` when none is — so that a reader who wants what is
   * left (a subscriber from "start") reads after `first - 1` instead of guessing from the bounds.
   */
  | { readonly kind: 'gone'; readonly epoch: string; readonly top: number; readonly first: number; readonly reason: HistoryGapReason };

/** Why a resume cannot be served from history. */
export type HistoryGapReason = 'epoch' | 'trimmed';

/** What claiming a client send answers (HistoryStore.claimSend, SendDedupe.claim). */
export type SendClaim = 'new' | 'applied' | 'running';

/** What a server gives the store it uses. */
export interface HistorySink {
  /** The next message of `topic` (offsets strictly increasing by one within an epoch). */
  deliver(topic: string, epoch: string, entry: HistoryEntry): void;
  /**
   * The feed of `topic` cannot go on from where it was: its epoch changed (`'epoch'`), or a hole could not
   * be filled because the history was trimmed meanwhile (`'trimmed'`). The next `deliver` continues from
   * `position` (exclusive). Subscribers must be told: they missed messages.
   */
  reset(topic: string, position: Position, reason: HistoryGapReason): void;
}

/**
 * Where topics keep their history, shared by every server that uses it: `MemoryHistory` (one process)
 * or `RedisHistory` (from fullduplex/redis, across servers). It numbers each topic's messages, keeps them
 * within bounds, answers reads for replay, and feeds each server the ordered stream of its subscribed
 * topics (through the {@link HistorySink} given to `attach`). Given as `history.store` to a `WebSocketServer`.
 */
export interface HistoryStore {
  /** Called once, by the server the store is given to, before anything else. */
  attach(sink: HistorySink): void;
  /**
   * Append a message to `topic`'s history (kept within `bounds`) and give it the next offset. Resolves
   * with its position once the store has it; the message then reaches every server's feed (this one's
   * too). Rejects when it cannot be stored (broker unreachable): nothing was published then.
   *
   * `idempotencyKey` (optional, a non-empty string): recorded atomically with the append; an append of
   * `topic` with a key already recorded in the current epoch appends nothing and resolves with the
   * position the key was first appended at (redelivered work becomes a no-op). A store remembers keys
   * for a bounded time and number (its options); a key forgotten, or of a lost epoch, appends again.
   */
  append(topic: string, payload: Buffer, binary: boolean, bounds: HistoryBounds, idempotencyKey?: string): Promise<Position>;
  /** Kept entries of `topic` after `after` in `epoch` (null: the current epoch), at most `limit` (≥ 1). */
  read(topic: string, epoch: string | null, after: number, limit: number): Promise<HistoryRead>;
  /** The topic's current position (its epoch, and the latest offset; 0 when nothing was published). */
  position(topic: string): Promise<Position>;
  /** Start feeding `topic` to this server's sink (its first local subscriber), from its current position. */
  subscribe(topic: string): void;
  /** Stop feeding `topic` (its last local subscriber left). */
  unsubscribe(topic: string): void;
  /** Stop feeding everything and let go of the broker. */
  close(): Promise<void>;
  /**
   * Optional: idempotent client sends across servers (src/node/send-dedupe.ts), claim-after-apply. Before
   * running send `seq` of `session`, a server claims it as `owner` (one token per connection): 'applied'
   * when a seq at or above it was committed (by any server on this store: a duplicate), 'running' when
   * another owner holds a lease on it that has not expired (wait, then ask again), else 'new' (the lease is
   * now `owner`'s for `leaseMs`: run it). Once its handlers settled, `commitSend` records it applied. The
   * record expires `ttlMs` after the session's last claim or commit. Both reject when the broker cannot
   * tell (then nothing was recorded). A store without them leaves dedupe to each process.
   */
  claimSend?(session: string, seq: number, owner: string, leaseMs: number, ttlMs: number): Promise<SendClaim>;
  /** Optional, with claimSend: every send of `session` up to `seq` is applied (handlers settled). */
  commitSend?(session: string, seq: number, ttlMs: number): Promise<void>;
}
