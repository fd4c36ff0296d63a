/**
 * What `fullduplex bench` and its worker threads share: the messages they exchange and the latency
 * histogram (fixed memory, no allocation per recorded value, merged across threads at the end).
 */

/** The part of the run a worker is given (`workerData`). */
export interface BenchWorkerConfig {
  readonly host: string;
  readonly port: number;
  /** Path and query of the request. */
  readonly path: string;
  /** The `Host` header: host and port as the URL has them. */
  readonly hostHeader: string;
  readonly tls: boolean;
  /** wss:// without certificate verification. */
  readonly insecure: boolean;
  /** This worker's connections. */
  readonly connections: number;
  /** Index of this worker's first connection among all (spreads the rate-mode phases). */
  readonly firstConnection: number;
  readonly totalConnections: number;
  readonly size: number;
  readonly binary: boolean;
  /** Messages in flight per connection (closed loop); ignored with `rate`. */
  readonly window: number;
  /** Open loop: messages per second per connection. */
  readonly rate: number | undefined;
  readonly handshakeTimeoutMs: number;
}

/** Main thread to worker. */
export type ToWorker = { readonly type: 'start' } | { readonly type: 'measure' } | { readonly type: 'stop' };

/** `[reason, how many connections]`. */
export type ErrorCounts = Array<[string, number]>;

/** Worker to main thread. */
export type FromWorker =
  | { readonly type: 'connected'; readonly connected: number; readonly failures: ErrorCounts }
  | { readonly type: 'progress'; readonly messages: number; readonly sent: number }
  | {
      readonly type: 'result';
      /** Messages echoed during the measurement, and their payload bytes. */
      readonly messages: number;
      readonly bytes: number;
      readonly sent: number;
      /** Rate mode: sends skipped because too many messages were in flight. */
      readonly skipped: number;
      readonly histogram: Float64Array;
      /** What went wrong with connections during the run (each connection counted once). */
      readonly errors: ErrorCounts;
    };

/*
 * Latency histogram in microseconds, log-linear: values below 2048 µs are exact, larger ones keep 10
 * significant bits (an error under 0.1%), up to 2^31 µs (about 36 minutes).
 */
const LINEAR_BITS = 11;
const LINEAR = 1 << LINEAR_BITS; // 2048
const HALF = LINEAR >> 1; // 1024
const MAX_SHIFT = 31 - LINEAR_BITS;
export const HISTOGRAM_BUCKETS = LINEAR + MAX_SHIFT * HALF;
const MAX_MICROS = 2 ** 31 - 1;

/** The bucket of a latency in milliseconds. */
export function bucketOf(milliseconds: number): number {
  let micros = Math.round(milliseconds * 1000);
  if (!(micros > 0)) return 0;
  if (micros > MAX_MICROS) micros = MAX_MICROS;
  if (micros < LINEAR) return micros;
  const shift = 32 - Math.clz32(micros) - LINEAR_BITS;
  return LINEAR + (shift - 1) * HALF + ((micros >>> shift) - HALF);
}

/** The middle of a bucket, in milliseconds. */
export function valueOf(bucket: number): number {
  if (bucket < LINEAR) return bucket / 1000;
  const shift = Math.floor((bucket - LINEAR) / HALF) + 1;
  const mantissa = ((bucket - LINEAR) % HALF) + HALF;
  return (mantissa * 2 ** shift + (2 ** shift - 1) / 2) / 1000;
}

export interface LatencySummary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** Percentiles of a histogram (counts per bucket); `null` when it is empty. */
export function summarize(histogram: Float64Array): LatencySummary | null {
  let count = 0;
  let sum = 0;
  let min = -1;
  let max = -1;
  for (let i = 0; i < histogram.length; i++) {
    const n = histogram[i]!;
    if (n === 0) continue;
    count += n;
    sum += n * valueOf(i);
    if (min === -1) min = i;
    max = i;
  }
  if (count === 0) return null;
  const at = (quantile: number): number => {
    // The smallest value with at least `quantile` of the values at or below it.
    const rank = Math.max(1, Math.ceil(quantile * count));
    let seen = 0;
    for (let i = 0; i < histogram.length; i++) {
      seen += histogram[i]!;
      if (seen >= rank) return valueOf(i);
    }
    return valueOf(max);
  };
  return { count, min: valueOf(min), mean: sum / count, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: valueOf(max) };
}
