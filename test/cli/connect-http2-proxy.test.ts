/**
 * `fullduplex connect --http2` / `--try-http2` through a proxy (from --proxy or the environment): the
 * WebSocket goes over HTTP/2 (RFC 8441) inside the proxy's tunnel — h2 with TLS to the target inside
 * it for wss://, h2c for ws:// — and `--try-http2` falls back to HTTP/1.1 through the proxy when the
 * target does not allow extended CONNECT. A proxy's refusal ends the command with exit 1 and the
 * proxy's status, as over HTTP/1.1. Against the in-process HTTP/2 peer (test/helpers/http2-peer.ts,
 * which takes HTTP/1.1 upgrades too) and our CONNECT proxy (test/helpers/connect-proxy.ts).
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { caArgs, startPeer } from './http2-peers.js';
import { ConnectProxy } from '../helpers/connect-proxy.js';
import { killAll, startCli } from './cli-process.js';

// The machine's own proxy settings must not leak into the children: each test sets what it needs.
const VARIABLES = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY', 'REQUEST_METHOD'];
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
const clear = (): void => {
  for (const name of VARIABLES) delete process.env[name];
};
clear();

let proxy: ConnectProxy | undefined;
afterEach(async () => {
  clear();
  await proxy?.stop();
  proxy = undefined;
});
after(async () => {
  await killAll();
  for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
});

describe('fullduplex connect --http2 / --try-http2 through a proxy', () => {
  it('--http2 with --proxy (credentials in the URL): over HTTP/2 inside the tunnel, wss: (h2) and ws: (h2c)', async () => {
    const tunnel = await ConnectProxy.start({ credentials: 'u:p' });
    proxy = tunnel;
    for (const cleartext of [false, true]) {
      const peer = await startPeer({ cleartext });
      const tunnels = tunnel.tunnels;
      const exit = await startCli('connect', peer.url('/'), '--http2', ...caArgs(peer), '--proxy', tunnel.urlWith('u:p'), '-x', 'over h2').exit();
      assert.equal(exit.code, 0, exit.stderr);
      assert.equal(exit.stdout, 'over h2\n');
      assert.match(exit.stderr, /over HTTP\/2 \(RFC 8441\)\n/);
      assert.equal(tunnel.tunnels, tunnels + 1, `cleartext=${cleartext}`);
      assert.equal(tunnel.heads.at(-1)?.line, `CONNECT 127.0.0.1:${peer.port} HTTP/1.1`);
      assert.equal(peer.streams.length, 1);
      assert.equal(peer.upgrades, 0);
    }
  });

  it('--http2 with a proxy from the environment goes through it; --no-proxy connects directly', async () => {
    proxy = await ConnectProxy.start();
    const peer = await startPeer();
    process.env['https_proxy'] = proxy.url;
    process.env['NO_PROXY'] = '<-loopback>'; // the peer is on 127.0.0.1, which is otherwise never proxied
    const proxied = await startCli('connect', peer.url('/'), '--http2', ...caArgs(peer), '-x', 'proxied').exit();
    assert.equal(proxied.code, 0, proxied.stderr);
    assert.equal(proxied.stdout, 'proxied\n');
    assert.match(proxied.stderr, /over HTTP\/2 \(RFC 8441\)\n/);
    assert.equal(proxy.tunnels, 1);

    const direct = await startCli('connect', peer.url('/'), '--http2', ...caArgs(peer), '--no-proxy', '-x', 'direct').exit();
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal(direct.stdout, 'direct\n');
    assert.match(direct.stderr, /over HTTP\/2 \(RFC 8441\)\n/);
    assert.equal(proxy.tunnels, 1);
    assert.equal(peer.streams.length, 2);
    assert.equal(peer.sessions.size, 2);
  });

  it('--try-http2 through a proxy: HTTP/2 when the target allows it, else HTTP/1.1 through the proxy', async () => {
    const tunnel = await ConnectProxy.start();
    proxy = tunnel;
    const h2 = await startPeer();
    const noSetting = await startPeer({ enableConnectProtocol: false });
    for (const [peer, version] of [[h2, /over HTTP\/2 \(RFC 8441\)\n/], [noSetting, /over HTTP\/1\.1\n/]] as const) {
      const exit = await startCli('connect', peer.url('/'), '--try-http2', ...caArgs(peer), '--proxy', tunnel.url, '-x', 'tried').exit();
      assert.equal(exit.code, 0, exit.stderr);
      assert.equal(exit.stdout, 'tried\n');
      assert.match(exit.stderr, version);
    }
    assert.equal(h2.streams.length, 1);
    assert.equal(h2.upgrades, 0);
    assert.equal(noSetting.streams.length, 0);
    assert.equal(noSetting.upgrades, 1);
    // One tunnel to the first; two to the second (its HTTP/2 connection, then the HTTP/1.1 one).
    assert.equal(tunnel.tunnels, 3);
  });

  it('--http2 through a proxy that refuses: exit 1, the proxy and its status on stderr, close 1006, nothing reaches the target', async () => {
    proxy = await ConnectProxy.start({ credentials: 'u:p' });
    const peer = await startPeer();
    const exit = await startCli('connect', peer.url('/'), '--http2', ...caArgs(peer), '--proxy', proxy.urlWith('u:wrong'), '-x', 'never sent').exit();
    assert.equal(exit.code, 1, exit.stderr);
    assert.equal(exit.stdout, '');
    assert.ok(exit.stderr.includes(`Proxy ${proxy.url}: CONNECT 127.0.0.1:${peer.port} answered 407`), exit.stderr);
    assert.match(exit.stderr, /closed code=1006/);
    assert.doesNotMatch(exit.stderr, /wrong/);
    assert.equal(peer.sessions.size, 0);
  });
});
