/**
 * The client through a real HTTP CONNECT proxy: tinyproxy (Debian package `tinyproxy`), ws:// and
 * wss:// (a self-signed target certificate, `ca` given: SNI and checks against the target),
 * credentials right and wrong (407), a port outside ConnectPort (403).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { WebSocket } from '../../src/node/websocket.js';
import { WebSocketServer } from '../../src/node/server.js';
import { ProxyError } from '../../src/node/proxy-tunnel-types.js';
import { Tinyproxy, tinyproxySkipReason } from '../helpers/tinyproxy.js';
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js';
import { listen, messages, openOutcome } from '../helpers/node.js';

const skip = tinyproxySkipReason();
if (skip !== false) console.log(`# skipped: ${skip}`);

const outcome = openOutcome;

describe('through tinyproxy (HTTP CONNECT)', { skip }, () => {
  let certificate: Certificate;
  const servers: Server[] = [];
  const wsServers: WebSocketServer[] = [];
  let wsPort: number;
  let wssPort: number;
  let forbiddenPort: number;
  let open: Tinyproxy;
  let guarded: Tinyproxy;
  const servernames: Array<string | false> = [];

  before(async () => {
    certificate = selfSignedCertificate();
    const http = createHttpServer();
    const https = createHttpsServer({ key: certificate.key, cert: certificate.cert });
    https.on('secureConnection', (socket) => servernames.push((socket as unknown as { servername: string | false }).servername));
    const forbidden = createHttpServer();
    servers.push(http, https, forbidden);
    for (const server of [http, https, forbidden]) {
      const wss = new WebSocketServer({ server });
      wss.on('connection', (socket: WebSocket) => socket.on('message', (data) => socket.send(String(data))));
      wsServers.push(wss);
    }
    wsPort = await listen(http);
    wssPort = await listen(https);
    forbiddenPort = await listen(forbidden);
    open = await Tinyproxy.start({ connectPorts: [wsPort, wssPort] });
    guarded = await Tinyproxy.start({ connectPorts: [wsPort, wssPort], basicAuth: { user: 'alice', password: 's3cret' } });
  });
  after(async () => {
    await Promise.all([open?.stop(), guarded?.stop()]);
    for (const wss of wsServers) for (const client of wss.clients) client.terminate();
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    certificate?.remove();
  });

  async function roundTrip(ws: WebSocket): Promise<void> {
    const result = await outcome(ws);
    assert.deepEqual(result, { opened: true }, result.opened ? '' : result.error.message);
    const received = messages<Buffer>(ws, 1);
    ws.send('through tinyproxy');
    assert.equal(String((await received)[0]!.data), 'through tinyproxy');
    ws.terminate();
  }

  it('ws:// through it', async () => {
    await roundTrip(new WebSocket(`ws://127.0.0.1:${wsPort}/`, { proxy: open.url }));
  });

  it('wss:// through it, the self-signed target certificate checked with the ca given, SNI the target\'s', async () => {
    servernames.length = 0;
    await roundTrip(new WebSocket(`wss://localhost:${wssPort}/`, { proxy: open.url, ca: certificate.cert }));
    assert.deepEqual(servernames, ['localhost']);
    const refused = await outcome(new WebSocket(`wss://localhost:${wssPort}/`, { proxy: open.url }));
    assert.equal(refused.opened, false);
    if (!refused.opened) assert.match(refused.error.message, /self-signed|self signed/);
  });

  it('with the right credentials (ws:// and wss://)', async () => {
    await roundTrip(new WebSocket(`ws://127.0.0.1:${wsPort}/`, { proxy: guarded.url.replace('://', '://alice:s3cret@') }));
    await roundTrip(new WebSocket(`wss://localhost:${wssPort}/`, { proxy: { url: guarded.url, credentials: { username: 'alice', password: 's3cret' } }, ca: certificate.cert }));
  });

  // tinyproxy 1.11 answers 407 without credentials, but 401 with WWW-Authenticate for wrong ones
  // (RFC 9110 §15.5.8 would have 407 both times); the error says so either way.
  for (const [name, userinfo, status, field, sent] of [
    ['wrong credentials', 'alice:wrong@', 401, 'WWW-Authenticate', 'the credentials given were refused'],
    ['no credentials', '', 407, 'Proxy-Authenticate', 'no credentials were given'],
  ] as const) {
    it(`with ${name}: ${status} naming the proxy and its Basic challenge, then close 1006`, async () => {
      const result = await outcome(new WebSocket(`ws://127.0.0.1:${wsPort}/`, { proxy: guarded.url.replace('://', `://${userinfo}`) }));
      assert.equal(result.opened, false);
      if (!result.opened) {
        assert.ok(result.error instanceof ProxyError, result.error.message);
        assert.equal(result.error.code, 'FD_ERR_PROXY_STATUS');
        assert.equal(result.error.status, status);
        assert.ok(result.error.message.startsWith(`Proxy ${guarded.url}: CONNECT 127.0.0.1:${wsPort} answered ${status}`), result.error.message);
        assert.match(result.error.message, new RegExp(`${field}: Basic; ${sent}`));
        assert.doesNotMatch(result.error.message, /wrong/);
        assert.equal(result.code, 1006);
      }
    });
  }

  it('a port outside ConnectPort: 403, then close 1006', async () => {
    const result = await outcome(new WebSocket(`ws://127.0.0.1:${forbiddenPort}/`, { proxy: open.url }));
    assert.equal(result.opened, false);
    if (!result.opened) {
      assert.equal((result.error as ProxyError).status, 403);
      assert.match(result.error.message, /answered 403/);
      assert.equal(result.code, 1006);
    }
  });
});
