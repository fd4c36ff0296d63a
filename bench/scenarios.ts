/** The benchmark scenarios: what each measures, against which implementations, and its target. */
import { runGenerator, serverCpuWhileMeasuring, startLoad, startServer, type RunningServer } from './lib/processes.js';
import type { BroadcastLoad } from './load/broadcast.js';
import type { EchoLoad } from './load/echo.js';
import type { IdleLoad } from './load/idle.js';
import type { MultiplexedLoad } from './load/multiplexed.js';
import type { Implementation, ServerConfig } from './servers/server.js';
// The tests' Redis helper (Debian's redis-server on a free port), as it is.
import { RedisServer, redisSkipReason } from '../test/helpers/redis.js';
import { historyPublishScenario, resumeStormScenario } from './history-scenarios.js';
import { handshakesScenario, stormScenario, wssHandshakesScenario } from './handshake-scenarios.js';
import { checkBottleneck } from './lib/bottleneck.js';

export interface Measurement {
  readonly value: number;
  /** The values of the scenario's extra `lines`, by name. */
  readonly lines?: Record<string, number>;
  readonly details?: Record<string, unknown>;
}

/** Something else a scenario measures besides its main value, with its own ratio to ws and target. */
export interface ScenarioLine {
  readonly name: string;
  readonly title: string;
  readonly unit: string;
  readonly higherIsBetter: boolean;
  /** fullduplex's target ratio to ws; absent: shown for information. */
  readonly target?: number;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly unit: string;
  readonly higherIsBetter: boolean;
  /** fullduplex's target ratio to ws; absent: shown for information (e.g. a scenario without ws). */
  readonly target?: number;
  readonly implementations: readonly Implementation[];
  /** A one-line reason to skip the scenario (something it needs is not installed), or false. */
  readonly skip?: () => string | false;
  /** Rounds when `--rounds` is not given (default 3). */
  readonly rounds?: number;
  readonly lines?: readonly ScenarioLine[];
  measure(implementation: Implementation, quick: boolean): Promise<Measurement>;
}

const DURATION_MS = 4000;
const WARMUP_MS = 1000;

interface EchoResult {
  messagesPerSecond: number;
  megabytesPerSecond: number;
  latency?: { p50: number; p99: number; p999: number; count: number };
}

/** An echo scenario: start the server, run the echo generator against it, stop the server. */
function echoScenario(
  base: Omit<Scenario, 'measure'>,
  load: Omit<EchoLoad, 'port' | 'durationMs' | 'warmupMs' | 'raw'>,
  metric: (result: EchoResult) => number,
  lines?: (result: EchoResult) => Record<string, number>,
): Scenario {
  return {
    ...base,
    async measure(implementation, quick) {
      const server = await startServer(implementation, { compress: load.compress === true });
      try {
        const result = await runGenerator<EchoResult>('bench/load/echo.ts', {
          ...load,
          port: server.port,
          raw: implementation === 'raw',
          durationMs: quick ? 1000 : DURATION_MS,
          warmupMs: quick ? 300 : WARMUP_MS,
        } satisfies EchoLoad);
        return {
          value: metric(result),
          ...(lines !== undefined && { lines: lines(result) }),
          ...(result.latency !== undefined && { details: { latency: result.latency } }),
        };
      } finally {
        await server.stop();
      }
    },
  };
}

export const SCENARIOS: readonly Scenario[] = [
  echoScenario(
    { name: 'echo-small', title: 'echo: 64-byte text, 100 connections x 16 in flight', unit: 'messages/s', higherIsBetter: true, target: 3, implementations: ['fullduplex', 'ws', 'raw'] },
    { connections: 100, window: 16, size: 64, binary: false },
    (r) => r.messagesPerSecond,
  ),
  echoScenario(
    { name: 'echo-16k', title: 'echo: 16 KiB binary, 50 connections', unit: 'MB/s', higherIsBetter: true, target: 1.1, implementations: ['fullduplex', 'ws', 'raw'] },
    { connections: 50, window: 4, size: 16 * 1024, binary: true },
    (r) => r.megabytesPerSecond,
  ),
  echoScenario(
    { name: 'echo-1m', title: 'echo: 1 MiB binary, 4 connections', unit: 'MB/s', higherIsBetter: true, target: 1.0, implementations: ['fullduplex', 'ws', 'raw'] },
    { connections: 4, window: 2, size: 1024 * 1024, binary: true },
    (r) => r.megabytesPerSecond,
  ),
  echoScenario(
    {
      name: 'compressed-echo',
      title: 'echo with permessage-deflate: 16 KiB JSON-like text, 50 connections',
      unit: 'MB/s',
      higherIsBetter: true,
      target: 1.2,
      implementations: ['fullduplex', 'ws'],
    },
    { connections: 50, window: 2, size: 16 * 1024, binary: false, json: true, compress: true },
    (r) => r.megabytesPerSecond,
  ),
  fanOutScenario(
    { name: 'broadcast', title: 'broadcast: one 64-byte text message to 1,000 connected clients', unit: 'deliveries/s', higherIsBetter: true, target: 5, implementations: ['fullduplex', 'ws'] },
    { mode: 'broadcast', servers: 1, window: 4 },
  ),
  // Topics: every connection subscribes to 'bench' when it connects and the server publishes each
  // message with `wss.publish('bench', data)`, as a chat room (fullduplex serve --mode chat) or a ticker
  // fed by one connection does; the publisher is a subscriber too and gets its own copy (the ack). ws has
  // no topics: its side is the loop over `wss.clients` of broadcast. Same load as broadcast (1,000
  // subscribers, 64 bytes, 4 in flight), and the same target, 5x: the topic path does the work of
  // broadcast (frame once, the same bytes to each) plus a lookup, so it should be at least as fast.
  fanOutScenario(
    { name: 'publish', title: 'publish: one 64-byte text message to a topic with 1,000 subscribers', unit: 'deliveries/s', higherIsBetter: true, target: 5, implementations: ['fullduplex', 'ws'] },
    { mode: 'publish', servers: 1, window: 4 },
  ),
  // publish with permessage-deflate: 1,000 subscribers (as publish) of a 3 KiB JSON-like text that
  // deflates about 3.4:1 (911 bytes on the wire; above both servers' 1 KiB threshold). Both servers
  // have { serverNoContextTakeover: true }, every client offers permessage-deflate and the publisher
  // sends compressed. fullduplex compresses each published message once for all the subscribers (they
  // share the compression parameters: src/node/framed-message.ts) and writes that frame to each; ws
  // compresses it again for every client in its loop. The generator counts messages from frame headers
  // (FIN) without inflating them, warns unless every delivery had RSV1 set, and reports the bytes and
  // reads per delivery. Target 20x: a ws delivery costs a deflate of 3 KiB, about 20 times the rest of
  // its delivery (ws publishes ~100,000 uncompressed deliveries/s here and ~4,500 compressed), while
  // ours costs no more than an uncompressed delivery (the one deflate is shared by 1,000); so we should
  // be at least 20x ahead even at one write per delivery (publish with one message in flight, ~100,000/s).
  fanOutScenario(
    {
      name: 'publish-compressed',
      title: 'publish with permessage-deflate: 3 KiB JSON-like text to a topic with 1,000 subscribers',
      unit: 'deliveries/s',
      higherIsBetter: true,
      target: 20,
      implementations: ['fullduplex', 'ws'],
    },
    { mode: 'publish', servers: 1, window: 4, size: 3 * 1024, json: true, compress: true },
  ),
  // The same topic shared by 2 server processes (500 subscribers each) over a RedisBackplane on a Redis
  // started for the round; the publisher is on the first, the acks come from the second's last
  // subscriber. Deliveries over all 1,000. No peer to compare with (ws has no backplane): for information.
  fanOutScenario(
    {
      name: 'publish-redis',
      title: 'publish over Redis: 64-byte text to 1,000 subscribers on 2 servers',
      unit: 'deliveries/s',
      higherIsBetter: true,
      implementations: ['fullduplex'],
      skip: redisSkipReason,
    },
    { mode: 'publish', servers: 2, window: 4 },
  ),
  // Topics with history (docs/recovery.md): publish with history off / in memory / on Redis, to plain and
  // to resume subscribers; and a reconnect storm of resume clients. fullduplex only: for information.
  historyPublishScenario(),
  resumeStormScenario(),
  handshakesScenario(),
  wssHandshakesScenario(),
  stormScenario(),
  echoScenario(
    {
      name: 'latency',
      title: 'latency: 100 connections x 100 messages/s (64-byte text), round trip',
      unit: 'ms p99',
      higherIsBetter: false,
      target: 1.0,
      implementations: ['fullduplex', 'ws'],
      lines: [
        { name: 'p50', title: 'round trip, median', unit: 'ms p50', higherIsBetter: false },
        { name: 'p99.9', title: 'round trip, 99.9th percentile', unit: 'ms p99.9', higherIsBetter: false },
      ],
    },
    { connections: 100, window: 1, size: 64, binary: false, rate: 100 },
    (r) => latencyOf(r).p99,
    (r) => ({ p50: latencyOf(r).p50, 'p99.9': latencyOf(r).p999 }),
  ),
  // The targets: JS heap per connection at most half of ws's (ratio >= 2), RSS per connection
  // at most ws's (ratio >= 1).
  idleScenario('idle-memory', 'idle memory: 10,000 open idle connections, server JS heap (after GC) and RSS per connection', {}, 1),
  // No RSS target stated for the deflate variants: RSS shown for information.
  idleScenario('idle-deflate', 'idle memory: 10,000 connections with permessage-deflate (browser offer)', { compress: 'browser' }),
  idleScenario('idle-deflate-used', 'idle memory: 10,000 connections, each after one compressed echo (no context takeover)', {
    compress: 'no-context-takeover',
    exchange: true,
  }),
  multiplexedScenario(),
];

function latencyOf(result: EchoResult): NonNullable<EchoResult['latency']> {
  if (result.latency === undefined || result.latency.count === 0) throw new Error('the latency run measured no round trip');
  return result.latency;
}

interface BroadcastResult {
  deliveriesPerSecond: number;
  broadcastsPerSecond: number;
  clients: number;
  complete: boolean;
  broadcasts: number;
  fewestReceived: number;
  mostReceived: number;
  clientsShort: number;
  clientsOver: number;
  compressedShare: number;
  wireBytesPerMessage: number;
  readsPerMessage: number;
  generatorCpu: number;
}

interface FanOut {
  /** The servers' mode (see bench/servers/server.ts). */
  readonly mode: 'broadcast' | 'publish';
  /** Server processes; more than one share the topic over a RedisBackplane (fullduplex only). */
  readonly servers: number;
  /** Messages in flight. */
  readonly window: number;
  /** Text payload size in bytes (default 64). */
  readonly size?: number;
  /** JSON-like text instead of filler bytes. */
  readonly json?: boolean;
  /**
   * permessage-deflate: the servers with `{ serverNoContextTakeover: true }`, the clients offering it
   * and the publisher sending compressed; the run warns unless every delivery arrived compressed.
   */
  readonly compress?: boolean;
}

/**
 * One message to 1,000 connected clients: a publisher keeps `window` messages in flight, the server
 * sends each to every client (broadcast: fullduplex `server.broadcast`, ws the usual loop over
 * `clients`; publish: to a topic every client subscribes to), the generator counts what every client
 * receives (bench/load/broadcast.ts). With several servers, a Redis is started for the round and the
 * clients are spread over the servers.
 */
function fanOutScenario(base: Omit<Scenario, 'measure'>, fanOut: FanOut): Scenario {
  return {
    ...base,
    async measure(implementation, quick) {
      const redis = fanOut.servers > 1 ? await RedisServer.start() : null;
      const servers: RunningServer[] = [];
      try {
        const config: ServerConfig = {
          mode: fanOut.mode,
          ...(redis !== null && { redis: redis.url }),
          ...(fanOut.compress === true && { compress: true, serverNoContextTakeover: true }),
        };
        for (let i = 0; i < fanOut.servers; i++) servers.push(await startServer(implementation, config));
        const cpus = servers.map(serverCpuWhileMeasuring);
        const load: BroadcastLoad = {
          ports: servers.map((server) => server.port),
          connections: 1000,
          window: fanOut.window,
          size: fanOut.size ?? 64,
          ...(fanOut.json === true && { json: true }),
          ...(fanOut.compress === true && { compress: true }),
          durationMs: quick ? 1000 : DURATION_MS,
          warmupMs: quick ? 300 : WARMUP_MS,
        };
        const result = await runGenerator<BroadcastResult>('bench/load/broadcast.ts', load, undefined, (line) => {
          for (const cpu of cpus) cpu.onLine(line);
        });
        if (!result.complete) {
          process.stderr.write(
            `  ${base.name} (${implementation}): of ${result.broadcasts} messages, ${result.clientsShort} clients received fewer (fewest ${result.fewestReceived}), ` +
              `${result.clientsOver} more (most ${result.mostReceived})\n`,
          );
        }
        // Counted from frame headers, never inflated: make sure what was measured was compressed.
        if (fanOut.compress === true && result.compressedShare !== 1) {
          process.stderr.write(`  ${base.name} (${implementation}): only ${(result.compressedShare * 100).toFixed(1)}% of the deliveries arrived compressed (RSV1)\n`);
        }
        // The servers share the server core: their CPU use adds up.
        const each = await Promise.all(cpus.map((cpu) => cpu.result()));
        const serverCpu = each.every((cores) => cores !== undefined) ? each.reduce<number>((sum, cores) => sum + (cores ?? 0), 0) : undefined;
        checkBottleneck(base.name, implementation, result.generatorCpu, serverCpu);
        const { deliveriesPerSecond, ...details } = result;
        return { value: deliveriesPerSecond, details: { ...details, window: load.window, serverCpu, ...(each.length > 1 && { serverCpuEach: each }) } };
      } finally {
        await Promise.all(servers.map((server) => server.stop()));
        await redis?.dispose();
      }
    },
  };
}

/** Server memory per idle connection (JS heap after a forced GC, and RSS), in KiB. */
function idleScenario(name: string, title: string, variant: Pick<IdleLoad, 'compress' | 'exchange'>, rssTarget?: number): Scenario {
  return {
    name,
    title,
    unit: 'KiB heap/connection',
    higherIsBetter: false,
    target: 2,
    implementations: ['fullduplex', 'ws'],
    // Memory per connection over 10,000 connections hardly varies between rounds.
    rounds: 1,
    lines: [{ name: 'rss', title: 'server RSS per connection', unit: 'KiB RSS/connection', higherIsBetter: false, ...(rssTarget !== undefined && { target: rssTarget }) }],
    async measure(implementation, quick) {
      const connections = quick ? 1000 : 10_000;
      const server = await startServer(implementation, { compress: variant.compress !== undefined });
      try {
        const before = await server.stats();
        const load = await startLoad<{ opened: number }>('bench/load/idle.ts', { port: server.port, connections, ...variant } satisfies IdleLoad);
        try {
          await new Promise((resolve) => setTimeout(resolve, 1000));
          const after = await server.stats();
          const heap = (after.heapUsed - before.heapUsed) / connections / 1024;
          const rss = (after.rss - before.rss) / connections / 1024;
          return { value: heap, lines: { rss }, details: { connections: load.ready.opened, heapKiB: heap, rssKiB: rss } };
        } finally {
          load.stop();
        }
      } finally {
        await server.stop();
      }
    },
  };
}

interface MultiplexedResult {
  messagesPerSecond: number;
  opened: number;
  openMs: number;
  generatorCpu: number;
}

/** WebSockets per HTTP/2 session in the http2-multiplexed scenario: 1,000 over 4 sessions. */
const H2_SESSIONS = 4;

/**
 * 1,000 WebSockets multiplexed as RFC 8441 streams on 4 HTTP/2 sessions (fullduplex-h2, an h2c server)
 * against 1,000 HTTP/1.1 connections to fullduplex and to ws, in the same run: the server's memory per
 * WebSocket once all are open and idle (JS heap after GC, and RSS), the time to open all of them
 * (200 at a time), and an echo of 64-byte text messages on all of them (4 in flight each). The ratio
 * is fullduplex over HTTP/1.1 against ws as everywhere; the HTTP/2 figures are in their own column.
 */
function multiplexedScenario(): Scenario {
  return {
    name: 'http2-multiplexed',
    title: 'HTTP/2: 1,000 WebSockets on 4 sessions (RFC 8441) vs 1,000 HTTP/1.1 connections: memory, echo, opening',
    unit: 'KiB heap/WebSocket',
    higherIsBetter: false,
    implementations: ['fullduplex-h2', 'fullduplex', 'ws'],
    lines: [
      { name: 'rss', title: 'server RSS per WebSocket', unit: 'KiB RSS/WebSocket', higherIsBetter: false },
      { name: 'echo', title: 'echo: 64-byte text, 1,000 WebSockets x 4 in flight', unit: 'messages/s', higherIsBetter: true },
      { name: 'open', title: 'time to open all 1,000 (200 at a time)', unit: 'ms', higherIsBetter: false },
    ],
    async measure(implementation, quick) {
      const connections = 1000;
      const server = await startServer(implementation, {});
      try {
        const before = await server.stats();
        let memory: Promise<{ rss: number; heapUsed: number }> | undefined;
        const cpu = serverCpuWhileMeasuring(server);
        const load: MultiplexedLoad = {
          port: server.port,
          connections,
          sessions: implementation === 'fullduplex-h2' ? H2_SESSIONS : 0,
          window: 4,
          size: 64,
          idleMs: 1500,
          durationMs: quick ? 1000 : DURATION_MS,
          warmupMs: quick ? 300 : WARMUP_MS,
        };
        const result = await runGenerator<MultiplexedResult>('bench/load/multiplexed.ts', load, undefined, (line) => {
          // All open and idle: read the server's memory (after a GC) before the echo starts.
          if (line.startsWith('{"phase":"opened"')) memory = new Promise((resolve) => setTimeout(resolve, 500)).then(() => server.stats());
          else cpu.onLine(line);
        });
        if (memory === undefined) throw new Error('the multiplexed load never said it had opened its WebSockets');
        const after = await memory;
        if (result.opened !== connections) throw new Error(`only ${result.opened} of ${connections} WebSockets opened`);
        const heap = (after.heapUsed - before.heapUsed) / connections / 1024;
        const rss = (after.rss - before.rss) / connections / 1024;
        const serverCpu = await cpu.result();
        checkBottleneck('http2-multiplexed', implementation, result.generatorCpu, serverCpu);
        return {
          value: heap,
          lines: { rss, echo: result.messagesPerSecond, open: result.openMs },
          details: { heapKiB: heap, rssKiB: rss, ...result, serverCpu, sessions: load.sessions },
        };
      } finally {
        await server.stop();
      }
    },
  };
}
