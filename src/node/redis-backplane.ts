/**
 * A {@link Backplane} over Redis Pub/Sub, with the official `redis` client (node-redis, an optional peer
 * dependency: `npm install redis`). Import it from `fullduplex/redis`, so that the main entry point never
 * loads the Redis client.
 *
 *   import { WebSocketServer } from 'fullduplex';
 *   import { RedisBackplane } from 'fullduplex/redis';
 *   const backplane = new RedisBackplane({ url: 'redis://redis.internal:6379' });
 *
 * How it works:
 *
 *  - Two connections per node: one in subscriber mode (SUBSCRIBE/UNSUBSCRIBE, messages in buffer mode so
 *    payloads arrive as Buffers), one for commands (PUBLISH and the subscriber counts).
 *  - One Redis channel per topic: `channelPrefix + topic` (default prefix `fullduplex:`).
 *  - A message crosses Redis as a binary envelope, the payload bytes unchanged (text is never re-encoded):
 *    `[version = 1][flags: bit 0 = binary][16-byte origin node id][payload]`. A node ignores messages
 *    whose origin is itself (its server delivered them locally already), so across nodes each subscriber
 *    receives a publish exactly once. Messages on one channel from one publisher keep their order (one
 *    connection, Redis delivers in order).
 *  - `publish()` resolves once Redis accepted the PUBLISH and rejects when it cannot be handed over:
 *    while the command connection is down (node-redis's offline queue is disabled, so nothing waits for a
 *    reconnection), when the connection drops before Redis replied, or after node-redis's command
 *    timeout (5 s by default). It never queues silently.
 *  - Both connections reconnect with exponential backoff (`reconnect.minDelayMs` 100 ms doubling up to
 *    `reconnect.maxDelayMs` 5 s, with up to 20% jitter below that). `subscribe`/`unsubscribe` calls made
 *    while disconnected are remembered; on reconnection the node subscribes again to every topic it was
 *    asked for and every topic `node.localTopics()` reports with local subscribers, and drops any it was
 *    asked to leave in the meantime.
 *  - Connection errors never surface as unhandled `error` events; they go to the `onError` option (a
 *    no-op by default). Note that Redis Pub/Sub is at-most-once: messages published while a node's
 *    subscriber connection is down are not delivered to that node later.
 *
 * See {@link RedisBackplane.subscriberCount} for how the global subscriber count is kept and how
 * approximate it is.
 */
import { randomBytes } from 'node:crypto';
import type { Backplane, BackplaneNode } from './backplane.js';
import type { RedisClient, RedisConnectionOptions } from './redis-connection.js';
import { asError, checkUrlOrClient, closeRedisConnection, openRedisConnection, positiveNumber, reconnectBackoff, reportError } from './redis-connection.js';

export type { RedisClientLike } from './redis-connection.js';

/**
 * The connection options of `RedisConnectionOptions` (`url`, default `redis://localhost:6379`; or
 * `client`, whose settings are duplicated; `reconnect` backoff), and:
 */
export interface RedisBackplaneOptions extends RedisConnectionOptions {
  /** Prefix of the Redis channels (`prefix + topic`) and keys (`prefix + 'count:' + topic`, ...). Default `'fullduplex:'`. */
  channelPrefix?: string;
  /**
   * How often (ms) each node writes its local subscriber counts to Redis and renews its liveness key
   * (default 5000). A node that stops doing so is left out of the counts after 3 intervals.
   */
  countIntervalMs?: number;
  /** Connection errors and malformed messages (the backplane never throws them). Default: ignored. */
  onError?: (error: Error) => void;
}

const VERSION = 1;
const FLAG_BINARY = 0x01;
const ID_LENGTH = 16;
const HEADER_LENGTH = 2 + ID_LENGTH;
const NAME = 'RedisBackplane';

/** Messages from a Redis channel, in buffer mode. */
type BufferListener = <T extends Buffer>(message: T, channel: T) => unknown;

/** The [field, value] pairs of an HGETALL reply, whatever the client's type mapping made of it. */
function hashEntries(reply: unknown): Array<[string, string]> {
  if (reply instanceof Map) return [...reply].map(([k, v]) => [String(k), String(v)]);
  if (Array.isArray(reply)) {
    const entries: Array<[string, string]> = [];
    for (let i = 0; i + 1 < reply.length; i += 2) entries.push([String(reply[i]), String(reply[i + 1])]);
    return entries;
  }
  if (reply !== null && typeof reply === 'object') return Object.entries(reply).map(([k, v]) => [k, String(v)]);
  return [];
}

/**
 * A {@link Backplane} over Redis Pub/Sub (the `redis` package, an optional peer dependency): a topic
 * published on one server reaches its subscribers on every server, each once (never twice). Two connections per
 * server (subscriber and commands), one channel per topic (`channelPrefix + topic`), payload bytes
 * unchanged. `publish` rejects when Redis cannot take the message (never queued silently); both connections
 * reconnect with backoff and resubscribe; errors go to `onError`. Redis Pub/Sub is at-most-once: for
 * messages that survive a disconnection, use topics with history (`RedisHistory`).
 */
export class RedisBackplane implements Backplane {
  /** This node's id (32 hex digits): the origin in its messages and its field in the count hashes. */
  readonly nodeId: string;

  readonly #id: Buffer;
  readonly #prefix: string;
  readonly #countIntervalMs: number;
  readonly #onError: (error: Error) => void;
  readonly #sub: RedisClient;
  readonly #pub: RedisClient;

  #node: BackplaneNode | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** Topics the server asked for (subscribe minus unsubscribe): what the subscriber connection should have. */
  readonly #wanted = new Set<string>();
  /** Topics whose SUBSCRIBE Redis confirmed and whose UNSUBSCRIBE it has not (node-redis resubscribes them after a reconnection). */
  readonly #subscribed = new Set<string>();
  /** Per topic, the SUBSCRIBE/UNSUBSCRIBE work in progress (serialised so that quick toggles cannot cross). */
  readonly #ops = new Map<string, Promise<void>>();
  /** Topics for which this node has a field in the count hash. */
  readonly #counted = new Set<string>();
  /** Calls waiting for a change of connection state (see ready()). */
  readonly #stateWaiters = new Set<() => void>();

  constructor(options: RedisBackplaneOptions = {}) {
    checkUrlOrClient(NAME, options);
    this.#prefix = options.channelPrefix ?? 'fullduplex:';
    if (typeof this.#prefix !== 'string') throw new TypeError(`${NAME}: channelPrefix must be a string`);
    const reconnectStrategy = reconnectBackoff(NAME, options.reconnect);
    this.#countIntervalMs = positiveNumber(NAME, options.countIntervalMs, 5000, 'countIntervalMs');
    this.#onError = options.onError ?? (() => {});
    this.#id = randomBytes(ID_LENGTH);
    this.nodeId = this.#id.toString('hex');

    const make = (): RedisClient => openRedisConnection(options, reconnectStrategy, (error) => this.#report(error), () => this.#stateChanged());
    this.#sub = make();
    this.#pub = make();
    // Registered after openRedisConnection's state listeners, but all run within the same 'ready' emit.
    this.#sub.on('ready', () => this.#resubscribe());
    this.#pub.on('ready', () => void this.refreshCounts()); // never rejects
  }

  /** Both connections are up (Redis reachable). */
  get connected(): boolean {
    return this.#sub.isReady && this.#pub.isReady;
  }

  /** {@inheritDoc Backplane.attach} */
  attach(node: BackplaneNode): void {
    if (this.#node !== null) throw new Error('RedisBackplane: attach() was called already');
    if (this.#closed) throw new Error('RedisBackplane: closed');
    this.#node = node;
    // connect() retries by itself (reconnectStrategy) until it succeeds or the client is closed.
    for (const client of [this.#sub, this.#pub]) client.connect().catch((error: unknown) => this.#report(error));
    this.#timer = setInterval(() => void this.refreshCounts(), this.#countIntervalMs);
  }

  /** {@inheritDoc Backplane.subscribe} */
  subscribe(topic: string): void {
    this.#attached();
    if (this.#closed) return;
    this.#wanted.add(topic);
    this.#sync(topic);
    void this.refreshCounts([topic]);
  }

  /** {@inheritDoc Backplane.unsubscribe} */
  unsubscribe(topic: string): void {
    this.#attached();
    if (this.#closed) return;
    this.#wanted.delete(topic);
    this.#sync(topic);
    void this.refreshCounts([topic]);
  }

  /** {@inheritDoc Backplane.publish} */
  async publish(topic: string, payload: Buffer, binary: boolean): Promise<void> {
    if (this.#closed) throw new Error(`RedisBackplane: closed; publish on "${topic}" was not sent`);
    if (this.#node === null) throw new Error('RedisBackplane: attach() must be called first');
    if (!this.#pub.isReady) throw new Error(`RedisBackplane: Redis is unreachable (not connected); publish on "${topic}" was not sent`);
    const envelope = Buffer.allocUnsafe(HEADER_LENGTH + payload.length);
    envelope[0] = VERSION;
    envelope[1] = binary ? FLAG_BINARY : 0;
    this.#id.copy(envelope, 2);
    payload.copy(envelope, HEADER_LENGTH);
    try {
      await this.#pub.publish(this.#prefix + topic, envelope);
    } catch (error) {
      throw new Error(`RedisBackplane: publish on "${topic}" failed: ${asError(error).message}`, { cause: error });
    }
  }

  /**
   * Subscribers of `topic` on all nodes. Approximate, and exactly this approximate:
   *
   *  - Each node keeps one field (its node id) in the Redis hash `prefix + 'count:' + topic`, holding its
   *    local count as it was when the node last wrote it: in `subscribe`/`unsubscribe` (the first and last
   *    local subscriber), in `refreshCounts()`, and every `countIntervalMs` (5 s). So another node's count
   *    may be up to `countIntervalMs` old (plus the time a write takes); this node's own count is always
   *    read live from its server.
   *  - A node that stopped without `close()` (crash, partition) keeps counting until its liveness key
   *    (`prefix + 'node:' + id`, renewed with each periodic write) expires: up to 3 × `countIntervalMs`
   *    (15 s). Its fields are then ignored and removed. A node cut off from Redis drops out the same way
   *    and comes back with its first write after reconnecting.
   *  - The hash and the liveness keys are read with two commands, not atomically.
   *  - After Redis lost its data (a restart without persistence), the counts are back after each node's
   *    next write (at once on reconnection).
   *
   * Rejects when Redis is unreachable.
   */
  async subscriberCount(topic: string): Promise<number> {
    const node = this.#attached();
    if (this.#closed) throw new Error('RedisBackplane: closed');
    if (!this.#pub.isReady) throw new Error('RedisBackplane: Redis is unreachable (not connected); cannot count subscribers');
    const key = this.#countKey(topic);
    let total = node.localSubscriberCount(topic);
    try {
      const others = hashEntries(await this.#pub.hGetAll(key)).filter(([field]) => field !== this.nodeId);
      if (others.length === 0) return total;
      const alive: unknown[] = await this.#pub.mGet(others.map(([field]) => this.#nodeKey(field)));
      const dead: string[] = [];
      others.forEach(([field, value], i) => {
        if (alive[i] === null || alive[i] === undefined) dead.push(field);
        else total += Number.parseInt(value, 10) || 0;
      });
      if (dead.length > 0) this.#pub.hDel(key, dead).catch((error: unknown) => this.#report(error));
      return total;
    } catch (error) {
      throw new Error(`RedisBackplane: counting subscribers of "${topic}" failed: ${asError(error).message}`, { cause: error });
    }
  }

  /**
   * Write this node's local subscriber counts to Redis now (for `topics`, default: every local topic and
   * every topic it has a count for), and renew its liveness key. The backplane calls it itself on
   * subscribe/unsubscribe, on reconnection and every `countIntervalMs`; a server may call it when a
   * topic's count changed. Never rejects: while Redis is unreachable it does nothing (errors go to `onError`).
   */
  async refreshCounts(topics?: Iterable<string>): Promise<void> {
    const node = this.#node;
    if (node === null || this.#closed || !this.#pub.isReady) return;
    const ttl = 3 * this.#countIntervalMs;
    const writes: Array<Promise<unknown>> = [];
    try {
      writes.push(this.#pub.set(this.#nodeKey(this.nodeId), '1', { PX: ttl }));
      for (const topic of new Set<string>(topics ?? [...node.localTopics(), ...this.#counted])) {
        const count = node.localSubscriberCount(topic);
        const key = this.#countKey(topic);
        if (count > 0) {
          writes.push(
            this.#pub.hSet(key, this.nodeId, String(count)).then(() => this.#counted.add(topic)),
            this.#pub.pExpire(key, ttl),
          );
        } else if (this.#counted.has(topic)) {
          writes.push(this.#pub.hDel(key, this.nodeId).then(() => this.#counted.delete(topic)));
        }
      }
    } catch (error) {
      this.#report(error); // from the server's localTopics()/localSubscriberCount()
    }
    const results = await Promise.allSettled(writes);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) this.#report(failed.reason);
  }

  /**
   * Resolves once both connections are up and every `subscribe`/`unsubscribe` so far has been applied
   * in Redis (useful before publishing in tests or at start-up). Rejects if the backplane is closed first.
   */
  async ready(): Promise<void> {
    for (;;) {
      if (this.#closed) throw new Error('RedisBackplane: closed');
      this.#attached();
      if (!this.connected) {
        await this.#stateChange();
        continue;
      }
      if (this.#ops.size > 0) {
        await Promise.allSettled([...this.#ops.values()]);
        continue;
      }
      const missing = [...this.#wanted].some((topic) => !this.#subscribed.has(topic));
      const extra = [...this.#subscribed].some((topic) => !this.#wanted.has(topic));
      if (!missing && !extra) return;
      // An operation failed while connected (rare): try again shortly, or at the next state change.
      await this.#stateChange(50);
      for (const topic of new Set([...this.#wanted, ...this.#subscribed])) if (!this.#ops.has(topic)) this.#sync(topic);
    }
  }

  /**
   * Unsubscribe from everything, remove this node's count fields and liveness key, and close both
   * connections (gracefully when connected, at once otherwise). Idempotent. If Redis is unreachable at
   * that moment, node-redis may hold a pending reconnection delay (at most `reconnect.maxDelayMs`) until
   * it expires.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    const cleanup: Array<Promise<unknown>> = [];
    if (this.#sub.isReady && this.#subscribed.size > 0) {
      cleanup.push(this.#sub.unsubscribe([...this.#subscribed].map((topic) => this.#prefix + topic), this.#onMessage, true));
    }
    if (this.#pub.isReady) {
      cleanup.push(this.#pub.del(this.#nodeKey(this.nodeId)));
      for (const topic of this.#counted) cleanup.push(this.#pub.hDel(this.#countKey(topic), this.nodeId));
    }
    await Promise.allSettled(cleanup);
    this.#wanted.clear();
    this.#subscribed.clear();
    this.#counted.clear();
    await Promise.all([closeRedisConnection(this.#sub), closeRedisConnection(this.#pub)]);
    this.#stateChanged();
  }

  #attached(): BackplaneNode {
    if (this.#node === null) throw new Error('RedisBackplane: attach() must be called first');
    return this.#node;
  }

  #countKey(topic: string): string {
    return `${this.#prefix}count:${topic}`;
  }

  #nodeKey(id: string): string {
    return `${this.#prefix}node:${id}`;
  }

  #report(error: unknown): void {
    reportError(this.#onError, error);
  }

  /** Resolves at the next connection state change (or after `timeoutMs`). */
  #stateChange(timeoutMs?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.#stateWaiters.delete(done);
        resolve();
      };
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
      this.#stateWaiters.add(done);
    });
  }

  #stateChanged(): void {
    const waiters = [...this.#stateWaiters];
    this.#stateWaiters.clear();
    for (const resolve of waiters) resolve();
  }

  /** Bring the subscriber connection's state for `topic` in line with #wanted, after any work in progress on it. */
  #sync(topic: string, force = false): void {
    const previous = this.#ops.get(topic) ?? Promise.resolve();
    const next: Promise<void> = previous
      .then(() => this.#apply(topic, force))
      .catch((error: unknown) => this.#report(error))
      .finally(() => {
        if (this.#ops.get(topic) === next) this.#ops.delete(topic);
      });
    this.#ops.set(topic, next);
  }

  async #apply(topic: string, force = false): Promise<void> {
    // While disconnected nothing is sent: #resubscribe() runs again on reconnection.
    if (this.#closed || !this.#sub.isReady) return;
    const want = this.#wanted.has(topic);
    if (!force && want === this.#subscribed.has(topic)) return;
    if (want) {
      // node-redis sends no command for a channel it has already (its own resubscription), so this is safe to repeat.
      await this.#sub.subscribe(this.#prefix + topic, this.#onMessage, true);
      this.#subscribed.add(topic);
    } else {
      await this.#sub.unsubscribe(this.#prefix + topic, this.#onMessage, true);
      this.#subscribed.delete(topic);
    }
  }

  /** The subscriber connection is (again) ready: re-apply every topic, with what the server has now. */
  #resubscribe(): void {
    const node = this.#node;
    if (node === null || this.#closed) return;
    for (const topic of node.localTopics()) if (node.localSubscriberCount(topic) > 0) this.#wanted.add(topic);
    for (const topic of new Set([...this.#wanted, ...this.#subscribed])) this.#sync(topic, true);
  }

  readonly #onMessage: BufferListener = (message, channel) => {
    const node = this.#node;
    if (node === null || this.#closed) return;
    if (message.length < HEADER_LENGTH || message[0] !== VERSION) {
      this.#report(new Error(`RedisBackplane: ignored a malformed message on channel "${channel.toString()}" (${message.length} bytes)`));
      return;
    }
    if (message.compare(this.#id, 0, ID_LENGTH, 2, HEADER_LENGTH) === 0) return; // published here: delivered locally already
    const name = channel.toString('utf8');
    if (!name.startsWith(this.#prefix)) return;
    const topic = name.slice(this.#prefix.length);
    if (!this.#wanted.has(topic)) return; // arrived after unsubscribe()
    const binary = ((message[1] ?? 0) & FLAG_BINARY) !== 0;
    try {
      node.deliver(topic, message.subarray(HEADER_LENGTH), binary);
    } catch (error) {
      // Thrown into node-redis's reply parser, it would reset the connection's decoder.
      this.#report(error);
    }
  };
}
