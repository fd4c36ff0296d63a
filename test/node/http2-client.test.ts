import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as http2Connect, type ClientHttp2Stream } from 'node:http2';
import { WebSocket } from '../../src/node/websocket.js';
import { HandshakeError } from '../../src/protocol/errors.js';
import { pooledHttp2Sessions } from '../../src/node/http2-client.js';
import { Http2Peer } from '../helpers/http2-peer.js';
import { once, within, delay, openClient } from '../helpers/node.js';
import { scaled } from '../helpers/time.js';
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer as createNetServer, connect as netConnect, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

async function closed(ws: WebSocket): Promise<[number, Buffer]> {
  if (ws.readyState === WebSocket.CLOSED) return [ws.closeResult!.code, ws.closeResult!.reason];
  return once<[number, Buffer]>(ws, 'close');
}

/** The failure of a client that must not open: the `error`, then `close` 1006. */
async function failure(ws: WebSocket): Promise<Error> {
  const [[error], [code]] = await Promise.all([once<[Error]>(ws, 'error'), once<[number]>(ws, 'close')]);
  assert.equal(code, 1006);
  assert.notEqual(ws.readyState, WebSocket.OPEN);
  return error;
}

describe('WebSocket over HTTP/2 (RFC 8441), against a node:http2 peer', () => {
  let peer: Http2Peer;
  before(async () => {
    peer = await Http2Peer.start();
  });
  after(async () => {
    await peer.close();
  });

  it('echoes text and binary over an extended CONNECT stream (the peer saw :protocol websocket on an h2 session)', async () => {
    const ws = await openClient(peer.url('/echo?x=1'), { http2: true, ...peer.tls, perMessageDeflate: false });
    const seen = peer.streams.at(-1)!;
    assert.equal(seen.headers[':method'], 'CONNECT');
    assert.equal(seen.headers[':protocol'], 'websocket');
    assert.equal(seen.headers[':scheme'], 'https');
    assert.equal(seen.headers[':path'], '/echo?x=1');
    assert.equal(seen.headers[':authority'], `127.0.0.1:${peer.port}`);
    assert.equal(seen.headers['sec-websocket-version'], '13');
    assert.equal(seen.headers['sec-websocket-key'], undefined);
    assert.equal(seen.stream.session?.alpnProtocol, 'h2');
    assert.equal(peer.upgrades, 0);
    assert.equal(typeof (ws.socket as ClientHttp2Stream).rstCode, 'number', 'ws.socket is the HTTP/2 stream');
    ws.send('héllo');
    const [text, textBinary] = await once<[Buffer, boolean]>(ws, 'message');
    assert.equal(String(text), 'héllo');
    assert.equal(textBinary, false);
    ws.send(Buffer.from([0, 1, 2, 255]));
    const [bytes, binary] = await once<[Buffer, boolean]>(ws, 'message');
    assert.deepEqual([...bytes], [0, 1, 2, 255]);
    assert.equal(binary, true);
    ws.close();
    await closed(ws);
  });

  it('sends the subprotocols and origin, and reports the one the server selected as ws.protocol', async () => {
    const ws = await openClient(peer.url('/'), { http2: 'require', ...peer.tls, origin: 'https://app.example', headers: { 'X-Token': 't', Connection: 'keep-alive' } }, ['chat', 'superchat']);
    const seen = peer.streams.at(-1)!;
    assert.equal(seen.headers['sec-websocket-protocol'], 'chat, superchat');
    assert.equal(seen.headers['origin'], 'https://app.example');
    assert.equal(seen.headers['x-token'], 't');
    assert.equal(seen.headers['connection'], undefined);
    assert.match(String(seen.headers['sec-websocket-extensions']), /^permessage-deflate/);
    assert.equal(ws.protocol, 'chat');
    assert.equal(ws.extensions, '', 'the peer accepted no extension');
    ws.close();
    await closed(ws);
  });

  it('closes with a code and reason from the client: close frame, then END_STREAM (no RST_STREAM)', async () => {
    const ws = await openClient(peer.url('/'), { http2: true, ...peer.tls });
    const seen = peer.streams.at(-1)!;
    const serverClose = once<[number, Buffer]>(seen.ws!, 'close');
    ws.close(4001, 'bye');
    const [code] = await closed(ws);
    assert.equal(code, 4001, 'the server echoed the code');
    const [serverCode, serverReason] = await serverClose;
    assert.deepEqual([serverCode, String(serverReason)], [4001, 'bye']);
    assert.equal(ws.closeResult?.wasClean, true);
    assert.equal(await within(seen.rstCode, 'the stream to close'), 0);
  });

  it('closes with a code and reason from the server', async () => {
    const ws = await openClient(peer.url('/'), { http2: true, ...peer.tls });
    const seen = peer.streams.at(-1)!;
    seen.ws!.close(1001, 'going away');
    const [code, reason] = await closed(ws);
    assert.deepEqual([code, String(reason)], [1001, 'going away']);
    assert.equal(ws.closeResult?.wasClean, true);
    assert.equal(await within(seen.rstCode, 'the stream to close'), 0);
  });

  it('terminate() resets the stream with RST_STREAM CANCEL (RFC 8441 §5), and the other streams of the session live on', async () => {
    // A peer that does not read: Node's Http2Stream.close(code) sends END_STREAM just before the
    // RST_STREAM, and a peer that answered that END_STREAM at once would close the stream cleanly
    // before the RST_STREAM arrived (it then ignores it, RFC 9113 §5.1).
    const stalled = await Http2Peer.start({ noRead: true });
    try {
      const other = await openClient(stalled.url('/'), { http2: true, ...stalled.tls });
      const ws = await openClient(stalled.url('/'), { http2: true, ...stalled.tls });
      const [otherSeen, seen] = stalled.streams.slice(-2);
      assert.equal(otherSeen!.stream.session, seen!.stream.session);
      ws.terminate();
      const [code] = await closed(ws);
      assert.equal(code, 1006);
      assert.equal(await within(seen!.rstCode, 'the stream to close'), 8);
      await delay(50);
      assert.equal(other.readyState, WebSocket.OPEN);
      assert.equal(otherSeen!.stream.closed, false);
      other.terminate();
      await closed(other);
    } finally {
      await stalled.close();
    }
  });

  it('shares one HTTP/2 session between 10 WebSockets to the same origin, and closes it after the last', async () => {
    const sessionsBefore = peer.sessions.size;
    const sockets = await Promise.all(Array.from({ length: 10 }, () => openClient(peer.url('/'), { http2: true, ...peer.tls })));
    assert.equal(peer.sessions.size - sessionsBefore, 1, 'one new session on the server');
    const sessions = new Set(peer.streams.slice(-10).map((entry) => entry.stream.session));
    assert.equal(sessions.size, 1);
    assert.equal(pooledHttp2Sessions(), 1);
    await Promise.all(
      sockets.map(async (ws, i) => {
        ws.send(`n${i}`);
        const [data] = await once<[Buffer]>(ws, 'message');
        assert.equal(String(data), `n${i}`);
      }),
    );
    const [session] = sessions;
    const sessionClosed = once(session!, 'close');
    for (const ws of sockets) ws.close();
    await Promise.all(sockets.map(closed));
    await sessionClosed;
    assert.equal(pooledHttp2Sessions(), 0);
  });

  it('opens on a session passed as http2Session, and leaves it open afterwards', async () => {
    const session = http2Connect(`https://127.0.0.1:${peer.port}`, { ...peer.tls });
    try {
      await once(session, 'remoteSettings');
      const ws = await openClient(peer.url('/mine'), { http2Session: session });
      assert.equal(peer.streams.at(-1)!.headers[':path'], '/mine');
      ws.close();
      await closed(ws);
      await delay(50);
      assert.equal(session.closed, false);
      // A second WebSocket on the same (already settled) session.
      const again = await openClient(peer.url('/again'), { http2Session: session });
      again.close();
      await closed(again);
    } finally {
      session.close();
    }
  });

  it('fails with the status when the server answers the CONNECT with 403 (HandshakeError, then close 1006)', async () => {
    const refusing = await Http2Peer.start({ status: 403 });
    try {
      const error = await failure(new WebSocket(refusing.url('/'), { http2: 'require', ...refusing.tls }));
      assert.ok(error instanceof HandshakeError);
      assert.equal(error.status, 403);
      assert.match(error.message, /403/);
    } finally {
      await refusing.close();
    }
  });

  it('times out when the server never answers the CONNECT (handshakeTimeout), cancelling the stream', async () => {
    const silent = await Http2Peer.start({ status: 'never' });
    try {
      const started = Date.now();
      const error = await failure(new WebSocket(silent.url('/'), { http2: 'require', ...silent.tls, handshakeTimeout: 300 }));
      assert.match(error.message, /timed out/);
      assert.ok(Date.now() - started >= 250, 'not before the timeout');
      assert.equal(await within(silent.streams.at(-1)!.rstCode, 'the stream to be reset'), 8);
    } finally {
      await silent.close();
    }
  });

  it('falls back to HTTP/1.1 when the server does not enable extended CONNECT (http2: true)', async () => {
    const plain = await Http2Peer.start({ enableConnectProtocol: false });
    try {
      const ws = await openClient(plain.url('/'), { http2: true, ...plain.tls });
      assert.equal(plain.upgrades, 1);
      assert.equal(plain.streams.length, 0);
      ws.send('over 1.1');
      const [data] = await once<[Buffer]>(ws, 'message');
      assert.equal(String(data), 'over 1.1');
      ws.close();
      await closed(ws);
    } finally {
      await plain.close();
    }
  });

  it('fails clearly with http2: "require" when the server does not enable extended CONNECT', async () => {
    const plain = await Http2Peer.start({ enableConnectProtocol: false });
    try {
      const error = await failure(new WebSocket(plain.url('/'), { http2: 'require', ...plain.tls }));
      assert.match(error.message, /does not allow the extended CONNECT of RFC 8441/);
      assert.equal(plain.upgrades, 0);
    } finally {
      await plain.close();
    }
  });

  it('speaks cleartext HTTP/2 with prior knowledge with http2: "h2c"', async () => {
    const h2c = await Http2Peer.start({ cleartext: true });
    try {
      const ws = await openClient(h2c.url('/plain'), { http2: 'h2c' });
      assert.equal(h2c.streams.at(-1)!.headers[':scheme'], 'http');
      ws.send('h2c');
      const [data] = await once<[Buffer]>(ws, 'message');
      assert.equal(String(data), 'h2c');
      ws.close();
      await closed(ws);
    } finally {
      await h2c.close();
    }
  });

  it('refuses option combinations that cannot work, from the constructor', () => {
    assert.throws(() => new WebSocket('ws://127.0.0.1:1/', { http2: 'require' }), /needs a wss:\/\/ URL/);
    assert.throws(() => new WebSocket('wss://127.0.0.1:1/', { http2: 'h2c' }), /for ws:\/\/ URLs/);
    assert.throws(() => new WebSocket('wss://127.0.0.1:1/', { http2: 'yes' as 'h2c' }), TypeError);
    assert.throws(() => new WebSocket('ws+unix:/tmp/x.sock:/', { http2: 'h2c' }), /ws\+unix/);
    assert.throws(() => new WebSocket('wss://127.0.0.1:1/', { http2: true, createConnection: () => null as never }), /createConnection/);
  });

  it('reports backpressure from the stream\'s flow-control window: bufferedAmount grows while the peer does not read', async () => {
    const stalled = await Http2Peer.start({ noRead: true });
    try {
      const ws = await openClient(stalled.url('/'), { http2: 'require', ...stalled.tls, perMessageDeflate: false, highWaterMark: 256 * 1024 });
      const chunk = Buffer.alloc(64 * 1024, 1);
      let accepted = true;
      for (let i = 0; i < 16 && accepted; i++) accepted = ws.send(chunk);
      assert.equal(accepted, false, 'send() reported backpressure');
      await delay(scaled(200));
      // HTTP/2's initial window is 65,535 bytes (RFC 9113 §6.9.2): the rest stays with us.
      assert.ok(ws.bufferedAmount > 256 * 1024 - 65_535, `bufferedAmount ${ws.bufferedAmount}`);
      let drained = false;
      ws.once('drain', () => (drained = true));
      await delay(100);
      assert.equal(drained, false);
      ws.terminate();
      await closed(ws);
    } finally {
      await stalled.close();
    }
  });
});



/** Hypercorn (Debian python3-hypercorn), an ASGI server with RFC 8441 support, as an independent peer. */
const HYPERCORN = '/usr/bin/hypercorn';
const hypercornSkip = existsSync(HYPERCORN) ? false : 'hypercorn is not installed (Debian package: python3-hypercorn)';

describe('WebSocket over HTTP/2 (RFC 8441), against Hypercorn', { skip: hypercornSkip }, () => {
  let child: ChildProcess;
  let certificate: Certificate;
  let url = '';
  before(async () => {
    certificate = selfSignedCertificate();
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    child = spawn(HYPERCORN, ['--certfile', certificate.certPath, '--keyfile', certificate.keyPath, '--bind', `127.0.0.1:${port}`, 'hypercorn_echo:app'], {
      cwd: fileURLToPath(new URL('../interop/fixtures/', import.meta.url)),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    url = `wss://127.0.0.1:${port}/`;
    // Ready when it accepts TCP connections.
    const deadline = Date.now() + scaled(20_000);
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const socket = netConnect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      });
      if (ok) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('Hypercorn did not start');
      await delay(100);
    }
  });
  after(async () => {
    child.kill();
    if (child.exitCode === null) await once(child, 'exit');
    certificate.remove();
  });

  it('echoes text and binary over HTTP/2 (Hypercorn reports http_version "2"), with the subprotocol it selected', async () => {
    const ws = await openClient(url, { http2: 'require', ca: certificate.cert, perMessageDeflate: false }, ['chat', 'other']);
    assert.equal(ws.protocol, 'chat');
    ws.send('version');
    const [version] = await once<[Buffer]>(ws, 'message');
    assert.equal(String(version), '2');
    ws.send('héllo');
    const [text, isBinary] = await once<[Buffer, boolean]>(ws, 'message');
    assert.deepEqual([String(text), isBinary], ['héllo', false]);
    ws.send(Buffer.from([1, 2, 3]));
    const [bytes, binary] = await once<[Buffer, boolean]>(ws, 'message');
    assert.deepEqual([[...bytes], binary], [[1, 2, 3], true]);
    ws.close(4001, 'client bye');
    const [code] = await closed(ws);
    assert.equal(code, 4001);
  });

  it('negotiates permessage-deflate with Hypercorn (wsproto) over HTTP/2 and echoes compressed messages', async () => {
    const ws = await openClient(url, { http2: 'require', ca: certificate.cert });
    assert.equal(ws.extensions, 'permessage-deflate');
    const big = 'abc'.repeat(10_000);
    ws.send(big);
    const [echo] = await once<[Buffer]>(ws, 'message');
    assert.equal(String(echo), big);
    ws.close();
    await closed(ws);
  });

  it('receives the close code and reason Hypercorn closes with', async () => {
    const ws = await openClient(url, { http2: 'require', ca: certificate.cert });
    ws.send('close');
    const [code, reason] = await closed(ws);
    assert.deepEqual([code, String(reason)], [4002, 'server bye']);
  });
});
