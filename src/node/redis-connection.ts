/**
 * The node-redis connections of RedisBackplane and RedisHistory, made and closed the same way by both:
 *
 *  - from `url` or from `client.duplicate()` (the given client is neither connected, used nor closed), never
 *    both;
 *  - node-redis's offline queue disabled, so a command while disconnected rejects at once instead of waiting
 *    for a reconnection;
 *  - reconnection with exponential backoff: `reconnect.minDelayMs` (100 ms) doubling per failed attempt up
 *    to `reconnect.maxDelayMs` (5 s), with up to 20% jitter below that (never under the minimum);
 *  - errors routed to the owner's `onError` (an `onError` that throws is ignored), never left as unhandled
 *    `error` events;
 *  - closed gracefully (QUIT) when connected, dropped after 2 s or at once when not.
 *
 * This module loads the `redis` package: only `fullduplex/redis` may import it.
 */
import { createClient } from 'redis';

/**
 * What a store takes from a node-redis client given as `client`: its settings, through `duplicate()`. Any
 * node-redis client fits, whatever its modules, scripts, RESP version or type mapping.
 */
export interface RedisClientLike {
  /** The client's options (its `socket` settings are reused). */
  readonly options?: { readonly socket?: object } | undefined;
  /** A new client with the same settings (node-redis's `duplicate`); the store connects and closes it. */
  duplicate(overrides: { disableOfflineQueue: boolean; socket: object }): object;
}

/** A connection of our own (the commands we use exist on every node-redis client). */
export type RedisClient = ReturnType<typeof createClient>;

/** The connection options RedisBackplane and RedisHistory share (their option interfaces extend this one). */
export interface RedisConnectionOptions {
  /** `redis[s]://[[username][:password]@][host][:port][/db-number]`; default `redis://localhost:6379`. */
  url?: string;
  /**
   * A client to take the connection settings from: the store opens its own two connections with
   * `client.duplicate()` (the given client is neither connected, used nor closed by it). Not with `url`.
   */
  client?: RedisClientLike;
  /** Reconnection backoff: `minDelayMs` (default 100) doubling per failed attempt up to `maxDelayMs` (default 5000). */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number };
}

/** How long closeRedisConnection() waits for a graceful QUIT before dropping the connection. */
const CLOSE_TIMEOUT_MS = 2000;

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** `value`, or `fallback` when it is not given; a TypeError naming `owner` and `option` when it is not a positive number. */
export function positiveNumber(owner: string, value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new TypeError(`${owner}: ${option} must be a positive number`);
  return value;
}

/** Throws when both `url` and `client` are given. */
export function checkUrlOrClient(owner: string, options: RedisConnectionOptions): void {
  if (options.url !== undefined && options.client !== undefined) throw new TypeError(`${owner}: give either url or client, not both`);
}

/**
 * The reconnection delay after `retries` failed attempts (checks `reconnect` at once): `minDelayMs`
 * doubling up to `maxDelayMs`, minus up to 20% jitter, never under `minDelayMs`.
 */
export function reconnectBackoff(owner: string, reconnect: RedisConnectionOptions['reconnect']): (retries: number) => number {
  const minDelay = positiveNumber(owner, reconnect?.minDelayMs, 100, 'reconnect.minDelayMs');
  const maxDelay = Math.max(minDelay, positiveNumber(owner, reconnect?.maxDelayMs, 5000, 'reconnect.maxDelayMs'));
  return (retries: number): number => {
    const delay = Math.min(maxDelay, minDelay * 2 ** Math.min(retries, 30));
    return Math.max(minDelay, Math.round(delay * (0.8 + Math.random() * 0.2)));
  };
}

/** Calls `onError` with `error` as an Error; an `onError` that throws must not break the connection handling. */
export function reportError(onError: (error: Error) => void, error: unknown): void {
  try {
    onError(asError(error));
  } catch {
    // ignored on purpose
  }
}

/**
 * A new connection (not connected yet: call `connect()`), with `reconnectStrategy` and no offline queue;
 * its errors go to `report`, and `stateChanged` runs whenever it becomes ready or ends.
 */
export function openRedisConnection(
  options: RedisConnectionOptions,
  reconnectStrategy: (retries: number) => number,
  report: (error: unknown) => void,
  stateChanged: () => void,
): RedisClient {
  let client: RedisClient;
  if (options.client !== undefined) {
    const socket = { ...(options.client.options?.socket ?? {}), reconnectStrategy };
    client = options.client.duplicate({ disableOfflineQueue: true, socket }) as RedisClient;
  } else {
    client = createClient({
      ...(options.url !== undefined ? { url: options.url } : {}),
      disableOfflineQueue: true,
      socket: { reconnectStrategy },
    }) as RedisClient;
  }
  client.on('error', report);
  client.on('ready', stateChanged);
  client.on('end', stateChanged);
  return client;
}

/** Close gracefully when connected (commands in flight get their answer), at once after 2 s or when not connected. */
export async function closeRedisConnection(client: RedisClient): Promise<void> {
  if (!client.isReady) {
    client.destroy();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      client.destroy();
      resolve();
    }, CLOSE_TIMEOUT_MS);
  });
  try {
    await Promise.race([client.close(), timedOut]);
  } catch {
    client.destroy();
  } finally {
    clearTimeout(timer);
  }
}
