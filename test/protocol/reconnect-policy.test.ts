import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ReconnectPolicy, isFinalClose, isRetryableStatus, parseRetryAfter, reconnectSettings, type ClosedConnection } from '../../src/protocol/reconnect-policy.js';

const lost: ClosedConnection = { code: 1006, reason: '', openFor: 0 };

/** A random source that replays the given values. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe('reconnect policy', () => {
  it('grows the ceiling by factor per failed attempt up to maxDelay (no jitter)', () => {
    const policy = new ReconnectPolicy({ initialDelay: 100, maxDelay: 1_000, factor: 2, jitter: 0 });
    const delays = Array.from({ length: 6 }, () => {
      const decision = policy.closed(lost);
      assert.equal(decision.reconnect, true);
      return decision.reconnect ? decision.delay : -1;
    });
    assert.deepEqual(delays, [100, 200, 400, 800, 1_000, 1_000]);
  });

  it('full jitter draws anywhere between 0 and the ceiling', () => {
    const policy = new ReconnectPolicy({ initialDelay: 1_000, jitter: 1 }, sequence(0, 0.5, 0.999));
    const delays = [policy.closed(lost), policy.closed(lost), policy.closed(lost)].map((d) => (d.reconnect ? d.delay : -1));
    assert.deepEqual(delays, [1_000, 1_000, 4]); // ceilings 1000, 2000, 4000 times (1 - r)
  });

  it('spreads 10,000 clients over the whole window (full jitter, Math.random)', () => {
    const delays = Array.from({ length: 10_000 }, () => {
      const decision = new ReconnectPolicy({ initialDelay: 1_000 }).closed(lost);
      return decision.reconnect ? decision.delay : -1;
    });
    const buckets = new Array<number>(10).fill(0);
    for (const delay of delays) buckets[Math.min(9, Math.floor(delay / 100))]!++;
    assert.ok(Math.min(...delays) >= 0 && Math.max(...delays) <= 1_000);
    // Uniform: each tenth of the window holds 1,000 ± 20 % (6 standard deviations and more).
    for (const count of buckets) assert.ok(count > 800 && count < 1_200, `buckets ${buckets.join(',')}`);
  });

  it('resets the backoff after a connection stayed open resetAfter ms', () => {
    const policy = new ReconnectPolicy({ initialDelay: 100, jitter: 0, resetAfter: 5_000 });
    policy.closed(lost);
    policy.closed(lost);
    assert.equal(policy.attempts, 2);
    const decision = policy.closed({ code: 1001, reason: '', openFor: 5_000 });
    assert.deepEqual(decision, { reconnect: true, attempt: 1, delay: 100 });
  });

  it('stops after maxRetries attempts in a row', () => {
    const policy = new ReconnectPolicy({ maxRetries: 2, jitter: 0 });
    assert.equal(policy.closed(lost).reconnect, true);
    assert.equal(policy.closed(lost).reconnect, true);
    assert.deepEqual(policy.closed(lost), { reconnect: false, why: 'max-retries' });
  });

  it('treats 1008 and 4000–4999 as final, and retries 1001, 1006, 1011, 1012, 1013, 1014', () => {
    for (const code of [1008, 4000, 4999]) assert.equal(isFinalClose({ code, reason: '', openFor: 0 }), true, String(code));
    for (const code of [1000, 1001, 1006, 1011, 1012, 1013, 1014, 3000]) assert.equal(isFinalClose({ code, reason: '', openFor: 0 }), false, String(code));
    assert.deepEqual(new ReconnectPolicy(true).closed({ code: 4001, reason: 'banned', openFor: 9_000 }), { reconnect: false, why: 'final-close' });
  });

  it('retries a refused handshake only for 408, 425, 429 and 5xx', () => {
    assert.deepEqual([401, 403, 404, 408, 425, 429, 500, 503].map(isRetryableStatus), [false, false, false, true, true, true, true, true]);
    assert.deepEqual(new ReconnectPolicy(true).closed({ code: 1006, reason: '', status: 403, openFor: 0 }), { reconnect: false, why: 'refused' });
  });

  it('lets shouldReconnect decide instead', () => {
    const policy = new ReconnectPolicy({ jitter: 0, shouldReconnect: (close) => close.code === 4000 });
    assert.equal(policy.closed({ code: 4000, reason: '', openFor: 0 }).reconnect, true);
    assert.equal(policy.closed(lost).reconnect, false);
  });

  it('waits at least initialDelay after 1013 Try Again Later', () => {
    const policy = new ReconnectPolicy({ initialDelay: 500 }, () => 0.999);
    const decision = policy.closed({ code: 1013, reason: '', openFor: 10_000 });
    assert.deepEqual(decision, { reconnect: true, attempt: 1, delay: 500 });
  });

  it('honours Retry-After (seconds or an HTTP-date), capped by maxDelay', () => {
    const now = Date.parse('2026-12-06T00:00:00Z');
    assert.equal(parseRetryAfter('7', now), 7_000);
    assert.equal(parseRetryAfter('Sun, 06 Dec 2026 00:00:09 GMT', now), 9_000);
    assert.equal(parseRetryAfter('soon', now), null);
    const policy = new ReconnectPolicy({ initialDelay: 100, maxDelay: 20_000, jitter: 0 });
    assert.deepEqual(policy.closed({ code: 1006, reason: '', status: 503, retryAfter: '12', openFor: 0 }, now), { reconnect: true, attempt: 1, delay: 12_000 });
    assert.deepEqual(policy.closed({ code: 1006, reason: '', status: 429, retryAfter: '3600', openFor: 0 }, now), { reconnect: true, attempt: 2, delay: 20_000 });
  });

  it('names the bad option', () => {
    assert.throws(() => reconnectSettings({ initialDelay: -1 }), /reconnect\.initialDelay/);
    assert.throws(() => reconnectSettings({ maxDelay: 10, initialDelay: 100 }), /reconnect\.maxDelay/);
    assert.throws(() => reconnectSettings({ factor: 0.5 }), /reconnect\.factor/);
    assert.throws(() => reconnectSettings({ jitter: 2 }), /reconnect\.jitter/);
    assert.throws(() => reconnectSettings({ maxRetries: 1.5 }), /reconnect\.maxRetries/);
    assert.throws(() => reconnectSettings({ shouldReconnect: 'yes' as never }), TypeError);
  });
});
