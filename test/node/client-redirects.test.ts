/**
 * Differential: redirects followed by the `ws` client and by ours, against the same real servers on
 * 127.0.0.1 that record the headers of every handshake request they get. Two ports (A and B: another
 * port is another host), and one port that speaks both http and https (for wss: -> ws: and ws: -> wss:
 * on the same host and port). Each scenario runs on both libraries; the servers must see the same
 * requests with the same credentials, and those must be what `ws` 8 sends (curl 7.77's rule).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type ClientRequest, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket as WsWebSocket, type ClientOptions as WsClientOptions } from 'ws';
import { WebSocket, WebSocketServer } from '../../src/node/index.js';
import { delay, listen, once, within } from '../helpers/node.js';
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js';

/** What a server saw of one handshake request. */
interface Seen {
  server: 'A' | 'B' | 'dual http' | 'dual https';
  path: string;
  authorization: string | null;
  cookie: string | null;
  /** Whether the `Host` header was the one the user set (USER_HOST), or the URL's. */
  host: 'user' | 'url';
  custom: string | null;
}

/** The parts of a client both libraries have. */
interface Client {
  readonly readyState: number;
  readonly url: string;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  close(): void;
  terminate(): void;
}

type ClientOptions = Record<string, unknown>;
const LIBRARIES: ReadonlyArray<[name: 'ws' | 'fullduplex', connect: (url: string, options: ClientOptions) => Client]> = [
  ['ws', (url, options) => new WsWebSocket(url, options as WsClientOptions) as unknown as Client],
  ['fullduplex', (url, options) => new WebSocket(url, options) as unknown as Client],
];

const USER_HOST = 'user-set.example';
const CREDENTIALS = { Authorization: 'Bearer secret', Cookie: 'session=1', 'X-Custom': 'kept' };
const BASIC_USER_PASS = `Basic ${Buffer.from('user:pass').toString('base64')}`;
const BASIC_OTHER = `Basic ${Buffer.from('other:word').toString('base64')}`;

describe('client redirects: credentials go to the first host only (differential with ws)', () => {
  let certificate: Certificate;
  const seen: Seen[] = [];
  const wss = new WebSocketServer({ noServer: true, heartbeat: false });
  let serverA: HttpServer;
  let serverB: HttpServer;
  let dualHttp: HttpServer;
  let dualHttps: HttpsServer;
  let dual: NetServer;
  let A = '';
  let B = '';
  let DUAL_WS = '';
  let DUAL_WSS = '';

  /**
   * Every server answers `/redirect?to=<url>` with a 302 to that URL (relative or absolute) and
   * accepts the WebSocket on `/end`.
   */
  function route(name: Seen['server']) {
    return (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
      socket.on('error', () => {});
      const url = new URL(request.url ?? '/', 'http://base');
      const header = (value: string | string[] | undefined): string | null => (value === undefined ? null : String(value));
      seen.push({
        server: name,
        path: url.pathname,
        authorization: header(request.headers.authorization),
        cookie: header(request.headers.cookie),
        host: request.headers.host === USER_HOST ? 'user' : 'url',
        custom: header(request.headers['x-custom']),
      });
      if (url.pathname === '/redirect') {
        socket.end(`HTTP/1.1 302 Found\r\nLocation: ${url.searchParams.get('to')}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      } else {
        wss.handleUpgrade(request, socket, head, (ws) => ws.on('error', () => {}));
      }
    };
  }

  /** A URL of `base` that redirects to `to`. */
  const redirect = (base: string, to: string): string => `${base}/redirect?to=${encodeURIComponent(to)}`;

  before(async () => {
    certificate = selfSignedCertificate();
    serverA = createHttpServer().on('upgrade', route('A'));
    serverB = createHttpServer().on('upgrade', route('B'));
    A = `ws://127.0.0.1:${await listen(serverA)}`;
    B = `ws://127.0.0.1:${await listen(serverB)}`;
    // One port for http and https: a TLS handshake starts with 0x16 (a handshake record), HTTP with a letter.
    dualHttp = createHttpServer().on('upgrade', route('dual http'));
    dualHttps = createHttpsServer({ key: certificate.key, cert: certificate.cert }).on('upgrade', route('dual https'));
    dual = createNetServer((socket: Socket) => {
      socket.on('error', () => {});
      socket.once('data', (chunk: Buffer) => {
        socket.pause();
        socket.unshift(chunk);
        (chunk[0] === 0x16 ? dualHttps : dualHttp).emit('connection', socket);
        process.nextTick(() => socket.resume());
      });
    });
    const dualPort = await listen(dual);
    DUAL_WS = `ws://127.0.0.1:${dualPort}`;
    DUAL_WSS = `wss://127.0.0.1:${dualPort}`;
  });

  after(async () => {
    for (const client of wss.clients) client.terminate();
    await within(new Promise<void>((resolve) => wss.close(() => resolve())), 'the WebSocket server to close');
    for (const server of [serverA, serverB, dualHttp, dualHttps]) server.closeAllConnections();
    await Promise.all([serverA, serverB, dual].map((server) => within(new Promise<void>((resolve) => server.close(() => resolve())), 'a server to close')));
    certificate.remove();
  });

  /** Connect with `followRedirects`, wait for open (or close), and return what the servers saw. */
  async function follow(connect: (url: string, options: ClientOptions) => Client, url: string, options: ClientOptions): Promise<{ seen: Seen[]; outcome: string; url: string }> {
    seen.length = 0;
    const ws = connect(url, { followRedirects: true, ca: certificate.cert, ...options });
    ws.on('error', () => {});
    const closed = once(ws, 'close');
    const outcome = await within(
      new Promise<string>((resolve) => {
        ws.once('open', () => resolve('open'));
        ws.once('close', () => resolve('closed'));
      }),
      `${url} to open or close`,
    );
    const finalUrl = ws.url;
    ws.close();
    await closed;
    return { seen: [...seen], outcome, url: finalUrl };
  }

  type Expected = Array<[server: Seen['server'], path: string, authorization: string | null, cookie: string | null, host?: Seen['host']]>;
  interface Scenario {
    name: string;
    url: () => string;
    options: ClientOptions;
    expected: () => Expected;
  }

  const scenarios: Scenario[] = [
    {
      name: 'a redirect to another port drops Authorization and Cookie (other headers stay)',
      url: () => redirect(A, `${B}/end`),
      options: { headers: CREDENTIALS },
      expected: () => [
        ['A', '/redirect', 'Bearer secret', 'session=1'],
        ['B', '/end', null, null],
      ],
    },
    {
      name: 'a redirect on the same host and port keeps them',
      url: () => redirect(A, '/end'),
      options: { headers: CREDENTIALS },
      expected: () => [
        ['A', '/redirect', 'Bearer secret', 'session=1'],
        ['A', '/end', 'Bearer secret', 'session=1'],
      ],
    },
    {
      name: "the user's Host header goes to the first host only",
      url: () => redirect(A, redirect(A, `${B}/end`)),
      options: { headers: { ...CREDENTIALS, Host: USER_HOST } },
      expected: () => [
        ['A', '/redirect', 'Bearer secret', 'session=1', 'user'],
        ['A', '/redirect', 'Bearer secret', 'session=1', 'user'],
        ['B', '/end', null, null, 'url'],
      ],
    },
    {
      name: 'the auth option is sent as Basic to the first host, not to another port',
      url: () => redirect(A, redirect(A, `${B}/end`)),
      options: { auth: 'user:pass' },
      expected: () => [
        ['A', '/redirect', BASIC_USER_PASS, null],
        ['A', '/redirect', BASIC_USER_PASS, null],
        ['B', '/end', null, null],
      ],
    },
    {
      name: "the first URL's userinfo is sent as Basic to its host, not to another port",
      url: () => redirect(A.replace('//', '//user:pass@'), redirect(A, `${B}/end`)),
      options: {},
      expected: () => [
        ['A', '/redirect', BASIC_USER_PASS, null],
        ['A', '/redirect', BASIC_USER_PASS, null],
        ['B', '/end', null, null],
      ],
    },
    {
      name: 'credentials come back when the chain returns to the first host',
      url: () => redirect(A, redirect(B, `${A}/end`)),
      options: { headers: CREDENTIALS, auth: 'user:pass' },
      expected: () => [
        ['A', '/redirect', 'Bearer secret', 'session=1'],
        ['B', '/redirect', null, null],
        ['A', '/end', 'Bearer secret', 'session=1'],
      ],
    },
    {
      name: 'userinfo in a Location on the same host is used when nothing was given',
      url: () => redirect(A, `${A.replace('//', '//other:word@')}/end`),
      options: {},
      expected: () => [
        ['A', '/redirect', null, null],
        ['A', '/end', BASIC_OTHER, null],
      ],
    },
    {
      name: 'the first Authorization wins over userinfo in a later Location',
      url: () => redirect(A.replace('//', '//user:pass@'), `${A.replace('//', '//other:word@')}/end`),
      options: {},
      expected: () => [
        ['A', '/redirect', BASIC_USER_PASS, null],
        ['A', '/end', BASIC_USER_PASS, null],
      ],
    },
    {
      name: 'userinfo in a Location to another port is not sent there',
      url: () => redirect(A, `${B.replace('//', '//other:word@')}/end`),
      options: {},
      expected: () => [
        ['A', '/redirect', null, null],
        ['B', '/end', null, null],
      ],
    },
    {
      name: 'wss: to ws: on the same host and port drops them (but keeps the Host header)',
      url: () => redirect(DUAL_WSS, `${DUAL_WS}/end`),
      options: { headers: { ...CREDENTIALS, Host: USER_HOST }, auth: 'user:pass' },
      expected: () => [
        ['dual https', '/redirect', 'Bearer secret', 'session=1', 'user'],
        ['dual http', '/end', null, null, 'user'],
      ],
    },
    {
      name: 'ws: to wss: on the same host and port keeps them',
      url: () => redirect(DUAL_WS, `${DUAL_WSS}/end`),
      options: { headers: CREDENTIALS },
      expected: () => [
        ['dual http', '/redirect', 'Bearer secret', 'session=1'],
        ['dual https', '/end', 'Bearer secret', 'session=1'],
      ],
    },
  ];

  for (const scenario of scenarios) {
    it(scenario.name, async () => {
      const results = [];
      for (const [, connect] of LIBRARIES) results.push(await follow(connect, scenario.url(), scenario.options));
      const [ws, ours] = results as [Awaited<ReturnType<typeof follow>>, Awaited<ReturnType<typeof follow>>];
      assert.deepEqual(ours, ws, 'fullduplex and ws differ');
      assert.equal(ours.outcome, 'open');
      const expected = scenario.expected();
      assert.deepEqual(
        ours.seen.map(({ server, path, authorization, cookie, host }, i) => [server, path, authorization, cookie, ...(expected[i]?.[4] === undefined ? [] : [host])]),
        expected,
      );
      const withHeaders = scenario.options.headers !== undefined;
      for (const request of ours.seen) assert.equal(request.custom, withHeaders ? 'kept' : null, 'other headers are always sent');
    });
  }

  it('with a redirect listener, credentials are still dropped on another port (ws leaves them to the listener)', async () => {
    const results: Record<string, Seen[]> = {};
    for (const [name, connect] of LIBRARIES) {
      results[name] = (await follow((url, options) => connect(url, options).on('redirect', () => {}) as Client, redirect(A, `${B}/end`), { headers: CREDENTIALS })).seen;
    }
    // `ws` documents it: with a listener, no header is removed; the listener must do it.
    assert.equal(results['ws']![1]!.authorization, 'Bearer secret');
    assert.equal(results['ws']![1]!.cookie, 'session=1');
    // A deliberate difference (docs/migrating-from-ws.md): a listener added to log must not leak them.
    assert.deepEqual(
      results['fullduplex']!.map(({ server, authorization, cookie }) => [server, authorization, cookie]),
      [
        ['A', 'Bearer secret', 'session=1'],
        ['B', null, null],
      ],
    );
  });

  it('a redirect listener can set Authorization again for a host it trusts (both send it)', async () => {
    for (const [name, connect] of LIBRARIES) {
      const result = await follow(
        (url, options) => connect(url, options).on('redirect', (_url: string, request: ClientRequest) => request.setHeader('authorization', 'Bearer again')) as Client,
        redirect(A, `${B}/end`),
        { headers: CREDENTIALS },
      );
      assert.equal(result.outcome, 'open', name);
      assert.deepEqual(result.seen[1] && [result.seen[1].server, result.seen[1].authorization], ['B', 'Bearer again'], name);
    }
  });

  describe("the 'redirect' event comes with the next request, before it is sent", () => {
    for (const [name, connect] of LIBRARIES) {
      it(`${name}: a header removed by the listener never reaches the server`, async () => {
        let observed: { url: string; wsUrl: string; path: string; cookie: unknown; headersSent: boolean } | undefined;
        const result = await follow(
          (url, options) => {
            const ws = connect(url, options);
            ws.on('redirect', (next: string, request: ClientRequest) => {
              observed = { url: next, wsUrl: ws.url, path: request.path, cookie: request.getHeader('cookie'), headersSent: request.headersSent };
              request.removeHeader('authorization');
            });
            return ws;
          },
          redirect(A, '/end'),
          { headers: CREDENTIALS },
        );
        assert.equal(result.outcome, 'open');
        assert.deepEqual(observed, { url: `${A}/end`, wsUrl: `${A}/end`, path: '/end', cookie: 'session=1', headersSent: false });
        assert.deepEqual(
          result.seen.map(({ path, authorization, cookie }) => [path, authorization, cookie]),
          [
            ['/redirect', 'Bearer secret', 'session=1'],
            ['/end', null, 'session=1'],
          ],
        );
      });
    }

    /** Start a client whose redirect listener runs `act`; return its events and what the servers saw. */
    async function stopInListener(connect: (url: string, options: ClientOptions) => Client, act: (ws: Client, request: ClientRequest) => void, waitForClose: boolean) {
      seen.length = 0;
      const ws = connect(redirect(A, `${B}/end`), { followRedirects: true });
      const events: string[] = [];
      ws.on('redirect', (_url: string, request: ClientRequest) => {
        events.push('redirect');
        act(ws, request);
      });
      ws.on('error', (error: Error) => events.push(`error: ${error.message}`));
      ws.on('close', (code: number) => events.push(`close ${code}`));
      ws.on('open', () => events.push('open'));
      if (waitForClose) {
        await once(ws, 'close');
      } else {
        // `ws` never settles after request.abort() (no error, no close): give the request time to
        // arrive if it were sent, then end the handshake ourselves.
        await within(
          (async () => {
            while (!events.includes('redirect')) await delay(10);
          })(),
          'the redirect',
        );
        await delay(200);
        if (ws.readyState !== 3) {
          const closed = once(ws, 'close');
          ws.terminate();
          await closed;
        }
      }
      // The next request's TCP connection may have been opened; give B time to see a request anyway.
      await delay(100);
      return { events, seen: seen.map(({ server, path }) => `${server} ${path}`) };
    }

    for (const [name, connect] of LIBRARIES) {
      it(`${name}: request.destroy() in the listener: the server never gets it; error "socket hang up", then close 1006`, async () => {
        const result = await stopInListener(connect, (_ws, request) => request.destroy(), true);
        assert.deepEqual(result.seen, ['A /redirect']);
        assert.deepEqual(result.events, ['redirect', 'error: socket hang up', 'close 1006']);
      });

      it(`${name}: ws.close() in the listener: the server never gets it; error, then close 1006`, async () => {
        const result = await stopInListener(connect, (ws) => ws.close(), true);
        assert.deepEqual(result.seen, ['A /redirect']);
        assert.deepEqual(result.events, ['redirect', 'error: WebSocket was closed before the connection was established', 'close 1006']);
      });
    }

    it('request.abort() in the listener: the server never gets it (both); fullduplex fails with error, then close 1006 (ws hangs)', async () => {
      const [[, wsConnect], [, ourConnect]] = LIBRARIES as [(typeof LIBRARIES)[0], (typeof LIBRARIES)[1]];
      const theirs = await stopInListener(wsConnect, (_ws, request) => request.abort(), false);
      assert.deepEqual(theirs.seen, ['A /redirect']);
      const ours = await stopInListener(ourConnect, (_ws, request) => request.abort(), true);
      assert.deepEqual(ours.seen, ['A /redirect']);
      assert.deepEqual(ours.events, ['redirect', 'error: The opening handshake request was aborted', 'close 1006']);
    });
  });
});
