/**
 * WebSockets over HTTP/2 (RFC 8441) through a real HTTP CONNECT proxy: tinyproxy (Debian package
 * `tinyproxy`) between our client (`http2: 'require'`, TLS to the target inside the tunnel, a
 * self-signed certificate trusted by `ca`; and `'h2c'`) and our own `WebSocketServer` on an
 * `http2.createSecureServer` / `http2.createServer`. The server proves the WebSockets came over
 * HTTP/2 (`request.httpVersion` 2.0, a CONNECT) and that three of them shared one session, so one
 * tunnel through tinyproxy.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSecureServer, createServer, type Http2SecureServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from '../../src/node/websocket.js';
import { WebSocketServer } from '../../src/node/server.js';
import { Tinyproxy, tinyproxySkipReason } from '../helpers/tinyproxy.js';
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js';
import { listen, messages, once, openOutcome } from '../helpers/node.js';

const skip = tinyproxySkipReason();
if (skip !== false) console.log(`# skipped: ${skip}`);

describe('WebSockets over HTTP/2 through tinyproxy (HTTP CONNECT)', { skip }, () => {
  let certificate: Certificate;
  let secure: Http2SecureServer;
  let cleartext: Http2Server;
  const wsServers: WebSocketServer[] = [];
  const sessions: ServerHttp2Session[] = [];
  const requests: IncomingMessage[] = [];
  let securePort: number;
  let cleartextPort: number;
  let proxy: Tinyproxy;

  before(async () => {
    certificate = selfSignedCertificate();
    secure = createSecureServer({ key: certificate.key, cert: certificate.cert, allowHTTP1: true, settings: { enableConnectProtocol: true } });
    cleartext = createServer({ settings: { enableConnectProtocol: true } });
    for (const server of [secure, cleartext]) {
      server.on('session', (session: ServerHttp2Session) => sessions.push(session));
      const wss = new WebSocketServer({ server });
      wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
        requests.push(request);
        socket.on('message', (data, isBinary) => socket.send(data as Buffer, { binary: isBinary }));
      });
      wsServers.push(wss);
    }
    securePort = await listen(secure);
    cleartextPort = await listen(cleartext);
    proxy = await Tinyproxy.start({ connectPorts: [securePort, cleartextPort] });
  });

  after(async () => {
    await proxy?.stop();
    for (const wss of wsServers) for (const client of wss.clients) client.terminate();
    for (const session of sessions) session.destroy();
    for (const server of [secure, cleartext]) if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    certificate?.remove();
  });

  it('wss:// with http2: "require": three WebSockets on one HTTP/2 session through one tunnel, echo, close codes', async () => {
    const before = sessions.length;
    requests.length = 0;
    const clients = [0, 1, 2].map(() => new WebSocket(`wss://127.0.0.1:${securePort}/h2`, { http2: 'require', proxy: proxy.url, ca: certificate.cert }));
    for (const outcome of await Promise.all(clients.map(openOutcome))) assert.deepEqual(outcome, { opened: true });
    for (const [i, ws] of clients.entries()) {
      const received = messages<Buffer>(ws, 1);
      ws.send(`through tinyproxy ${i}`);
      assert.equal((await received)[0]!.data.toString(), `through tinyproxy ${i}`);
    }
    assert.equal(sessions.length - before, 1, 'one HTTP/2 session, so one tunnel, for three WebSockets');
    assert.deepEqual(requests.map((request) => [request.httpVersion, request.method, request.url]), Array(3).fill(['2.0', 'CONNECT', '/h2']));
    for (const ws of clients) ws.close(4001, 'done');
    for (const ws of clients) assert.equal((await once<[number]>(ws, 'close'))[0], 4001);
  });

  it('ws:// with http2: "h2c": cleartext HTTP/2 through the tunnel, binary echo', async () => {
    requests.length = 0;
    const ws = new WebSocket(`ws://127.0.0.1:${cleartextPort}/plain`, { http2: 'h2c', proxy: proxy.url });
    assert.deepEqual(await openOutcome(ws), { opened: true });
    const payload = Buffer.from([0, 1, 2, 253, 254, 255]);
    const received = messages<Buffer>(ws, 1);
    ws.send(payload);
    const [echo] = await received;
    assert.equal(echo!.isBinary, true);
    assert.deepEqual(echo!.data, payload);
    assert.equal(requests[0]?.httpVersion, '2.0');
    ws.close();
    assert.equal((await once<[number]>(ws, 'close'))[0], 1005);
  });
});
