/**
 * What every history store (src/node/memory-history.ts, src/node/redis-history.ts) checks of its
 * arguments, and how it names a new epoch, so both answer bad input with the same clear errors.
 */
import { randomBytes } from 'node:crypto';
import type { HistoryBounds } from './history.js';

/** A new epoch: base64url of 8 random bytes (11 characters), never reused in practice. */
export function newEpoch(): string {
  return randomBytes(8).toString('base64url');
}

export function checkTopic(store: string, topic: unknown): asserts topic is string {
  if (typeof topic !== 'string') throw new TypeError(`${store}: the topic must be a string`);
}

/** The bounds, checked: `maxMessages` a positive safe integer, `maxAgeMs` unset or a positive number. */
export function checkBounds(store: string, bounds: HistoryBounds): HistoryBounds {
  if (bounds === null || typeof bounds !== 'object') throw new TypeError(`${store}: bounds must be an object { maxMessages, maxAgeMs? }`);
  const { maxMessages, maxAgeMs } = bounds;
  if (typeof maxMessages !== 'number' || !Number.isSafeInteger(maxMessages) || maxMessages < 1) {
    throw new RangeError(`${store}: bounds.maxMessages must be a positive integer (got ${String(maxMessages)})`);
  }
  if (maxAgeMs !== undefined && (typeof maxAgeMs !== 'number' || !(maxAgeMs > 0) || !Number.isFinite(maxAgeMs))) {
    throw new RangeError(`${store}: bounds.maxAgeMs must be a positive number of milliseconds or unset (got ${String(maxAgeMs)})`);
  }
  return bounds;
}

export function checkPayload(store: string, payload: unknown, binary: unknown): asserts payload is Buffer {
  if (!Buffer.isBuffer(payload)) throw new TypeError(`${store}: the payload must be a Buffer`);
  if (typeof binary !== 'boolean') throw new TypeError(`${store}: binary must be a boolean`);
}

/** `read`'s arguments: an epoch string or null, `after` an offset (integer ≥ 0), `limit` an integer ≥ 1. */
export function checkRead(store: string, epoch: unknown, after: unknown, limit: unknown): void {
  if (epoch !== null && typeof epoch !== 'string') throw new TypeError(`${store}: the epoch must be a string or null`);
  if (typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0) {
    throw new RangeError(`${store}: after must be an offset (an integer ≥ 0; got ${String(after)})`);
  }
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`${store}: limit must be an integer ≥ 1 (got ${String(limit)})`);
  }
}

/** The longest idempotency key a store takes, in UTF-16 code units. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 512;

/** An append's idempotency key: unset, or a non-empty string of at most 512 characters. */
export function checkIdempotencyKey(store: string, key: unknown): asserts key is string | undefined {
  if (key === undefined) return;
  if (typeof key !== 'string' || key === '' || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new TypeError(`${store}: idempotencyKey must be a non-empty string of at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters (got ${typeof key === 'string' ? `${key.length} characters` : typeof key})`);
  }
}

/** A positive safe integer option (ms or a count) of a store, or its default. */
export function positiveIntegerOption(store: string, value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new TypeError(`${store}: ${name} must be a positive integer (got ${String(value)})`);
  return value;
}
