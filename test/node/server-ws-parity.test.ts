/**
 * Where `WebSocketServer` promises to behave like `ws`'s, each scenario runs on both servers (and,
 * for the client side, both clients) in the same test, and the outcomes are compared: `ws` is the
 * oracle. Differences that remain on purpose are asserted as such and listed in
 * docs/migrating-from-ws.md.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { createHash } from 'node:crypto';
import { WebSocket as WsWebSocket, WebSocketServer as WsServer } from 'ws';
import { WebSocket, WebSocketServer, type ServerOptions } from '../../src/node/index.js';
import { DEFAULT_TIMEOUT, delay, listen, once, portOf, within } from '../helpers/node.js';
import { RawPeer, scriptedServer, upgradeRequest } from '../helpers/net.js';

const TIMEOUT = { timeout: 60_000 };

type Impl = 'ws' | 'fullduplex';
const IMPLS: readonly Impl[] = ['ws', 'fullduplex'];

/** What both servers have in common here. */
interface AnyServer {
  readonly clients: Set<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  emit(event: string, ...args: unknown[]): boolean;
  close(callback?: (error?: Error) => void): void;
  address(): unknown;
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, callback: (ws: any, request: IncomingMessage) => void): void;
}

/** Options both constructors take (ours has more; only these are used here). */
type CommonOptions = Pick<ServerOptions, 'perMessageDeflate' | 'maxPayload' | 'maxFragments' | 'handleProtocols' | 'verifyClient' | 'noServer'> & {
  maxBufferedChunks?: number;
};

function create(impl: Impl, options: CommonOptions & { port?: number; host?: string }): AnyServer {
  if (impl === 'ws') return new WsServer(options as ConstructorParameters<typeof WsServer>[0]) as unknown as AnyServer;
  // Our heartbeat would only add timers to these short tests.
  return new WebSocketServer({ heartbeat: false, ...options } as ServerOptions) as unknown as AnyServer;
}

/** A standalone server of either library on 127.0.0.1, port 0. */
async function serve(impl: Impl, options: CommonOptions = {}): Promise<{ wss: AnyServer; port: number; url: string; stop(): Promise<void> }> {
  const wss = create(impl, { ...options, port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const port = portOf(wss as { address(): ReturnType<WebSocketServer['address']> });
  return {
    wss,
    port,
    url: `ws://127.0.0.1:${port}`,
    async stop() {
      for (const client of wss.clients) (client as { terminate(): void }).terminate();
      await within(new Promise<void>((resolve) => wss.close(() => resolve())), `the ${impl} server to close`);
    },
  };
}

/** Send a raw upgrade request; the status, headers, and the connection closed (when refused). */
async function handshake(port: number, overrides: Record<string, string | null>): Promise<{ status: number; headers: Map<string, string> }> {
  const peer = await RawPeer.connect(port);
  try {
    peer.write(upgradeRequest('/', overrides));
    const { status, headers } = await peer.response(DEFAULT_TIMEOUT);
    if (status !== 101) await peer.waitClosed(DEFAULT_TIMEOUT);
    return { status, headers };
  } finally {
    peer.destroy();
  }
}

describe('WebSocketServer like ws: Sec-WebSocket-Extensions offers', () => {
  // Each offer, with what ws answers (the oracle, checked too: if ws changes, this table says so).
  const OFFERS: ReadonlyArray<{ offer: string; withDeflate: 101 | 400; ours?: 101 }> = [
    { offer: 'permessage-deflate', withDeflate: 101 },
    { offer: 'permessage-deflate; client_max_window_bits', withDeflate: 101 },
    { offer: 'permessage-deflate; client_max_window_bits="10"', withDeflate: 101 },
    { offer: 'x-unknown; a=1; b, permessage-deflate', withDeflate: 101 },
    // Syntax errors.
    { offer: 'permessage-deflate; =x', withDeflate: 400 },
    { offer: 'permessage-deflate;;', withDeflate: 400 },
    // Empty list elements: ws refuses them; RFC 9110 §5.6.1 says to ignore them, and we do (the one
    // difference here, on purpose: see docs/migrating-from-ws.md).
    { offer: 'permessage-deflate,', withDeflate: 400, ours: 101 },
    { offer: ', permessage-deflate', withDeflate: 400, ours: 101 },
    { offer: 'permessage-deflate x', withDeflate: 400 },
    { offer: 'permessage-deflate; a="unterminated', withDeflate: 400 },
    // Well-formed, but parameters permessage-deflate does not allow.
    { offer: 'permessage-deflate; client_max_window_bits=100', withDeflate: 400 },
    { offer: 'permessage-deflate; client_max_window_bits=abc', withDeflate: 400 },
    { offer: 'permessage-deflate; server_max_window_bits=7', withDeflate: 400 },
    { offer: 'permessage-deflate; server_max_window_bits', withDeflate: 400 },
    { offer: 'permessage-deflate; server_no_context_takeover=1', withDeflate: 400 },
    { offer: 'permessage-deflate; server_no_context_takeover; server_no_context_takeover', withDeflate: 400 },
    { offer: 'permessage-deflate; foo', withDeflate: 400 },
    { offer: 'permessage-deflate; client_max_window_bits=10, permessage-deflate; client_max_window_bits=100', withDeflate: 400 },
  ];

  it('an invalid offer is 400 with perMessageDeflate on, and the header is ignored with it off, as in ws', TIMEOUT, async () => {
    const results: Record<Impl, Array<{ offer: string; deflate: boolean; status: number; negotiated: boolean }>> = { ws: [], fullduplex: [] };
    for (const impl of IMPLS) {
      for (const deflate of [true, false]) {
        const server = await serve(impl, { perMessageDeflate: deflate });
        try {
          for (const { offer } of OFFERS) {
            const { status, headers } = await handshake(server.port, { 'Sec-WebSocket-Extensions': offer });
            results[impl].push({ offer, deflate, status, negotiated: headers.has('sec-websocket-extensions') });
          }
        } finally {
          await server.stop();
        }
      }
    }
    // The oracle is what this table says...
    const expected = [true, false].flatMap((deflate) =>
      OFFERS.map(({ offer, withDeflate }) => ({ offer, deflate, status: deflate ? withDeflate : 101, negotiated: deflate && withDeflate === 101 })),
    );
    assert.deepEqual(results.ws, expected);
    // ...and we answer the same (but where the table says otherwise).
    const ours = results.ws.map((result) => {
      const different = OFFERS.find(({ offer }) => offer === result.offer)!.ours;
      return different === undefined || !result.deflate ? result : { ...result, status: different, negotiated: true };
    });
    assert.deepEqual(results.fullduplex, ours);
  });

  it('a wsClientError listener gets the invalid-offer refusal to answer itself, as in ws', TIMEOUT, async () => {
    for (const impl of IMPLS) {
      const server = await serve(impl, { perMessageDeflate: true });
      try {
        const seen: string[] = [];
        server.wss.on('wsClientError', (error: Error, socket: Duplex) => {
          seen.push(error.message);
          socket.end('HTTP/1.1 418 I\'m a teapot\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        });
        const { status } = await handshake(server.port, { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits=100' });
        assert.equal(status, 418, impl);
        assert.equal(seen.length, 1, impl);
        assert.match(seen[0]!, /Sec-WebSocket-Extensions/, impl);
      } finally {
        await server.stop();
      }
    }
  });
});

describe('WebSocketServer like ws: a client that leaves while the handshake waits on a hook', () => {
  /** The hook calls `hold` with the request and the function that answers it later. */
  type Hold = (request: IncomingMessage, resume: (accept: boolean) => void) => void;
  type Scenario = { name: string; impl: Impl; options: (hold: Hold) => CommonOptions & Pick<ServerOptions, 'authenticate'> };
  const SCENARIOS: readonly Scenario[] = [
    {
      name: 'ws: verifyClient(info, cb)',
      impl: 'ws',
      options: (hold) => ({ verifyClient: (info, cb) => hold(info.req, (accept) => cb(accept)) }),
    },
    {
      name: 'fullduplex: verifyClient(info, cb)',
      impl: 'fullduplex',
      options: (hold) => ({ verifyClient: (info, cb) => hold(info.req, (accept) => cb(accept)) }),
    },
    {
      name: 'fullduplex: async authenticate(request)',
      impl: 'fullduplex',
      options: (hold) => ({
        authenticate: (request) =>
          new Promise<void>((resolve, reject) => hold(request, (accept) => (accept ? resolve() : reject(Object.assign(new Error('no'), { status: 403 }))))),
      }),
    },
  ];

  /** Start a handshake that waits in the hook, close the client's socket, and resolve once the server read its FIN. */
  async function abandon(port: number, holding: Promise<IncomingMessage>): Promise<void> {
    const peer = await RawPeer.connect(port);
    peer.write(upgradeRequest('/', { 'X-Hold': '1' }));
    const request = await within(holding, 'the hook to be called');
    const ended = request.socket.readableEnded ? Promise.resolve() : once(request.socket, 'end');
    peer.destroy();
    await ended;
  }

  it('accepting (or refusing) after the client closed emits no connection, throws nothing, tracks no client', TIMEOUT, async () => {
    const outcomes: Array<{ name: string; accept: boolean; connections: number; errors: number; clients: number }> = [];
    for (const scenario of SCENARIOS) {
      for (const accept of [true, false]) {
        let resume: ((accept: boolean) => void) | null = null;
        let held!: (request: IncomingMessage) => void;
        const holding = new Promise<IncomingMessage>((resolve) => (held = resolve));
        const server = await serve(scenario.impl, {
          ...scenario.options((request, next) => {
            resume = next;
            held(request);
          }),
        });
        let connections = 0;
        let errors = 0;
        server.wss.on('connection', () => connections++);
        server.wss.on('error', () => errors++);
        try {
          await abandon(server.port, holding);
          resume!(accept); // an exception here fails the test
          // Whatever the server does with the answer happens in this tick, its microtasks, or just after.
          await delay(50);
          outcomes.push({ name: scenario.name, accept, connections, errors, clients: server.wss.clients.size });
        } finally {
          await server.stop();
        }
      }
    }
    assert.deepEqual(
      outcomes,
      SCENARIOS.flatMap(({ name }) => [true, false].map((accept) => ({ name, accept, connections: 0, errors: 0, clients: 0 }))),
    );
  });

  it('the abandoned handshake does not keep its place: with maxConnections 1 the next client is admitted', TIMEOUT, async () => {
    let resume: (() => void) | null = null;
    let held!: (request: IncomingMessage) => void;
    const holding = new Promise<IncomingMessage>((resolve) => (held = resolve));
    const wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      heartbeat: false,
      maxConnections: 1,
      authenticate: (request) => {
        if (request.headers['x-hold'] === undefined) return undefined;
        return new Promise<void>((resolve) => {
          resume = resolve;
          held(request);
        });
      },
    });
    await once(wss, 'listening');
    const port = portOf(wss);
    try {
      await abandon(port, holding);
      resume!();
      const client = new WebSocket(`ws://127.0.0.1:${port}`);
      const [[ws]] = await Promise.all([once<[WebSocket]>(wss, 'connection'), once(client, 'open')]);
      assert.equal(wss.clients.size, 1);
      assert.ok(wss.clients.has(ws));
      const clientClosed = once(client, 'close');
      client.close();
      await clientClosed;
    } finally {
      await within(new Promise<void>((resolve) => wss.close(() => resolve())), 'the server to close');
    }
  });
});

describe('WebSocketServer and WebSocket like ws: 0 means no limit', () => {
  type Pairing = { server: Impl; client: Impl };
  const PAIRINGS: readonly Pairing[] = IMPLS.flatMap((server) => IMPLS.map((client) => ({ server, client })));

  /** Connect a client of `impl` with `options`; resolves once open. */
  async function connect(impl: Impl, url: string, options: Record<string, unknown>): Promise<WebSocket | WsWebSocket> {
    const client = impl === 'ws' ? new WsWebSocket(url, options) : new WebSocket(url, options);
    await once(client, 'open');
    return client;
  }

  it('maxPayload 0 and maxFragments 0, in both roles, with and without compression: messages of any size and frame count pass', TIMEOUT, async () => {
    const outcomes: Array<Pairing & { deflate: boolean; toServer: number; toClient: number }> = [];
    const size = 256 * 1024;
    for (const pairing of PAIRINGS) {
      for (const deflate of [false, true]) {
        const limits = { maxPayload: 0, maxFragments: 0 };
        const server = await serve(pairing.server, { ...limits, perMessageDeflate: deflate });
        const connection = once<[WebSocket | WsWebSocket]>(server.wss, 'connection');
        const client = await connect(pairing.client, server.url, { ...limits, perMessageDeflate: deflate });
        const [serverSide] = await connection;
        try {
          const toServer = once<[Buffer]>(serverSide, 'message');
          // Three frames: a literal limit of 0 would refuse the first byte and the first frame.
          client.send(Buffer.alloc(size / 2, 1), { fin: false });
          client.send(Buffer.alloc(size / 4, 2), { fin: false });
          client.send(Buffer.alloc(size / 4, 3), { fin: true });
          const toClient = once<[Buffer]>(client, 'message');
          serverSide.send(Buffer.alloc(size, 4));
          outcomes.push({ ...pairing, deflate, toServer: (await toServer)[0].length, toClient: (await toClient)[0].length });
        } finally {
          const closed = once(client, 'close');
          client.terminate();
          await closed;
          await server.stop();
        }
      }
    }
    assert.deepEqual(
      outcomes,
      PAIRINGS.flatMap((pairing) => [false, true].map((deflate) => ({ ...pairing, deflate, toServer: size, toClient: size }))),
    );
  });

  it('maxPayload 0 lifts our default limit: a message over 64 MiB passes (server role)', TIMEOUT, async () => {
    const server = await serve('fullduplex', { maxPayload: 0 });
    const connection = once<[WebSocket]>(server.wss, 'connection');
    const client = new WsWebSocket(server.url, { perMessageDeflate: false });
    await once(client, 'open');
    const [serverSide] = await connection;
    try {
      const received = once<[Buffer]>(serverSide, 'message', 4 * DEFAULT_TIMEOUT);
      client.send(Buffer.alloc(64 * 1024 * 1024 + 1));
      assert.equal((await received)[0].length, 64 * 1024 * 1024 + 1);
    } finally {
      client.terminate();
      await server.stop();
    }
  });

  it('a negative, fractional or non-number limit is a RangeError (ws would read it as a number through | 0)', () => {
    for (const [name, value] of [['maxPayload', -1], ['maxFragments', 1.5], ['maxBufferedChunks', -1], ['maxPendingAutoPongs', Number.NaN], ['maxPayload', '10']] as const) {
      assert.throws(() => new WebSocketServer({ noServer: true, [name]: value } as ServerOptions), RangeError, `${name}: ${String(value)}`);
      assert.throws(() => new WebSocket('ws://127.0.0.1:1', { [name]: value } as never), RangeError, `${name}: ${String(value)}`);
    }
  });
});

describe('WebSocketServer like ws: maxBufferedChunks', () => {
  it('is accepted by both servers; a message in many small frames and TCP chunks passes both with a small limit', TIMEOUT, async () => {
    const outcomes: Array<{ impl: Impl; length: number }> = [];
    for (const impl of IMPLS) {
      const server = await serve(impl, { maxBufferedChunks: 64 });
      const connection = once<[WebSocket | WsWebSocket]>(server.wss, 'connection');
      const client = new WsWebSocket(server.url, { perMessageDeflate: false });
      await once(client, 'open');
      const [serverSide] = await connection;
      try {
        const received = once<[Buffer]>(serverSide, 'message');
        // 200 frames of 1 KiB, each written by itself: ws parses each as it comes, and we keep them
        // in blocks of 4 KiB or more; neither holds 64 chunks at once.
        for (let i = 0; i < 200; i++) client.send(Buffer.alloc(1024, i), { fin: i === 199 });
        outcomes.push({ impl, length: (await received)[0].length });
      } finally {
        client.terminate();
        await server.stop();
      }
    }
    assert.deepEqual(outcomes, [
      { impl: 'ws', length: 200 * 1024 },
      { impl: 'fullduplex', length: 200 * 1024 },
    ]);
  });
});

describe('WebSocketServer like ws: close(callback)', () => {
  type Scenario = 'no client' | 'a client that closes after close()' | 'a request still arriving';
  const SCENARIOS: readonly Scenario[] = ['no client', 'a client that closes after close()', 'a request still arriving'];

  it("calls back and emits 'close' only after its own HTTP server closed", TIMEOUT, async () => {
    const orders: Array<{ impl: Impl; scenario: Scenario; order: string[] }> = [];
    for (const impl of IMPLS) {
      for (const scenario of SCENARIOS) {
        const server = await serve(impl);
        const http = httpServerOf(impl, server.wss);
        const order: string[] = [];
        http.on('close', () => order.push('http server close'));
        server.wss.on('close', () => order.push("'close' event"));
        let client: WsWebSocket | null = null;
        let peer: RawPeer | null = null;
        if (scenario === 'a client that closes after close()') {
          client = new WsWebSocket(server.url);
          await once(client, 'open');
        } else if (scenario === 'a request still arriving') {
          // Half a request: the HTTP server stays open for it until it is gone.
          const arrived = once(http, 'connection');
          peer = await RawPeer.connect(server.port);
          peer.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
          await arrived;
        }
        const done = new Promise<void>((resolve) =>
          server.wss.close((error) => {
            order.push(error === undefined ? 'callback' : `callback(${error.message})`);
            resolve();
          }),
        );
        if (client !== null) client.close(); // ws's server does not close its clients: this one leaves
        if (peer !== null) {
          await delay(50);
          order.push('request abandoned');
          peer.destroy();
        }
        await within(done, `${impl}: close(callback)`);
        orders.push({ impl, scenario, order });
      }
    }
    assert.deepEqual(
      orders,
      IMPLS.flatMap((impl) =>
        SCENARIOS.map((scenario) => ({
          impl,
          scenario,
          order: [...(scenario === 'a request still arriving' ? ['request abandoned'] : []), 'http server close', "'close' event", 'callback'],
        })),
      ),
    );
  });
});

/** The HTTP server a standalone server of either library created (private in both). */
function httpServerOf(impl: Impl, wss: AnyServer): HttpServer {
  const server = impl === 'ws' ? (wss as unknown as { _server: HttpServer | null })._server : (wss as unknown as { httpServer: HttpServer | null }).httpServer;
  assert.ok(server !== null && server !== undefined);
  return server;
}

describe('WebSocketServer like ws: what handleProtocols returns', () => {
  type Outcome = { status: number; protocol: string | null; serverConnections: number };
  const OFFERED = ['chat', 'superchat'];
  const SCENARIOS: ReadonlyArray<{ name: string; choose: () => unknown; differs?: true }> = [
    { name: 'an offered protocol', choose: () => 'superchat' },
    { name: 'false', choose: () => false },
    { name: 'null', choose: () => null },
    { name: 'undefined', choose: () => undefined },
    { name: 'the empty string', choose: () => '' },
    // ws sends these in its 101 response (and a client then fails the handshake); we answer 500 and
    // emit no connection: the client fails either way. See docs/migrating-from-ws.md.
    { name: 'a protocol the client did not offer', choose: () => 'other', differs: true },
    { name: 'a number', choose: () => 5, differs: true },
  ];

  it('is read as ws reads it: falsy means none, an offered string is the protocol', TIMEOUT, async () => {
    const outcomes: Record<Impl, Outcome[]> = { ws: [], fullduplex: [] };
    for (const impl of IMPLS) {
      for (const scenario of SCENARIOS) {
        const server = await serve(impl, { handleProtocols: scenario.choose as ServerOptions['handleProtocols'] });
        let serverConnections = 0;
        server.wss.on('connection', () => serverConnections++);
        const { status, headers } = await handshake(server.port, { 'Sec-WebSocket-Protocol': OFFERED.join(', ') });
        outcomes[impl].push({ status, protocol: headers.get('sec-websocket-protocol') ?? null, serverConnections });
        await server.stop();
      }
    }
    const expected: Outcome[] = [
      { status: 101, protocol: 'superchat', serverConnections: 1 },
      ...['false', 'null', 'undefined', ''].map(() => ({ status: 101, protocol: null, serverConnections: 1 })),
      // ws sends what it was given; any client then fails the handshake (RFC 6455 §4.1; the test below).
      { status: 101, protocol: 'other', serverConnections: 1 },
      { status: 101, protocol: '5', serverConnections: 1 },
    ];
    assert.deepEqual(outcomes.ws, expected);
    // We answer those two with 500 and emit no connection the client would not have.
    assert.deepEqual(
      outcomes.fullduplex,
      expected.map((outcome, i) => (SCENARIOS[i]!.differs ? { status: 500, protocol: null, serverConnections: 0 } : outcome)),
    );
  });

  it('an exception in handleProtocols comes out of handleUpgrade, as in ws; we also answer the client with 500', TIMEOUT, async () => {
    const outcomes: Array<{ impl: Impl; thrown: string; status: number | 'no answer' }> = [];
    for (const impl of IMPLS) {
      const wss = create(impl, {
        noServer: true,
        handleProtocols: () => {
          throw new Error('handleProtocols broke');
        },
      });
      const http = createServer();
      let thrown = '';
      http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        try {
          wss.handleUpgrade(request, socket, head, () => {});
        } catch (error) {
          thrown = (error as Error).message;
          if (impl === 'ws') socket.destroy(); // ws leaves the socket to us
        }
      });
      const port = await listen(http);
      try {
        const peer = await RawPeer.connect(port);
        peer.write(upgradeRequest('/', { 'Sec-WebSocket-Protocol': 'chat' }));
        await peer.waitClosed(DEFAULT_TIMEOUT);
        const status = peer.received.length === 0 ? 'no answer' : (await peer.response()).status;
        outcomes.push({ impl, thrown, status });
      } finally {
        http.close();
        wss.close();
      }
    }
    assert.deepEqual(outcomes, [
      { impl: 'ws', thrown: 'handleProtocols broke', status: 'no answer' },
      { impl: 'fullduplex', thrown: 'handleProtocols broke', status: 500 },
    ]);
  });
});

describe('WebSocket (client) like ws: a server that selects a subprotocol the client did not offer', () => {
  it('fails the handshake: error, then close 1006, never open', TIMEOUT, async () => {
    const { server, port } = await scriptedServer((socket) => {
      socket.once('data', (data: Buffer) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(data.toString('latin1'))![1]!;
        const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        socket.end(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: other\r\n\r\n`,
        );
      });
      socket.on('error', () => {});
    });
    const outcomes: Array<{ impl: Impl; events: string[]; code: number }> = [];
    try {
      for (const impl of IMPLS) {
        const url = `ws://127.0.0.1:${port}`;
        const client = impl === 'ws' ? new WsWebSocket(url, ['chat']) : new WebSocket(url, ['chat']);
        const events: string[] = [];
        client.on('open', () => events.push('open'));
        client.on('error', () => events.push('error'));
        const [code] = await once<[number]>(client, 'close');
        events.push('close');
        outcomes.push({ impl, events, code });
      }
    } finally {
      server.close();
    }
    assert.deepEqual(outcomes, [
      { impl: 'ws', events: ['error', 'close'], code: 1006 },
      { impl: 'fullduplex', events: ['error', 'close'], code: 1006 },
    ]);
  });
});
