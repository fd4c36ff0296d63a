/**
 * Our client against our server over HTTP/2 (RFC 8441), end to end: `new WebSocket(url, { http2 })`
 * (true / 'require' over TLS, 'h2c' in cleartext) against `WebSocketServer({ server })` on an
 * `http2.createSecureServer({ allowHTTP1: true })` or an h2c `http2.createServer()`. Both sides are
 * ours, so every feature is checked from both ends: echo, subprotocol, permessage-deflate (the frames
 * on the stream carry RSV1 both ways), close both ways, terminate, 20 WebSockets on one shared session,
 * heartbeats, backpressure both directions, topics, the fallback to HTTP/1.1, and server.close().
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createSecureServer, createServer, type ClientHttp2Stream, type Http2SecureServer, type Http2Server, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocket, type ClientOptions } from '../../src/node/websocket.js';
import { WebSocketServer, type ServerOptions } from '../../src/node/server.js';
import { pooledHttp2Sessions } from '../../src/node/http2-client.js';
import { readFrames, type RawFrame } from '../helpers/frames.js';
import { DEFAULT_TIMEOUT, delay, once, openClient, within } from '../helpers/node.js';
import { scaled } from '../helpers/time.js';
import { selfSignedCertificate } from '../helpers/tls.js';

const { key, cert, remove } = selfSignedCertificate();
remove();
/** One object for every client, so WebSockets to one origin share a pooled session (TLS options compared by identity). */
const TLS: ClientOptions = { ca: cert };

interface Accepted {
  ws: WebSocket;
  request: IncomingMessage;
}

/** One of our servers on an http2 server: TLS with HTTP/1.1 allowed, or h2c. */
class Served {
  readonly wss: WebSocketServer;
  readonly sessions: ServerHttp2Session[] = [];
  readonly accepted: Accepted[] = [];
  readonly #waiting: Array<(accepted: Accepted) => void> = [];
  port = 0;

  constructor(
    readonly server: Http2SecureServer | Http2Server,
    options: ServerOptions,
    readonly cleartext: boolean,
    echo: boolean,
  ) {
    server.on('session', (session: ServerHttp2Session) => this.sessions.push(session));
    this.wss = new WebSocketServer({ heartbeat: false, ...options, server });
    this.wss.on('connection', (ws, request) => {
      ws.on('error', () => {});
      if (echo) ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
      const accepted = { ws, request };
      const waiter = this.#waiting.shift();
      if (waiter !== undefined) waiter(accepted);
      else this.accepted.push(accepted);
    });
  }

  static async start(options: ServerOptions & { cleartext?: boolean; enableConnectProtocol?: boolean; echo?: boolean } = {}): Promise<Served> {
    const { cleartext, enableConnectProtocol, echo, ...serverOptions } = options;
    const settings = { enableConnectProtocol: enableConnectProtocol ?? true };
    const server = cleartext === true ? createServer({ settings }) : createSecureServer({ key, cert, allowHTTP1: true, settings });
    const served = new Served(server, serverOptions, cleartext === true, echo ?? true);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    served.port = (server.address() as AddressInfo).port;
    return served;
  }

  url(path = '/'): string {
    return `${this.cleartext ? 'ws' : 'wss'}://127.0.0.1:${this.port}${path}`;
  }

  /** The server side of the next WebSocket (in the order they were accepted). */
  next(): Promise<Accepted> {
    const ready = this.accepted.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return within(new Promise((resolve) => this.#waiting.push(resolve)), 'a server-side connection');
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    for (const session of this.sessions) session.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface Closed {
  code: number;
  reason: string;
  wasClean: boolean | undefined;
}
function closed(ws: WebSocket): Promise<Closed> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve({ code: ws.closeResult!.code, reason: ws.closeResult!.reason.toString(), wasClean: ws.closeResult?.wasClean });
  return once<[number, Buffer]>(ws, 'close').then(([code, reason]) => ({ code, reason: reason.toString(), wasClean: ws.closeResult?.wasClean }));
}

async function roundTrip(ws: WebSocket, data: string | Buffer): Promise<{ data: Buffer; isBinary: boolean }> {
  const reply = once<[Buffer, boolean]>(ws, 'message');
  ws.send(data);
  const [got, isBinary] = await reply;
  return { data: got, isBinary };
}

/** The RST_STREAM code a stream ended with (0: none, END_STREAM both ways). */
async function streamEnd(stream: ServerHttp2Stream | ClientHttp2Stream): Promise<number> {
  if (!stream.closed) await once(stream, 'close');
  return stream.rstCode;
}

/** Every WebSocket frame read from a stream (its header byte is never masked), tapping its 'data'. */
function tap(stream: Duplex): RawFrame[] {
  const frames: RawFrame[] = [];
  let pending = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    const { frames: whole, used } = readFrames(pending);
    frames.push(...whole);
    pending = pending.subarray(used);
  });
  return frames;
}

async function waitFor(test: () => boolean, what: string, ms = DEFAULT_TIMEOUT): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

const TEXT_OPCODE = 1;
const BINARY_OPCODE = 2;

describe('our client against our server over HTTP/2 (RFC 8441)', () => {
  let served: Served;
  before(async () => {
    served = await Served.start({ handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false) });
  });
  after(async () => {
    await served.stop();
  });

  for (const mode of [true, 'require'] as const) {
    it(`echoes text and binary with http2: ${JSON.stringify(mode)} over TLS: the server sees HTTP/2.0 CONNECT on an h2 session`, async () => {
      const ws = await openClient(served.url('/echo?mode=1'), { ...TLS, http2: mode });
      const { ws: serverWs, request } = await served.next();
      assert.equal(request.httpVersion, '2.0');
      assert.equal(request.method, 'CONNECT');
      assert.equal(request.url, '/echo?mode=1');
      assert.equal(request.headers['sec-websocket-key'], undefined);
      const stream = ws.socket as ClientHttp2Stream;
      assert.equal(stream.session?.alpnProtocol, 'h2');
      assert.equal((serverWs.socket as unknown as ServerHttp2Stream).session?.alpnProtocol, 'h2');

      const text = await roundTrip(ws, 'héllo over h2 — 🦄');
      assert.deepEqual([text.data.toString(), text.isBinary], ['héllo over h2 — 🦄', false]);
      const bytes = Buffer.alloc(300_000); // several times the 64 KiB initial window
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
      const binary = await roundTrip(ws, bytes);
      assert.equal(binary.isBinary, true);
      assert.ok(binary.data.equals(bytes), 'binary echo differs');
      const empty = await roundTrip(ws, Buffer.alloc(0));
      assert.deepEqual([empty.data.length, empty.isBinary], [0, true]);
      ws.close();
      await closed(ws);
    });
  }

  it('a client without http2 gets HTTP/1.1 on the same TLS port (allowHTTP1)', async () => {
    const ws = await openClient(served.url('/'), { ...TLS });
    const { request } = await served.next();
    assert.equal(request.httpVersion, '1.1');
    assert.equal((await roundTrip(ws, 'one port')).data.toString(), 'one port');
    ws.close();
    await closed(ws);
  });

  it('negotiates the subprotocol: both sides report the one handleProtocols chose', async () => {
    const ws = await openClient(served.url('/'), { ...TLS, http2: 'require' }, ['superchat', 'chat']);
    const { ws: serverWs, request } = await served.next();
    assert.equal(request.headers['sec-websocket-protocol'], 'superchat, chat');
    assert.equal(ws.protocol, 'chat');
    assert.equal(serverWs.protocol, 'chat');
    ws.close();
    await closed(ws);
  });

  it('the client closes with a code and reason: the server sees them, the stream ends without RST_STREAM', async () => {
    const ws = await openClient(served.url('/'), { ...TLS, http2: 'require' });
    const { ws: serverWs } = await served.next();
    const serverStream = serverWs.socket as unknown as ServerHttp2Stream;
    const serverClosed = closed(serverWs);
    ws.close(4000, 'client says goodbye');
    assert.deepEqual(await closed(ws), { code: 4000, reason: '', wasClean: true });
    assert.deepEqual(await serverClosed, { code: 4000, reason: 'client says goodbye', wasClean: true });
    assert.equal(await streamEnd(serverStream), constants.NGHTTP2_NO_ERROR);
    assert.equal(await streamEnd(ws.socket as ClientHttp2Stream), constants.NGHTTP2_NO_ERROR);
  });

  it('the server closes with a code and reason: the client sees them, the stream ends without RST_STREAM', async () => {
    const ws = await openClient(served.url('/'), { ...TLS, http2: 'require' });
    const { ws: serverWs } = await served.next();
    const clientClosed = closed(ws);
    serverWs.close(4001, 'server says goodbye');
    assert.deepEqual(await clientClosed, { code: 4001, reason: 'server says goodbye', wasClean: true });
    assert.deepEqual(await closed(serverWs), { code: 4001, reason: '', wasClean: true });
    assert.equal(await streamEnd(serverWs.socket as unknown as ServerHttp2Stream), constants.NGHTTP2_NO_ERROR);
  });

  it('terminate() on either side resets only that stream with CANCEL; the other side closes 1006, the session goes on', async () => {
    const keeper = await openClient(served.url('/'), { ...TLS, http2: 'require' });
    await served.next();
    for (const side of ['client', 'server'] as const) {
      const ws = await openClient(served.url('/'), { ...TLS, http2: 'require' });
      const { ws: serverWs } = await served.next();
      assert.equal((ws.socket as ClientHttp2Stream).session, (keeper.socket as ClientHttp2Stream).session, 'a shared session');
      const both = Promise.all([closed(ws), closed(serverWs)]);
      if (side === 'client') ws.terminate();
      else serverWs.terminate();
      const [clientClose, serverClose] = await both;
      assert.equal(clientClose.code, 1006, `${side} terminates: client close`);
      assert.equal(serverClose.code, 1006, `${side} terminates: server close`);
      // The side that terminates resets its stream with CANCEL. Node's Http2Stream.close(code) sends
      // END_STREAM just before the RST_STREAM, so the other side may see its stream end cleanly (0)
      // before the reset arrives: either way it has no close frame, hence 1006.
      const clientEnd = await streamEnd(ws.socket as ClientHttp2Stream);
      const serverEnd = await streamEnd(serverWs.socket as unknown as ServerHttp2Stream);
      assert.equal(side === 'client' ? clientEnd : serverEnd, constants.NGHTTP2_CANCEL, `${side} terminates: its RST_STREAM code`);
      assert.ok([constants.NGHTTP2_NO_ERROR, constants.NGHTTP2_CANCEL].includes(side === 'client' ? serverEnd : clientEnd));
    }
    assert.equal((await roundTrip(keeper, 'still here')).data.toString(), 'still here');
    keeper.close();
    await closed(keeper);
  });

  it('20 WebSockets share one session: interleaved traffic stays apart, all close cleanly, then the session closes', async () => {
    assert.equal(pooledHttp2Sessions(), 0, 'the earlier tests left no pooled session');
    const sessionsBefore = served.sessions.length;
    const sockets = await Promise.all(Array.from({ length: 20 }, (_, i) => openClient(served.url(`/many?i=${i}`), { ...TLS, http2: true })));
    const serverSides = await Promise.all(sockets.map(() => served.next()));
    assert.equal(served.sessions.length - sessionsBefore, 1, 'one new HTTP/2 session on the server');
    const clientSessions = new Set(sockets.map((ws) => (ws.socket as ClientHttp2Stream).session));
    assert.equal(clientSessions.size, 1, 'one session on the client');
    assert.equal(new Set(serverSides.map((side) => (side.ws.socket as unknown as ServerHttp2Stream).session)).size, 1);

    // Every socket sends 30 messages of its own, all at once; each must get exactly its own back, in order.
    const expected = (i: number, n: number): string => `ws${i}:msg${n}:` + 'x'.repeat((i * 977 + n * 131) % 5000);
    const results = sockets.map((ws) => {
      const got: string[] = [];
      ws.on('message', (data) => got.push(String(data)));
      return got;
    });
    for (let n = 0; n < 30; n++) sockets.forEach((ws, i) => ws.send(expected(i, n)));
    await waitFor(() => results.every((got) => got.length === 30), 'all echoes');
    results.forEach((got, i) => assert.deepEqual(got, Array.from({ length: 30 }, (_, n) => expected(i, n)), `socket ${i}`));

    const [session] = clientSessions;
    const sessionClosed = once(session!, 'close');
    const serverCloses = serverSides.map((side) => closed(side.ws));
    sockets.forEach((ws, i) => ws.close(1000, `bye ${i}`));
    const clientCloses = await Promise.all(sockets.map(closed));
    for (const close of clientCloses) assert.deepEqual(close, { code: 1000, reason: '', wasClean: true });
    (await Promise.all(serverCloses)).forEach((close, i) => assert.deepEqual(close, { code: 1000, reason: `bye ${i}`, wasClean: true }));
    await sessionClosed;
    assert.equal(pooledHttp2Sessions(), 0, 'the pool let go of the session after its last stream');
  });

  it('topics over HTTP/2: subscribers get what is published, the others do not', async () => {
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => openClient(served.url('/topics'), { ...TLS, http2: 'require' })));
    const sides = [await served.next(), await served.next(), await served.next()];
    sides[0]!.ws.subscribe('news');
    sides[1]!.ws.subscribe('news');
    sides[2]!.ws.subscribe('sport');
    const got = [a!, b!, c!].map((ws) => {
      const list: string[] = [];
      ws.on('message', (data) => list.push(String(data)));
      return list;
    });
    assert.equal(served.wss.publish('news', 'headline 1'), 2);
    assert.equal(served.wss.publish('sport', 'score'), 1);
    sides[0]!.ws.publish('news', 'from a'); // a connection's publish skips itself
    await waitFor(() => got[0]!.length === 1 && got[1]!.length === 2 && got[2]!.length === 1, 'the published messages');
    await delay(50);
    assert.deepEqual(got, [['headline 1'], ['headline 1', 'from a'], ['score']]);
    for (const ws of [a!, b!, c!]) ws.close();
    await Promise.all([a!, b!, c!].map(closed));
  });

  it('a client that does not read: the server\'s bufferedAmount grows and its send callbacks wait, then all arrive', async () => {
    const ws = await openClient(served.url('/'), { ...TLS, http2: 'require' });
    const { ws: serverWs } = await served.next();
    ws.pause();
    const chunk = Buffer.alloc(64 * 1024, 1);
    let acknowledged = 0;
    for (let i = 0; i < 32; i++) serverWs.send(chunk, () => acknowledged++);
    await delay(scaled(300));
    // 2 MiB sent, the HTTP/2 windows are 64 KiB by default: most of it waits in the server's stream.
    assert.ok(serverWs.bufferedAmount > 1024 * 1024, `server bufferedAmount ${serverWs.bufferedAmount}`);
    assert.ok(acknowledged < 32, `${acknowledged} send callbacks before the client read`);
    let received = 0;
    ws.on('message', () => received++);
    ws.resume();
    await waitFor(() => received === 32 && acknowledged === 32 && serverWs.bufferedAmount === 0, 'all 32 messages');
    ws.close();
    await closed(ws);
  });

  it('a server that does not read: the client\'s bufferedAmount grows and its send callbacks wait, then all arrive', async () => {
    const ws = await openClient(served.url('/'), { ...TLS, http2: 'require' });
    const { ws: serverWs } = await served.next();
    serverWs.removeAllListeners('message');
    serverWs.pause();
    const chunk = Buffer.alloc(64 * 1024, 2);
    let acknowledged = 0;
    for (let i = 0; i < 32; i++) ws.send(chunk, () => acknowledged++);
    await delay(scaled(300));
    assert.ok(ws.bufferedAmount > 1024 * 1024, `client bufferedAmount ${ws.bufferedAmount}`);
    assert.ok(acknowledged < 32, `${acknowledged} send callbacks before the server read`);
    let received = 0;
    serverWs.on('message', () => received++);
    serverWs.resume();
    await waitFor(() => received === 32 && acknowledged === 32 && ws.bufferedAmount === 0, 'all 32 messages');
    ws.close();
    await closed(ws);
  });
});

describe('our client against our server over HTTP/2: options that need their own server', () => {
  it('permessage-deflate both ways: negotiated, and the frames on the stream are compressed (RSV1) in each direction', async () => {
    const served = await Served.start({ perMessageDeflate: { threshold: 0 } });
    try {
      const ws = await openClient(served.url('/'), { ...TLS, http2: 'require', perMessageDeflate: true });
      const { ws: serverWs, request } = await served.next();
      assert.match(String(request.headers['sec-websocket-extensions']), /permessage-deflate/);
      assert.match(ws.extensionsHeader, /^permessage-deflate/);
      assert.equal(serverWs.extensionsHeader, ws.extensionsHeader);
      const fromClient = tap(serverWs.socket as unknown as Duplex);
      const fromServer = tap(ws.socket as Duplex);
      const text = JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, text: 'the quick brown fox' })));
      for (let i = 0; i < 3; i++) assert.equal((await roundTrip(ws, text)).data.toString(), text);
      const bytes = Buffer.alloc(50_000, 'abc');
      assert.ok((await roundTrip(ws, bytes)).data.equals(bytes));
      await waitFor(() => fromClient.length >= 4 && fromServer.length >= 4, 'the tapped frames');
      for (const [direction, frames, masked] of [['client to server', fromClient, true], ['server to client', fromServer, false]] as const) {
        const data = frames.filter((frame) => frame.opcode === TEXT_OPCODE || frame.opcode === BINARY_OPCODE);
        assert.equal(data.length, 4, direction);
        for (const frame of data) {
          assert.equal(frame.rsv, 4, `${direction}: RSV1 set (compressed, RFC 7692 §6)`);
          assert.equal(frame.masked, masked, `${direction}: masking`);
        }
        assert.ok(data[0]!.payload.length < text.length / 4, `${direction}: ${data[0]!.payload.length} bytes for ${text.length}`);
      }
      ws.close();
      await closed(ws);
    } finally {
      await served.stop();
    }
  });

  it('h2c: http2: "h2c" speaks cleartext HTTP/2 with prior knowledge to an h2c server', async () => {
    const served = await Served.start({ cleartext: true });
    try {
      const url = `ws://127.0.0.1:${served.port}/plain`;
      const ws = await openClient(url, { http2: 'h2c' });
      const { request } = await served.next();
      assert.equal(request.httpVersion, '2.0');
      assert.equal(request.headers['host'], `127.0.0.1:${served.port}`);
      assert.equal((await roundTrip(ws, 'cleartext h2')).data.toString(), 'cleartext h2');
      ws.close(1000, 'done');
      assert.equal((await closed(ws)).code, 1000);
    } finally {
      await served.stop();
    }
  });

  it('heartbeats over HTTP/2: the server pings, our client answers and stays; a client heartbeat too', async () => {
    const served = await Served.start({ heartbeat: { interval: scaled(100), timeout: scaled(2000) } });
    try {
      const ws = await openClient(served.url('/'), { ...TLS, http2: 'require', heartbeat: { interval: scaled(100), timeout: scaled(2000) } });
      const { ws: serverWs } = await served.next();
      let clientPings = 0;
      let serverPings = 0;
      ws.on('ping', () => clientPings++);
      serverWs.on('ping', () => serverPings++);
      await waitFor(() => clientPings >= 3 && serverPings >= 3, 'three pings each way');
      assert.equal(ws.readyState, WebSocket.OPEN);
      assert.equal(serverWs.readyState, WebSocket.OPEN);
      assert.equal((await roundTrip(ws, 'alive')).data.toString(), 'alive');
      ws.close();
      assert.equal((await closed(ws)).code, 1005);
    } finally {
      await served.stop();
    }
  });

  it('heartbeat timeout over HTTP/2: a client that stops answering is dropped with RST_STREAM CANCEL', async () => {
    const served = await Served.start({ heartbeat: { interval: scaled(100), timeout: scaled(300) } });
    try {
      const ws = await openClient(served.url('/'), { ...TLS, http2: 'require', autoPong: false });
      const { ws: serverWs } = await served.next();
      const [clientClose, serverClose] = await Promise.all([closed(ws), closed(serverWs)]);
      assert.equal(serverClose.code, 1006);
      assert.equal(clientClose.code, 1006);
      assert.equal(await streamEnd(serverWs.socket as unknown as ServerHttp2Stream), constants.NGHTTP2_CANCEL);
    } finally {
      await served.stop();
    }
  });

  it('falls back to HTTP/1.1 with http2: true when the server does not enable extended CONNECT', async () => {
    // A server without the setting: our WebSocketServer given the server would turn it on, so noServer.
    const server = createSecureServer({ key, cert, allowHTTP1: true });
    const wss = new WebSocketServer({ noServer: true, heartbeat: false });
    const requests: IncomingMessage[] = [];
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      requests.push(request);
      wss.handleUpgrade(request, socket, head, (serverWs) => serverWs.on('message', (data, isBinary) => serverWs.send(data as Buffer, { binary: isBinary })));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    try {
      const ws = await openClient(`wss://127.0.0.1:${port}/`, { ...TLS, http2: true });
      assert.equal(requests.length, 1);
      assert.equal(requests[0]!.httpVersion, '1.1');
      const socket = ws.socket as TLSSocket;
      assert.equal(socket.encrypted, true);
      assert.notEqual(socket.alpnProtocol, 'h2', 'a new TLS connection for HTTP/1.1');
      assert.equal((await roundTrip(ws, 'over HTTP/1.1')).data.toString(), 'over HTTP/1.1');
      ws.close();
      assert.equal((await closed(ws)).wasClean, true);
      // 'require' fails clearly instead.
      const required = new WebSocket(`wss://127.0.0.1:${port}/`, { ...TLS, http2: 'require' });
      const [[error], [code]] = await Promise.all([once<[Error]>(required, 'error'), once<[number]>(required, 'close')]);
      assert.match(error.message, /extended CONNECT|ENABLE_CONNECT_PROTOCOL/i);
      assert.equal(code, 1006);
    } finally {
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.close();
    }
  });

  it('server.close() says 1001 to every HTTP/2 WebSocket, and the session closes afterwards', async () => {
    const served = await Served.start();
    const sockets = await Promise.all(Array.from({ length: 5 }, () => openClient(served.url('/'), { ...TLS, http2: 'require' })));
    const session = (sockets[0]!.socket as ClientHttp2Stream).session!;
    const sessionClosed = once(session, 'close');
    const closes = Promise.all(sockets.map(closed));
    await new Promise<void>((resolve) => served.wss.close(() => resolve()));
    for (const close of await closes) assert.deepEqual(close, { code: 1001, reason: 'Server shutting down', wasClean: true });
    await sessionClosed;
    assert.equal(served.sessions.every((s) => s.closed || s.destroyed), true, 'the server side of the session is closed too');
    await new Promise<void>((resolve) => served.server.close(() => resolve()));
  });
});
