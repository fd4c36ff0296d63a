/**
 * The connection storm load generator (its own process): `clients` WebSocket clients connect at once,
 * as after a deploy or a network blip, at most `concurrency` between the start of their TCP connection
 * and the server's 101 (bench/lib/connect.ts); each one stays open once upgraded. A connection that
 * fails (refused, reset: an accept queue overflowing) is retried after a short pause, at most 5 times,
 * and the retries are counted; its time to open runs from its first attempt.
 *
 *  1. {"phase":"storm"}: the clients start.
 *  2. {"phase":"open"}: every client is open (or gave up). The generator then holds them all open for
 *     `holdMs`, so that the scenario can read the server's memory with all of them there.
 *  3. Every client sends a close frame (1000) and waits for the server to close the TCP connection;
 *     {"phase":"closed"} once all have (or after `closeTimeoutMs`).
 *
 * Prints one JSON line last: the time until all were open, p50/p99 of a client's time to open (from its
 * own first attempt, and from the start of the storm), retries, failures, the time to close them all,
 * and the generator's CPU use.
 *
 *   node --import tsx bench/load/storm.ts '{"port":1234,"clients":10000,"concurrency":512,"holdMs":1000}'
 */
import type { Socket } from 'node:net';
import { clientCloseFrame } from '../lib/client-frames.js';
import { openConnection } from '../lib/connect.js';

export interface StormLoad {
  port: number;
  clients: number;
  /** Connections between the start of their TCP connection and their 101, at most. */
  concurrency: number;
  /** How long to keep every client open once all are (ms). */
  holdMs: number;
  /** Give up waiting for the server to close the connections after this long (ms; default 60,000). */
  closeTimeoutMs?: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as StormLoad;
const MAX_RETRIES = 5;
const close = clientCloseFrame(1000);
/** A masked pong with an empty payload: the answer to a server's heartbeat ping, as a live client gives. */
const PONG = Buffer.from([0x8a, 0x80, 1, 2, 3, 4]);

const started = new Array<number>(config.clients).fill(NaN);
const opened = new Array<number>(config.clients).fill(NaN);
const sockets: Socket[] = [];
const errors = new Map<string, number>();
let retries = 0;
let failed = 0;

async function open(index: number): Promise<void> {
  started[index] = performance.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const { socket } = await openConnection(config.port);
      opened[index] = performance.now();
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        if ((chunk[0]! & 0x0f) === 0x9) socket.write(PONG);
      });
      sockets.push(socket);
      return;
    } catch (error) {
      const message = error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error);
      errors.set(message, (errors.get(message) ?? 0) + 1);
      if (attempt >= MAX_RETRIES) {
        failed++;
        return;
      }
      retries++;
      await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
    }
  }
}

process.stdout.write('{"phase":"storm"}\n');
const cpuBefore = process.cpuUsage();
const start = performance.now();
let next = 0;
const lane = async (): Promise<void> => {
  while (next < config.clients) await open(next++);
};
await Promise.all(Array.from({ length: Math.min(config.concurrency, config.clients) }, lane));
const allOpenMs = performance.now() - start;
const cpu = process.cpuUsage(cpuBefore);
process.stdout.write('{"phase":"open"}\n');
await new Promise((resolve) => setTimeout(resolve, config.holdMs));

// Close them all at once: a close frame each, then the server's close frame and FIN.
const closeStart = performance.now();
let closed = 0;
await new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, config.closeTimeoutMs ?? 60_000);
  if (sockets.length === 0) resolve();
  for (const socket of sockets) {
    socket.once('close', () => {
      if (++closed === sockets.length) {
        clearTimeout(timer);
        resolve();
      }
    });
    socket.write(close);
  }
});
const closeAllMs = performance.now() - closeStart;
process.stdout.write('{"phase":"closed"}\n');

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
const own = opened.map((at, i) => at - started[i]!).filter(Number.isFinite).sort((a, b) => a - b);
const fromStart = opened.filter(Number.isFinite).map((at) => at - start).sort((a, b) => a - b);
const result = {
  clients: config.clients,
  concurrency: config.concurrency,
  opened: sockets.length,
  failed,
  retries,
  ...(errors.size > 0 && { errors: Object.fromEntries(errors) }),
  /** From the start of the storm until the last client was open. */
  allOpenMs,
  /** A client's time to open (TCP connect to 101), from its own first attempt. */
  p50Ms: percentile(own, 0.5),
  p99Ms: percentile(own, 0.99),
  maxMs: own.at(-1) ?? NaN,
  /** The same from the start of the storm (with the wait for a slot). */
  fromStartP50Ms: percentile(fromStart, 0.5),
  fromStartP99Ms: percentile(fromStart, 0.99),
  /** Closing them all at once: until the server had closed every connection. */
  closed,
  closeAllMs,
  /** The generator's CPU time over the storm (until all were open), in cores. */
  generatorCpu: (cpu.user + cpu.system) / 1e6 / (allOpenMs / 1000),
  complete: sockets.length === config.clients && closed === sockets.length,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
