/**
 * The scenarios of topics with history (issue 19, docs/recovery.md): fullduplex only (ws has no topics,
 * no history), shown for information. Their sizes are parameters so that the smoke test
 * (test/bench/history-scenarios.test.ts) can run them tiny; SCENARIOS (scenarios.ts) has the real ones.
 *
 *  - history-publish: publish throughput to one topic's subscribers with history off (the baseline),
 *    on a MemoryHistory and on a RedisHistory, to plain subscribers and to resume-protocol subscribers,
 *    and each variant's ratio to the baseline measured in the same round.
 *  - resume-storm: many resume clients, each some messages behind, connect at once: the time until all
 *    are live again, p50/p99 of a client's time to live, the server's peak memory; on a MemoryHistory
 *    and on a RedisHistory.
 *
 * The Redis variants need Debian's redis-server (a fresh one per server process, as publish-redis);
 * without it they are left out with a one-line notice and the memory variants still run.
 */
import { runGenerator, serverCpuWhileMeasuring, startServer } from './lib/processes.js';
import type { HistoryPublishLoad } from './load/history-publish.js';
import type { ResumeStormLoad } from './load/resume-storm.js';
import type { Measurement, Scenario, ScenarioLine } from './scenarios.js';
import type { ServerConfig } from './servers/server.js';
import { RedisServer, redisSkipReason } from '../test/helpers/redis.js';

type Store = 'off' | 'memory' | 'redis';

/** The history-publish variants: the store, and whether the subscribers speak the resume protocol (off: plain only). */
const PUBLISH_VARIANTS: readonly { name: string; store: Store; resume: boolean; title: string }[] = [
  { name: 'off', store: 'off', resume: false, title: 'history off, plain subscribers' },
  { name: 'memory', store: 'memory', resume: false, title: 'MemoryHistory, plain subscribers' },
  { name: 'memory-resume', store: 'memory', resume: true, title: 'MemoryHistory, resume subscribers (envelope with offsets)' },
  { name: 'redis', store: 'redis', resume: false, title: 'RedisHistory, plain subscribers' },
  { name: 'redis-resume', store: 'redis', resume: true, title: 'RedisHistory, resume subscribers (envelope with offsets)' },
];

/** Once per run: say which variants are left out. */
let redisNoticeShown = false;
function withRedis(): boolean {
  const skip = redisSkipReason();
  if (skip !== false && !redisNoticeShown) {
    redisNoticeShown = true;
    process.stdout.write(`  (the RedisHistory variants are left out: ${skip})\n`);
  }
  return skip === false;
}

type HistoryServer = Awaited<ReturnType<typeof startServer>>;

/** Runs `run` on a history-mode server process with `store` (and a fresh redis-server for 'redis'), stopped after. */
async function onServer<T>(store: Store, extra: Omit<ServerConfig, 'mode' | 'history' | 'redis'>, run: (server: HistoryServer) => Promise<T>): Promise<T> {
  const redis = store === 'redis' ? await RedisServer.start() : null;
  try {
    const server = await startServer('fullduplex', {
      mode: 'history',
      ...extra,
      ...(store !== 'off' && { history: store }),
      ...(redis !== null && { redis: redis.url }),
    });
    try {
      return await run(server);
    } finally {
      await server.stop();
    }
  } finally {
    await redis?.dispose();
  }
}

export interface HistoryPublishSize {
  subscribers: number;
  /** Messages in flight. */
  window: number;
  size: number;
  durationMs: number;
  warmupMs: number;
}

interface HistoryPublishResult {
  deliveriesPerSecond: number;
  messagesPerSecond: number;
  complete: boolean;
  messages: number;
  clientsShort: number;
  clientsOver: number;
  disorder: number;
  problems: string[];
  generatorCpu: number;
}

/**
 * Publish throughput with history off / on: 100 subscribers of one topic, 64-byte text, 64 messages in
 * flight. A closed loop runs in bursts (the last subscriber gets the whole window in one read and the
 * publisher sends the next window at once): each burst is one round trip publisher → server (→ store,
 * and Redis for RedisHistory) → subscribers, so with few in flight it measures that round trip (and, on
 * a loaded machine, the scheduler's wake-up latency) rather than throughput. 64 × 100 = 6,400 deliveries
 * per round trip, more than publish's 4 × 1,000.
 */
export function historyPublishScenario(name = 'history-publish', size: { full: HistoryPublishSize; quick: HistoryPublishSize } = HISTORY_PUBLISH_SIZES): Scenario {
  const variants = PUBLISH_VARIANTS.filter((variant) => variant.store !== 'redis' || redisSkipReason() === false);
  const lines: ScenarioLine[] = [];
  for (const variant of variants.slice(1)) {
    lines.push({ name: variant.name, title: `publish: ${variant.title}`, unit: 'deliveries/s', higherIsBetter: true });
  }
  for (const variant of variants.slice(1)) {
    lines.push({ name: `${variant.name}/off`, title: `${variant.title}: deliveries/s over history off, same round`, unit: 'x of off', higherIsBetter: true });
  }
  return {
    name,
    title: `publish with history off / MemoryHistory / RedisHistory: 64-byte text to a topic with ${size.full.subscribers} subscribers, plain and resume`,
    unit: 'deliveries/s',
    higherIsBetter: true,
    implementations: ['fullduplex'],
    lines,
    async measure(_implementation, quick): Promise<Measurement> {
      withRedis();
      const load = quick ? size.quick : size.full;
      const values: Record<string, number> = {};
      const details: Record<string, unknown> = {};
      const perCoreSecond: Record<string, number> = {};
      for (const variant of variants) {
        await onServer(variant.store, { maxMessages: 1000 }, async (server) => {
          const cpu = serverCpuWhileMeasuring(server);
          const result = await runGenerator<HistoryPublishResult>(
            'bench/load/history-publish.ts',
            { port: server.port, resume: variant.resume, ...load } satisfies HistoryPublishLoad,
            undefined,
            cpu.onLine,
          );
          if (!result.complete) {
            process.stderr.write(
              `  ${name} (${variant.name}): of ${result.messages} messages, ${result.clientsShort} subscribers received fewer, ${result.clientsOver} more; ` +
                `${result.disorder} out of order; ${result.problems.join('; ')}\n`,
            );
          }
          values[variant.name] = result.deliveriesPerSecond;
          const serverCpu = await cpu.result();
          // Deliveries per second of the server process's CPU time (redis-server's not included): on a
          // loaded machine, where the processes get a varying share of their cores, this varies far
          // less from round to round than deliveries/s.
          const perCore = serverCpu === undefined || serverCpu === 0 ? undefined : result.deliveriesPerSecond / serverCpu;
          if (perCore !== undefined) perCoreSecond[variant.name] = perCore;
          const { deliveriesPerSecond, ...rest } = result;
          details[variant.name] = { deliveriesPerSecond, ...rest, serverCpu, deliveriesPerServerCpuSecond: perCore, window: load.window };
        });
      }
      process.stdout.write(
        `  ${name.padEnd(18)} deliveries per second of server CPU: ${Object.entries(perCoreSecond).map(([variant, value]) => `${variant} ${Math.round(value).toLocaleString('en-US')}`).join(', ')}\n`,
      );
      const off = values['off']!;
      const measured: Record<string, number> = {};
      for (const variant of variants.slice(1)) {
        measured[variant.name] = values[variant.name]!;
        measured[`${variant.name}/off`] = values[variant.name]! / off;
      }
      return { value: off, lines: measured, details };
    },
  };
}

export const HISTORY_PUBLISH_SIZES = {
  full: { subscribers: 100, window: 64, size: 64, durationMs: 4000, warmupMs: 1000 },
  quick: { subscribers: 100, window: 64, size: 64, durationMs: 1000, warmupMs: 300 },
} as const satisfies { full: HistoryPublishSize; quick: HistoryPublishSize };

export type ResumeStormSize = Omit<ResumeStormLoad, 'port'>;

interface ResumeStormResult {
  allCaughtUpMs: number;
  allLiveMs: number;
  p50Ms: number;
  p99Ms: number;
  connectionP50Ms: number;
  connectionP99Ms: number;
  retries: number;
  failed: number;
  disorder: number;
  wrongSubscribed: number;
  problems: string[];
  generatorCpu: number;
  complete: boolean;
}

/**
 * 10,000 resume clients on 10 topics (1,000 each), each 100 messages behind, connect at once, 512 at a
 * time, from 2 worker threads (bench/load/resume-storm.ts); the server's topics keep 1,000 messages.
 * The main value is MemoryHistory's time until all are live; the lines give its p50/p99 and peak
 * memory, and the same for RedisHistory.
 */
export function resumeStormScenario(name = 'resume-storm', size: { full: ResumeStormSize; quick: ResumeStormSize } = RESUME_STORM_SIZES): Scenario {
  const stores: Store[] = redisSkipReason() === false ? ['memory', 'redis'] : ['memory'];
  const lines: ScenarioLine[] = [];
  for (const store of stores) {
    const label = store === 'memory' ? 'MemoryHistory' : 'RedisHistory';
    if (store !== 'memory') lines.push({ name: store, title: `${label}: time until all clients are live again`, unit: 'ms', higherIsBetter: false });
    lines.push(
      { name: `${store} p50`, title: `${label}: a client's time to live (its missed messages in), median, from the start`, unit: 'ms p50', higherIsBetter: false },
      { name: `${store} p99`, title: `${label}: a client's time to live, 99th percentile, from the start`, unit: 'ms p99', higherIsBetter: false },
      { name: `${store} rss`, title: `${label}: server peak RSS over its idle RSS before the storm`, unit: 'MiB', higherIsBetter: false },
    );
  }
  return {
    name,
    title: `resume storm: ${size.full.clients.toLocaleString('en-US')} clients, ${size.full.behind} messages behind each, reconnect at once: time until all are live`,
    unit: 'ms',
    higherIsBetter: false,
    implementations: ['fullduplex'],
    // Heavy, and a single storm is what is measured: one round unless --rounds says otherwise.
    rounds: 1,
    lines,
    async measure(_implementation, quick): Promise<Measurement> {
      withRedis();
      const load = quick ? size.quick : size.full;
      const values: Record<string, number> = {};
      const details: Record<string, unknown> = {};
      for (const store of stores) {
        await onServer(store, { maxMessages: Math.max(1000, load.behind * 2) }, async (server) => {
          const before = await server.usage();
          const cpu = serverCpuWhileMeasuring(server);
          const result = await runGenerator<ResumeStormResult>('bench/load/resume-storm.ts', { port: server.port, ...load } satisfies ResumeStormLoad, (load.timeoutMs ?? 300_000) + 60_000, cpu.onLine);
          const after = await server.usage();
          const serverCpu = await cpu.result();
          if (!result.complete) {
            process.stderr.write(
              `  ${name} (${store}): ${result.failed} clients failed, ${result.disorder} frames out of order, ${result.wrongSubscribed} unexpected subscribed; ${result.problems.join('; ')}\n`,
            );
          }
          const peakMiB = (after.maxRss - before.rss) / 1024 / 1024;
          values[store] = result.allLiveMs;
          values[`${store} p50`] = result.p50Ms;
          values[`${store} p99`] = result.p99Ms;
          values[`${store} rss`] = peakMiB;
          // The server's CPU time over the storm, per client: its cost of one resume (handshake, hello, sub, replay).
          const serverCpuMsPerClient = serverCpu === undefined ? undefined : (serverCpu * result.allLiveMs) / load.clients;
          details[store] = { ...result, serverCpu, serverCpuMsPerClient, serverRssBeforeMiB: before.rss / 1024 / 1024, serverPeakRssMiB: after.maxRss / 1024 / 1024, serverHeapAfterMiB: after.heapUsed / 1024 / 1024 };
        });
      }
      const { memory, ...rest } = values;
      return { value: memory!, lines: rest, details };
    },
  };
}

export const RESUME_STORM_SIZES = {
  full: { clients: 10_000, topics: 10, behind: 100, concurrency: 512, workers: 2 },
  quick: { clients: 1000, topics: 10, behind: 100, concurrency: 512, workers: 2 },
} as const satisfies { full: ResumeStormSize; quick: ResumeStormSize };
