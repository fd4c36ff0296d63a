import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../src/node/rate-bucket.js';

test('a token bucket starts full: the burst passes at once, the next request is refused', () => {
  const bucket = new TokenBucket(1, 3, 0);
  assert.deepEqual([1, 2, 3, 4].map(() => bucket.tryTake(1, 0)), [true, true, true, false]);
});

test('a token bucket refills at its rate and never above its burst', () => {
  const bucket = new TokenBucket(10, 5, 0); // 10 tokens a second: one per 100 ms
  for (let i = 0; i < 5; i++) assert.ok(bucket.tryTake(1, 0));
  assert.equal(bucket.tryTake(1, 99), false);
  assert.ok(bucket.tryTake(1, 100));
  assert.equal(bucket.refill(60_000), 5);
});

test('a refused request takes nothing', () => {
  const bucket = new TokenBucket(1, 10, 0);
  assert.ok(bucket.tryTake(8, 0));
  assert.equal(bucket.tryTake(3, 0), false);
  assert.equal(bucket.tokens, 2);
});

test('a cost above the burst passes only from a full bucket, and its debt is paid back before the next', () => {
  const bucket = new TokenBucket(100, 100, 0); // bytes: 100 a second, burst 100
  assert.ok(bucket.tryTake(1, 0));
  assert.equal(bucket.tryTake(250, 0), false, 'not full: refused');
  assert.ok(bucket.tryTake(250, 10)); // full again after 10 ms
  assert.equal(bucket.tokens, -150);
  assert.equal(bucket.msUntil(0, 10), 1500);
  assert.equal(bucket.tryTake(1, 1500), false);
  assert.ok(bucket.tryTake(1, 1520));
});

test('take goes into debt; msUntil says when a level is back', () => {
  const bucket = new TokenBucket(2, 2, 0);
  assert.equal(bucket.take(1, 0), 1);
  assert.equal(bucket.take(3, 0), -2);
  assert.equal(bucket.msUntil(1, 0), 1500);
  assert.equal(bucket.msUntil(1, 1500), 0);
});

test('a clock that goes back refills nothing', () => {
  const bucket = new TokenBucket(1000, 2, 1000);
  bucket.take(2, 1000);
  assert.equal(bucket.refill(500), 0);
  assert.equal(bucket.updatedAt, 1000);
});

test('isFull says when a bucket holds nothing worth remembering', () => {
  const bucket = new TokenBucket(1, 1, 0);
  assert.ok(bucket.isFull(0));
  bucket.take(1, 0);
  assert.equal(bucket.isFull(500), false);
  assert.ok(bucket.isFull(1000));
});
