/**
 * `fullduplex bench URL`: a load generator for any WebSocket echo server. Connections run in worker
 * threads (src/cli/bench-worker.ts) that speak the protocol over raw sockets with precomputed frames;
 * this thread parses the command line, paces the run (warm-up, measurement), shows progress, and
 * merges the threads' counts and latency histograms into one report.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { parseCommandLine, UsageError } from './args.js';
import { HISTOGRAM_BUCKETS, summarize, type BenchWorkerConfig, type FromWorker, type LatencySummary, type ToWorker } from './bench-shared.js';
import { ExitCode } from './exit-codes.js';
import type { Output } from './output.js';

const DEFAULTS = { connections: 10, size: 64, window: 16, duration: 10, warmup: 1 } as const;
const DEFAULT_THREADS = Math.min(Math.max(1, availableParallelism() - 1), 4);
const MAX_SIZE = 64 * 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** After the run, how long a worker gets to close its connections before it is terminated. */
const EXIT_WAIT_MS = 3_000;

export const BENCH_USAGE = `Usage: fullduplex bench URL [options]

Load an echo server at URL (ws:// or wss://) and measure messages per second, MB/s, and
round-trip latency (p50, p99, p99.9). Every connection sends messages of SIZE bytes and expects
each one back, same length, same type, in order (what "fullduplex serve --mode echo" does).

Options:
  --connections N     Connections to open (default ${DEFAULTS.connections}).
  --size BYTES        Payload size of each message (default ${DEFAULTS.size}).
  --window N          Closed loop: messages in flight per connection; a new one is sent for each
                      echo that comes back (default ${DEFAULTS.window}).
  --rate N            Open loop instead: each connection sends N messages per second, whatever
                      the server does; for latency at a fixed load. Excludes --window.
  --binary            Send binary messages (default: text).
  --duration SECONDS  How long to measure (default ${DEFAULTS.duration}).
  --warmup SECONDS    How long to run before measuring (default ${DEFAULTS.warmup}).
  --threads N         Worker threads that run the connections (default: the cores but one,
                      at most 4, at least 1; here ${DEFAULT_THREADS}).
  --insecure          wss:// only: do not verify the server's certificate.
  --json              Print one JSON record at the end instead of the table.
  -h, --help          Show this help.

While it runs it shows progress on stderr when stderr is a terminal. Ctrl-C ends the
measurement early and reports what was measured. The server must echo: a reply of another
length or type, extra replies, or no reply at all during the measurement fail the connection.

Examples:
  fullduplex bench ws://127.0.0.1:8080/
  fullduplex bench ws://127.0.0.1:8080/ --connections 100 --size 1024 --binary --duration 30
  fullduplex bench wss://localhost:8443/ --rate 100 --connections 50 --insecure --json

Exit codes:
  0  the run completed and every connection echoed
  1  connections failed (refused, handshake, TLS, closed by the server) or the server did not
     echo; how many and why is printed on stderr
  2  usage error`;

interface BenchSettings {
  url: URL;
  connections: number;
  size: number;
  window: number;
  rate: number | undefined;
  binary: boolean;
  duration: number;
  warmup: number;
  threads: number;
  insecure: boolean;
  json: boolean;
}

function parseInteger(value: string | undefined, option: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`${option} must be a whole number from ${min} to ${max} (got "${value}")`, 'bench');
  }
  return Number(value);
}

function parsePositive(value: string | undefined, option: string, allowZero: boolean, fallback: number): number;
function parsePositive(value: string | undefined, option: string, allowZero: boolean, fallback: undefined): number | undefined;
function parsePositive(value: string | undefined, option: string, allowZero: boolean, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(value) || !Number.isFinite(number) || (allowZero ? number < 0 : number <= 0) || number > 1e6) {
    throw new UsageError(`${option} must be a number ${allowZero ? 'of 0 or more' : 'above 0'} (got "${value}")`, 'bench');
  }
  return number;
}

/** Parse the command line; `null` when help was asked for (and printed). */
function parseBenchArgs(args: readonly string[], output: Output): BenchSettings | null {
  const { values, positionals } = parseCommandLine('bench', () =>
    parseArgs({
      args: [...args],
      options: {
        connections: { type: 'string' },
        size: { type: 'string' },
        window: { type: 'string' },
        rate: { type: 'string' },
        binary: { type: 'boolean' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        threads: { type: 'string' },
        insecure: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    }),
  );
  if (values.help === true) {
    output.log(BENCH_USAGE);
    return null;
  }
  const [address, ...extra] = positionals;
  if (address === undefined) throw new UsageError('the URL of the echo server is missing', 'bench');
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" (only one URL)`, 'bench');
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new UsageError(`invalid URL "${address}"`, 'bench');
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new UsageError(`the URL must start with ws:// or wss:// (got "${address}")`, 'bench');
  if (url.hash !== '') throw new UsageError('the URL must not have a fragment (#...)', 'bench');
  if (values.insecure === true && url.protocol !== 'wss:') throw new UsageError('--insecure only applies to wss:// URLs', 'bench');
  if (values.rate !== undefined && values.window !== undefined) throw new UsageError('--rate and --window exclude each other (open loop or closed loop)', 'bench');
  const connections = parseInteger(values.connections, '--connections', 1, 100_000, DEFAULTS.connections);
  return {
    url,
    connections,
    size: parseInteger(values.size, '--size', 0, MAX_SIZE, DEFAULTS.size),
    window: parseInteger(values.window, '--window', 1, 100_000, DEFAULTS.window),
    rate: parsePositive(values.rate, '--rate', false, undefined),
    binary: values.binary === true,
    duration: parsePositive(values.duration, '--duration', false, DEFAULTS.duration),
    warmup: parsePositive(values.warmup, '--warmup', true, DEFAULTS.warmup),
    threads: Math.min(connections, parseInteger(values.threads, '--threads', 1, 256, DEFAULT_THREADS)),
    insecure: values.insecure === true,
    json: values.json === true,
  };
}

/**
 * Start a worker thread. From the compiled dist/ it is bench-worker.js; from the TypeScript sources
 * (tsx) it is bench-worker.ts, and the thread registers tsx itself first: Node 20 does not apply the
 * parent's `--import tsx` hooks to a worker's entry module.
 */
function startWorker(config: BenchWorkerConfig): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./bench-worker.js', import.meta.url), { workerData: config });
  const entry = new URL('./bench-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData: config });
}

interface Thread {
  readonly worker: Worker;
  readonly exited: Promise<void>;
  /** The next message of each type. */
  next<T extends FromWorker['type']>(type: T): Promise<Extract<FromWorker, { type: T }>>;
  progress: { messages: number; sent: number };
  post(message: ToWorker): void;
}

function thread(config: BenchWorkerConfig, onError: (error: Error) => void): Thread {
  const worker = startWorker(config);
  const waiting = new Map<string, (message: FromWorker) => void>();
  const self: Thread = {
    worker,
    exited: new Promise((resolve) => worker.once('exit', () => resolve())),
    progress: { messages: 0, sent: 0 },
    next: (type) =>
      new Promise((resolve) => {
        waiting.set(type, resolve as (message: FromWorker) => void);
      }),
    post: (message) => worker.postMessage(message),
  };
  worker.on('message', (message: FromWorker) => {
    if (message.type === 'progress') self.progress = { messages: message.messages, sent: message.sent };
    const resolve = waiting.get(message.type);
    waiting.delete(message.type);
    resolve?.(message);
  });
  worker.on('error', onError);
  return self;
}

function describeErrors(errors: Map<string, number>): string {
  return [...errors].map(([reason, count]) => `  ${count} × ${reason}`).join('\n');
}

function addErrors(into: Map<string, number>, errors: Iterable<readonly [string, number]>): void {
  for (const [reason, count] of errors) into.set(reason, (into.get(reason) ?? 0) + count);
}

const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const fixed = (value: number, digits: number): string => value.toFixed(digits);

/** A progress bar on stderr, redrawn in place; only on a terminal. */
class Progress {
  readonly #enabled = process.stderr.isTTY === true;
  #timer: NodeJS.Timeout | undefined;
  /** Recent samples: the rate shown is over the last second or so. */
  readonly #samples: Array<{ time: number; messages: number }> = [];

  start(totalSeconds: number, warmupSeconds: number, count: () => number): void {
    if (!this.#enabled) return;
    const started = performance.now();
    this.#timer = setInterval(() => {
      const now = performance.now();
      const elapsed = (now - started) / 1000;
      const messages = count();
      this.#samples.push({ time: now, messages });
      if (this.#samples.length > 5) this.#samples.shift();
      const oldest = this.#samples[0]!;
      const rate = ((messages - oldest.messages) * 1000) / Math.max(1, now - oldest.time);
      const width = 30;
      const filled = Math.min(width, Math.round((elapsed / totalSeconds) * width));
      const label = elapsed < warmupSeconds ? 'warm-up' : 'measuring';
      process.stderr.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${fixed(Math.min(elapsed, totalSeconds), 1)}/${fixed(totalSeconds, 1)} s  ${label}  ${number.format(rate)} msg/s`);
    }, 250);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    process.stderr.write('\r\x1b[K');
  }
}

/** The result of a run: printed as a table, or with --json as one line of JSON (which the tests parse). */
export interface Report {
  ok: boolean;
  url: string;
  connections: number;
  threads: number;
  size: number;
  binary: boolean;
  mode: 'window' | 'rate';
  window: number | null;
  rate: number | null;
  warmupSeconds: number;
  seconds: number;
  messages: number;
  sent: number;
  bytes: number;
  messagesPerSecond: number;
  sentPerSecond: number;
  megabytesPerSecond: number;
  latencyMs: LatencySummary | null;
  skipped: number;
  failedConnections: number;
  errors: Array<{ reason: string; connections: number }>;
}

function formatTable(report: Report): string {
  const kind = report.binary ? 'binary' : 'text';
  const mode =
    report.rate === null
      ? `window ${report.window}`
      : `rate ${number.format(report.rate)}/s per connection (${number.format(report.rate * report.connections)}/s in all)`;
  const latency = report.latencyMs;
  const ms = (value: number): string => fixed(value, value < 10 ? 3 : 1);
  const lines = [
    `fullduplex bench ${report.url}`,
    `  ${report.connections} connection(s) on ${report.threads} thread(s), ${report.size}-byte ${kind} messages, ${mode}`,
    `  ${fixed(report.seconds, 2)} s measured after ${report.warmupSeconds} s of warm-up`,
    '',
    `  messages/s    ${number.format(report.messagesPerSecond)}`,
    `  MB/s          ${fixed(report.megabytesPerSecond, 2)}`,
    latency === null
      ? '  latency (ms)  no echo measured'
      : `  latency (ms)  p50 ${ms(latency.p50)}   p99 ${ms(latency.p99)}   p99.9 ${ms(latency.p999)}   max ${ms(latency.max)}`,
    `  messages      ${number.format(report.messages)} echoed, ${number.format(report.sent)} sent`,
  ];
  if (report.skipped > 0) lines.push(`  skipped       ${number.format(report.skipped)} sends: too many messages in flight (the server is not keeping up)`);
  return lines.join('\n');
}

export async function bench(args: readonly string[], output: Output): Promise<ExitCode> {
  const settings = parseBenchArgs(args, output);
  if (settings === null) return ExitCode.Ok;
  const { url } = settings;
  const tls = url.protocol === 'wss:';

  let workerError: Error | null = null;
  let failWorker: (error: Error) => void = () => {};
  const crashed = new Promise<never>((_, reject) => {
    failWorker = (error) => {
      workerError ??= error;
      reject(error);
    };
  });
  crashed.catch(() => {});

  const threads: Thread[] = [];
  let first = 0;
  for (let i = 0; i < settings.threads; i++) {
    const count = Math.floor(settings.connections / settings.threads) + (i < settings.connections % settings.threads ? 1 : 0);
    const config: BenchWorkerConfig = {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? (tls ? 443 : 80) : Number(url.port),
      path: `${url.pathname === '' ? '/' : url.pathname}${url.search}`,
      hostHeader: url.host,
      tls,
      insecure: settings.insecure,
      connections: count,
      firstConnection: first,
      totalConnections: settings.connections,
      size: settings.size,
      binary: settings.binary,
      window: settings.window,
      rate: settings.rate,
      handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    };
    first += count;
    threads.push(thread(config, failWorker));
  }
  const finish = async (): Promise<void> => {
    await Promise.race([Promise.all(threads.map((t) => t.exited)), new Promise((resolve) => setTimeout(resolve, EXIT_WAIT_MS).unref())]);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  };
  const failed = async (message: string): Promise<ExitCode> => {
    output.error(`fullduplex bench: ${message}`);
    await Promise.all(threads.map((t) => t.worker.terminate()));
    return ExitCode.Failure;
  };

  try {
    // Connect.
    const connected = await Promise.race([Promise.all(threads.map((t) => t.next('connected'))), crashed]);
    const connectErrors = new Map<string, number>();
    for (const result of connected) addErrors(connectErrors, result.failures);
    const failedCount = [...connectErrors.values()].reduce((a, b) => a + b, 0);
    if (failedCount > 0) {
      const hint = [...connectErrors.keys()].some((reason) => /certificate/i.test(reason)) ? '\n(use --insecure to skip certificate verification)' : '';
      if (settings.json) {
        output.log(JSON.stringify({ ok: false, url: url.href, connections: settings.connections, failedConnections: failedCount, errors: [...connectErrors].map(([reason, n]) => ({ reason, connections: n })) }));
      }
      return await failed(`${failedCount} of ${settings.connections} connection(s) to ${url.href} failed:\n${describeErrors(connectErrors)}${hint}`);
    }

    // Run: warm-up, then measure; Ctrl-C ends the measurement early.
    let interrupt: () => void = () => {};
    const interrupted = new Promise<void>((resolve) => (interrupt = resolve));
    const onSignal = (): void => interrupt();
    process.once('SIGINT', onSignal);
    const progress = new Progress();
    const sleep = (seconds: number): Promise<unknown> => Promise.race([new Promise((resolve) => setTimeout(resolve, seconds * 1000)), interrupted, crashed]);
    let seconds: number;
    let results: Array<Extract<FromWorker, { type: 'result' }>>;
    try {
      for (const t of threads) t.post({ type: 'start' });
      progress.start(settings.warmup + settings.duration, settings.warmup, () => threads.reduce((sum, t) => sum + t.progress.messages, 0));
      if (settings.warmup > 0) await sleep(settings.warmup);
      for (const t of threads) t.post({ type: 'measure' });
      const measureStart = performance.now();
      await sleep(settings.duration);
      const resultsComing = threads.map((t) => t.next('result'));
      for (const t of threads) t.post({ type: 'stop' });
      seconds = (performance.now() - measureStart) / 1000;
      results = await Promise.race([Promise.all(resultsComing), crashed]);
    } finally {
      progress.stop();
      process.off('SIGINT', onSignal);
    }
    await finish();

    // Report.
    const histogram = new Float64Array(HISTOGRAM_BUCKETS);
    const errors = new Map<string, number>();
    let messages = 0;
    let sent = 0;
    let bytes = 0;
    let skipped = 0;
    for (const result of results) {
      messages += result.messages;
      sent += result.sent;
      bytes += result.bytes;
      skipped += result.skipped;
      for (let i = 0; i < histogram.length; i++) histogram[i]! += result.histogram[i]!;
      addErrors(errors, result.errors);
    }
    if (messages === 0 && errors.size === 0) errors.set(`no echo received in ${fixed(seconds, 1)} s (is it an echo server?)`, settings.connections);
    const failedConnections = [...errors.values()].reduce((a, b) => a + b, 0);
    const report: Report = {
      ok: errors.size === 0,
      url: url.href,
      connections: settings.connections,
      threads: settings.threads,
      size: settings.size,
      binary: settings.binary,
      mode: settings.rate === undefined ? 'window' : 'rate',
      window: settings.rate === undefined ? settings.window : null,
      rate: settings.rate ?? null,
      warmupSeconds: settings.warmup,
      seconds,
      messages,
      sent,
      bytes,
      messagesPerSecond: messages / seconds,
      sentPerSecond: sent / seconds,
      megabytesPerSecond: bytes / seconds / 1e6,
      latencyMs: summarize(histogram),
      skipped,
      failedConnections: Math.min(failedConnections, settings.connections),
      errors: [...errors].map(([reason, n]) => ({ reason, connections: n })),
    };
    output.log(settings.json ? JSON.stringify(report) : formatTable(report));
    if (errors.size > 0) {
      output.error(`fullduplex bench: ${report.failedConnections} of ${settings.connections} connection(s) failed during the run:\n${describeErrors(errors)}`);
      return ExitCode.Failure;
    }
    return ExitCode.Ok;
  } catch (error) {
    if (workerError === null) throw error;
    return await failed(`a worker thread failed: ${(workerError as Error).stack ?? (workerError as Error).message}`);
  }
}
