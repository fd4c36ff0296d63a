/**
 * A {@link HistoryStore} on Redis Streams, so that every server behind a load balancer sees one history
 * per topic and a client can resume on any of them. Import it from `fullduplex/redis` (it needs the
 * `redis` package, an optional peer dependency, like RedisBackplane).
 *
 *   import { RedisHistory } from 'fullduplex/redis';
 *   const history = new RedisHistory({ url: 'redis://redis.internal:6379' });
 *
 * How it works (docs/recovery.md):
 *
 *  - Per topic a stream `prefix + 'h:' + topic` (entry ID `<offset>-0`, fields t = Redis time in ms,
 *    b = binary flag, d = payload), a hash `prefix + 'hm:' + topic` (epoch, latest offset, age bound) and a
 *    channel `prefix + 'hc:' + topic`; default prefix `fullduplex:`.
 *  - `append` is one round trip: one Lua script (src/node/redis-history-scripts.ts) makes the epoch if the
 *    topic has none, takes the next offset, adds the entry, trims by count (exact) and by age (bounded work)
 *    and PUBLISHes the message with its position. Atomic, so the PUBLISH order is the offset order for every
 *    server. It rejects when Redis is unreachable (no offline queue): nothing was stored then. With an
 *    idempotency key, the same script first looks for the key's record (`prefix + 'hk:' + ...`, expiring
 *    after `idempotencyTtlMs`): seen in the current epoch, it appends nothing and answers the first position.
 *  - The feed: a subscriber connection SUBSCRIBEs to the channels of the topics this server has subscribers
 *    for. Per topic it keeps the epoch and the next offset it expects: a message past it means Pub/Sub lost
 *    some (it is at-most-once), so the hole is read from the stream first; a message before it is a
 *    duplicate and dropped; another epoch means the history was lost (Redis restarted without persistence,
 *    flushed): `sink.reset(..., 'epoch')`. A hole that was trimmed meanwhile: `sink.reset(..., 'trimmed')`.
 *    When the subscriber connection comes back after a cut, every topic first catches up from the stream.
 *  - A feed starts at the position read once Redis confirmed the SUBSCRIBE: what was published before is
 *    not delivered, what came after is (the messages in between arrive on the channel too, and are
 *    dropped as at or below that position).
 *  - Both connections reconnect with exponential backoff, like RedisBackplane (src/node/redis-connection.ts);
 *    errors go to `onError`.
 *
 * The two keys of a topic are not in one hash slot: this store is for a single Redis (or a primary with
 * replicas), not Redis Cluster.
 */
import { createHash } from 'node:crypto';
import { RESP_TYPES } from 'redis';
import type { HistoryBounds, HistoryEntry, HistoryGapReason, HistoryRead, HistorySink, HistoryStore, Position } from './history.js';
import type { SendClaim } from './history.js';
import { checkBounds, checkIdempotencyKey, checkPayload, checkRead, checkTopic, newEpoch, positiveIntegerOption } from './history-input.js';
import type { RedisClient, RedisConnectionOptions } from './redis-connection.js';
import { asError, checkUrlOrClient, closeRedisConnection, openRedisConnection, reconnectBackoff, reportError } from './redis-connection.js';
import { APPEND_SCRIPT, CLAIM_SEND_SCRIPT, COMMIT_SEND_SCRIPT, READ_SCRIPT } from './redis-history-scripts.js';

/**
 * The connection options of `RedisConnectionOptions` (`url`, default `redis://localhost:6379`; or
 * `client`, whose settings are duplicated; `reconnect` backoff), and:
 */
export interface RedisHistoryOptions extends RedisConnectionOptions {
  /** Prefix of the keys and channels. Default `'fullduplex:'`. */
  prefix?: string;
  /** How many entries the feed reads from a stream per command when it fills a hole or catches up. Default 1000. */
  readBatch?: number;
  /** Connection errors, malformed messages, errors thrown by the sink (the store never throws them). Default: ignored. */
  onError?: (error: Error) => void;
  /**
   * How long the record of an append's idempotency key is kept, in ms (one Redis key per appended key:
   * `prefix + 'hk:' + <topic length> + ':' + topic + ':' + key`). Default 600,000 (10 minutes).
   */
  idempotencyTtlMs?: number;
}

type BufferListener = <T extends Buffer>(message: T, channel: T) => unknown;

const NAME = 'RedisHistory';
const ENVELOPE_VERSION = 2;
const FLAG_BINARY = 0x01;
/** How many left-behind epochs a feed remembers, to drop their late messages. */
const RETIRED_EPOCHS = 8;
const BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer, [RESP_TYPES.SIMPLE_STRING]: Buffer } as const;

interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const APPEND = script(APPEND_SCRIPT);
const READ = script(READ_SCRIPT);
const CLAIM_SEND = script(CLAIM_SEND_SCRIPT);
const COMMIT_SEND = script(COMMIT_SEND_SCRIPT);
const SEND_CLAIMS: ReadonlySet<string> = new Set<SendClaim>(['new', 'applied', 'running']);

function checkSend(session: string, seq: number, ttlMs: number): void {
  if (typeof session !== 'string' || session === '') throw new TypeError(`${NAME}: the session must be a non-empty string`);
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`${NAME}: seq must be a safe integer >= 0`);
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new RangeError(`${NAME}: ttlMs must be a positive integer`);
}

function text(reply: unknown): string {
  return Buffer.isBuffer(reply) ? reply.toString('utf8') : String(reply);
}

/** What the read script answers. */
interface RawRead {
  readonly epoch: string;
  readonly top: number;
  /** Where the kept history after the asked offset goes on (see READ_SCRIPT). */
  readonly first: number;
  readonly entries: HistoryEntry[];
}

/** A message from the channel. */
interface Live extends HistoryEntry {
  readonly epoch: string;
}

/** A FIFO without Array#shift's copying. */
class Queue<T> {
  #items: T[] = [];
  #head = 0;
  get size(): number {
    return this.#items.length - this.#head;
  }
  push(item: T): void {
    this.#items.push(item);
  }
  peek(): T | undefined {
    return this.#items[this.#head];
  }
  shift(): void {
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** The feed of one topic on this server. */
class Feed {
  /** The epoch being delivered; null until the start position is known. */
  epoch: string | null = null;
  /** The offset the next delivery must have. */
  next = 1;
  /** Redis confirmed the SUBSCRIBE: the start position may be read. */
  confirmed = false;
  /** The subscriber connection came back: read from the stream up to its top before going on. */
  stale = false;
  busy = false;
  closed = false;
  failures = 0;
  retry: NodeJS.Timeout | null = null;
  /** A reset to tell the sink before the next delivery (or when the feed goes idle). */
  resetDue: HistoryGapReason | null = null;
  readonly retired: string[] = [];
  readonly queue = new Queue<Live>();

  switchEpoch(epoch: string): void {
    if (this.epoch !== null) {
      this.retired.push(this.epoch);
      if (this.retired.length > RETIRED_EPOCHS) this.retired.shift();
    }
    this.epoch = epoch;
    this.next = 1;
    this.resetDue = 'epoch';
  }

  get settled(): boolean {
    return this.epoch !== null && !this.stale && !this.busy && this.queue.size === 0;
  }
}

/**
 * A {@link HistoryStore} on Redis Streams, so that every server behind a load balancer sees one history per
 * topic and a client can resume on any of them (docs/recovery.md). `append` is one atomic Lua script (epoch,
 * next offset, trim by count and age, PUBLISH), so the publish order is the offset order on every server;
 * each server's feed fills Pub/Sub's holes from the stream, and reports a lost history (`'epoch'`: Redis
 * restarted without persistence) or a trimmed hole. It also offers `claimSend`/`commitSend`, for idempotent
 * client sends across servers. Needs the `redis` package (an optional peer dependency).
 */
export class RedisHistory implements HistoryStore {
  readonly #prefix: string;
  readonly #readBatch: number;
  /** The reconnection delay after so many failures, also the delay of a feed's retries. */
  readonly #backoff: (retries: number) => number;
  readonly #onError: (error: Error) => void;
  readonly #idempotencyTtlMs: number;
  readonly #sub: RedisClient;
  readonly #cmd: RedisClient;
  #sink: HistorySink | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  /** Feeds of the topics subscribe() asked for (and unsubscribe() did not take back). */
  readonly #feeds = new Map<string, Feed>();
  /** Channels whose SUBSCRIBE Redis confirmed and whose UNSUBSCRIBE it has not. */
  readonly #subscribed = new Set<string>();
  /** Per topic, the SUBSCRIBE/UNSUBSCRIBE work in progress (serialised so quick toggles cannot cross). */
  readonly #ops = new Map<string, Promise<void>>();
  readonly #waiters = new Set<() => void>();

  constructor(options: RedisHistoryOptions = {}) {
    checkUrlOrClient(NAME, options);
    this.#prefix = options.prefix ?? 'fullduplex:';
    if (typeof this.#prefix !== 'string') throw new TypeError(`${NAME}: prefix must be a string`);
    const batch = options.readBatch ?? 1000;
    if (!Number.isSafeInteger(batch) || batch < 1) throw new RangeError(`${NAME}: readBatch must be a positive integer`);
    this.#readBatch = batch;
    this.#backoff = reconnectBackoff(NAME, options.reconnect);
    this.#onError = options.onError ?? (() => {});
    this.#idempotencyTtlMs = positiveIntegerOption(NAME, options.idempotencyTtlMs, 600_000, 'idempotencyTtlMs');
    const make = (): RedisClient => openRedisConnection(options, this.#backoff, (error) => this.#report(error), () => this.#notify());
    this.#sub = make();
    this.#cmd = make();
    // node-redis has SUBSCRIBEd again to every channel before 'ready': what was published meanwhile is lost
    // to Pub/Sub, so every started feed catches up from its stream.
    this.#sub.on('ready', () => this.#subscriberReady());
    this.#cmd.on('ready', () => {
      for (const [topic, feed] of this.#feeds) {
        if (feed.retry !== null) clearTimeout(feed.retry);
        feed.retry = null;
        this.#kick(topic, feed);
      }
    });
  }

  /** Both connections are up (Redis reachable). */
  get connected(): boolean {
    return this.#sub.isReady && this.#cmd.isReady;
  }

  /** {@inheritDoc HistoryStore.attach} */
  attach(sink: HistorySink): void {
    if (this.#sink !== null) throw new Error(`${NAME}: attach() was called already`);
    if (this.#closed) throw new Error(`${NAME}: closed`);
    if (sink === null || typeof sink !== 'object' || typeof sink.deliver !== 'function' || typeof sink.reset !== 'function') {
      throw new TypeError(`${NAME}: the sink must have deliver() and reset()`);
    }
    this.#sink = sink;
    for (const client of [this.#sub, this.#cmd]) client.connect().catch((error: unknown) => this.#report(error));
  }

  /** {@inheritDoc HistoryStore.append} */
  async append(topic: string, payload: Buffer, binary: boolean, bounds: HistoryBounds, idempotencyKey?: string): Promise<Position> {
    checkTopic(NAME, topic);
    checkPayload(NAME, payload, binary);
    checkBounds(NAME, bounds);
    checkIdempotencyKey(NAME, idempotencyKey);
    this.#usable(`the message on "${topic}" was not stored`);
    const args = [
      newEpoch(),
      String(bounds.maxMessages),
      String(bounds.maxAgeMs === undefined ? 0 : Math.ceil(bounds.maxAgeMs)),
      binary ? '1' : '0',
      payload,
      this.#channel(topic),
      idempotencyKey === undefined ? '' : String(this.#idempotencyTtlMs),
    ];
    const extraKey = idempotencyKey === undefined ? [] : [`${this.#prefix}hk:${Buffer.byteLength(topic)}:${topic}:${idempotencyKey}`];
    let reply: unknown;
    try {
      reply = await this.#eval(APPEND, topic, args, extraKey);
    } catch (error) {
      throw new Error(`${NAME}: append on "${topic}" failed: ${asError(error).message}`, { cause: error });
    }
    const [epoch, offset] = reply as [Buffer, number];
    return { epoch: text(epoch), offset: Number(offset) };
  }

  /** {@inheritDoc HistoryStore.read} */
  async read(topic: string, epoch: string | null, after: number, limit: number): Promise<HistoryRead> {
    checkTopic(NAME, topic);
    checkRead(NAME, epoch, after, limit);
    this.#usable(`cannot read "${topic}"`);
    const raw = await this.#read(topic, epoch, after, limit);
    if ((epoch !== null && epoch !== raw.epoch) || after > raw.top) {
      return { kind: 'gone', epoch: raw.epoch, top: raw.top, first: await this.#firstKept(topic, raw.epoch, null), reason: 'epoch' };
    }
    if (after < raw.top && raw.first !== after + 1) {
      return { kind: 'gone', epoch: raw.epoch, top: raw.top, first: await this.#firstKept(topic, raw.epoch, raw), reason: 'trimmed' };
    }
    return { kind: 'entries', epoch: raw.epoch, entries: raw.entries, top: raw.top };
  }

  /**
   * The offset of the oldest entry of `epoch` still kept (top + 1 when none is), for a `gone` answer.
   * `raw`: a read that may know it already (the first entry it returned is the oldest kept: entries are
   * in time order, so those the age bound left out come first). Otherwise the stream is read from its
   * start, skipping entries too old to count that an append has not trimmed yet (the scripts trim by age
   * with bounded work per append); the epoch changing meanwhile ends the search.
   */
  async #firstKept(topic: string, epoch: string, raw: RawRead | null): Promise<number> {
    let after = 0;
    for (;;) {
      if (raw !== null) {
        if (raw.epoch !== epoch) return raw.top + 1;
        if (raw.entries.length > 0) return raw.entries[0]!.offset;
        if (raw.first > raw.top) return raw.top + 1;
        after = raw.first - 1; // the batch was all too old: look further
      }
      raw = await this.#read(topic, epoch, after, this.#readBatch);
    }
  }

  /** {@inheritDoc HistoryStore.position} */
  async position(topic: string): Promise<Position> {
    checkTopic(NAME, topic);
    this.#usable(`cannot read the position of "${topic}"`);
    const raw = await this.#read(topic, null, 0, 0);
    return { epoch: raw.epoch, offset: raw.top };
  }

  /**
   * Idempotent client sends across servers, claim-after-apply: one script per claim and per commit on
   * `prefix + 'ds:' + session` (a hash: the highest seq committed, the lease; expiring `ttlMs` after the
   * session's last claim or commit). See HistoryStore.claimSend.
   */
  async claimSend(session: string, seq: number, owner: string, leaseMs: number, ttlMs: number): Promise<SendClaim> {
    checkSend(session, seq, ttlMs);
    if (typeof owner !== 'string' || owner === '') throw new TypeError(`${NAME}: the owner must be a non-empty string`);
    if (!Number.isSafeInteger(leaseMs) || leaseMs < 1) throw new RangeError(`${NAME}: leaseMs must be a positive integer`);
    const reply = text(await this.#sendScript(CLAIM_SEND, session, [String(seq), owner, String(leaseMs), String(ttlMs)], `cannot record send ${seq} of session ${session}`));
    if (!SEND_CLAIMS.has(reply)) throw new Error(`${NAME}: unexpected answer to a send claim: ${reply.slice(0, 40)}`);
    return reply as SendClaim;
  }

  /** Every send of `session` up to `seq` is applied (see HistoryStore.commitSend). */
  async commitSend(session: string, seq: number, ttlMs: number): Promise<void> {
    checkSend(session, seq, ttlMs);
    await this.#sendScript(COMMIT_SEND, session, [String(seq), String(ttlMs)], `cannot commit send ${seq} of session ${session}`);
  }

  async #sendScript(which: Script, session: string, args: string[], what: string): Promise<unknown> {
    this.#usable(what);
    const key = `${this.#prefix}ds:${session}`;
    try {
      try {
        return await this.#cmd.sendCommand(['EVALSHA', which.sha, '1', key, ...args]);
      } catch (error) {
        if (!asError(error).message.startsWith('NOSCRIPT')) throw error;
        return await this.#cmd.sendCommand(['EVAL', which.source, '1', key, ...args]);
      }
    } catch (error) {
      throw new Error(`${NAME}: ${what}: ${asError(error).message}`, { cause: error });
    }
  }

  /** {@inheritDoc HistoryStore.subscribe} */
  subscribe(topic: string): void {
    checkTopic(NAME, topic);
    if (this.#sink === null) throw new Error(`${NAME}: attach() must be called first`);
    if (this.#closed || this.#feeds.has(topic)) return;
    this.#feeds.set(topic, new Feed());
    this.#sync(topic);
  }

  /** {@inheritDoc HistoryStore.unsubscribe} */
  unsubscribe(topic: string): void {
    checkTopic(NAME, topic);
    const feed = this.#feeds.get(topic);
    if (feed === undefined) return;
    this.#stop(feed);
    this.#feeds.delete(topic);
    this.#sync(topic);
  }

  /**
   * Resolves once both connections are up, every subscribe/unsubscribe so far is in effect in Redis, and
   * every feed has its start position and nothing waiting (useful in tests and at start-up). Rejects if the
   * store is closed first.
   */
  async ready(): Promise<void> {
    for (;;) {
      if (this.#closed) throw new Error(`${NAME}: closed`);
      if (this.#sink === null) throw new Error(`${NAME}: attach() must be called first`);
      if (this.connected && this.#ops.size === 0 && [...this.#feeds.values()].every((feed) => feed.settled) && [...this.#subscribed].every((topic) => this.#feeds.has(topic))) return;
      await this.#change(50);
    }
  }

  /**
   * Stop every feed and close both connections (gracefully when connected: appends in flight get their
   * answer; at once after 2 s or when disconnected: they reject). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    for (const feed of this.#feeds.values()) this.#stop(feed);
    this.#feeds.clear();
    if (this.#sub.isReady && this.#subscribed.size > 0) {
      await this.#sub.unsubscribe([...this.#subscribed].map((topic) => this.#channel(topic)), this.#onMessage, true).catch(() => {});
    }
    this.#subscribed.clear();
    await Promise.all([closeRedisConnection(this.#sub), closeRedisConnection(this.#cmd)]);
    this.#notify();
  }

  #usable(what: string): void {
    if (this.#closed) throw new Error(`${NAME}: closed; ${what}`);
    if (this.#sink === null) throw new Error(`${NAME}: attach() must be called first`);
    if (!this.#cmd.isReady) throw new Error(`${NAME}: Redis is unreachable (not connected); ${what}`);
  }

  #channel(topic: string): string {
    return `${this.#prefix}hc:${topic}`;
  }

  /** EVALSHA, and EVAL when Redis does not have the script (yet, or any more after a restart). */
  async #eval(which: Script, topic: string, args: ReadonlyArray<string | Buffer>, extraKeys: readonly string[] = []): Promise<unknown> {
    const keys = [String(2 + extraKeys.length), `${this.#prefix}h:${topic}`, `${this.#prefix}hm:${topic}`, ...extraKeys];
    try {
      return await this.#cmd.sendCommand(['EVALSHA', which.sha, ...keys, ...args], { typeMapping: BUFFERS });
    } catch (error) {
      if (!asError(error).message.startsWith('NOSCRIPT')) throw error;
      return await this.#cmd.sendCommand(['EVAL', which.source, ...keys, ...args], { typeMapping: BUFFERS });
    }
  }

  async #read(topic: string, epoch: string | null, after: number, limit: number): Promise<RawRead> {
    let reply: unknown[];
    try {
      reply = (await this.#eval(READ, topic, [newEpoch(), epoch ?? '', String(after), String(limit)])) as unknown[];
    } catch (error) {
      throw new Error(`${NAME}: reading "${topic}" failed: ${asError(error).message}`, { cause: error });
    }
    const entries: HistoryEntry[] = [];
    for (let i = 3; i + 2 < reply.length; i += 3) {
      const payload = reply[i + 2];
      entries.push({ offset: Number(reply[i]), binary: Number(reply[i + 1]) === 1, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(String(payload)) });
    }
    return { epoch: text(reply[0]), top: Number(reply[1]), first: Number(reply[2]), entries };
  }

  #report(error: unknown): void {
    reportError(this.#onError, error);
  }

  #notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const resolve of waiters) resolve();
  }

  #change(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.add(done);
    });
  }

  // --- subscriptions -------------------------------------------------------------------------------------

  #sync(topic: string): void {
    const previous = this.#ops.get(topic) ?? Promise.resolve();
    const next: Promise<void> = previous
      .then(() => this.#apply(topic))
      .catch((error: unknown) => this.#report(error))
      .finally(() => {
        if (this.#ops.get(topic) === next) this.#ops.delete(topic);
        this.#notify();
      });
    this.#ops.set(topic, next);
  }

  async #apply(topic: string): Promise<void> {
    // While disconnected nothing is sent: #subscriberReady() applies every topic again.
    if (this.#closed || !this.#sub.isReady) return;
    const feed = this.#feeds.get(topic);
    if (feed !== undefined) {
      if (!this.#subscribed.has(topic)) {
        // node-redis sends nothing for a channel it has already (after its own resubscription): safe to repeat.
        await this.#sub.subscribe(this.#channel(topic), this.#onMessage, true);
        this.#subscribed.add(topic);
      }
      if (this.#feeds.get(topic) === feed && !feed.confirmed) {
        feed.confirmed = true;
        this.#kick(topic, feed);
      }
    } else if (this.#subscribed.has(topic)) {
      await this.#sub.unsubscribe(this.#channel(topic), this.#onMessage, true);
      this.#subscribed.delete(topic);
    }
  }

  #subscriberReady(): void {
    if (this.#closed) return;
    for (const [topic, feed] of this.#feeds) {
      // A feed whose start position is being read now may have had it from Redis before the cut: catch up after it too.
      if (feed.confirmed) feed.stale = true;
      this.#kick(topic, feed);
    }
    for (const topic of new Set([...this.#feeds.keys(), ...this.#subscribed])) this.#sync(topic);
  }

  #stop(feed: Feed): void {
    feed.closed = true;
    if (feed.retry !== null) clearTimeout(feed.retry);
    feed.retry = null;
  }

  // --- the feed ------------------------------------------------------------------------------------------

  readonly #onMessage: BufferListener = (message, channel) => {
    if (this.#closed) return;
    const name = channel.toString('utf8');
    const prefix = `${this.#prefix}hc:`;
    if (!name.startsWith(prefix)) return;
    const topic = name.slice(prefix.length);
    const feed = this.#feeds.get(topic);
    if (feed === undefined) return; // arrived after unsubscribe()
    const epochLength = message[2] ?? 0;
    const header = 3 + epochLength + 8;
    if (message.length < header || message[0] !== ENVELOPE_VERSION) {
      this.#report(new Error(`${NAME}: ignored a malformed message on channel "${name}" (${message.length} bytes)`));
      return;
    }
    const epoch = message.toString('utf8', 3, 3 + epochLength);
    const offset = message.readUInt32BE(3 + epochLength) * 2 ** 32 + message.readUInt32BE(7 + epochLength);
    const binary = ((message[1] ?? 0) & FLAG_BINARY) !== 0;
    feed.queue.push({ epoch, offset, binary, payload: message.subarray(header) });
    this.#kick(topic, feed);
  };

  #kick(topic: string, feed: Feed): void {
    if (!feed.busy && !feed.closed && feed.retry === null) void this.#pump(topic, feed);
  }

  /** Work through the feed's queue in order, reading holes from the stream; one run at a time per feed. */
  async #pump(topic: string, feed: Feed): Promise<void> {
    feed.busy = true;
    try {
      for (;;) {
        if (feed.closed || !feed.confirmed) break;
        if (feed.epoch === null) {
          const start = await this.#read(topic, null, 0, 0);
          if (feed.closed) break;
          feed.epoch = start.epoch;
          feed.next = start.top + 1;
          continue;
        }
        if (feed.stale) {
          feed.stale = false;
          try {
            await this.#catchUp(topic, feed, Infinity);
          } catch (error) {
            feed.stale = true;
            throw error;
          }
          continue;
        }
        const message = feed.queue.peek();
        if (message === undefined) break;
        if (message.epoch !== feed.epoch) {
          if (feed.retired.includes(message.epoch)) {
            feed.queue.shift(); // published before the history we follow now began
            continue;
          }
          feed.switchEpoch(message.epoch);
        }
        if (message.offset < feed.next) {
          feed.queue.shift(); // delivered already (from the stream, or a duplicate)
          continue;
        }
        if (message.offset > feed.next) {
          const { epoch, next } = feed;
          await this.#catchUp(topic, feed, message.offset - 1); // Pub/Sub lost some: read them first
          if (feed.epoch === epoch && feed.next === next) {
            // The stream has nothing there (cannot happen with the scripts' atomicity): never loop, say so.
            feed.resetDue ??= 'trimmed';
            feed.next = message.offset;
          }
          continue;
        }
        feed.queue.shift();
        this.#deliver(topic, feed, message);
      }
      if (!feed.closed) this.#flushReset(topic, feed);
      feed.failures = 0;
    } catch (error) {
      if (!feed.closed && !this.#closed) {
        this.#report(error);
        // Redis unreachable or an error: try again after a backoff (or at once when the connection is back).
        feed.retry = setTimeout(() => {
          feed.retry = null;
          this.#kick(topic, feed);
        }, this.#backoff(feed.failures++));
      }
    } finally {
      feed.busy = false;
      this.#notify();
    }
  }

  /** Deliver from the stream from `feed.next` up to `until` (Infinity: the top when first read). */
  async #catchUp(topic: string, feed: Feed, until: number): Promise<void> {
    while (feed.next <= until) {
      const epoch = feed.epoch!;
      const limit = Math.min(this.#readBatch, until === Infinity ? this.#readBatch : until - feed.next + 1);
      const raw = await this.#read(topic, epoch, feed.next - 1, limit);
      if (feed.closed) return;
      if (raw.epoch !== epoch) {
        // The history we followed is gone: follow the new one from its start, up to its top now.
        feed.switchEpoch(raw.epoch);
        until = raw.top;
        continue;
      }
      if (until === Infinity) until = raw.top;
      if (raw.top < feed.next) return; // nothing more
      if (raw.first > feed.next) {
        // Trimmed (by count or age) before this server could read it.
        feed.resetDue ??= 'trimmed';
        feed.next = raw.first;
      }
      for (const entry of raw.entries) this.#deliver(topic, feed, entry);
    }
  }

  #deliver(topic: string, feed: Feed, entry: HistoryEntry): void {
    this.#flushReset(topic, feed);
    feed.next = entry.offset + 1;
    try {
      this.#sink!.deliver(topic, feed.epoch!, entry);
    } catch (error) {
      // Thrown into node-redis's reply parser, it would reset the connection's decoder.
      this.#report(error);
    }
  }

  #flushReset(topic: string, feed: Feed): void {
    const reason = feed.resetDue;
    if (reason === null) return;
    feed.resetDue = null;
    try {
      this.#sink!.reset(topic, { epoch: feed.epoch!, offset: feed.next - 1 }, reason);
    } catch (error) {
      this.#report(error);
    }
  }
}
