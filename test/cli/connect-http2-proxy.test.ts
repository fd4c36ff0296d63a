/**
 * `fullduplex connect --http2` / `--try-http2` when a proxy applies. The client cannot tunnel HTTP/2
 * through a proxy, so --http2 with a proxy (from --proxy or the environment) is a usage error: one line
 * naming the conflict, the proxy (without credentials) and where it came from, and the way out
 * (--no-proxy), exit code 2, nothing connected. --try-http2 goes over HTTP/1.1 through the proxy, as
 * the client's `http2: true` does. Against the in-process HTTP/2 peer (test/helpers/http2-peer.ts, which
 * takes HTTP/1.1 upgrades too) and our CONNECT proxy (test/helpers/connect-proxy.ts).
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Http2Peer } from '../helpers/http2-peer.js';
import { ConnectProxy } from '../helpers/connect-proxy.js';
import { killAll, startCli } from './cli-process.js';
import { http2ProxyConflict } from '../../src/cli/connect-http2-proxy.js';

// The machine's own proxy settings must not leak into the children: each test sets what it needs.
const VARIABLES = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY', 'REQUEST_METHOD'];
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
const clear = (): void => {
  for (const name of VARIABLES) delete process.env[name];
};
clear();

const peers = new Set<Http2Peer>();
let proxy: ConnectProxy | undefined;
afterEach(async () => {
  clear();
  for (const peer of peers) await peer.close();
  peers.clear();
  await proxy?.stop();
  proxy = undefined;
});
after(async () => {
  await killAll();
  for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
});

async function startPeer(options: ConstructorParameters<typeof Http2Peer>[0] = {}): Promise<Http2Peer> {
  const peer = await Http2Peer.start(options);
  peers.add(peer);
  return peer;
}

function caArgs(peer: Http2Peer): string[] {
  return peer.certificate === null ? [] : ['--ca', peer.certificate.certPath];
}

/** stderr is exactly one line. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line expected, got:\n${stderr}`);
  return lines[0]!;
}

describe('fullduplex connect --http2 / --try-http2 with a proxy', () => {
  it('finds the conflict only for --http2 with a proxy that applies to the target (table)', () => {
    const table: Array<[string, 'require' | 'try' | undefined, string | false | undefined, NodeJS.ProcessEnv, RegExp | null]> = [
      ['wss://example.com/', 'require', 'http://u:p@proxy.test:3128', {}, /^--http2 cannot go through the proxy http:\/\/proxy\.test:3128 \(from --proxy\)/],
      ['ws://example.com/', 'require', undefined, { http_proxy: 'http://proxy.test:8080' }, /proxy http:\/\/proxy\.test:8080 \(from \$http_proxy\)/],
      ['wss://example.com/', 'require', undefined, { HTTPS_PROXY: 'socks5h://proxy.test:1080' }, /proxy socks5h:\/\/proxy\.test:1080 \(from \$HTTPS_PROXY\)/],
      ['wss://example.com/', 'require', undefined, { ALL_PROXY: 'proxy.test:3128' }, /\(from \$ALL_PROXY\)/],
      ['wss://example.com/', 'require', false, { HTTPS_PROXY: 'http://proxy.test:3128' }, null], // --no-proxy
      ['wss://example.com/', 'require', undefined, { HTTPS_PROXY: 'http://proxy.test:3128', NO_PROXY: 'example.com' }, null],
      ['wss://127.0.0.1:9/', 'require', undefined, { HTTPS_PROXY: 'http://proxy.test:3128' }, null], // loopback: never from the environment
      ['wss://example.com/', 'try', 'http://proxy.test:3128', {}, null], // HTTP/1.1 through the proxy
      ['wss://example.com/', undefined, 'http://proxy.test:3128', {}, null],
      ['not a url', 'require', 'http://proxy.test:3128', {}, null], // the client's SyntaxError says it
      ['wss://example.com/', 'require', undefined, { HTTPS_PROXY: 'ftp://proxy.test' }, null], // the client names the bad variable
    ];
    for (const [url, http2, option, env, expected] of table) {
      const conflict = http2ProxyConflict(url, http2, option, env);
      const label = `${url} ${String(http2)} ${String(option)} ${JSON.stringify(env)}`;
      if (expected === null) assert.equal(conflict, null, label);
      else {
        assert.match(String(conflict), expected, label);
        assert.match(String(conflict), /use --no-proxy to connect directly, or --try-http2 to go over HTTP\/1\.1 through the proxy$/, label);
        assert.doesNotMatch(String(conflict), /u:p|\n/, label);
      }
    }
  });

  it('--http2 with --proxy: one line naming the conflict and --no-proxy, exit 2, nothing connected (wss: and h2c)', async () => {
    proxy = await ConnectProxy.start({ credentials: 'u:p' });
    for (const cleartext of [false, true]) {
      const peer = await startPeer({ cleartext });
      const exit = await startCli('connect', peer.url('/'), '--http2', ...caArgs(peer), '--proxy', proxy.urlWith('u:p'), '-x', 'never sent').exit();
      assert.equal(exit.code, 2, exit.stderr);
      assert.equal(exit.stdout, '');
      const line = oneLine(exit.stderr);
      assert.equal(line, `fullduplex connect: --http2 cannot go through the proxy ${proxy.url.replace(/\/$/, '')} (from --proxy): WebSockets over HTTP/2 are not tunnelled through proxies; use --no-proxy to connect directly, or --try-http2 to go over HTTP/1.1 through the proxy`);
      assert.equal(proxy.tunnels, 0);
      assert.equal(peer.streams.length + peer.upgrades, 0);
    }
  });

  it('--http2 with a proxy from the environment: the same, naming the variable; --no-proxy then connects over HTTP/2', async () => {
    proxy = await ConnectProxy.start();
    const peer = await startPeer();
    process.env['https_proxy'] = proxy.url;
    process.env['NO_PROXY'] = '<-loopback>'; // the peer is on 127.0.0.1, which is otherwise never proxied
    const refused = await startCli('connect', peer.url('/'), '--http2', ...caArgs(peer), '-x', 'never sent').exit();
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(oneLine(refused.stderr), /^fullduplex connect: --http2 cannot go through the proxy http:\/\/127\.0\.0\.1:\d+ \(from \$https_proxy\): .*use --no-proxy/);

    const direct = await startCli('connect', peer.url('/'), '--http2', ...caArgs(peer), '--no-proxy', '-x', 'direct').exit();
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal(direct.stdout, 'direct\n');
    assert.match(direct.stderr, /over HTTP\/2 \(RFC 8441\)\n/);
    assert.equal(proxy.tunnels, 0);
    assert.equal(peer.streams.length, 1);
  });

  it('--try-http2 through a proxy goes over HTTP/1.1 through it (the server offers HTTP/2: direct, it would be used)', async () => {
    const tunnel = await ConnectProxy.start();
    proxy = tunnel;
    const peer = await startPeer();
    for (const via of ['--proxy', 'environment'] as const) {
      if (via === 'environment') {
        process.env['HTTPS_PROXY'] = tunnel.url;
        process.env['no_proxy'] = '<-loopback>';
      }
      const args = via === '--proxy' ? ['--proxy', tunnel.url] : [];
      const exit = await startCli('connect', peer.url('/'), '--try-http2', ...caArgs(peer), ...args, '-x', `via ${via}`).exit();
      assert.equal(exit.code, 0, exit.stderr);
      assert.equal(exit.stdout, `via ${via}\n`);
      assert.match(exit.stderr, /connected to \S+ protocol=\(none\) over HTTP\/1\.1\n/);
    }
    assert.equal(tunnel.tunnels, 2);
    assert.equal(peer.upgrades, 2);
    assert.equal(peer.streams.length, 0);
  });
});
