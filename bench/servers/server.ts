/**
 * The servers under test, each in its own process: fullduplex, `ws` (with bufferutil and
 * utf-8-validate, which it loads by itself), and a raw `node:net` echo (the ceiling for bytes through
 * Node). Started with fork(): the port and memory statistics go over the IPC channel.
 *
 *   fork('bench/servers/server.ts', ['fullduplex', '{"compress":false}'])
 *   fork('bench/servers/server.ts', ['ws', '{"mode":"broadcast"}'])
 *
 * Modes: `echo` (the default) sends every message back to its sender; `broadcast` sends every message
 * to every open client (fullduplex: `server.broadcast`, its fastest public way, which frames the message
 * once; ws: the usual loop over `wss.clients`); `publish` is the same through topics: every connection
 * subscribes to one topic on connection and every message is published to it (fullduplex:
 * `server.publish`, as the chat room of `fullduplex serve` does, so the sender gets its copy too; ws has
 * no topics: the same loop over `wss.clients`). The raw TCP echo has neither.
 *
 * `frames` (raw only): instead of the byte echo, the raw ceiling of the handshake scenarios
 * (bench/servers/raw-websocket.ts): a fixed 101, the one data frame echoed as a server frame, the close
 * frame answered and the TCP connection ended, as the WebSocket servers do.
 *
 * `tls` (echo mode; the wss-handshakes scenario): the server speaks TLS with that key and certificate:
 * fullduplex and `ws` on an `https.Server` (`{ server }`: fullduplex's standalone mode has no TLS),
 * raw on a `tls.Server` (with `frames`). Both keep Node's default TLS session tickets, so clients resume.
 *
 * `redis` (fullduplex in publish mode): the server shares its topics with the others on that Redis
 * through a RedisBackplane (fullduplex/redis, from dist/ too).
 *
 * `history` mode (fullduplex only; topics with history, docs/recovery.md): the connection's path says
 * what it is. `/sub/<topic>`: a plain subscriber (`socket.subscribe`). `/publish/<topic>`: every message
 * it sends is published to the topic with `server.publish`; with `?ack`, the server answers each one
 * with the JSON of the publish callback's position (`{"epoch":..,"offset":..}`) once the store has it.
 * A connection that offers `fullduplex.resume.v1` is a resume connection (the library serves it;
 * `authorize: () => true`). `history: 'memory' | 'redis'` names the store (MemoryHistory, or a
 * RedisHistory on `redis`), every topic keeping the last `maxMessages`; without `history` the server has
 * no history at all (the baseline: topics as in publish mode).
 *
 * FULLDUPLEX_BENCH_SOURCE=src (the smoke tests, which have no dist/): load the sources through tsx
 * instead of the build. Never for figures: see the note on dist/ below.
 */
import { createServer as createTcpServer } from 'node:net';
import http2 from 'node:http2';
import https from 'node:https';
import { createServer as createTlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { WebSocketServer as WsServer } from 'ws';
import type { HistoryStore, RedisBackplane } from '../../src/redis.js';
import { serveRawWebSocket } from './raw-websocket.js';
// The shipped build (dist/, what users run), not the sources through tsx: tsx keeps function names
// with a helper that gives every arrow-function field its own property store, which inflates memory.
const BUILD = process.env['FULLDUPLEX_BENCH_SOURCE'] === 'src' ? '../../src' : '../../dist';
const fullduplex = (await import(new URL(`${BUILD}/node/index.js`, import.meta.url).href)) as typeof import('../../src/node/index.js');
const { WebSocketServer } = fullduplex;

/** `fullduplex-h2`: fullduplex on a cleartext HTTP/2 server (h2c), WebSockets as RFC 8441 streams (echo only). */
export type Implementation = 'fullduplex' | 'fullduplex-h2' | 'ws' | 'raw';
export interface ServerConfig {
  /** Enable permessage-deflate (each implementation's defaults). */
  compress?: boolean;
  /**
   * With `compress`: `perMessageDeflate: { serverNoContextTakeover: true }` (both implementations): every
   * message is compressed on its own, so fullduplex compresses a published message once for all its
   * subscribers; ws still compresses it for each client in its loop.
   */
  serverNoContextTakeover?: boolean;
  /** What the server does with a message: send it back (default), to every open client, or to a topic every client subscribes to. */
  mode?: 'echo' | 'broadcast' | 'publish' | 'history';
  /** Publish mode, fullduplex: a Redis URL for a RedisBackplane. History mode: the Redis of a RedisHistory. */
  redis?: string;
  /** History mode: the store (absent: no history, the baseline). */
  history?: 'memory' | 'redis';
  /** History mode: every topic keeps this many messages (default 1,000). */
  maxMessages?: number;
  /** Raw only: the minimal WebSocket exchange of the handshake scenarios instead of the byte echo. */
  frames?: boolean;
  /** Serve over TLS with this key and certificate (PEM); echo mode only. */
  tls?: { key: string; cert: string };
}

const implementation = process.argv[2] as Implementation;
const config = JSON.parse(process.argv[3] ?? '{}') as ServerConfig;
const MAX_PAYLOAD = 64 * 1024 * 1024;
const broadcast = config.mode === 'broadcast';
const publish = config.mode === 'publish';
/** The topic of publish mode. */
const TOPIC = 'bench';
const perMessageDeflate = config.compress !== true ? false : config.serverNoContextTakeover === true ? { serverNoContextTakeover: true } : true;

async function redisBackplane(url: string): Promise<RedisBackplane> {
  const { RedisBackplane: Backplane } = (await import(new URL(`${BUILD}/redis.js`, import.meta.url).href)) as typeof import('../../src/redis.js');
  return new Backplane({ url, onError: (error) => process.stderr.write(`  backplane: ${error.message}\n`) });
}

async function historyStore(): Promise<HistoryStore | undefined> {
  if (config.history === undefined) return undefined;
  if (config.history === 'memory') return new fullduplex.MemoryHistory({ onError: (error) => process.stderr.write(`  history: ${error.message}\n`) });
  if (config.redis === undefined) throw new Error('history: redis needs the redis URL');
  const { RedisHistory } = (await import(new URL(`${BUILD}/redis.js`, import.meta.url).href)) as typeof import('../../src/redis.js');
  return new RedisHistory({ url: config.redis, onError: (error) => process.stderr.write(`  history: ${error.message}\n`) });
}

function ready(port: number): void {
  process.send?.({ type: 'ready', port });
}

const historyMode = config.mode === 'history';
if (config.redis !== undefined && (implementation !== 'fullduplex' || !(publish || historyMode))) throw new Error('a Redis backplane is for fullduplex in publish mode only');
if (historyMode && implementation !== 'fullduplex') throw new Error('history mode is for fullduplex only');

if (historyMode) {
  const store = await historyStore();
  const bounds = { maxMessages: config.maxMessages ?? 1000 };
  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    maxPayload: MAX_PAYLOAD,
    // 10,000 clients connecting at once on a loaded machine: no handshake timeout, no heartbeat in a run.
    handshakeTimeout: 120_000,
    heartbeat: false,
    ...(store !== undefined && { history: { store, topics: () => bounds }, resume: { authorize: () => true } }),
  });
  server.once('publishError', (error) => process.stderr.write(`  publish failed (first of perhaps more): ${error.message}\n`));
  server.on('connection', (socket, request) => {
    socket.on('error', () => {});
    if (socket.protocol !== '') return; // fullduplex.resume.v1: the library serves it
    const url = new URL(request.url ?? '/', 'http://localhost');
    const [, kind, topic] = url.pathname.split('/');
    if (kind === 'sub' && topic !== undefined) {
      socket.subscribe(decodeURIComponent(topic));
    } else if (kind === 'publish' && topic !== undefined) {
      const name = decodeURIComponent(topic);
      const ack = url.searchParams.has('ack');
      socket.on('message', (data, isBinary) => {
        if (!ack) {
          server.publish(name, data as Buffer, { binary: isBinary });
          return;
        }
        server.publish(name, data as Buffer, { binary: isBinary }, (error, position) => {
          socket.send(JSON.stringify(error === null ? position : { error: error.message }));
        });
      });
    } else {
      socket.close(1008, `unknown path ${url.pathname}`);
    }
  });
  server.on('listening', () => ready((server.address() as AddressInfo).port));
} else if (config.tls !== undefined) {
  if (config.mode !== undefined && config.mode !== 'echo') throw new Error('a TLS server has the echo mode only');
  const tls = config.tls;
  if (implementation === 'raw') {
    if (config.frames !== true) throw new Error('the raw TLS server needs `frames`');
    const server = createTlsServer({ key: tls.key, cert: tls.cert }, serveRawWebSocket);
    server.listen(0, '127.0.0.1', () => ready((server.address() as AddressInfo).port));
  } else {
    const secure = https.createServer({ key: tls.key, cert: tls.cert });
    if (implementation === 'fullduplex') {
      const server = new WebSocketServer({ server: secure, maxPayload: MAX_PAYLOAD, perMessageDeflate });
      server.on('connection', (socket) => {
        socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
      });
    } else if (implementation === 'ws') {
      const server = new WsServer({ server: secure, maxPayload: MAX_PAYLOAD, perMessageDeflate });
      server.on('connection', (socket) => {
        socket.on('error', () => {});
        socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
      });
    } else {
      throw new Error(`${implementation} has no TLS variant`);
    }
    secure.listen(0, '127.0.0.1', () => ready((secure.address() as AddressInfo).port));
  }
} else if (implementation === 'fullduplex') {
  const backplane = config.redis === undefined ? undefined : await redisBackplane(config.redis);
  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    maxPayload: MAX_PAYLOAD,
    perMessageDeflate,
    ...(backplane !== undefined && { backplane }),
  });
  server.once('publishError', (error) => process.stderr.write(`  publish failed (first of perhaps more): ${error.message}\n`));
  server.on('connection', (socket) => {
    // `data` is a Buffer: binaryType is 'nodebuffer' (the default); broadcast and publish do not take a Blob.
    if (broadcast) {
      socket.on('message', (data, isBinary) => void server.broadcast(data as Buffer, { binary: isBinary }));
    } else if (publish) {
      socket.subscribe(TOPIC);
      socket.on('message', (data, isBinary) => void server.publish(TOPIC, data as Buffer, { binary: isBinary }));
    } else {
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    }
  });
  server.on('listening', () => {
    const { port } = server.address() as AddressInfo;
    if (backplane === undefined) {
      ready(port);
      return;
    }
    // Receive the topic from Redis before the first client arrives, and say ready once Redis has
    // confirmed it: otherwise the generator's first messages could reach Redis before this server's
    // SUBSCRIBE and be lost here (Redis Pub/Sub is at most once). The first local subscriber then finds
    // the topic subscribed already.
    backplane.subscribe(TOPIC);
    backplane.ready().then(
      () => ready(port),
      (error: unknown) => {
        process.stderr.write(`  backplane not ready: ${String(error)}\n`);
        process.exit(1);
      },
    );
  });
} else if (implementation === 'fullduplex-h2') {
  if (broadcast || publish || config.redis !== undefined) throw new Error('fullduplex-h2 has the echo mode only');
  // Cleartext HTTP/2 with prior knowledge, SETTINGS_ENABLE_CONNECT_PROTOCOL on (RFC 8441 §3).
  const h2 = http2.createServer({ settings: { enableConnectProtocol: true } });
  const server = new WebSocketServer({ server: h2, maxPayload: MAX_PAYLOAD, perMessageDeflate });
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  h2.listen(0, '127.0.0.1', () => ready((h2.address() as AddressInfo).port));
} else if (implementation === 'ws') {
  const server = new WsServer({ port: 0, host: '127.0.0.1', maxPayload: MAX_PAYLOAD, perMessageDeflate });
  server.on('connection', (socket) => {
    socket.on('error', () => {});
    if (broadcast || publish) {
      socket.on('message', (data, isBinary) => {
        for (const client of server.clients) if (client.readyState === 1) client.send(data, { binary: isBinary });
      });
    } else {
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    }
  });
  server.on('listening', () => ready((server.address() as AddressInfo).port));
} else {
  if (broadcast || publish) throw new Error(`the raw TCP server has no ${config.mode} mode`);
  if (config.frames === true) {
    const server = createTcpServer(serveRawWebSocket);
    server.listen(0, '127.0.0.1', () => ready((server.address() as AddressInfo).port));
  } else {
    // A plain TCP echo behind a WebSocket handshake: the 101 answer, then every byte back as it came.
    const server = createTcpServer((socket) => {
      socket.setNoDelay(true);
      socket.once('data', (request: Buffer) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(request.toString('latin1'))?.[1] ?? '';
        void key;
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
        socket.pipe(socket);
      });
      socket.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () => ready((server.address() as AddressInfo).port));
  }
}

process.on('message', (message: { type: string }) => {
  if (message.type === 'stats') {
    globalThis.gc?.();
    const memory = process.memoryUsage();
    process.send?.({ type: 'stats', rss: memory.rss, heapUsed: memory.heapUsed });
  } else if (message.type === 'usage') {
    // No GC: what the process holds now, and the peak RSS of its whole life (resourceUsage's maxRSS, KiB).
    const memory = process.memoryUsage();
    process.send?.({ type: 'usage', rss: memory.rss, heapUsed: memory.heapUsed, maxRss: process.resourceUsage().maxRSS * 1024 });
  } else if (message.type === 'cpu') {
    const usage = process.cpuUsage();
    process.send?.({ type: 'cpu', seconds: (usage.user + usage.system) / 1e6 });
  }
});
process.on('disconnect', () => process.exit(0));

// Exit normally on SIGTERM (how the bench stops a server), so that a --cpu-prof profile gets written.
process.on('SIGTERM', () => process.exit(0));
