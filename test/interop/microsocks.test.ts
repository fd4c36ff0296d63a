/**
 * openSocksTunnel against a real SOCKS5 server, Debian's `microsocks`: a WebSocket handshake and an
 * echo through it with our client and with `ws` (ws:// and wss://, the target's self-signed
 * certificate checked inside the tunnel), socks5: against socks5h: (a tap between the client and
 * microsocks records which ATYP the CONNECT carried), credentials right, wrong and missing, and a
 * target that refuses. Skips with a one-line notice when microsocks is not installed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { Microsocks, microsocksSkipReason } from '../helpers/microsocks.js';
import { socksRoundTrip, startEchoTargets, type EchoTargets, throughSocks, tunnel, type SocksClient } from '../helpers/socks-tunnel.js';
import { freePort } from '../helpers/process.js';
import { listen } from '../helpers/node.js';
import type { Certificate } from '../helpers/tls.js';

const skip = microsocksSkipReason();
if (skip !== false) console.log(`# skipping test/interop/microsocks.test.ts: ${skip}`);

const USER = { username: 'alice', password: 'p@ss:wörd' };
const userinfo = (password = USER.password): string => `${encodeURIComponent(USER.username)}:${encodeURIComponent(password)}`;

/**
 * A TCP relay in front of microsocks that keeps what each client sent, so the test can read the
 * CONNECT request: after the greeting (2 + NMETHODS bytes) and, with credentials, the RFC 1929
 * sub-negotiation (3 + ULEN + PLEN bytes), byte 3 of the request is the ATYP.
 */
class Tap {
  /** What each connection since the last `reset()` sent (a connection still open keeps its own record). */
  sent: Array<{ bytes: Buffer }> = [];
  readonly server: NetServer;

  constructor(upstream: number) {
    this.server = createNetServer((client) => {
      const record = { bytes: Buffer.alloc(0) };
      this.sent.push(record);
      const proxy = createConnection({ host: '127.0.0.1', port: upstream });
      client.on('data', (chunk: Buffer) => (record.bytes = Buffer.concat([record.bytes, chunk])));
      client.pipe(proxy).pipe(client);
      client.on('error', () => proxy.destroy());
      proxy.on('error', () => client.destroy());
      client.on('close', () => proxy.destroy());
      proxy.on('close', () => client.destroy());
    });
  }

  /** The ATYP of each connection's CONNECT request. */
  atyps(withCredentials: boolean): number[] {
    return this.sent.map(({ bytes }) => {
      let offset = 2 + bytes[1]!;
      if (withCredentials) {
        const ulen = bytes[offset + 1]!;
        offset += 3 + ulen + bytes[offset + 2 + ulen]!;
      }
      return bytes[offset + 3]!;
    });
  }
}

describe('SOCKS5 through microsocks (Debian)', { skip }, () => {
  let loopback: { address: string; family: number };
  let certificate: Certificate;
  let targets: EchoTargets;
  let plainPort: number;
  let securePort: number;
  let open: Microsocks;
  let guarded: Microsocks;
  let tap: Tap;
  let tapPort: number;

  before(async () => {
    targets = await startEchoTargets();
    ({ loopback, certificate, plainPort, securePort } = targets);
    open = await Microsocks.start();
    guarded = await Microsocks.start(USER);
    tap = new Tap(guarded.port);
    tapPort = await listen(tap.server);
  });

  after(async () => {
    await targets.stop();
    tap.server.close();
    await open.stop();
    await guarded.stop();
  });

  const roundTrip = (client: SocksClient, url: string, createConnection: ReturnType<typeof throughSocks>): Promise<string> => socksRoundTrip(client, url, createConnection, 'through microsocks');

  for (const scheme of ['socks5', 'socks5h'] as const) {
    for (const secure of [false, true]) {
      it(`${secure ? 'wss' : 'ws'}:// through ${scheme}: with credentials, both clients open and echo; ATYP ${scheme === 'socks5h' ? 3 : '1/4'} went out`, async () => {
        tap.sent = [];
        const url = `${secure ? 'wss' : 'ws'}://localhost:${secure ? securePort : plainPort}/`;
        const tls = secure ? { ca: certificate.cert, servername: 'localhost' } : undefined;
        const proxy = new URL(`${scheme}://${userinfo()}@127.0.0.1:${tapPort}`);
        const results: Record<SocksClient, string> = { fullduplex: '', ws: '' };
        for (const client of ['fullduplex', 'ws'] as const) results[client] = await roundTrip(client, url, throughSocks(proxy, tls));
        assert.deepEqual(results, { fullduplex: 'through microsocks', ws: 'through microsocks' }, guarded.log);
        const atyp = scheme === 'socks5h' ? 3 : loopback.family === 4 ? 1 : 4;
        assert.deepEqual(tap.atyps(true), [atyp, atyp]);
      });
    }
  }

  it('without credentials, to a microsocks that asks for none', async () => {
    const proxy = new URL(`socks5h://127.0.0.1:${open.port}`);
    for (const client of ['fullduplex', 'ws'] as const) {
      assert.equal(await roundTrip(client, `ws://localhost:${plainPort}/`, throughSocks(proxy)), 'through microsocks', `${client}\n${open.log}`);
    }
  });

  it('wrong password: FD_ERR_PROXY_AUTH, the same error for both clients, no secret in it', async () => {
    const proxy = new URL(`socks5h://${userinfo('wrong-secret')}@127.0.0.1:${guarded.port}`);
    const { error } = await tunnel(proxy, 'localhost', plainPort);
    assert.equal(error?.code, 'FD_ERR_PROXY_AUTH', String(error));
    assert.ok(!error.message.includes('secret') && !error.message.includes('alice'), error.message);
    const results = await Promise.all((['fullduplex', 'ws'] as const).map((client) => roundTrip(client, `ws://localhost:${plainPort}/`, throughSocks(proxy))));
    assert.deepEqual(results, [`error: ${error.message}`, `error: ${error.message}`]);
  });

  it('no credentials to a microsocks that requires them: FD_ERR_PROXY_AUTH (no acceptable methods)', async () => {
    const { error } = await tunnel(new URL(`socks5h://127.0.0.1:${guarded.port}`), 'localhost', plainPort);
    assert.equal(error?.code, 'FD_ERR_PROXY_AUTH', String(error));
    assert.match(error.message, /no acceptable authentication methods \(0xFF\)/);
  });

  it('a target that refuses: FD_ERR_PROXY_REFUSED with reply 0x05 "Connection refused"', async () => {
    const closed = await freePort();
    const { error } = await tunnel(new URL(`socks5h://127.0.0.1:${open.port}`), '127.0.0.1', closed);
    assert.equal(error?.code, 'FD_ERR_PROXY_REFUSED', String(error));
    assert.equal(error.reply, 5);
    assert.match(error.message, /Connection refused \(reply 0x05/);
  });
});
