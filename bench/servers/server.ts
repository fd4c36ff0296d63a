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
 * `redis` (fullduplex in publish mode): the server shares its topics with the others on that Redis
 * through a RedisBackplane (fullduplex/redis, from dist/ too).
 */
import { createServer as createTcpServer } from 'node:net';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { WebSocketServer as WsServer } from 'ws';
import type { RedisBackplane } from '../../src/redis.js';
// The shipped build (dist/, what users run), not the sources through tsx: tsx keeps function names
// with a helper that gives every arrow-function field its own property store, which inflates memory.
const { WebSocketServer } = (await import(new URL('../../dist/node/index.js', import.meta.url).href)) as typeof import('../../src/node/index.js');

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
  mode?: 'echo' | 'broadcast' | 'publish';
  /** Publish mode, fullduplex: a Redis URL for a RedisBackplane. */
  redis?: string;
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
  const { RedisBackplane: Backplane } = (await import(new URL('../../dist/redis.js', import.meta.url).href)) as typeof import('../../src/redis.js');
  return new Backplane({ url, onError: (error) => process.stderr.write(`  backplane: ${error.message}\n`) });
}

function ready(port: number): void {
  process.send?.({ type: 'ready', port });
}

if (config.redis !== undefined && (implementation !== 'fullduplex' || !publish)) throw new Error('a Redis backplane is for fullduplex in publish mode only');

if (implementation === 'fullduplex') {
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

process.on('message', (message: { type: string }) => {
  if (message.type === 'stats') {
    globalThis.gc?.();
    const memory = process.memoryUsage();
    process.send?.({ type: 'stats', rss: memory.rss, heapUsed: memory.heapUsed });
  } else if (message.type === 'cpu') {
    const usage = process.cpuUsage();
    process.send?.({ type: 'cpu', seconds: (usage.user + usage.system) / 1e6 });
  }
});
process.on('disconnect', () => process.exit(0));

// Exit normally on SIGTERM (how the bench stops a server), so that a --cpu-prof profile gets written.
process.on('SIGTERM', () => process.exit(0));
