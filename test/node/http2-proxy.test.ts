/**
 * WebSockets over HTTP/2 (RFC 8441) through a proxy, on the `ws`-shaped client: the tunnel first
 * (our HTTP CONNECT proxy, test/helpers/connect-proxy.ts, or SOCKS5, test/helpers/socks5-server.ts),
 * then h2c over the raw tunnel, or TLS to the target inside it (ALPN h2/http/1.1, SNI and certificate
 * checked against the target with the client's TLS options) and the extended CONNECT on the HTTP/2
 * session over it. Against the in-process RFC 8441 peer (test/helpers/http2-peer.ts), which records the
 * sessions and streams it saw and takes HTTP/1.1 upgrades too.
 *
 * Pinned: echo over h2c and h2, through SOCKS5, one tunnel and one session for many WebSockets, no
 * sharing between direct and proxied sessions or between proxy credentials, `http2: true` falling back
 * to HTTP/1.1 through the proxy (reusing the TLS connection when the target chose HTTP/1.1 by ALPN, a
 * new tunnel when it chose h2 without the setting), `'require'` failing there, proxy refusals and
 * garbage (ProxyError, close 1006), an unusable proxy from the environment failing the handshake
 * rather than the constructor, and `handshakeTimeout` covering a proxy that never answers.
 */
import { describe, it, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { WebSocket, type ClientOptions } from '../../src/node/websocket.js';
import { WebSocketServer } from '../../src/node/server.js';
import { pooledHttp2Sessions } from '../../src/node/http2-client.js';
import { ProxyError } from '../../src/node/proxy-tunnel-types.js';
import { ConnectProxy, type ConnectProxyBehaviour } from '../helpers/connect-proxy.js';
import { Socks5Server } from '../helpers/socks5-server.js';
import { Http2Peer, type Http2PeerOptions } from '../helpers/http2-peer.js';
import { selfSignedCertificate } from '../helpers/tls.js';
import { delay, listen, messages, once, openOutcome } from '../helpers/node.js';
import { waitFor } from '../helpers/protocol.js';
import { scaled } from '../helpers/time.js';

const PROXY_VARIABLES = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY', 'REQUEST_METHOD'];
const saved = Object.fromEntries(PROXY_VARIABLES.map((name) => [name, process.env[name]]));
/** The machine's proxy settings must not leak in: cleared for the whole file, restored at the end. */
function clearEnvironment(): void {
  for (const name of PROXY_VARIABLES) delete process.env[name];
}
clearEnvironment();

const peers: Http2Peer[] = [];
const proxies: ConnectProxy[] = [];
const socksServers: Socks5Server[] = [];
const clients: WebSocket[] = [];

async function peer(options: Http2PeerOptions = {}): Promise<Http2Peer> {
  const started = await Http2Peer.start(options);
  peers.push(started);
  return started;
}

async function connectProxy(options: Parameters<typeof ConnectProxy.start>[0] = {}): Promise<ConnectProxy> {
  const started = await ConnectProxy.start(options);
  proxies.push(started);
  return started;
}

function client(url: string, options: ClientOptions = {}): WebSocket {
  const ws = new WebSocket(url, [], options);
  ws.on('error', () => {});
  clients.push(ws);
  return ws;
}

async function echoOnce(ws: WebSocket, text: string): Promise<string> {
  const received = messages<Buffer>(ws, 1);
  ws.send(text);
  return (await received)[0]!.data.toString();
}

/** Whether the client's WebSocket runs on an HTTP/2 stream (its socket has a session). */
function overHttp2(ws: WebSocket): boolean {
  return (ws.socket as { session?: unknown } | null)?.session !== undefined;
}

afterEach(async () => {
  for (const ws of clients) ws.terminate();
  clients.length = 0;
  clearEnvironment();
  for (const p of peers) await p.close();
  peers.length = 0;
  for (const p of proxies) await p.stop();
  proxies.length = 0;
  for (const s of socksServers) await s.close();
  socksServers.length = 0;
  // Every pooled session ends with its last WebSocket (or its peer): none may linger into the next test.
  await waitFor(() => pooledHttp2Sessions() === 0, scaled(5_000), 'the HTTP/2 session pool to empty');
});

after(() => {
  for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
});

describe('WebSockets over HTTP/2 through a proxy', () => {
  it('h2c (ws://, http2: "h2c") through an HTTP CONNECT proxy: one CONNECT to the target, echo on an HTTP/2 stream', async () => {
    const target = await peer({ cleartext: true });
    const proxy = await connectProxy();
    const ws = client(target.url('/chat'), { http2: 'h2c', proxy: proxy.url });
    assert.deepEqual(await openOutcome(ws), { opened: true });
    assert.equal(overHttp2(ws), true);
    assert.equal(await echoOnce(ws, 'through the tunnel'), 'through the tunnel');
    assert.deepEqual(proxy.heads.map((head) => head.line), [`CONNECT 127.0.0.1:${target.port} HTTP/1.1`]);
    assert.equal(target.streams.length, 1);
    assert.equal(target.streams[0]!.headers[':protocol'], 'websocket');
    assert.equal(target.streams[0]!.headers[':scheme'], 'http');
    assert.equal(target.streams[0]!.headers[':path'], '/chat');
    assert.equal(target.upgrades, 0);
  });

  it('h2 (wss://, http2: "require") through an HTTP CONNECT proxy: TLS to the target inside the tunnel, its self-signed certificate trusted by `ca`', async () => {
    const target = await peer();
    const proxy = await connectProxy();
    const ws = client(target.url('/'), { http2: 'require', proxy: proxy.url, ...target.tls });
    assert.deepEqual(await openOutcome(ws), { opened: true });
    assert.equal(overHttp2(ws), true);
    assert.equal(await echoOnce(ws, 'h2 in a tunnel'), 'h2 in a tunnel');
    assert.equal(proxy.tunnels, 1);
    assert.equal(target.streams.length, 1);
    assert.equal(target.streams[0]!.headers[':scheme'], 'https');
    ws.close(4000, 'bye');
    const [code] = await once<[number]>(ws, 'close');
    assert.equal(code, 4000);
  });

  it('wss:// through a proxy checks the target\'s certificate and sends SNI for the target, never the proxy (http2: true)', async () => {
    const target = await peer();
    const servernames: Array<string | false> = [];
    target.server.on('secureConnection', (socket: TLSSocket) => servernames.push((socket as TLSSocket & { servername: string | false }).servername));
    const proxy = await connectProxy();
    const ws = client(`wss://localhost:${target.port}/`, { http2: true, proxy: proxy.url, ...target.tls });
    assert.deepEqual(await openOutcome(ws), { opened: true });
    assert.equal(overHttp2(ws), true);
    assert.equal(proxy.heads[0]?.line, `CONNECT localhost:${target.port} HTTP/1.1`);
    assert.deepEqual(servernames, ['localhost']);

    // Without the target's `ca` the certificate is refused: the handshake fails, close 1006.
    const refused = await openOutcome(client(`wss://localhost:${target.port}/`, { http2: 'require', proxy: proxy.url }));
    assert.equal(refused.opened, false);
    if (!refused.opened) {
      assert.equal(refused.code, 1006);
      assert.match(refused.error.message, /self[- ]signed certificate/);
    }
  });

  it('h2 through an https:// proxy: TLS to the proxy checked with the proxy\'s `tls` options, TLS to the target inside it with the client\'s', async () => {
    const target = await peer();
    const proxyCertificate = selfSignedCertificate();
    try {
      const proxy = await connectProxy({ tls: { key: proxyCertificate.key, cert: proxyCertificate.cert } });
      const ws = client(target.url('/'), { http2: 'require', proxy: { url: proxy.url, tls: { ca: proxyCertificate.cert } }, ...target.tls });
      assert.deepEqual(await openOutcome(ws), { opened: true });
      assert.equal(overHttp2(ws), true);
      assert.equal(await echoOnce(ws, 'TLS in TLS'), 'TLS in TLS');
      // Another proxy object with the same settings (the same `ca` Buffer) shares the tunnel and the session.
      const second = client(target.url('/'), { http2: 'require', proxy: { url: proxy.url, tls: { ca: proxyCertificate.cert } }, ...target.tls });
      assert.deepEqual(await openOutcome(second), { opened: true });
      assert.equal(proxy.tunnels, 1);
      assert.equal(target.sessions.size, 1);
      // The target's certificate is not trusted for the proxy, nor the proxy's for the target.
      const wrongProxyCa = await openOutcome(client(target.url('/x'), { http2: 'require', proxy: { url: proxy.url, tls: { ca: target.certificate!.cert } }, ...target.tls }));
      assert.equal(wrongProxyCa.opened, false);
      if (!wrongProxyCa.opened) assert.equal((wrongProxyCa.error as ProxyError).code, 'FD_ERR_PROXY_CONNECT');
      const wrongTargetCa = await openOutcome(client(target.url('/y'), { http2: 'require', proxy: { url: proxy.url, tls: { ca: proxyCertificate.cert } }, ca: proxyCertificate.cert }));
      assert.equal(wrongTargetCa.opened, false);
      if (!wrongTargetCa.opened) assert.match(wrongTargetCa.error.message, /self[- ]signed certificate/);
    } finally {
      proxyCertificate.remove();
    }
  });

  it('h2 through SOCKS5 (socks5h://, the proxy resolves the name): echo on an HTTP/2 stream', async () => {
    const target = await peer();
    const socks = await Socks5Server.start();
    socksServers.push(socks);
    const ws = client(`wss://localhost:${target.port}/`, { http2: 'require', proxy: socks.url('socks5h').href, ...target.tls });
    assert.deepEqual(await openOutcome(ws), { opened: true });
    assert.equal(overHttp2(ws), true);
    assert.equal(await echoOnce(ws, 'over socks'), 'over socks');
    assert.equal(socks.requests.length, 1);
    assert.equal(socks.requests[0]!.atyp, 3); // a domain name: remote DNS
    assert.equal(socks.requests[0]!.host, 'localhost');
    assert.equal(socks.requests[0]!.port, target.port);
  });

  it('many WebSockets to one target through one proxy share one CONNECT and one HTTP/2 session; it closes with the last of them', async () => {
    const target = await peer();
    const proxy = await connectProxy();
    const options = { http2: 'require' as const, proxy: proxy.url, ...target.tls };
    // Five at once (they join the tunnel while it is being opened), then one more once they are open.
    const first = Array.from({ length: 5 }, () => client(target.url('/'), options));
    for (const result of await Promise.all(first.map(openOutcome))) assert.deepEqual(result, { opened: true });
    const late = client(target.url('/'), options);
    assert.deepEqual(await openOutcome(late), { opened: true });
    const all = [...first, late];
    const echoes = await Promise.all(all.map((ws, i) => echoOnce(ws, `message ${i}`)));
    assert.deepEqual(echoes, all.map((_, i) => `message ${i}`));
    assert.equal(proxy.heads.length, 1, 'one CONNECT for six WebSockets');
    assert.equal(proxy.connections, 1);
    assert.equal(target.sessions.size, 1);
    assert.equal(target.streams.length, 6);
    assert.equal(pooledHttp2Sessions(), 1);
    for (const ws of all) ws.close();
    await Promise.all(all.map((ws) => once(ws, 'close')));
    await waitFor(() => pooledHttp2Sessions() === 0 && proxy.openSockets === 0, scaled(5_000), 'the session and its tunnel to close');
  });

  it('never shares a session between a direct connection and a proxied one, nor between proxies or proxy credentials', async () => {
    const target = await peer();
    const proxy = await connectProxy();
    const other = await connectProxy();
    const tls = target.tls;
    const variants: Array<string | false> = [false, proxy.urlWith('alice:one'), proxy.urlWith('bob:two'), other.url, proxy.urlWith('alice:one')];
    const opened = variants.map((via) => client(target.url('/'), { http2: 'require', proxy: via, ...tls }));
    for (const result of await Promise.all(opened.map(openOutcome))) assert.deepEqual(result, { opened: true });
    // direct, alice, bob, the other proxy: four sessions; the second alice shares the first's.
    assert.equal(target.sessions.size, 4);
    assert.equal(target.streams.length, 5);
    assert.equal(pooledHttp2Sessions(), 4);
    assert.deepEqual(
      proxy.heads.map((head) => head.headers['proxy-authorization']).sort(),
      [`Basic ${Buffer.from('alice:one').toString('base64')}`, `Basic ${Buffer.from('bob:two').toString('base64')}`],
    );
    assert.equal(other.heads.length, 1);
  });

  describe('http2: true falls back to HTTP/1.1 through the proxy; "require" fails', () => {
    let certificate: ReturnType<typeof selfSignedCertificate> | undefined;
    let https: HttpsServer | undefined;
    let wss: WebSocketServer | undefined;
    after(async () => {
      for (const c of wss?.clients ?? []) c.terminate();
      if (https !== undefined) {
        https.closeAllConnections();
        await new Promise<void>((resolve) => https!.close(() => resolve()));
      }
      certificate?.remove();
    });

    /** An HTTP/1.1-only wss:// server (ALPN: http/1.1), echoing. */
    async function http1Target(): Promise<{ port: number; ca: Buffer; upgrades: () => number }> {
      certificate ??= selfSignedCertificate();
      https = createHttpsServer({ key: certificate.key, cert: certificate.cert, ALPNProtocols: ['http/1.1'] });
      wss = new WebSocketServer({ server: https });
      let upgrades = 0;
      wss.on('connection', (socket: WebSocket) => {
        upgrades++;
        socket.on('message', (data) => socket.send(String(data)));
      });
      return { port: await listen(https), ca: certificate.cert, upgrades: () => upgrades };
    }

    it('target chooses HTTP/1.1 by ALPN: http2: true upgrades over the same TLS connection (one CONNECT)', async () => {
      const target = await http1Target();
      const proxy = await connectProxy();
      const ws = client(`wss://127.0.0.1:${target.port}/`, { http2: true, proxy: proxy.url, ca: target.ca });
      assert.deepEqual(await openOutcome(ws), { opened: true });
      assert.equal(overHttp2(ws), false);
      assert.equal(await echoOnce(ws, 'HTTP/1.1 after all'), 'HTTP/1.1 after all');
      assert.equal(proxy.heads.length, 1, 'the TLS connection made for HTTP/2 carried the HTTP/1.1 handshake');
      assert.equal(target.upgrades(), 1);

      const refused = await openOutcome(client(`wss://127.0.0.1:${target.port}/`, { http2: 'require', proxy: proxy.url, ca: target.ca }));
      assert.equal(refused.opened, false);
      if (!refused.opened) {
        assert.equal(refused.code, 1006);
        assert.match(refused.error.message, /^Cannot open a WebSocket over HTTP\/2 to 127\.0\.0\.1:\d+: the server chose "http\/1\.1" by TLS ALPN, not "h2"$/);
      }
      assert.equal(target.upgrades(), 1);
      await waitFor(() => proxy.openSockets === 2, scaled(5_000), 'the refused attempt\'s tunnel to close'); // the open WebSocket's two
    });

    it('target speaks h2 without SETTINGS_ENABLE_CONNECT_PROTOCOL: http2: true opens a new tunnel for HTTP/1.1; "require" names the setting', async () => {
      const target = await peer({ enableConnectProtocol: false });
      const proxy = await connectProxy();
      const ws = client(target.url('/'), { http2: true, proxy: proxy.url, ...target.tls });
      assert.deepEqual(await openOutcome(ws), { opened: true });
      assert.equal(overHttp2(ws), false);
      assert.equal(await echoOnce(ws, 'fell back'), 'fell back');
      assert.equal(proxy.heads.length, 2, 'the HTTP/2 attempt\'s tunnel, then the HTTP/1.1 one');
      assert.equal(target.upgrades, 1);
      assert.equal(target.streams.length, 0);

      const refused = await openOutcome(client(target.url('/'), { http2: 'require', proxy: proxy.url, ...target.tls }));
      assert.equal(refused.opened, false);
      if (!refused.opened) {
        assert.equal(refused.code, 1006);
        assert.match(refused.error.message, /SETTINGS_ENABLE_CONNECT_PROTOCOL/);
      }
      assert.equal(target.upgrades, 1);
    });
  });

  it('a proxy that refuses (407, 403, 502), garbles or closes: ProxyError naming it, then close 1006 (h2 and h2c)', async () => {
    const secure = await peer();
    const cleartext = await peer({ cleartext: true });
    const table: Array<[ConnectProxyBehaviour | 'credentials', string, number | undefined]> = [
      ['credentials', 'FD_ERR_PROXY_STATUS', 407],
      [{ kind: 'status', status: 403, reason: 'Forbidden' }, 'FD_ERR_PROXY_STATUS', 403],
      [{ kind: 'status', status: 502, reason: 'Bad Gateway' }, 'FD_ERR_PROXY_STATUS', 502],
      [{ kind: 'garbage', bytes: 'SSH-2.0-OpenSSH_9.2\r\n' }, 'FD_ERR_PROXY_RESPONSE', undefined],
      [{ kind: 'close' }, 'FD_ERR_PROXY_CLOSED', undefined],
    ];
    for (const [behaviour, code, status] of table) {
      const proxy = await connectProxy(behaviour === 'credentials' ? { credentials: 'u:p' } : { behaviour });
      for (const [target, mode] of [[secure, 'require'], [cleartext, 'h2c']] as const) {
        const label = `${JSON.stringify(behaviour)} ${mode}`;
        const result = await openOutcome(client(target.url('/'), { http2: mode, proxy: proxy.url, ...target.tls }));
        assert.equal(result.opened, false, label);
        if (result.opened) continue;
        assert.equal(result.code, 1006, label);
        assert.ok(result.error instanceof ProxyError, `${label}: ${result.error.stack}`);
        assert.equal(result.error.code, code, label);
        assert.equal(result.error.status, status, label);
        assert.equal(result.error.proxy, proxy.url, label);
      }
      assert.equal(secure.sessions.size + cleartext.sessions.size, 0);
      assert.equal(pooledHttp2Sessions(), 0, 'a failed tunnel leaves nothing in the pool');
    }
  });

  it('an unusable proxy URL from the environment with http2: "require" fails the handshake (error, close 1006), not the constructor', async () => {
    const target = await peer();
    process.env['HTTPS_PROXY'] = 'ftp://proxy.invalid:21';
    process.env['NO_PROXY'] = '<-loopback>'; // the target is on 127.0.0.1, otherwise never proxied
    for (const mode of ['require', true] as const) {
      let ws: WebSocket | undefined;
      assert.doesNotThrow(() => {
        ws = client(target.url('/'), { http2: mode, ...target.tls });
      });
      const result = await openOutcome(ws!);
      assert.equal(result.opened, false);
      if (!result.opened) {
        assert.equal(result.code, 1006);
        assert.match(result.error.message, /^Unsupported proxy scheme "ftp:" from \$HTTPS_PROXY/);
      }
    }
    assert.equal(target.sessions.size, 0);
  });

  it('a proxy from the environment carries http2: "require" too; proxy: false turns it off', async () => {
    const target = await peer();
    const proxy = await connectProxy();
    process.env['https_proxy'] = proxy.url;
    process.env['no_proxy'] = '<-loopback>';
    const proxied = client(target.url('/'), { http2: 'require', ...target.tls });
    assert.deepEqual(await openOutcome(proxied), { opened: true });
    const direct = client(target.url('/'), { http2: 'require', proxy: false, ...target.tls });
    assert.deepEqual(await openOutcome(direct), { opened: true });
    assert.equal(proxy.heads.length, 1);
    assert.equal(target.sessions.size, 2);
  });

  it('handshakeTimeout covers the proxy leg: a proxy that never answers CONNECT times the handshake out, and the tunnel is abandoned with its last WebSocket', async () => {
    const target = await peer();
    const proxy = await connectProxy({ behaviour: { kind: 'silent' } });
    // Long enough for the CONNECT and the second WebSocket's exit to happen first, even on a loaded machine.
    const timeout = scaled(500);
    const started = Date.now();
    const timing = openOutcome(client(target.url('/'), { http2: 'require', proxy: proxy.url, handshakeTimeout: timeout, ...target.tls }));
    // A second WebSocket waits on the same tunnel; terminating it leaves the tunnel to the first.
    const leaving = client(target.url('/'), { http2: 'require', proxy: proxy.url, ...target.tls });
    const left = openOutcome(leaving);
    await waitFor(() => proxy.heads.length === 1, scaled(5_000), 'the CONNECT');
    leaving.terminate();
    const terminated = await left;
    assert.equal(terminated.opened, false);
    if (!terminated.opened) assert.equal(terminated.code, 1006);
    await delay(100);
    assert.equal(proxy.openSockets, 1, 'the tunnel stays while a WebSocket still waits on it');
    const result = await timing;
    assert.ok(Date.now() - started >= timeout - 10, 'not before the timeout');
    assert.equal(result.opened, false);
    if (!result.opened) {
      assert.equal(result.code, 1006);
      assert.equal(result.error.message, `Opening handshake has timed out after ${timeout} ms`);
    }
    assert.equal(proxy.heads.length, 1);
    await waitFor(() => proxy.openSockets === 0, scaled(5_000), 'the abandoned tunnel to close');
    assert.equal(pooledHttp2Sessions(), 0);
  });
});
