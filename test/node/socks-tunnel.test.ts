/**
 * openSocksTunnel against a SOCKS5 server of our own (test/helpers/socks5-server.ts), which records
 * what it was asked: the bytes that go through, socks5: against socks5h: (which ATYP arrived),
 * credentials, every failure the proxy can cause (each as a ProxyError with its code, naming the
 * proxy and never its credentials), cancelling, and a WebSocket handshake through the tunnel with
 * our client and with `ws` (ws:// and wss:// with a self-signed target certificate).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { openSocksTunnel } from '../../src/node/socks-tunnel.js';
import { ProxyError, type ProxyErrorCode } from '../../src/node/proxy-tunnel-types.js';
import { SOCKS5_REPLIES } from '../../src/protocol/socks5.js';
import { Socks5Server, type Socks5ServerOptions } from '../helpers/socks5-server.js';
import { socksRoundTrip, startEchoTargets, type EchoTargets, throughSocks, tunnel, type SocksClient } from '../helpers/socks-tunnel.js';
import { delay, listen, within } from '../helpers/node.js';
import type { Certificate } from '../helpers/tls.js';

/** localhost as this machine resolves it (what socks5: sends): the targets listen there. */
let loopback: { address: string; family: number };
let echo: NetServer;
let echoPort: number;

/** Read until `count` bytes have come, or the socket ends. */
function read(socket: Socket | Duplex, count: number): Promise<Buffer> {
  return within(
    new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let length = 0;
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        length += chunk.length;
        if (length >= count) {
          socket.off('data', onData);
          resolve(Buffer.concat(chunks));
        }
      };
      socket.on('data', onData);
      socket.once('end', () => resolve(Buffer.concat(chunks)));
    }),
    `${count} bytes from the tunnel`,
  );
}

async function withProxy(options: Socks5ServerOptions, run: (proxy: Socks5Server) => Promise<void>): Promise<void> {
  const proxy = await Socks5Server.start(options);
  try {
    await run(proxy);
  } finally {
    await proxy.close();
  }
}

async function expectFailure(proxyUrl: URL, host: string, port: number, code: ProxyErrorCode, message: RegExp): Promise<ProxyError> {
  const { error, socket } = await tunnel(proxyUrl, host, port);
  assert.equal(socket, undefined);
  assert.ok(error instanceof ProxyError, `expected a ProxyError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  assert.match(error.message, message);
  assert.ok(error.message.startsWith(`Proxy ${proxyUrl.protocol}//${proxyUrl.host}: `), error.message);
  return error;
}

describe('openSocksTunnel', () => {
  before(async () => {
    loopback = await lookup('localhost');
    echo = createNetServer((socket) => {
      socket.on('error', () => {});
      socket.pipe(socket);
    });
    echoPort = await listen(echo, loopback.address);
  });
  after(() => new Promise<void>((resolve) => echo.close(() => resolve())));

  it('socks5h: sends the host name for the proxy to resolve (ATYP 3) and carries bytes both ways', async () => {
    await withProxy({}, async (proxy) => {
      const { error, socket } = await tunnel(proxy.url('socks5h'), 'localhost', echoPort);
      assert.equal(error, null);
      socket!.write('hello');
      assert.equal((await read(socket!, 5)).toString(), 'hello');
      socket!.destroy();
      assert.deepEqual(proxy.requests, [{ methods: [0], atyp: 3, host: 'localhost', port: echoPort }]);
    });
  });

  it('socks5: resolves the host name itself and sends the address (ATYP 1 or 4)', async () => {
    await withProxy({}, async (proxy) => {
      const { error, socket } = await tunnel(proxy.url('socks5'), 'localhost', echoPort);
      assert.equal(error, null);
      socket!.write('x');
      assert.equal((await read(socket!, 1)).toString(), 'x');
      socket!.destroy();
      const [request] = proxy.requests;
      assert.equal(request!.atyp, loopback.family === 4 ? 1 : 4);
      if (loopback.family === 4) assert.equal(request!.host, loopback.address);
    });
  });

  it('sends an IP address as such for either scheme, without a lookup', async () => {
    await withProxy({}, async (proxy) => {
      for (const scheme of ['socks5', 'socks5h'] as const) {
        const { error, socket } = await tunnel(proxy.url(scheme), '127.0.0.1', 9); // the proxy refuses: discard is closed
        socket?.destroy();
        assert.ok(error === null || error.code === 'FD_ERR_PROXY_REFUSED', String(error));
      }
      assert.deepEqual(proxy.requests.map((r) => [r.atyp, r.host]), [[1, '127.0.0.1'], [1, '127.0.0.1']]);
    });
  });

  it('authenticates with the percent-decoded credentials of the proxy URL (RFC 1929)', async () => {
    await withProxy({ credentials: { username: 'us@er', password: 'pä:ss' } }, async (proxy) => {
      const url = proxy.url('socks5h', `${encodeURIComponent('us@er')}:${encodeURIComponent('pä:ss')}`);
      const { error, socket } = await tunnel(url, 'localhost', echoPort);
      assert.equal(error, null);
      socket!.destroy();
      assert.deepEqual(proxy.requests[0], { methods: [0, 2], username: 'us@er', password: 'pä:ss', atyp: 3, host: 'localhost', port: echoPort });
    });
  });

  it('wrong credentials: FD_ERR_PROXY_AUTH, and the message never shows them', async () => {
    await withProxy({ credentials: { username: 'alice', password: 'right' } }, async (proxy) => {
      const error = await expectFailure(proxy.url('socks5h', 'alice:wrong-secret'), 'localhost', echoPort, 'FD_ERR_PROXY_AUTH', /rejected the username and password/);
      assert.ok(!error.message.includes('wrong-secret') && !error.message.includes('alice'), error.message);
      assert.equal(error.proxy, `socks5h://127.0.0.1:${proxy.port}`);
    });
  });

  it('no credentials for a proxy that requires them: FD_ERR_PROXY_AUTH "no acceptable methods"', async () => {
    await withProxy({ credentials: { username: 'user', password: 'pass' } }, async (proxy) => {
      await expectFailure(proxy.url('socks5h'), 'localhost', echoPort, 'FD_ERR_PROXY_AUTH', /no acceptable authentication methods \(0xFF\)/);
    });
  });

  it('each failure reply 0x01–0x08: FD_ERR_PROXY_REFUSED with the reply code and its RFC 1928 name', async () => {
    await withProxy({}, async (proxy) => {
      for (const [code, name] of Object.entries(SOCKS5_REPLIES)) {
        proxy.options = { reply: Number(code) };
        const error = await expectFailure(proxy.url('socks5h', 'u:secret'), 'localhost', echoPort, 'FD_ERR_PROXY_REFUSED', new RegExp(name));
        assert.equal(error.reply, Number(code));
        assert.ok(!error.message.includes('secret'));
      }
    });
  });

  it('a proxy that misbehaves: garbage, closing early, or not listening', async () => {
    const cases: [Socks5ServerOptions['behaviour'], ProxyErrorCode, RegExp][] = [
      ['garbage', 'FD_ERR_PROXY_RESPONSE', /version 72, not 5: not a SOCKS5 proxy/],
      ['close-after-greeting', 'FD_ERR_PROXY_CLOSED', /during the method selection/],
      ['close-after-request', 'FD_ERR_PROXY_CLOSED', /during CONNECT/],
    ];
    for (const [behaviour, code, message] of cases) {
      await withProxy({ behaviour }, (proxy) => expectFailure(proxy.url('socks5h'), 'localhost', echoPort, code, message).then(() => undefined));
    }
    const closed = await Socks5Server.start();
    const url = closed.url('socks5h');
    await closed.close();
    await expectFailure(url, 'localhost', echoPort, 'FD_ERR_PROXY_CONNECT', /cannot connect to the proxy: .*ECONNREFUSED/);
  });

  it('unusable proxy URLs and targets: FD_ERR_PROXY_URL, asynchronously', async () => {
    const long = 'x'.repeat(256);
    const cases: [string, string, RegExp][] = [
      ['http://127.0.0.1:1', 'localhost', /not a SOCKS5 proxy URL \(the scheme is http:/],
      ['socks5h://', 'localhost', /the proxy URL has no host/],
      [`socks5h://${long}:p@127.0.0.1:1`, 'localhost', /username must be 1 to 255 bytes/],
      ['socks5h://user:@127.0.0.1:1', 'localhost', /password must be 1 to 255 bytes/],
      ['socks5h://%E0%A4%A:p@127.0.0.1:1', 'localhost', /not valid percent-encoded UTF-8/],
      ['socks5h://127.0.0.1:1', long, /host name must be 1 to 255 bytes/],
    ];
    for (const [url, host, message] of cases) {
      let sync = true;
      const result = tunnel(new URL(url), host, 80);
      sync = false;
      const { error } = await result;
      assert.equal(sync, false);
      assert.equal(error?.code, 'FD_ERR_PROXY_URL', `${url}: ${String(error)}`);
      assert.match(error!.message, message);
    }
  });

  it('socks5: a target name that does not resolve is FD_ERR_PROXY_CONNECT naming the target', async () => {
    await withProxy({}, async (proxy) => {
      await expectFailure(proxy.url('socks5'), 'no-such-host.invalid', 80, 'FD_ERR_PROXY_CONNECT', /cannot resolve the target no-such-host\.invalid/);
      assert.deepEqual(proxy.requests, []);
    });
  });

  it('hands the bytes the proxy sent after its reply to the tunnel first', async () => {
    await withProxy({ trailing: Buffer.from('early:') }, async (proxy) => {
      const { error, socket } = await tunnel(proxy.url('socks5h'), 'localhost', echoPort);
      assert.equal(error, null);
      socket!.write('echo');
      assert.equal((await read(socket!, 10)).toString(), 'early:echo');
      socket!.destroy();
    });
  });

  it('takes answers a byte at a time and a bound address of each type', async () => {
    for (const bound of ['ipv4', 'ipv6', 'domain'] as const) {
      await withProxy({ behaviour: 'bytewise', bound, credentials: { username: 'u', password: 'p' } }, async (proxy) => {
        const { error, socket } = await tunnel(proxy.url('socks5h', 'u:p'), 'localhost', echoPort);
        assert.equal(error, null, bound);
        socket!.write('ok');
        assert.equal((await read(socket!, 2)).toString(), 'ok');
        socket!.destroy();
      });
    }
  });

  it('cancel: destroys the connection to a stalled proxy and the callback never runs', async () => {
    await withProxy({ behaviour: 'stall' }, async (proxy) => {
      let called = false;
      const cancel = openSocksTunnel({ proxy: proxy.url('socks5h'), host: 'localhost', port: echoPort }, () => (called = true));
      await within(
        (async () => {
          while (proxy.requests.length === 0) await delay(10);
        })(),
        'the greeting at the proxy',
      );
      assert.equal(proxy.connections, 1);
      cancel();
      await within(
        (async () => {
          while (proxy.connections > 0) await delay(10);
        })(),
        'the proxy connection to close',
      );
      await delay(50);
      assert.equal(called, false);
    });
  });

  it('cancel after the callback has delivered the tunnel does nothing: the socket is the caller\'s and still carries bytes', async () => {
    await withProxy({}, async (proxy) => {
      let cancel = (): void => {};
      const delivered = await within(
        new Promise<{ error: ProxyError | null; socket?: Socket | Duplex }>((resolve) => {
          cancel = openSocksTunnel({ proxy: proxy.url('socks5h'), host: 'localhost', port: echoPort }, (error, socket) => resolve({ error, socket }));
        }),
        'the tunnel',
      );
      assert.equal(delivered.error, null);
      cancel();
      assert.equal(delivered.socket!.destroyed, false);
      delivered.socket!.write('still mine');
      assert.equal((await read(delivered.socket!, 10)).toString(), 'still mine');
      delivered.socket!.destroy();
    });
  });

  it('cancel right away: nothing is opened and the callback never runs', async () => {
    await withProxy({}, async (proxy) => {
      let called = false;
      for (const scheme of ['socks5', 'socks5h'] as const) openSocksTunnel({ proxy: proxy.url(scheme), host: 'localhost', port: echoPort }, () => (called = true))();
      openSocksTunnel({ proxy: new URL('http://x'), host: 'localhost', port: echoPort }, () => (called = true))();
      await delay(100);
      assert.equal(called, false);
      assert.equal(proxy.requests.length, 0);
    });
  });
});

describe('a WebSocket handshake through openSocksTunnel (our client and ws)', () => {
  let certificate: Certificate;
  let targets: EchoTargets;
  let plainPort: number;
  let securePort: number;

  before(async () => {
    targets = await startEchoTargets();
    ({ loopback, certificate, plainPort, securePort } = targets);
  });
  after(async () => {
    await targets.stop();
  });

  const roundTrip = (client: SocksClient, url: string, createConnection: ReturnType<typeof throughSocks>): Promise<string> => socksRoundTrip(client, url, createConnection, 'ping through socks');

  for (const scheme of ['socks5', 'socks5h'] as const) {
    for (const secure of [false, true]) {
      it(`${secure ? 'wss' : 'ws'}:// through ${scheme}: both clients open and echo; the proxy saw ATYP ${scheme === 'socks5h' ? 3 : '1/4'}`, async () => {
        await withProxy({ credentials: { username: 'alice', password: 's3cret' } }, async (proxy) => {
          const url = `${secure ? 'wss' : 'ws'}://localhost:${secure ? securePort : plainPort}/`;
          const tls = secure ? { ca: certificate.cert, servername: 'localhost' } : undefined;
          const results: Record<SocksClient, string> = { fullduplex: '', ws: '' };
          for (const client of ['fullduplex', 'ws'] as const) results[client] = await roundTrip(client, url, throughSocks(proxy.url(scheme, 'alice:s3cret'), tls));
          assert.deepEqual(results, { fullduplex: 'ping through socks', ws: 'ping through socks' });
          const expectedAtyp = scheme === 'socks5h' ? 3 : loopback.family === 4 ? 1 : 4;
          assert.deepEqual(proxy.requests.map((r) => [r.atyp, r.username]), [[expectedAtyp, 'alice'], [expectedAtyp, 'alice']]);
        });
      });
    }
  }

  it('wrong credentials: both clients fail with the same ProxyError and never open', async () => {
    await withProxy({ credentials: { username: 'alice', password: 's3cret' } }, async (proxy) => {
      const url = `ws://localhost:${plainPort}/`;
      const results: Record<SocksClient, string> = { fullduplex: '', ws: '' };
      for (const client of ['fullduplex', 'ws'] as const) results[client] = await roundTrip(client, url, throughSocks(proxy.url('socks5h', 'alice:wrong')));
      const expected = `error: Proxy socks5h://127.0.0.1:${proxy.port}: the proxy rejected the username and password (status 0x01, RFC 1929)`;
      assert.deepEqual(results, { fullduplex: expected, ws: expected });
    });
  });
});
