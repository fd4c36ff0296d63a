/**
 * The multiplexing load (its own process): open N WebSockets, either as N HTTP/1.1 connections or as
 * extended CONNECT streams (RFC 8441) spread over a few HTTP/2 sessions (cleartext, prior knowledge),
 * and time how long opening all of them takes. Prints {"phase":"opened", ...} once all are open, then
 * stays idle for `idleMs` (the scenario reads the server's memory then), then runs a closed-loop echo
 * of small text messages on all of them (`window` in flight each), printing {"phase":"measuring"} and
 * {"phase":"measured"} around the measured period and a last JSON line with the result.
 */
import http2, { type ClientHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import { clientFrame, MessageCounter } from '../lib/client-frames.js';
import { openConnection } from '../lib/connect.js';

export interface MultiplexedLoad {
  port: number;
  connections: number;
  /** HTTP/2 sessions to spread the WebSockets over; 0 for one HTTP/1.1 connection per WebSocket. */
  sessions: number;
  window: number;
  size: number;
  idleMs: number;
  durationMs: number;
  warmupMs: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as MultiplexedLoad;
const frame = clientFrame(Buffer.alloc(config.size, 0x61), { binary: false });
const burst = Buffer.concat(Array.from({ length: Math.max(1, config.window) }, () => frame));
const BATCH = 200;

async function openSession(): Promise<ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${config.port}`);
  session.on('error', (error) => process.stderr.write(`  session error: ${error.message}\n`));
  await new Promise<void>((resolve, reject) => {
    session.once('remoteSettings', () => resolve());
    session.once('error', reject);
  });
  if (session.remoteSettings.enableConnectProtocol !== true) throw new Error('the server does not enable extended CONNECT');
  return session;
}

function openStream(session: ClientHttp2Session): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'http',
      ':authority': `127.0.0.1:${config.port}`,
      ':path': '/',
      'sec-websocket-version': '13',
    });
    stream.once('error', reject);
    stream.once('response', (headers) => {
      if (headers[':status'] !== 200) reject(new Error(`refused: ${headers[':status']}`));
      else resolve(stream);
    });
  });
}

const startedAt = performance.now();
const sessions: ClientHttp2Session[] = [];
for (let i = 0; i < config.sessions; i++) sessions.push(await openSession());
const sockets: Duplex[] = [];
for (let opened = 0; opened < config.connections; opened += BATCH) {
  const batch = await Promise.all(
    Array.from({ length: Math.min(BATCH, config.connections - opened) }, async (_, i) => {
      if (sessions.length === 0) return (await openConnection(config.port)).socket;
      return openStream(sessions[(opened + i) % sessions.length]!);
    }),
  );
  sockets.push(...batch);
}
const openMs = performance.now() - startedAt;
process.stdout.write(`${JSON.stringify({ phase: 'opened', opened: sockets.length, openMs })}\n`);
await new Promise((resolve) => setTimeout(resolve, config.idleMs));

let counting = false;
let messages = 0;
for (const socket of sockets) {
  const counter = new MessageCounter();
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    const done = counter.push(chunk);
    if (done === 0) return;
    if (counting) messages += done;
    socket.write(done === config.window ? burst : Buffer.concat(Array.from({ length: done }, () => frame)));
  });
  socket.write(burst);
}
const cpuStart = process.cpuUsage();
await new Promise((resolve) => setTimeout(resolve, config.warmupMs));
process.stdout.write('{"phase":"measuring"}\n');
counting = true;
const measureStart = performance.now();
await new Promise((resolve) => setTimeout(resolve, config.durationMs));
counting = false;
const seconds = (performance.now() - measureStart) / 1000;
process.stdout.write('{"phase":"measured"}\n');
const cpu = process.cpuUsage(cpuStart);
const result = { messagesPerSecond: messages / seconds, opened: sockets.length, openMs, generatorCpu: (cpu.user + cpu.system) / 1e6 / (seconds + config.warmupMs / 1000) };
process.stdout.write(`${JSON.stringify(result)}\n`);
for (const socket of sockets) socket.destroy();
for (const session of sessions) session.destroy();
process.exit(0);
