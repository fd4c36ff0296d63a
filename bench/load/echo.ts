/**
 * The echo load generator (its own process): N connections, each keeping `window` messages in flight
 * (closed loop), all frames precomputed. Prints one JSON line: messages and bytes echoed per second
 * after the warm-up, and, in latency mode (a fixed send rate instead of a window), round-trip times.
 *
 *   node --import tsx bench/load/echo.ts '{"port":..., "connections":100, "window":16, ...}'
 */
import { clientFrame, jsonLikeText, MessageCounter } from '../lib/client-frames.js';
import { openConnection } from '../lib/connect.js';

export interface EchoLoad {
  port: number;
  connections: number;
  /** Messages in flight per connection (closed loop). */
  window: number;
  size: number;
  binary: boolean;
  /** JSON-like text instead of filler bytes. */
  json?: boolean;
  /** Send permessage-deflate compressed frames (offers client_no_context_takeover). */
  compress?: boolean;
  /** The server echoes raw bytes (a plain TCP echo): count echoed frames by length. */
  raw?: boolean;
  durationMs: number;
  warmupMs: number;
  /** Latency mode: each connection sends this many messages per second, open loop. */
  rate?: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as EchoLoad;
const payload = config.json === true ? jsonLikeText(config.size) : Buffer.alloc(config.size, 0x61);
const frame = clientFrame(payload, { binary: config.binary, ...(config.compress === true && { compress: true }) });
// Many copies in one buffer, so a window is one write.
const burst = Buffer.concat(Array.from({ length: Math.max(1, config.window) }, () => frame));

let counting = false;
let messages = 0;
let bytes = 0;
const latencies: number[] = [];

const connections = await Promise.all(
  Array.from({ length: config.connections }, () =>
    openConnection(config.port, config.compress === true ? { extensions: 'permessage-deflate; client_no_context_takeover' } : {}),
  ),
);

const timers: NodeJS.Timeout[] = [];
for (const { socket, head } of connections) {
  const counter = new MessageCounter();
  const sentAt: number[] = [];
  let rawBytes = 0;
  const onChunk = (chunk: Buffer): void => {
    let done: number;
    if (config.raw === true) {
      rawBytes += chunk.length;
      done = Math.floor(rawBytes / frame.length);
      rawBytes -= done * frame.length;
    } else {
      done = counter.push(chunk);
    }
    if (counting) {
      messages += done;
      bytes += done * config.size;
    }
    if (config.rate !== undefined) {
      const now = performance.now();
      for (let i = 0; i < done; i++) {
        const started = sentAt.shift();
        if (counting && started !== undefined) latencies.push(now - started);
      }
      return;
    }
    // Closed loop: one new message for each one that came back.
    if (done === 1) socket.write(frame);
    else if (done > 0) socket.write(done <= config.window ? burst.subarray(0, done * frame.length) : Buffer.concat(Array.from({ length: done }, () => frame)));
  };
  socket.on('data', onChunk);
  socket.on('error', () => {});
  if (head.length > 0) onChunk(head);
  if (config.rate !== undefined) {
    const every = 1000 / config.rate;
    // Spread the connections over the period.
    const start = setTimeout(() => {
      const timer = setInterval(() => {
        sentAt.push(performance.now());
        socket.write(frame);
      }, every);
      timers.push(timer);
    }, Math.random() * every);
    timers.push(start);
  } else {
    socket.write(burst);
  }
}

await new Promise((resolve) => setTimeout(resolve, config.warmupMs));
counting = true;
const started = performance.now();
await new Promise((resolve) => setTimeout(resolve, config.durationMs));
counting = false;
const seconds = (performance.now() - started) / 1000;
for (const timer of timers) clearInterval(timer);

const result: Record<string, unknown> = {
  messages,
  seconds,
  messagesPerSecond: messages / seconds,
  megabytesPerSecond: bytes / seconds / 1e6,
};
if (config.rate !== undefined) {
  latencies.sort((a, b) => a - b);
  const pick = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  result['latency'] = { count: latencies.length, p50: pick(0.5), p99: pick(0.99), p999: pick(0.999) };
}
process.stdout.write(`${JSON.stringify(result)}\n`);
for (const { socket } of connections) socket.destroy();
process.exit(0);
