/**
 * fullduplex/redis: a Redis backplane, so that a topic published on one server reaches its subscribers on
 * every server. A separate entry point, because it needs the `redis` package (an optional peer
 * dependency: `npm install redis`), which `fullduplex` itself never loads.
 */
export { RedisBackplane, type RedisBackplaneOptions, type RedisClientLike } from './node/redis-backplane.js';
export type { Backplane, BackplaneNode } from './node/backplane.js';
export { RedisHistory, type RedisHistoryOptions } from './node/redis-history.js';
export type { HistoryStore, HistorySink, HistoryBounds, HistoryEntry, HistoryRead, HistoryGapReason, Position } from './node/history.js';
