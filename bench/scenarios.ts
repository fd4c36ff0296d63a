/** The benchmark scenarios: what each measures, against which implementations, and its target. */
import { runGenerator, startLoad, startServer } from './lib/processes.js';
import type { EchoLoad } from './load/echo.js';
import type { IdleLoad } from './load/idle.js';
import type { Implementation } from './servers/server.js';

export interface Measurement {
  readonly value: number;
  readonly details?: Record<string, unknown>;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly unit: string;
  readonly higherIsBetter: boolean;
  /** fullduplex's target ratio to ws. */
  readonly target: number;
  readonly implementations: readonly Implementation[];
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
        return { value: metric(result), ...(result.latency !== undefined && { details: { latency: result.latency } }) };
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
  idleScenario('idle-memory', 'idle memory: 10,000 open connections', {}),
  idleScenario('idle-deflate', 'idle memory: 10,000 connections with permessage-deflate (browser offer)', { compress: 'browser' }),
  idleScenario('idle-deflate-used', 'idle memory: 10,000 connections, each after one compressed echo (no context takeover)', {
    compress: 'no-context-takeover',
    exchange: true,
  }),
];

/** Server memory per idle connection (RSS, and JS heap after a forced GC), in KiB. */
function idleScenario(name: string, title: string, variant: Pick<IdleLoad, 'compress' | 'exchange'>): Scenario {
  return {
    name,
    title,
    unit: 'KiB heap/connection',
    higherIsBetter: false,
    target: 2,
    implementations: ['fullduplex', 'ws'],
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
          return { value: heap, details: { connections: load.ready.opened, heapKiB: heap, rssKiB: rss } };
        } finally {
          load.stop();
        }
      } finally {
        await server.stop();
      }
    },
  };
}
