/**
 * The connection scenarios (issue 20, docs/performance.md "## Connection storms"): fullduplex against
 * `ws`, with the raw ceiling (bench/servers/raw-websocket.ts: the same exchange on the wire without HTTP
 * parser or WebSocket library) in the same run. Their sizes are parameters so that the smoke test
 * (test/bench/handshake-scenarios.test.ts) can run them tiny; SCENARIOS (scenarios.ts) has the real ones.
 *
 *  - handshakes: 32 loops of connect + upgrade + one echo + close over ws:// (bench/load/handshakes.ts):
 *    connections per second, and the server's CPU time per connection.
 *  - wss-handshakes: the same cycle over TLS, with session resumption as browsers do it (each loop
 *    offers the newest ticket it got); fullduplex and `ws` on an `https.Server`, raw on a `tls.Server`.
 *  - storm: 10,000 clients connect at once, 512 at a time (bench/load/storm.ts), and stay open: the time
 *    until all are open, p50/p99 of a client's time to open, the server's peak RSS and JS heap over its
 *    idle figures, and its CPU time per connection; then all close at once.
 *
 * The server's CPU per connection (its CPU use over the measured period, from the server process over
 * IPC) is the steadier figure on a loaded machine: the rates follow how much of its core the server got.
 */
import { spawnSync } from 'node:child_process';
import { checkBottleneck } from './lib/bottleneck.js';
import { connectionsWithinFdLimit } from './lib/fd-limit.js';
import { runGenerator, serverCpuWhileMeasuring, startServer } from './lib/processes.js';
import type { HandshakesLoad } from './load/handshakes.js';
import type { StormLoad } from './load/storm.js';
import type { Measurement, Scenario } from './scenarios.js';
import type { ServerConfig } from './servers/server.js';
// The tests' certificate helper (openssl, a self-signed certificate for 127.0.0.1), as it is.
import { selfSignedCertificate } from '../test/helpers/tls.js';

export interface HandshakesSize {
  parallel: number;
  durationMs: number;
  warmupMs: number;
  /** A cycle that takes longer failed (default 5,000 ms). */
  cycleTimeoutMs?: number;
}

export const HANDSHAKES_SIZES = {
  full: { parallel: 32, durationMs: 4000, warmupMs: 1000 },
  quick: { parallel: 32, durationMs: 1000, warmupMs: 300 },
} as const satisfies { full: HandshakesSize; quick: HandshakesSize };

interface HandshakesResult {
  connectionsPerSecond: number;
  cycles: number;
  failures: number;
  resumed?: number;
  errors?: Record<string, number>;
  seconds: number;
  generatorCpu: number;
}

/** The server's CPU time per connection in µs, from its CPU use (cores) and the connections per second. */
function cpuPerConnection(serverCpu: number | undefined, perSecond: number): number {
  return serverCpu === undefined || !(perSecond > 0) ? NaN : (serverCpu / perSecond) * 1e6;
}

const OPENSSL_SKIP = 'openssl is not installed (Debian package openssl): no certificate for wss://';
function opensslSkipReason(): string | false {
  return spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0 ? false : OPENSSL_SKIP;
}

/** One self-signed certificate for the whole run, made on first use (the files are removed at once). */
let certificate: { key: string; cert: string } | undefined;
function runCertificate(): { key: string; cert: string } {
  if (certificate === undefined) {
    const made = selfSignedCertificate();
    certificate = { key: made.key.toString('utf8'), cert: made.cert.toString('utf8') };
    made.remove();
  }
  return certificate;
}

function cycleScenario(base: Omit<Scenario, 'measure' | 'lines' | 'implementations'>, tls: boolean, size: { full: HandshakesSize; quick: HandshakesSize }): Scenario {
  return {
    ...base,
    implementations: ['fullduplex', 'ws', 'raw'],
    lines: [{ name: 'cpu', title: 'server CPU time per connection', unit: 'µs/connection', higherIsBetter: false }],
    ...(tls && { skip: opensslSkipReason }),
    async measure(implementation, quick): Promise<Measurement> {
      const chosen = quick ? size.quick : size.full;
      const pem = tls ? runCertificate() : undefined;
      const config: ServerConfig = { frames: true, ...(pem !== undefined && { tls: pem }) };
      const server = await startServer(implementation, config);
      try {
        const cpu = serverCpuWhileMeasuring(server);
        const load: HandshakesLoad = {
          port: server.port,
          parallel: chosen.parallel,
          size: 64,
          durationMs: chosen.durationMs,
          warmupMs: chosen.warmupMs,
          ...(chosen.cycleTimeoutMs !== undefined && { cycleTimeoutMs: chosen.cycleTimeoutMs }),
          ...(pem !== undefined && { tls: { ca: pem.cert } }),
        };
        const timeout = chosen.warmupMs + chosen.durationMs + 2 * (chosen.cycleTimeoutMs ?? 5000) + 60_000;
        const result = await runGenerator<HandshakesResult>('bench/load/handshakes.ts', load, timeout, cpu.onLine);
        if (result.failures > 0) process.stderr.write(`  ${base.name} (${implementation}): ${result.failures} cycles failed: ${JSON.stringify(result.errors)}\n`);
        if (tls && result.cycles > 0 && (result.resumed ?? 0) < result.cycles * 0.9) {
          process.stderr.write(`  ${base.name} (${implementation}): only ${result.resumed} of ${result.cycles} TLS sessions were resumed\n`);
        }
        const serverCpu = await cpu.result();
        checkBottleneck(base.name, implementation, result.generatorCpu, serverCpu);
        const serverCpuUs = cpuPerConnection(serverCpu, result.connectionsPerSecond);
        const { connectionsPerSecond, ...details } = result;
        return { value: connectionsPerSecond, lines: { cpu: serverCpuUs }, details: { ...details, serverCpu, serverCpuUsPerConnection: serverCpuUs } };
      } finally {
        await server.stop();
      }
    },
  };
}

/** Connection churn over ws://: connect + upgrade + one echo + close, 32 loops. */
export function handshakesScenario(name = 'handshakes', size: { full: HandshakesSize; quick: HandshakesSize } = HANDSHAKES_SIZES): Scenario {
  return cycleScenario(
    {
      name,
      title: `handshakes: connect + upgrade + one echo + close, ${size.full.parallel} in parallel (raw: node:net ceiling)`,
      unit: 'connections/s',
      higherIsBetter: true,
      target: 1.5,
    },
    false,
    size,
  );
}

/** The same over wss://, TLS sessions resumed as browsers do. No target: TLS is most of the cost. */
export function wssHandshakesScenario(name = 'wss-handshakes', size: { full: HandshakesSize; quick: HandshakesSize } = HANDSHAKES_SIZES): Scenario {
  return cycleScenario(
    {
      name,
      title: `wss handshakes: TLS (resumed) + upgrade + one echo + close, ${size.full.parallel} in parallel (raw: tls.Server ceiling)`,
      unit: 'connections/s',
      higherIsBetter: true,
    },
    true,
    size,
  );
}

export interface StormSize {
  clients: number;
  concurrency: number;
  /** All open this long before they close (ms): the server's memory is read meanwhile. */
  holdMs: number;
}

export const STORM_SIZES = {
  full: { clients: 10_000, concurrency: 512, holdMs: 1500 },
  quick: { clients: 1000, concurrency: 512, holdMs: 1000 },
} as const satisfies { full: StormSize; quick: StormSize };

interface StormResult {
  clients: number;
  opened: number;
  failed: number;
  retries: number;
  errors?: Record<string, number>;
  allOpenMs: number;
  p50Ms: number;
  p99Ms: number;
  closed: number;
  closeAllMs: number;
  generatorCpu: number;
  complete: boolean;
}

const MiB = 1024 * 1024;

/**
 * A reconnect storm: `clients` connect at once, `concurrency` at a time, and stay open. While it goes
 * on, the server's memory (RSS and JS heap, no GC) is sampled over IPC every 50 ms; the peak RSS is
 * the process's own (resourceUsage's maxRSS). Both are reported over the server's figures before the
 * storm (after a GC).
 */
export function stormScenario(name = 'storm', size: { full: StormSize; quick: StormSize } = STORM_SIZES): Scenario {
  return {
    name,
    title: `storm: ${size.full.clients.toLocaleString('en-US')} clients connect at once, ${size.full.concurrency} at a time: time until all are open`,
    unit: 'ms',
    higherIsBetter: false,
    implementations: ['fullduplex', 'ws', 'raw'],
    lines: [
      { name: 'p50', title: "a client's time to open (connect to 101), median", unit: 'ms p50', higherIsBetter: false },
      { name: 'p99', title: "a client's time to open, 99th percentile", unit: 'ms p99', higherIsBetter: false },
      { name: 'rss', title: 'server peak RSS over its idle RSS', unit: 'MiB', higherIsBetter: false },
      { name: 'heap', title: 'server peak JS heap over its idle heap', unit: 'MiB', higherIsBetter: false },
      { name: 'cpu', title: 'server CPU time per connection opened', unit: 'µs/connection', higherIsBetter: false },
    ],
    async measure(implementation, quick): Promise<Measurement> {
      const chosen = quick ? size.quick : size.full;
      const clients = connectionsWithinFdLimit(name, chosen.clients);
      if (clients < 1) throw new Error(`${name}: no room for a single connection under the open-file limit`);
      const server = await startServer(implementation, { frames: true });
      try {
        const before = await server.stats();
        const cpu = serverCpuWhileMeasuring(server);
        let sampling = false;
        let peakHeap = before.heapUsed;
        let samples = 0;
        let sampler: Promise<void> = Promise.resolve();
        let allOpen: Promise<{ rss: number; heapUsed: number }> | undefined;
        const sample = async (): Promise<void> => {
          while (sampling) {
            const now = await server.usage();
            peakHeap = Math.max(peakHeap, now.heapUsed);
            samples++;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        };
        const load: StormLoad = { port: server.port, clients, concurrency: chosen.concurrency, holdMs: chosen.holdMs };
        const result = await runGenerator<StormResult>('bench/load/storm.ts', load, 300_000, (line) => {
          cpu.onLine(line);
          if (line.startsWith('{"phase":"storm"')) {
            sampling = true;
            sampler = sample();
          } else if (line.startsWith('{"phase":"open"')) {
            // One last sample with all of them open, then what they hold after a GC (for the details).
            sampling = false;
            allOpen = sampler.then(async () => {
              const now = await server.usage();
              peakHeap = Math.max(peakHeap, now.heapUsed);
              return server.stats();
            });
          }
        });
        sampling = false;
        await sampler;
        if (allOpen === undefined) throw new Error(`${name}: the storm generator never said all were open`);
        const retained = await allOpen;
        const after = await server.usage();
        const serverCpu = await cpu.result();
        if (!result.complete) {
          process.stderr.write(`  ${name} (${implementation}): ${result.opened} of ${result.clients} opened (${result.failed} gave up), ${result.closed} closed: ${JSON.stringify(result.errors)}\n`);
        }
        checkBottleneck(name, implementation, result.generatorCpu, serverCpu);
        const cpuUs = serverCpu === undefined || result.opened === 0 ? NaN : (serverCpu * result.allOpenMs * 1000) / result.opened;
        const rss = (after.maxRss - before.rss) / MiB;
        const heap = (peakHeap - before.heapUsed) / MiB;
        return {
          value: result.allOpenMs,
          lines: { p50: result.p50Ms, p99: result.p99Ms, rss, heap, cpu: cpuUs },
          details: {
            ...result,
            serverCpu,
            serverCpuUsPerConnection: cpuUs,
            memorySamples: samples,
            serverIdleRssMiB: before.rss / MiB,
            serverIdleHeapMiB: before.heapUsed / MiB,
            serverPeakRssMiB: after.maxRss / MiB,
            serverPeakHeapMiB: peakHeap / MiB,
            // With every client open, after a GC: what the connections hold (KiB each).
            retainedHeapKiBPerConnection: (retained.heapUsed - before.heapUsed) / Math.max(1, result.opened) / 1024,
            retainedRssKiBPerConnection: (retained.rss - before.rss) / Math.max(1, result.opened) / 1024,
          },
        };
      } finally {
        await server.stop();
      }
    },
  };
}
