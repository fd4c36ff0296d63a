/**
 * Smoke test of the benchmark scenarios of topics with history (bench/history-scenarios.ts): each runs
 * once at a tiny size, with its server in its own process as in `npm run bench` (from the sources:
 * FULLDUPLEX_BENCH_SOURCE=src, as there is no dist/ in a checkout), and the result has the shape the
 * harness needs (a value and every declared line, finite) and says the run was complete. Nothing here
 * asserts on speed. Without redis-server the Redis variants are left out of the scenarios, and the test
 * checks that too.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { historyPublishScenario, resumeStormScenario } from '../../bench/history-scenarios.js';
import type { Measurement, Scenario } from '../../bench/scenarios.js';
import { redisSkipReason } from '../helpers/redis.js';
import { scaled } from '../helpers/time.js';

before(() => {
  process.env['FULLDUPLEX_BENCH_SOURCE'] = 'src';
});

const withRedis = redisSkipReason() === false;

function checkShape(scenario: Scenario, measured: Measurement): void {
  assert.ok(Number.isFinite(measured.value) && measured.value > 0, `value ${measured.value}`);
  for (const line of scenario.lines ?? []) {
    const value = measured.lines?.[line.name];
    assert.ok(typeof value === 'number' && Number.isFinite(value), `${line.name}: ${value}`);
  }
  assert.deepEqual(Object.keys(measured.lines ?? {}).sort(), (scenario.lines ?? []).map((line) => line.name).sort());
}

describe('the history benchmark scenarios at a tiny size', () => {
  it('history-publish measures history off, MemoryHistory and RedisHistory to plain and resume subscribers, every message delivered once', { timeout: scaled(120_000) }, async () => {
    const tiny = { subscribers: 8, window: 4, size: 64, durationMs: 300, warmupMs: 100 };
    const scenario = historyPublishScenario('history-publish-tiny', { full: tiny, quick: tiny });
    const names = (scenario.lines ?? []).map((line) => line.name);
    assert.deepEqual(names, withRedis ? ['memory', 'memory-resume', 'redis', 'redis-resume', 'memory/off', 'memory-resume/off', 'redis/off', 'redis-resume/off'] : ['memory', 'memory-resume', 'memory/off', 'memory-resume/off']);
    const measured = await scenario.measure('fullduplex', true);
    checkShape(scenario, measured);
    const details = measured.details as Record<string, { complete: boolean; subscribers: number; resume: boolean; disorder: number }>;
    for (const variant of ['off', ...names.filter((name) => !name.includes('/'))]) {
      assert.equal(details[variant]?.complete, true, `${variant}: ${JSON.stringify(details[variant])}`);
      assert.equal(details[variant]?.subscribers, 8);
      assert.equal(details[variant]?.resume, variant.endsWith('-resume'));
      assert.equal(details[variant]?.disorder, 0);
    }
  });

  it('resume-storm brings every client back live after its missed messages, with MemoryHistory and RedisHistory', { timeout: scaled(120_000) }, async () => {
    const tiny = { clients: 40, topics: 2, behind: 5, concurrency: 8, workers: 2, timeoutMs: scaled(60_000) };
    const scenario = resumeStormScenario('resume-storm-tiny', { full: tiny, quick: tiny });
    const stores = withRedis ? ['memory', 'redis'] : ['memory'];
    const measured = await scenario.measure('fullduplex', true);
    checkShape(scenario, measured);
    const details = measured.details as Record<string, { complete: boolean; clients: number; failed: number; allLiveMs: number; allCaughtUpMs: number; p50Ms: number; p99Ms: number }>;
    assert.deepEqual(Object.keys(details).sort(), stores);
    for (const store of stores) {
      const result = details[store]!;
      assert.equal(result.complete, true, `${store}: ${JSON.stringify(result)}`);
      assert.equal(result.clients, 40);
      assert.equal(result.failed, 0);
      assert.ok(result.p50Ms <= result.p99Ms && result.p99Ms <= result.allCaughtUpMs && result.allCaughtUpMs <= result.allLiveMs, JSON.stringify(result));
    }
  });
});
