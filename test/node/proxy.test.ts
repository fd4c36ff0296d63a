/**
 * The clients through HTTP CONNECT proxies (issue 18): our own proxy (test/helpers/connect-proxy.ts)
 * between a fullduplex client and server, ws:// and wss://, credentials, every failure (an `error`
 * naming the proxy, then close 1006), the handshake timeout, redirects and the environment.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { Agent } from 'node:http';
import { WebSocket, type ClientOptions } from '../../src/node/websocket.js';
import { WebSocketServer } from '../../src/node/server.js';
import { WebSocket as WebWebSocket } from '../../src/web/websocket.js';
import { ProxyError } from '../../src/node/proxy-tunnel-types.js';
import { ConnectProxy, type ConnectProxyBehaviour } from '../helpers/connect-proxy.js';
import { Socks5Server } from '../helpers/socks5-server.js';
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js';
import { freePort } from '../helpers/process.js';
import { listen, once, messages, within, openOutcome } from '../helpers/node.js';
import { scaled } from '../helpers/time.js';

const PROXY_VARIABLES = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY', 'REQUEST_METHOD'];
const saved = Object.fromEntries(PROXY_VARIABLES.map((name) => [name, process.env[name]]));
/** The machine's proxy settings must not leak in: cleared for the whole file, restored after each test. */
function clearEnvironment(): void {
  for (const name of PROXY_VARIABLES) delete process.env[name];
}
clearEnvironment();

/** Open `url` and wait for open (resolve) or error + close (reject with both). */
const outcome = openOutcome;

async function echoOnce(ws: WebSocket, text: string): Promise<string> {
  const received = messages<Buffer>(ws, 1);
  ws.send(text);
  return (await received)[0]!.data.toString();
}

describe('clients through an HTTP CONNECT proxy', () => {
  let certificate: Certificate;
  let wsServer: WebSocketServer;
  let wsPort: number;
  let wssServer: WebSocketServer;
  let wssPort: number;
  /** Upgrade requests the servers received. */
  const upgrades: IncomingMessage[] = [];
  /** SNI names the TLS server saw. */
  const servernames: Array<string | false> = [];
  const proxies: ConnectProxy[] = [];
  const httpServers: Array<import('node:http').Server> = [];

  async function proxy(options: Parameters<typeof ConnectProxy.start>[0] = {}): Promise<ConnectProxy> {
    const started = await ConnectProxy.start(options);
    proxies.push(started);
    return started;
  }

  before(async () => {
    certificate = selfSignedCertificate();
    const http = createHttpServer();
    wsServer = new WebSocketServer({ server: http });
    wsPort = await listen(http);
    const https = createHttpsServer({ key: certificate.key, cert: certificate.cert });
    https.on('secureConnection', (socket) => servernames.push((socket as unknown as { servername: string | false }).servername));
    httpServers.push(http, https);
    wssServer = new WebSocketServer({ server: https });
    wssPort = await listen(https);
    for (const server of [wsServer, wssServer]) {
      server.on('connection', (socket: WebSocket, request: IncomingMessage) => {
        upgrades.push(request);
        socket.on('message', (data) => socket.send(String(data)));
      });
    }
  });
  afterEach(async () => {
    clearEnvironment();
    upgrades.length = 0;
    servernames.length = 0;
    await Promise.all(proxies.splice(0).map((p) => p.stop()));
  });
  after(async () => {
    for (const server of [wsServer, wssServer]) {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    for (const server of httpServers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    certificate.remove();
    for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
  });

  it('ws:// through the proxy option: CONNECT to the target, then the handshake inside the tunnel', async () => {
    const p = await proxy();
    const ws = new WebSocket(`ws://127.0.0.1:${wsPort}/chat`, { proxy: p.url });
    assert.deepEqual(await outcome(ws), { opened: true });
    assert.equal(await echoOnce(ws, 'hello'), 'hello');
    assert.equal(p.tunnels, 1);
    assert.equal(p.heads[0]?.line, `CONNECT 127.0.0.1:${wsPort} HTTP/1.1`);
    assert.equal(upgrades[0]?.url, '/chat');
    ws.terminate();
  });

  it('wss:// through the proxy: TLS to the target inside the tunnel, SNI and certificate of the target, its ca', async () => {
    const p = await proxy();
    const ws = new WebSocket(`wss://localhost:${wssPort}/`, { proxy: p.url, ca: certificate.cert });
    assert.deepEqual(await outcome(ws), { opened: true });
    assert.equal(await echoOnce(ws, 'secret'), 'secret');
    assert.equal(p.heads[0]?.line, `CONNECT localhost:${wssPort} HTTP/1.1`);
    assert.deepEqual(servernames, ['localhost']);
    ws.terminate();
    // Without the ca the target's self-signed certificate is refused (the proxy is plain http: here).
    const refused = await outcome(new WebSocket(`wss://localhost:${wssPort}/`, { proxy: p.url }));
    assert.equal(refused.opened, false);
    if (!refused.opened) {
      assert.match(refused.error.message, /self-signed|self signed/);
      assert.equal(refused.code, 1006);
    }
  });

  it('wss:// through an https:// proxy: the proxy checked with its own ca, the target with the client\'s', async () => {
    const p = await proxy({ tls: certificate });
    const ws = new WebSocket(`wss://localhost:${wssPort}/`, {
      proxy: { url: p.url.replace('127.0.0.1', 'localhost'), tls: { ca: certificate.cert } },
      ca: certificate.cert,
    });
    assert.deepEqual(await outcome(ws), { opened: true });
    assert.equal(await echoOnce(ws, 'twice'), 'twice');
    ws.terminate();
    // The proxy's certificate is not checked against the client's ca.
    const refused = await outcome(new WebSocket(`wss://localhost:${wssPort}/`, { proxy: p.url.replace('127.0.0.1', 'localhost'), ca: certificate.cert }));
    assert.equal(refused.opened, false);
    if (!refused.opened) assert.equal((refused.error as ProxyError).code, 'FD_ERR_PROXY_CONNECT');
  });

  it('credentials: right ones open; wrong ones give a 407 error naming the proxy, then close 1006', async () => {
    const p = await proxy({ credentials: 'user:pa ss' });
    const ws = new WebSocket(`ws://127.0.0.1:${wsPort}/`, { proxy: p.urlWith('user:pa%20ss') });
    assert.deepEqual(await outcome(ws), { opened: true });
    ws.terminate();
    const option = new WebSocket(`ws://127.0.0.1:${wsPort}/`, { proxy: { url: p.url, credentials: { username: 'user', password: 'pa ss' } } });
    assert.deepEqual(await outcome(option), { opened: true });
    option.terminate();
    const wrong = await outcome(new WebSocket(`ws://127.0.0.1:${wsPort}/`, { proxy: p.urlWith('user:nope') }));
    assert.equal(wrong.opened, false);
    if (!wrong.opened) {
      assert.ok(wrong.error instanceof ProxyError);
      assert.equal(wrong.error.status, 407);
      assert.equal(wrong.code, 1006);
      assert.equal(wrong.error.message, `Proxy ${p.url}: CONNECT 127.0.0.1:${wsPort} answered 407 Proxy Authentication Required (Proxy-Authenticate: Basic; the credentials given were refused)`);
    }
  });

  const failures: Array<[string, ConnectProxyBehaviour, string, RegExp]> = [
    ['403', { kind: 'status', status: 403, reason: 'Forbidden' }, 'FD_ERR_PROXY_STATUS', /answered 403 Forbidden/],
    ['502', { kind: 'status', status: 502, reason: 'Bad Gateway' }, 'FD_ERR_PROXY_STATUS', /answered 502 Bad Gateway/],
    ['an early close', { kind: 'close' }, 'FD_ERR_PROXY_CLOSED', /before the tunnel|before answering/],
    ['garbage', { kind: 'garbage', bytes: '\x05\x00\x00\x01' }, 'FD_ERR_PROXY_RESPONSE', /Not an HTTP\/1\.x response/],
  ];
  for (const [name, behaviour, code, message] of failures) {
    for (const scheme of ['ws', 'wss'] as const) {
      it(`${scheme}:// and a proxy answering ${name}: error ${code}, then close 1006`, async () => {
        const p = await proxy({ behaviour });
        const port = scheme === 'ws' ? wsPort : wssPort;
        const result = await outcome(new WebSocket(`${scheme}://127.0.0.1:${port}/`, { proxy: p.url, ca: certificate.cert }));
        assert.equal(result.opened, false);
        if (!result.opened) {
          assert.equal((result.error as ProxyError).code, code);
          assert.match(result.error.message, message);
          assert.ok(result.error.message.startsWith(`Proxy ${p.url}: `));
          assert.equal(result.code, 1006);
        }
        assert.equal(upgrades.length, 0);
      });
    }
  }

  it('an unreachable proxy: FD_ERR_PROXY_CONNECT, then close 1006', async () => {
    const port = await freePort();
    const result = await outcome(new WebSocket(`ws://127.0.0.1:${wsPort}/`, { proxy: `http://127.0.0.1:${port}` }));
    assert.equal(result.opened, false);
    if (!result.opened) {
      assert.equal((result.error as ProxyError).code, 'FD_ERR_PROXY_CONNECT');
      assert.equal(result.code, 1006);
    }
  });

  it('the handshake timeout covers the proxy leg (a proxy that never answers), and the tunnel is closed', async () => {
    const p = await proxy({ behaviour: { kind: 'silent' } });
    const started = Date.now();
    const result = await outcome(new WebSocket(`ws://127.0.0.1:${wsPort}/`, { proxy: p.url, handshakeTimeout: 300 }));
    assert.ok(Date.now() - started >= 290);
    assert.equal(result.opened, false);
    if (!result.opened) {
      assert.match(result.error.message, /timed out after 300 ms/);
      assert.equal(result.code, 1006);
    }
    const deadline = Date.now() + scaled(5_000);
    while (p.openSockets > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(p.openSockets, 0);
  });

  it('terminate() while the tunnel is being opened closes the connection to the proxy', async () => {
    const p = await proxy({ behaviour: { kind: 'silent' } });
    const ws = new WebSocket(`ws://127.0.0.1:${wsPort}/`, { proxy: p.url });
    ws.on('error', () => {});
    const deadline = Date.now() + scaled(5_000);
    while (p.heads.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    const closed = once<[number]>(ws, 'close');
    ws.terminate();
    assert.equal((await closed)[0], 1006);
    while (p.openSockets > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(p.openSockets, 0);
  });

  it('proxy credentials never reach the target, the target\'s Authorization never the proxy', async () => {
    const p = await proxy({ credentials: 'puser:ppass' });
    const ws = new WebSocket(`ws://tuser:tpass@127.0.0.1:${wsPort}/`, { proxy: { url: p.urlWith('puser:ppass'), headers: { 'X-Proxy-Only': '1' } }, headers: { 'X-Target-Only': '1' } });
    assert.deepEqual(await outcome(ws), { opened: true });
    ws.terminate();
    const head = p.heads[0]!;
    assert.equal(head.headers['proxy-authorization'], `Basic ${Buffer.from('puser:ppass').toString('base64')}`);
    assert.equal(head.headers['authorization'], undefined);
    assert.equal(head.headers['x-target-only'], undefined);
    assert.equal(head.headers['x-proxy-only'], '1');
    const upgrade = upgrades[0]!;
    assert.equal(upgrade.headers['authorization'], `Basic ${Buffer.from('tuser:tpass').toString('base64')}`);
    assert.equal(upgrade.headers['proxy-authorization'], undefined);
    assert.equal(upgrade.headers['x-proxy-only'], undefined);
  });

  it('from the environment: http_proxy for ws://, loopback only with NO_PROXY=<-loopback>; proxy: false wins', async () => {
    const p = await proxy();
    process.env['http_proxy'] = p.url;
    const loopback = new WebSocket(`ws://127.0.0.1:${wsPort}/`);
    assert.deepEqual(await outcome(loopback), { opened: true });
    loopback.terminate();
    assert.equal(p.connections, 0, 'loopback is not proxied from the environment');
    process.env['NO_PROXY'] = '<-loopback>';
    const proxied = new WebSocket(`ws://127.0.0.1:${wsPort}/`);
    assert.deepEqual(await outcome(proxied), { opened: true });
    proxied.terminate();
    assert.equal(p.tunnels, 1);
    const off = new WebSocket(`ws://127.0.0.1:${wsPort}/`, { proxy: false });
    assert.deepEqual(await outcome(off), { opened: true });
    off.terminate();
    const agent = new Agent();
    const own = new WebSocket(`ws://127.0.0.1:${wsPort}/`, { agent, proxy: p.url });
    assert.deepEqual(await outcome(own), { opened: true });
    own.terminate();
    agent.destroy();
    assert.equal(p.tunnels, 1, 'proxy: false and an agent of the user\'s go direct');
  });

  it('from the environment: https_proxy for wss://', async () => {
    const p = await proxy();
    process.env['https_proxy'] = p.url;
    process.env['http_proxy'] = 'http://127.0.0.1:1'; // must not be used for wss://
    process.env['no_proxy'] = '<-loopback>';
    const ws = new WebSocket(`wss://localhost:${wssPort}/`, { ca: certificate.cert });
    assert.deepEqual(await outcome(ws), { opened: true });
    ws.terminate();
    assert.equal(p.tunnels, 1);
  });

  it('an unusable proxy in the environment fails the handshake (error naming the variable, close 1006), not the constructor', async () => {
    process.env['http_proxy'] = 'ftp://127.0.0.1:1';
    process.env['no_proxy'] = '<-loopback>';
    const result = await outcome(new WebSocket(`ws://127.0.0.1:${wsPort}/`));
    assert.equal(result.opened, false);
    if (!result.opened) {
      assert.match(result.error.message, /\$http_proxy/);
      assert.equal(result.code, 1006);
    }
  });

  it('a bad proxy option throws from the constructor', () => {
    assert.throws(() => new WebSocket(`ws://127.0.0.1:${wsPort}/`, { proxy: 'gopher://x' }), TypeError);
    assert.throws(() => new WebSocket(`ws://127.0.0.1:${wsPort}/`, { proxy: 42 } as unknown as ClientOptions), TypeError);
  });

  it('socks5h:// and socks5:// proxies (option and environment) carry ws:// and wss://, with the credentials of the option or the URL', async () => {
    const socks = await Socks5Server.start({ credentials: { username: 'ann', password: 'p@ss' } });
    try {
      // socks5h: the proxy resolves the name (ATYP 3); credentials from the option replace the URL's.
      const viaOption = new WebSocket(`ws://localhost:${wsPort}/`, { proxy: { url: socks.url('socks5h', 'x:y').href, credentials: { username: 'ann', password: 'p@ss' } } });
      assert.deepEqual(await outcome(viaOption), { opened: true });
      assert.equal(await echoOnce(viaOption, 'socks5h'), 'socks5h');
      viaOption.close();
      // socks5: the client resolves (ATYP 1); credentials percent-encoded in the URL; from the environment.
      process.env['http_proxy'] = socks.url('socks5', 'ann:p%40ss').href;
      process.env['no_proxy'] = '<-loopback>';
      const viaEnvironment = new WebSocket(`ws://localhost:${wsPort}/`);
      assert.deepEqual(await outcome(viaEnvironment), { opened: true });
      assert.equal(await echoOnce(viaEnvironment, 'socks5'), 'socks5');
      viaEnvironment.close();
      // wss:// inside the tunnel: TLS to the target (its self-signed certificate, checked with `ca`).
      process.env['https_proxy'] = socks.url('socks5h', 'ann:p%40ss').href;
      const secure = new WebSocket(`wss://localhost:${wssPort}/`, { ca: certificate.cert });
      assert.deepEqual(await outcome(secure), { opened: true });
      assert.equal(await echoOnce(secure, 'tls inside'), 'tls inside');
      secure.close();
      assert.deepEqual(
        socks.requests.map((r) => [r.atyp, r.host, r.port, r.username]),
        [
          [3, 'localhost', wsPort, 'ann'],
          [1, '127.0.0.1', wsPort, 'ann'],
          [3, 'localhost', wssPort, 'ann'],
        ],
      );
      // Wrong credentials: the error names the proxy (no credentials), then 1006.
      const wrong = await outcome(new WebSocket(`ws://127.0.0.1:${wsPort}/`, { proxy: socks.url('socks5h', 'ann:nope').href }));
      assert.equal(wrong.opened, false);
      if (!wrong.opened) {
        assert.equal((wrong.error as ProxyError).code, 'FD_ERR_PROXY_AUTH');
        assert.equal(wrong.code, 1006);
        assert.doesNotMatch(wrong.error.message, /nope/);
        assert.match(wrong.error.message, new RegExp(`socks5h://127\\.0\\.0\\.1:${socks.port}`));
      }
    } finally {
      await socks.close();
    }
  });

  it('a redirect chooses the proxy again for its new target', async () => {
    const p = await proxy();
    const redirector = createHttpServer((_request, response) => response.writeHead(404).end());
    redirector.on('upgrade', (_request, socket) => {
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:${wsPort}/after\r\nContent-Length: 0\r\n\r\n`);
    });
    const redirectorPort = await listen(redirector);
    try {
      process.env['http_proxy'] = p.url;
      process.env['no_proxy'] = `<-loopback>, 127.0.0.1:${wsPort}`;
      const ws = new WebSocket(`ws://127.0.0.1:${redirectorPort}/before`, { followRedirects: true });
      assert.deepEqual(await outcome(ws), { opened: true });
      ws.terminate();
      assert.deepEqual(p.heads.map((head) => head.line), [`CONNECT 127.0.0.1:${redirectorPort} HTTP/1.1`], 'the redirect target is in NO_PROXY');
      assert.equal(upgrades[0]?.url, '/after');
    } finally {
      redirector.close();
      redirector.closeAllConnections();
    }
  });

  it('http2: true through a proxy to an HTTP/1.1-only server upgrades over the tunnel it opened; "require" fails the handshake', async () => {
    // WebSockets over HTTP/2 through proxies: test/node/http2-proxy.test.ts.
    const p = await proxy();
    const ws = new WebSocket(`wss://localhost:${wssPort}/`, { proxy: p.url, ca: certificate.cert, http2: true });
    assert.deepEqual(await outcome(ws), { opened: true });
    ws.terminate();
    assert.equal(p.tunnels, 1);
    const refused = await outcome(new WebSocket(`wss://localhost:${wssPort}/`, { proxy: p.url, ca: certificate.cert, http2: 'require' }));
    assert.equal(refused.opened, false);
    if (!refused.opened) {
      assert.equal(refused.code, 1006);
      assert.match(refused.error.message, /the server chose "http\/1\.1" by TLS ALPN, not "h2"$/);
    }
  });

  it('the WHATWG WebSocket takes the proxy option too (an error event, then close 1006, on a refusal)', async () => {
    const p = await proxy();
    const web = new WebWebSocket(`ws://127.0.0.1:${wsPort}/`, [], { proxy: p.url });
    await within(new Promise((resolve, reject) => {
      web.onopen = resolve;
      web.onerror = reject;
    }), 'open');
    web.close();
    assert.equal(p.tunnels, 1);
    p.behaviour = { kind: 'status', status: 403, reason: 'Forbidden' };
    const refused = new WebWebSocket(`ws://127.0.0.1:${wsPort}/`, [], { proxy: p.url });
    const events: string[] = [];
    const code = await within(new Promise<number>((resolve) => {
      refused.onerror = () => events.push('error');
      refused.onclose = (event) => resolve((event as unknown as { code: number }).code);
    }), 'close');
    assert.deepEqual(events, ['error']);
    assert.equal(code, 1006);
  });
});
