import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { openHttpTunnel, type HttpTunnelRequest } from '../../src/node/http-tunnel.js';
import { ProxyError, type ProxyErrorCode } from '../../src/node/proxy-tunnel-types.js';
import { ConnectProxy, type ConnectProxyBehaviour } from '../helpers/connect-proxy.js';
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js';
import { freePort } from '../helpers/process.js';
import { listen, within } from '../helpers/node.js';
import { scaled } from '../helpers/time.js';

/** Open a tunnel and wait for its outcome. */
function tunnel(request: HttpTunnelRequest): Promise<{ error: ProxyError | null; socket?: Socket | Duplex }> {
  return within(new Promise((resolve) => openHttpTunnel(request, (error, socket) => resolve({ error, socket }))), 'the tunnel');
}

/** Write `text` through the tunnel and read the echo back. */
async function echo(socket: Socket | Duplex, text: string): Promise<string> {
  socket.write(text);
  let received = '';
  for await (const chunk of socket) {
    received += (chunk as Buffer).toString();
    if (received.length >= text.length) break;
  }
  return received;
}

describe('HTTP CONNECT tunnel', () => {
  let target: Server;
  let targetPort: number;
  let certificate: Certificate;

  before(async () => {
    target = createServer((socket) => socket.pipe(socket));
    targetPort = await listen(target);
    certificate = selfSignedCertificate();
  });
  after(() => {
    target.close();
    certificate.remove();
  });

  it('opens a tunnel through an http: proxy and carries bytes both ways', async () => {
    const proxy = await ConnectProxy.start();
    try {
      const { error, socket } = await tunnel({ proxy: new URL(proxy.url), host: '127.0.0.1', port: targetPort });
      assert.equal(error, null);
      assert.equal(await echo(socket!, 'ping'), 'ping');
      socket!.destroy();
      assert.equal(proxy.heads[0]?.line, `CONNECT 127.0.0.1:${targetPort} HTTP/1.1`);
      assert.equal(proxy.heads[0]?.headers['host'], `127.0.0.1:${targetPort}`);
      assert.equal(proxy.heads[0]?.headers['proxy-authorization'], undefined);
    } finally {
      await proxy.stop();
    }
  });

  it('opens a tunnel through an https: proxy, checking the PROXY certificate against its own ca', async () => {
    const proxy = await ConnectProxy.start({ tls: certificate });
    try {
      const ok = await tunnel({ proxy: new URL(proxy.url.replace('127.0.0.1', 'localhost')), host: '127.0.0.1', port: targetPort, tls: { ca: certificate.cert } });
      assert.equal(ok.error, null);
      assert.equal(await echo(ok.socket!, 'secure'), 'secure');
      ok.socket!.destroy();
      const refused = await tunnel({ proxy: new URL(proxy.url), host: '127.0.0.1', port: targetPort });
      assert.equal(refused.error?.code, 'FD_ERR_PROXY_CONNECT');
      assert.match(refused.error!.message, /self-signed|self signed/);
    } finally {
      await proxy.stop();
    }
  });

  it('sends credentials from the URL (percent-decoded) or the option, and the headers given', async () => {
    const proxy = await ConnectProxy.start({ credentials: 'us@er:p:ss' });
    try {
      const fromUrl = await tunnel({ proxy: new URL(proxy.urlWith('us%40er:p%3Ass')), host: '127.0.0.1', port: targetPort, headers: { 'X-Trace': '1' } });
      assert.equal(fromUrl.error, null);
      fromUrl.socket!.destroy();
      assert.equal(proxy.heads[0]?.headers['x-trace'], '1');
      const fromOption = await tunnel({ proxy: new URL(proxy.url), host: '127.0.0.1', port: targetPort, credentials: { username: 'us@er', password: 'p:ss' } });
      assert.equal(fromOption.error, null);
      fromOption.socket!.destroy();
    } finally {
      await proxy.stop();
    }
  });

  it('hands over the bytes that came with the 2xx head', async () => {
    const proxy = await ConnectProxy.start({ behaviour: { kind: 'garbage', bytes: 'HTTP/1.1 200 OK\r\n\r\nfirst bytes' } });
    try {
      const { error, socket } = await tunnel({ proxy: new URL(proxy.url), host: 'example.com', port: 80 });
      assert.equal(error, null);
      let received = '';
      for await (const chunk of socket!) received += (chunk as Buffer).toString();
      assert.equal(received, 'first bytes');
    } finally {
      await proxy.stop();
    }
  });

  const failures: Array<[string, ConnectProxyBehaviour | 'auth' | 'auth-wrong', ProxyErrorCode, RegExp, number | undefined]> = [
    ['407 without credentials', 'auth', 'FD_ERR_PROXY_STATUS', /answered 407 Proxy Authentication Required \(Proxy-Authenticate: Basic; no credentials were given\)/, 407],
    ['407 with wrong credentials', 'auth-wrong', 'FD_ERR_PROXY_STATUS', /answered 407 .*the credentials given were refused/, 407],
    ['403', { kind: 'status', status: 403, reason: 'Forbidden' }, 'FD_ERR_PROXY_STATUS', /CONNECT 127\.0\.0\.1:\d+ answered 403 Forbidden$/, 403],
    ['502', { kind: 'status', status: 502, reason: 'Bad Gateway' }, 'FD_ERR_PROXY_STATUS', /answered 502 Bad Gateway/, 502],
    ['an early close', { kind: 'close' }, 'FD_ERR_PROXY_CLOSED', /closed the connection before answering|connection failed before the tunnel/, undefined],
    ['garbage', { kind: 'garbage', bytes: 'SSH-2.0-OpenSSH\r\n' }, 'FD_ERR_PROXY_RESPONSE', /invalid answer to CONNECT .*Not an HTTP\/1\.x response/, undefined],
    ['a head over 16 KiB', { kind: 'garbage', bytes: `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(17_000)}\r\n\r\n` }, 'FD_ERR_PROXY_RESPONSE', /exceeds 16384 bytes/, undefined],
    ['a truncated head', { kind: 'garbage', bytes: 'HTTP/1.1 200 OK\r\n' }, 'FD_ERR_PROXY_CLOSED', /closed the connection before answering/, undefined],
  ];
  for (const [name, behaviour, code, message, status] of failures) {
    it(`fails with ${code} on ${name}, naming the proxy without credentials`, async () => {
      const proxy = await ConnectProxy.start(
        behaviour === 'auth' || behaviour === 'auth-wrong' ? { credentials: 'user:right' } : { behaviour },
      );
      try {
        const url = behaviour === 'auth-wrong' ? proxy.urlWith('user:wrong') : proxy.url;
        const { error, socket } = await tunnel({ proxy: new URL(url), host: '127.0.0.1', port: targetPort });
        assert.equal(socket, undefined);
        assert.ok(error instanceof ProxyError);
        assert.equal(error.code, code);
        assert.equal(error.status, status);
        assert.equal(error.proxy, proxy.url);
        assert.ok(error.message.startsWith(`Proxy ${proxy.url}: `), error.message);
        assert.match(error.message, message);
        assert.doesNotMatch(error.message, /wrong|right/);
      } finally {
        await proxy.stop();
      }
    });
  }

  it('fails with FD_ERR_PROXY_CONNECT when nothing listens', async () => {
    const port = await freePort();
    const { error } = await tunnel({ proxy: new URL(`http://127.0.0.1:${port}`), host: '127.0.0.1', port: targetPort });
    assert.equal(error?.code, 'FD_ERR_PROXY_CONNECT');
    assert.match(error!.message, /ECONNREFUSED/);
  });

  it('fails with FD_ERR_PROXY_URL on another scheme or unusable credentials, asynchronously', async () => {
    let sync = true;
    const pending = tunnel({ proxy: new URL('ftp://127.0.0.1:1'), host: 'h', port: 1 });
    sync = false;
    const { error } = await pending;
    assert.equal(sync, false);
    assert.equal(error?.code, 'FD_ERR_PROXY_URL');
    const colon = await tunnel({ proxy: new URL('http://127.0.0.1:1'), host: 'h', port: 1, credentials: { username: 'a:b', password: '' } });
    assert.equal(colon.error?.code, 'FD_ERR_PROXY_URL');
  });

  it('cancel before a refused URL or credentials is reported never calls back (with an error or with success)', async () => {
    const calls: Array<[ProxyError | null, unknown]> = [];
    openHttpTunnel({ proxy: new URL('ftp://127.0.0.1:1'), host: 'h', port: 1 }, (error, socket) => calls.push([error, socket]))();
    openHttpTunnel({ proxy: new URL('http://127.0.0.1:1'), host: 'h', port: 1, credentials: { username: 'a:b', password: '' } }, (error, socket) => calls.push([error, socket]))();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(calls, []);
  });

  it('cancel after the callback has delivered the tunnel does nothing: the socket is the caller\'s and still carries bytes', async () => {
    const proxy = await ConnectProxy.start();
    try {
      let cancel = (): void => {};
      const delivered = await within(
        new Promise<{ error: ProxyError | null; socket?: Socket | Duplex }>((resolve) => {
          cancel = openHttpTunnel({ proxy: new URL(proxy.url), host: '127.0.0.1', port: targetPort }, (error, socket) => resolve({ error, socket }));
        }),
        'the tunnel',
      );
      assert.equal(delivered.error, null);
      cancel();
      assert.equal(delivered.socket!.destroyed, false);
      assert.equal(await echo(delivered.socket!, 'still mine'), 'still mine');
      delivered.socket!.destroy();
    } finally {
      await proxy.stop();
    }
  });

  it('cancel destroys the connection to the proxy and never calls back', async () => {
    const proxy = await ConnectProxy.start({ behaviour: { kind: 'silent' } });
    try {
      let called = false;
      const cancel = openHttpTunnel({ proxy: new URL(proxy.url), host: '127.0.0.1', port: targetPort }, () => {
        called = true;
      });
      const deadline = Date.now() + scaled(5_000);
      while (proxy.heads.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(proxy.heads.length, 1);
      cancel();
      while (proxy.openSockets > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(proxy.openSockets, 0, 'the proxy saw the connection close');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(called, false);
    } finally {
      await proxy.stop();
    }
  });
});
