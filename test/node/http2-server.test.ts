import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type Http2SecureServer, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import { deflateRawSync, inflateRawSync, constants as zlib } from 'node:zlib';
import { WebSocketServer, HandshakeRejection, type ServerOptions } from '../../src/node/server.js';
import { WebSocket } from '../../src/node/index.js';
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js';
import { H2Peer, closePayload, h2Session } from '../helpers/h2.js';
import { once, portOf, DEFAULT_TIMEOUT, delay } from '../helpers/node.js';
import { waitFor } from '../helpers/protocol.js';
import { scaled } from '../helpers/time.js';

let certificate: Certificate;
before(() => {
  certificate = selfSignedCertificate();
});
after(() => certificate.remove());

interface Setup {
  h2: Http2SecureServer | Http2Server;
  wss: WebSocketServer;
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A TLS HTTP/2 server with HTTP/1.1 allowed (or h2c), serving pages with `onRequest`, and our WebSocketServer on it. */
async function serve(options: Omit<ServerOptions, 'server' | 'port' | 'noServer'> = {}, { h2c = false, echo = true } = {}): Promise<Setup> {
  const onRequest = (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse): void => {
    response.end(`page ${request.url} over ${request.httpVersion}`);
  };
  const h2 = h2c
    ? http2.createServer({ settings: { enableConnectProtocol: true } }, onRequest)
    : http2.createSecureServer({ key: certificate.key, cert: certificate.cert, allowHTTP1: true }, onRequest);
  const wss = new WebSocketServer({ heartbeat: false, ...options, server: h2 });
  if (echo) {
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    });
  }
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  const port = portOf(h2);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  return {
    h2,
    wss,
    port,
    url: `${h2c ? 'http' : 'https'}://127.0.0.1:${port}`,
    async stop() {
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    },
  };
}

const TEXT = 1;
const BINARY = 2;
const CLOSE = 8;
const PING = 9;
const PONG = 10;

for (const h2c of [false, true]) {
  describe(`WebSocket over HTTP/2 (RFC 8441), ${h2c ? 'h2c (cleartext, prior knowledge)' : 'TLS with allowHTTP1'}`, () => {
    it('advertises SETTINGS_ENABLE_CONNECT_PROTOCOL and answers an extended CONNECT with 200, without Accept key', async () => {
      const s = await serve({}, { h2c });
      const session = await h2Session(s.url);
      try {
        assert.equal(session.remoteSettings.enableConnectProtocol, true);
        const peer = new H2Peer(session, '/chat');
        const response = await peer.opened();
        assert.equal(response[':status'], 200);
        assert.equal(response['sec-websocket-accept'], undefined);
        assert.equal(response['upgrade'], undefined);
      } finally {
        session.destroy();
        await s.stop();
      }
    });

    it('echoes text and binary messages, unmasked from the server', async () => {
      const s = await serve({}, { h2c });
      const session = await h2Session(s.url);
      try {
        const peer = new H2Peer(session, '/');
        await peer.opened();
        peer.send(TEXT, 'héllo');
        peer.send(BINARY, Buffer.from([1, 2, 3]));
        const frames = await peer.framesAtLeast(2);
        assert.deepEqual(frames.map((f) => [f.opcode, f.masked]), [[TEXT, false], [BINARY, false]]);
        assert.equal(frames[0]!.payload.toString(), 'héllo');
        assert.deepEqual([...frames[1]!.payload], [1, 2, 3]);
      } finally {
        session.destroy();
        await s.stop();
      }
    });
  });
}

function refuseBad(request: IncomingMessage): void {
  if (request.url === '/bad') throw new HandshakeRejection(401, 'who?', { 'WWW-Authenticate': 'Bearer' });
}

describe('WebSocket over HTTP/2: the handshake', () => {
  it('gives hooks and connection listeners an IncomingMessage: HTTP/2.0, CONNECT, url from :path, host from :authority, the session socket', async () => {
    const s = await serve({ authenticate: (request) => void seen.push(['authenticate', request.httpVersion]) });
    const seen: unknown[] = [];
    const requests: IncomingMessage[] = [];
    s.wss.on('connection', (_ws, request) => requests.push(request));
    const session = await h2Session(s.url);
    try {
      const peer = new H2Peer(session, '/room?x=1', { origin: 'https://app.example', cookie: 'a=b' });
      await peer.opened();
      await waitFor(() => requests.length === 1);
      const request = requests[0]!;
      assert.deepEqual(seen, [['authenticate', '2.0']]);
      assert.equal(request.httpVersion, '2.0');
      assert.equal(request.method, 'CONNECT');
      assert.equal(request.url, '/room?x=1');
      assert.equal(request.headers.host, `127.0.0.1:${s.port}`);
      assert.equal(request.headers.origin, 'https://app.example');
      assert.equal(request.headers.cookie, 'a=b');
      assert.equal(request.headers[':path'], undefined);
      assert.ok(request.rawHeaders.includes(':protocol'));
      assert.equal(request.socket.remoteAddress, '127.0.0.1');
      assert.equal((request.socket as { encrypted?: boolean }).encrypted, true);
    } finally {
      session.destroy();
      await s.stop();
    }
  });

  it('selects a subprotocol with handleProtocols and lets headers listeners add response headers', async () => {
    const s = await serve({ handleProtocols: (protocols) => (protocols.has('two') ? 'two' : false) });
    s.wss.on('headers', (lines) => lines.push('Set-Cookie: s=1', 'Connection: keep-alive'));
    const protocols: string[] = [];
    s.wss.on('connection', (ws) => protocols.push(ws.protocol));
    const session = await h2Session(s.url);
    try {
      const response = await new H2Peer(session, '/', { 'sec-websocket-protocol': 'one, two' }).opened();
      assert.equal(response['sec-websocket-protocol'], 'two');
      assert.deepEqual(response['set-cookie'], ['s=1']);
      assert.equal(response['connection'], undefined);
      await waitFor(() => protocols.length === 1);
      assert.deepEqual(protocols, ['two']);
    } finally {
      session.destroy();
      await s.stop();
    }
  });

  it('negotiates permessage-deflate and both directions are compressed', async () => {
    const s = await serve({ perMessageDeflate: { threshold: 0 } });
    const session = await h2Session(s.url);
    try {
      const peer = new H2Peer(session, '/', { 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' });
      const response = await peer.opened();
      assert.match(String(response['sec-websocket-extensions']), /^permessage-deflate/);
      const text = 'compress me '.repeat(50);
      const compressed = deflateRawSync(Buffer.from(text), { finishFlush: zlib.Z_SYNC_FLUSH });
      peer.send(TEXT, compressed.subarray(0, compressed.length - 4), { rsv: 0x40 }); // RSV1: compressed (RFC 7692 §6)
      const [echo] = await peer.framesAtLeast(1);
      assert.equal(echo!.rsv, 4, 'the echo is compressed');
      assert.ok(echo!.payload.length < text.length);
      assert.equal(inflateRawSync(Buffer.concat([echo!.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.Z_SYNC_FLUSH }).toString(), text);
    } finally {
      session.destroy();
      await s.stop();
    }
  });

  describe('refuses each bad request on its stream only, with its status, and the session serves on', () => {
    const table: Array<[string, Parameters<typeof serve>[0], string, Record<string, string>, number, Record<string, string>?]> = [
      ['a wrong version: 400 naming 13', {}, '/', { 'sec-websocket-version': '8' }, 400, { 'sec-websocket-version': '13' }],
      ['a malformed subprotocol list: 400', {}, '/', { 'sec-websocket-protocol': 'a b' }, 400],
      ['a path not served (path option): 404', { path: '/ws' }, '/other', {}, 404],
      ['an origin not allowed: 403', { allowedOrigins: ['https://good.example'] }, '/', { origin: 'https://evil.example' }, 403],
      ['authenticate refusing: its status and headers', { authenticate: refuseBad }, '/bad', {}, 401, { 'www-authenticate': 'Bearer' }],
      ['authenticate resolving a rejection later: its status', { authenticate: async (r) => (r.url === '/bad' ? new HandshakeRejection(429, 'slow down') : undefined) }, '/bad', {}, 429],
      ['verifyClient refusing: 401', { verifyClient: (info) => info.req.url !== '/bad' }, '/bad', {}, 401],
      ['maxConnections 0: 503 with Retry-After', { maxConnections: 0 }, '/', {}, 503, { 'retry-after': '5' }],
      ['malformed permessage-deflate offer: 400', { perMessageDeflate: true }, '/', { 'sec-websocket-extensions': 'permessage-deflate; server_max_window_bits=99' }, 400],
    ];
    for (const [what, options, path, headers, status, expectedHeaders] of table) {
      it(what, async () => {
        const s = await serve(options);
        const session = await h2Session(s.url);
        try {
          const good = new H2Peer(session, options?.path ?? '/');
          const bad = new H2Peer(session, path, headers);
          const response = await bad.opened();
          assert.equal(response[':status'], status);
          for (const [name, value] of Object.entries(expectedHeaders ?? {})) assert.equal(response[name], value);
          await bad.streamClosed();
          assert.ok(bad.body.length > 0, 'a text body says why');
          if (status !== 503) {
            assert.equal((await good.opened())[':status'], 200);
            good.send(TEXT, 'still here');
            await good.framesAtLeast(1);
          }
          assert.equal(session.destroyed, false);
        } finally {
          session.destroy();
          await s.stop();
        }
      });
    }
  });

  it('answers an extended CONNECT for another protocol with 501 when nobody else handles streams (h2c without request listener)', async () => {
    const h2 = http2.createServer();
    const wss = new WebSocketServer({ server: h2, heartbeat: false });
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const session = await h2Session(`http://127.0.0.1:${portOf(h2)}`);
    try {
      assert.equal(session.remoteSettings.enableConnectProtocol, true, 'turned on for the user');
      const other = session.request({ ':method': 'CONNECT', ':protocol': 'connect-udp', ':path': '/', 'sec-websocket-version': '13' });
      other.on('error', () => {});
      const [response] = await once<[http2.IncomingHttpHeaders]>(other, 'response');
      assert.equal(response[':status'], 501);
    } finally {
      session.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    }
  });

  it('a CONNECT with :protocol to a server without the setting is reset by Node (PROTOCOL_ERROR) and the session lives on', async () => {
    const h2 = http2.createServer((_request, response) => response.end('ok'));
    const wss = new WebSocketServer({ noServer: true });
    h2.on('stream', (stream, headers) => {
      if (headers[':method'] === 'CONNECT') wss.handleStream(stream, headers, () => assert.fail('no WebSocket'));
    });
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const session = await h2Session(`http://127.0.0.1:${portOf(h2)}`);
    try {
      assert.equal(session.remoteSettings.enableConnectProtocol, false);
      const peer = new H2Peer(session, '/');
      assert.equal(await peer.streamClosed(), http2.constants.NGHTTP2_PROTOCOL_ERROR);
      const get = session.request({ ':path': '/' });
      let body = '';
      get.on('data', (chunk: Buffer) => (body += chunk.toString()));
      await once(get, 'end');
      assert.equal(body, 'ok');
    } finally {
      session.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    }
  });

  it('handleStream serves the WebSockets of a user-run http2 server (noServer), refusing a plain CONNECT with 400', async () => {
    const h2 = http2.createServer({ settings: { enableConnectProtocol: true } });
    const wss = new WebSocketServer({ noServer: true, heartbeat: false });
    h2.on('stream', (stream: ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      wss.handleStream(stream, headers, (ws) => ws.on('message', (data) => ws.send(`got ${String(data)}`)), rawHeaders);
    });
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const session = await h2Session(`http://127.0.0.1:${portOf(h2)}`);
    try {
      const peer = new H2Peer(session, '/');
      await peer.opened();
      peer.send(TEXT, 'x');
      await peer.framesAtLeast(1);
      assert.deepEqual(peer.messages, ['got x']);
      const plain = session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' });
      plain.on('error', () => {});
      const [response] = await once<[http2.IncomingHttpHeaders]>(plain, 'response');
      assert.equal(response[':status'], 400);
    } finally {
      session.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    }
  });
});

describe('WebSocket over HTTP/2: sharing the port and the session', () => {
  it('serves HTTP/1.1 upgrades (our client) and HTTP/2 pages on the same TLS port', async () => {
    const s = await serve();
    const session = await h2Session(s.url);
    try {
      const client = new WebSocket(`wss://127.0.0.1:${s.port}/`, { rejectUnauthorized: false });
      await once(client, 'open');
      client.send('over h1');
      const [data] = await once<[Buffer]>(client, 'message');
      assert.equal(String(data), 'over h1');
      client.close();

      const peer = new H2Peer(session, '/');
      await peer.opened();
      const get = session.request({ ':path': '/page' });
      let body = '';
      get.on('data', (chunk: Buffer) => (body += chunk.toString()));
      peer.send(TEXT, 'over h2');
      await once(get, 'end');
      assert.equal(body, 'page /page over 2.0');
      await peer.framesAtLeast(1);
      assert.deepEqual(peer.messages, ['over h2']);
    } finally {
      session.destroy();
      await s.stop();
    }
  });

  it('keeps several WebSockets on one session apart, with interleaved traffic', async () => {
    const s = await serve();
    const session = await h2Session(s.url);
    try {
      const peers = [new H2Peer(session, '/'), new H2Peer(session, '/'), new H2Peer(session, '/')];
      await Promise.all(peers.map((p) => p.opened()));
      for (let round = 0; round < 5; round++) peers.forEach((p, i) => p.send(TEXT, `${i}:${round}`));
      await Promise.all(peers.map((p) => p.framesAtLeast(5)));
      peers.forEach((p, i) => assert.deepEqual(p.messages, [0, 1, 2, 3, 4].map((round) => `${i}:${round}`)));
      assert.equal(s.wss.clients.size, 3);
      assert.equal(s.wss.broadcast('all'), 3);
      await Promise.all(peers.map((p) => p.framesAtLeast(6)));
    } finally {
      session.destroy();
      await s.stop();
    }
  });

  it('a misbehaving stream is failed alone: garbage (1002), an oversized message (1009), a client reset; its neighbours go on', async () => {
    const s = await serve({ maxPayload: 1024 });
    const codes: number[] = [];
    s.wss.on('connection', (ws) => ws.on('close', (code) => codes.push(code)));
    const session = await h2Session(s.url);
    try {
      const [garbage, huge, reset, good] = [new H2Peer(session, '/'), new H2Peer(session, '/'), new H2Peer(session, '/'), new H2Peer(session, '/')];
      await Promise.all([garbage, huge, reset, good].map((p) => p.opened()));
      garbage.stream.write(Buffer.from([0x83, 0x80, 0, 0, 0, 0])); // reserved opcode 3
      huge.send(BINARY, Buffer.alloc(2048));
      reset.stream.close(http2.constants.NGHTTP2_CANCEL);
      assert.equal((await garbage.closeFrame()).code, 1002);
      assert.equal((await huge.closeFrame()).code, 1009);
      await Promise.all([garbage.streamClosed(), huge.streamClosed()]);
      assert.ok(garbage.ended && huge.ended, 'END_STREAM after the close frame');
      await waitFor(() => codes.length === 3);
      assert.deepEqual([...codes].sort(), [1002, 1006, 1009]);
      good.send(TEXT, 'fine');
      await good.framesAtLeast(1);
      assert.deepEqual(good.messages, ['fine']);
      assert.equal(session.destroyed, false);
    } finally {
      session.destroy();
      await s.stop();
    }
  });
});

describe('WebSocket over HTTP/2: closing', () => {
  it('a client close is answered with the same code (RFC 6455 §5.5.1), then END_STREAM; the server sees code and reason', async () => {
    const s = await serve();
    const closes: Array<[number, string]> = [];
    s.wss.on('connection', (ws) => ws.on('close', (code, reason) => closes.push([code, String(reason)])));
    const session = await h2Session(s.url);
    try {
      const peer = new H2Peer(session, '/');
      await peer.opened();
      peer.send(CLOSE, closePayload(4001, 'bye'));
      assert.equal((await peer.closeFrame()).code, 4001);
      // END_STREAM, then RST_STREAM NO_ERROR if the client has not ended its side yet (see below).
      assert.equal(await peer.streamClosed(), http2.constants.NGHTTP2_NO_ERROR);
      await waitFor(() => closes.length === 1);
      assert.deepEqual(closes, [[4001, 'bye']]);
    } finally {
      session.destroy();
      await s.stop();
    }
  });

  it('a server close sends the close frame then END_STREAM, and completes when the client answers', async () => {
    const s = await serve({}, { echo: false });
    s.wss.on('connection', (ws) => ws.close(4002, 'done'));
    const closes: Array<[number, boolean]> = [];
    s.wss.on('connection', (ws) => ws.on('close', (code) => closes.push([code, ws.closeResult?.wasClean ?? false])));
    const session = await h2Session(s.url);
    try {
      const peer = new H2Peer(session, '/');
      await peer.opened();
      assert.deepEqual(await peer.closeFrame(), { code: 4002, reason: 'done' });
      peer.send(CLOSE, closePayload(4002));
      assert.equal(await peer.streamClosed(), http2.constants.NGHTTP2_NO_ERROR);
      await waitFor(() => closes.length === 1);
      assert.deepEqual(closes, [[4002, true]]);
    } finally {
      session.destroy();
      await s.stop();
    }
  });

  for (const first of ['client', 'server'] as const) {
    it(`after the closing handshake (the ${first} closing first) the server ends its side, then RST_STREAM NO_ERROR (RFC 9113 §8.1) for a client that never ends its own, without waiting for closeTimeout`, async () => {
      // closeTimeout far beyond the test's waits: only the RST can close the stream in time.
      const s = await serve({ closeTimeout: 600_000 }, { echo: false });
      const closes: Array<[number, boolean, boolean]> = [];
      s.wss.on('connection', (ws) => {
        const stream = ws.socket as unknown as ServerHttp2Stream;
        ws.on('close', (code) => closes.push([code, ws.closeResult?.wasClean ?? false, stream.writableFinished]));
        if (first === 'server') ws.close(4003, 'server first');
      });
      const session = await h2Session(s.url);
      try {
        const peer = new H2Peer(session, '/');
        peer.stream.end = () => peer.stream; // never half-closes (as undici 7)
        await peer.opened();
        if (first === 'client') peer.send(CLOSE, closePayload(4004, 'client first'));
        const code = (await peer.closeFrame()).code;
        if (first === 'server') peer.send(CLOSE, closePayload(code));
        assert.equal(code, first === 'server' ? 4003 : 4004);
        assert.equal(await peer.streamClosed(), http2.constants.NGHTTP2_NO_ERROR);
        assert.equal(peer.aborted, true, 'closed by the server\'s RST_STREAM, not by END_STREAM both ways');
        await waitFor(() => closes.length === 1);
        assert.deepEqual(closes, [[code, true, true]], 'a clean close, our END_STREAM sent before the reset');
        assert.equal(session.destroyed, false);
      } finally {
        session.destroy();
        await s.stop();
      }
    });
  }

  it('terminate() resets the stream with CANCEL (RFC 8441 §5) and leaves the session open', async () => {
    const s = await serve({}, { echo: false });
    s.wss.on('connection', (ws) => setImmediate(() => ws.terminate()));
    const session = await h2Session(s.url);
    try {
      const peer = new H2Peer(session, '/');
      await peer.opened();
      assert.equal(await peer.streamClosed(), http2.constants.NGHTTP2_CANCEL);
      assert.equal(session.destroyed, false);
      assert.equal((await new H2Peer(session, '/').opened())[':status'], 200);
    } finally {
      session.destroy();
      await s.stop();
    }
  });

  it('server.close() says 1001 to the HTTP/2 WebSockets and ends their streams', async () => {
    const s = await serve();
    const session = await h2Session(s.url);
    try {
      const peers = [new H2Peer(session, '/'), new H2Peer(session, '/')];
      await Promise.all(peers.map((p) => p.opened()));
      const closed = new Promise<void>((resolve) => s.wss.close(() => resolve()));
      for (const peer of peers) {
        assert.equal((await peer.closeFrame()).code, 1001);
        peer.send(CLOSE, closePayload(1001));
      }
      await closed;
      assert.deepEqual(await Promise.all(peers.map((p) => p.streamClosed())), [0, 0], 'ended without an error code');
    } finally {
      session.destroy();
      await s.stop();
    }
  });
});

describe('WebSocket over HTTP/2: flow control and heartbeats', () => {
  it('a client that does not read fills the stream window: bufferedAmount grows and send callbacks wait until it reads', async () => {
    const s = await serve({}, { echo: false });
    const connected = once<[import('../../src/node/websocket.js').WebSocket]>(s.wss, 'connection');
    const session = await h2Session(s.url);
    try {
      const peer = new H2Peer(session, '/', {}, { read: false });
      await peer.opened();
      const [ws] = await connected;
      const chunk = Buffer.alloc(64 * 1024);
      let acknowledged = 0;
      for (let i = 0; i < 32; i++) ws.send(chunk, () => acknowledged++);
      await delay(scaled(300));
      // 2 MiB sent, the default HTTP/2 windows are 64 KiB: most of it must still be waiting.
      assert.ok(ws.bufferedAmount > 1024 * 1024, `bufferedAmount ${ws.bufferedAmount}`);
      assert.ok(acknowledged < 32, `${acknowledged} callbacks`);
      peer.stream.resume();
      await waitFor(() => acknowledged === 32, DEFAULT_TIMEOUT, 'all send callbacks');
      await waitFor(() => ws.bufferedAmount === 0);
      await peer.framesAtLeast(32);
    } finally {
      session.destroy();
      await s.stop();
    }
  });

  it('heartbeats ping over the stream and an answering client stays', async () => {
    const s = await serve({ heartbeat: { interval: scaled(100), timeout: scaled(2000) } }, { echo: false });
    const session = await h2Session(s.url);
    try {
      const peer = new H2Peer(session, '/');
      await peer.opened();
      await waitFor(() => peer.frames.some((f) => f.opcode === PING), DEFAULT_TIMEOUT, 'a ping');
      const ping = peer.frames.find((f) => f.opcode === PING)!;
      peer.send(PONG, ping.payload);
      await delay(scaled(300));
      assert.equal(s.wss.clients.size, 1);
      assert.equal(peer.closed, false);
    } finally {
      session.destroy();
      await s.stop();
    }
  });

  it('heartbeats drop a silent client with RST_STREAM CANCEL', async () => {
    const s = await serve({ heartbeat: { interval: scaled(100), timeout: scaled(200) } }, { echo: false });
    const session = await h2Session(s.url);
    try {
      const peer = new H2Peer(session, '/', {}, { read: false });
      await peer.opened();
      peer.stream.resume();
      peer.stream.on('data', () => {}); // reads, never answers
      assert.equal(await peer.streamClosed(), http2.constants.NGHTTP2_CANCEL);
      await waitFor(() => s.wss.clients.size === 0);
    } finally {
      session.destroy();
      await s.stop();
    }
  });
});

/** A GET on `session`: its status and body. */
async function get(session: http2.ClientHttp2Session, path: string): Promise<[number, string]> {
  const request = session.request({ ':path': path });
  request.on('error', () => {});
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk.toString()));
  const [response] = await once<[http2.IncomingHttpHeaders]>(request, 'response');
  await once(request, 'end');
  return [Number(response[':status']), body];
}

async function closeServer(wss: WebSocketServer): Promise<void> {
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

describe('WebSocket over HTTP/2: an http2 server that outlives its WebSocketServers', () => {
  for (const h2c of [false, true]) {
    it(`after wss.close() a WebSocket CONNECT is reset with REFUSED_STREAM (RFC 9113 §8.7) and pages are still served (${h2c ? 'h2c' : 'TLS'})`, async () => {
      const s = await serve({}, { h2c });
      const session = await h2Session(s.url);
      try {
        const open = new H2Peer(session, '/');
        assert.equal((await open.opened())[':status'], 200);
        const closed = closeServer(s.wss);
        assert.equal((await open.closeFrame()).code, 1001);
        open.send(CLOSE, closePayload(1001));
        await closed;
        // The session started while the setting was on: it stays on (RFC 8441 §3 forbids taking it back).
        const peer = new H2Peer(session, '/');
        assert.equal(await peer.streamClosed(), http2.constants.NGHTTP2_REFUSED_STREAM);
        assert.equal(peer.response, null, 'not processed: no response');
        assert.deepEqual(await get(session, '/page'), [200, 'page /page over 2.0']);
        // A new session, after the close, too.
        const later = await h2Session(s.url);
        try {
          assert.equal(await new H2Peer(later, '/').streamClosed(), http2.constants.NGHTTP2_REFUSED_STREAM);
          assert.deepEqual(await get(later, '/again'), [200, 'page /again over 2.0']);
        } finally {
          later.destroy();
        }
        assert.equal(session.destroyed, false);
      } finally {
        session.destroy();
        await s.stop();
      }
    });
  }

  it('several WebSocketServers by path: one closing leaves the other working, all closing refuses, a new one attached later works', async () => {
    const h2 = http2.createServer((_request, response) => response.end('page'));
    const echoOn = (wss: WebSocketServer, name: string): WebSocketServer => {
      wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`${name} ${String(data)}`)));
      return wss;
    };
    const a = echoOn(new WebSocketServer({ server: h2, path: '/a', heartbeat: false }), 'a');
    const b = echoOn(new WebSocketServer({ server: h2, path: '/b', heartbeat: false }), 'b');
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const session = await h2Session(`http://127.0.0.1:${portOf(h2)}`);
    let c: WebSocketServer | null = null;
    try {
      const echo = async (path: string): Promise<string> => {
        const peer = new H2Peer(session, path);
        assert.equal((await peer.opened())[':status'], 200);
        peer.send(TEXT, 'x');
        await peer.framesAtLeast(1);
        peer.send(CLOSE, closePayload(1000));
        await peer.streamClosed();
        return peer.messages[0]!;
      };
      assert.equal(await echo('/a'), 'a x');
      assert.equal(await echo('/b'), 'b x');

      await closeServer(a);
      assert.equal(await echo('/b'), 'b x', 'the other WebSocketServer goes on');
      const toA = new H2Peer(session, '/a');
      assert.equal((await toA.opened())[':status'], 404, 'a path nobody serves any more, as over HTTP/1.1');

      await closeServer(b);
      assert.equal(await new H2Peer(session, '/b').streamClosed(), http2.constants.NGHTTP2_REFUSED_STREAM);
      assert.equal(await new H2Peer(session, '/a').streamClosed(), http2.constants.NGHTTP2_REFUSED_STREAM);
      assert.deepEqual(await get(session, '/'), [200, 'page']);

      c = echoOn(new WebSocketServer({ server: h2, path: '/a', heartbeat: false }), 'c');
      assert.equal(await echo('/a'), 'c x', 'a WebSocketServer attached later is served on the same session');
    } finally {
      session.destroy();
      if (c !== null) await closeServer(c);
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    }
  });

  it("leaves the user's own stream listener alone: its pages, and a WebSocket CONNECT it answers itself", async () => {
    const h2 = http2.createServer();
    const wss = new WebSocketServer({ server: h2, heartbeat: false });
    h2.on('stream', (stream: ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      if (headers[':method'] === 'CONNECT' && headers[':path'] !== '/mine') return;
      stream.respond({ ':status': headers[':method'] === 'CONNECT' ? 418 : 200 });
      stream.end(`user ${headers[':path']}`);
    });
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const session = await h2Session(`http://127.0.0.1:${portOf(h2)}`);
    try {
      await closeServer(wss);
      assert.deepEqual(await get(session, '/p'), [200, 'user /p']);
      const mine = new H2Peer(session, '/mine');
      assert.equal((await mine.opened())[':status'], 418, 'answered by the user, not reset');
      assert.equal(await mine.streamClosed(), http2.constants.NGHTTP2_NO_ERROR);
      assert.equal(await new H2Peer(session, '/other').streamClosed(), http2.constants.NGHTTP2_REFUSED_STREAM);
    } finally {
      session.destroy();
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    }
  });
});
