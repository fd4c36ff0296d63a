/**
 * The standalone server's own HTTP/1.1 front (src/node/standalone-server.ts), differentially against
 * Node's `http.Server` on the same raw bytes: the request object `upgrade` (and `connection`) listeners
 * get, and which requests are refused; then what standalone mode promises on its own (426, limits,
 * slowloris, close, the accept step).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, IncomingMessage, type Server as HttpServer } from 'node:http';
import { connect, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { StandaloneServer } from '../../src/node/standalone-server.js';
import { WebSocketServer } from '../../src/node/index.js';
import { RawPeer, startServer, stopServer, upgradeRequest } from '../helpers/net.js';
import { within } from '../helpers/node.js';
import { scaled } from '../helpers/time.js';
import { frame } from '../helpers/protocol.js';
import { Opcode } from '../../src/protocol/constants.js';

const WS_HEADERS = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

/** What a `ws` user reads of the request in `upgrade`/`connection`, as plain data. */
function seen(request: IncomingMessage, socket: Socket, head: Buffer): Record<string, unknown> {
  return {
    instanceOfIncomingMessage: request instanceof IncomingMessage,
    method: request.method,
    url: request.url,
    httpVersion: request.httpVersion,
    httpVersionMajor: request.httpVersionMajor,
    httpVersionMinor: request.httpVersionMinor,
    // Copies: Node builds them with a null prototype, and deepEqual compares prototypes.
    headers: { ...request.headers },
    headersDistinct: { ...request.headersDistinct },
    rawHeaders: request.rawHeaders,
    complete: request.complete,
    upgrade: (request as { upgrade?: boolean }).upgrade,
    socketIsTheSocket: request.socket === socket,
    connectionIsTheSocket: (request as { connection?: unknown }).connection === socket,
    readableEnded: request.readableEnded,
    head: head.toString('latin1'),
  };
}

/** Record what the listener saw, then whether reading the request's body ends it (it has none), then let the client go. */
async function recordUpgrade(record: (outcome: Outcome) => void, request: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
  const request_ = seen(request, socket, head);
  const ended = once(request, 'end').then(() => true);
  request.resume();
  request_['bodyEnds'] = await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, scaled(2000), false))]);
  record({ kind: 'upgrade', request: request_ });
  socket.destroy();
}

type Outcome = { kind: 'upgrade'; request: Record<string, unknown> } | { kind: 'request' } | { kind: 'refused'; status: number } | { kind: 'dropped' };

async function listen(server: NetServer): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/**
 * Node's `http.Server`, answering as our standalone server did when it was one: `upgrade` is recorded,
 * a plain request is a 'request', a parse error is the status our `clientError` handler gave it.
 */
async function nodeServer(record: (outcome: Outcome) => void): Promise<{ server: HttpServer; port: number }> {
  const server = createHttpServer((_request, response) => {
    record({ kind: 'request' });
    response.setHeader('Connection', 'close');
    response.end();
  });
  server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => void recordUpgrade(record, request, socket, head));
  server.on('clientError', (error: Error & { code?: string }, socket: Socket) => {
    record({ kind: 'refused', status: error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400 });
    socket.destroy();
  });
  return { server, port: await listen(server) };
}

async function ourServer(record: (outcome: Outcome) => void): Promise<{ server: StandaloneServer; port: number }> {
  const server = new StandaloneServer({ handshakeTimeout: scaled(10_000) });
  server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => void recordUpgrade(record, request, socket, head));
  return { server, port: await listen(server) };
}

/** Send `bytes` and return what happened: the recorded event, or the status the client read (426: a plain request). */
async function outcome(port: number, bytes: Buffer, recorded: () => Outcome | null): Promise<Outcome> {
  const socket = connect(port, '127.0.0.1');
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(bytes);
  await within(once(socket, 'close'), 'the server to close the connection');
  const event = recorded();
  if (event !== null) return event;
  if (received.length === 0) return { kind: 'dropped' };
  const status = Number(received.subarray(9, 12).toString('latin1'));
  return status === 426 ? { kind: 'request' } : { kind: 'refused', status };
}

/** Run every request against both servers; their outcomes, in order. */
async function againstBoth(requests: readonly Buffer[]): Promise<{ node: Outcome[]; ours: Outcome[] }> {
  let last: Outcome | null = null;
  const record = (event: Outcome): void => void (last = event);
  const node = await nodeServer(record);
  const ours = await ourServer(record);
  const results = { node: [] as Outcome[], ours: [] as Outcome[] };
  try {
    for (const bytes of requests) {
      for (const [server, list] of [
        [node, results.node],
        [ours, results.ours],
      ] as const) {
        last = null;
        list.push(await outcome(server.port, bytes, () => last));
      }
    }
  } finally {
    node.server.close();
    ours.server.close();
  }
  return results;
}

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('StandaloneServer like http.Server: the request of an upgrade', () => {
  it('headers (duplicates combined by Node\'s rules), rawHeaders, url, method, httpVersion, socket, complete: the same on the same bytes', async () => {
    const requests = [
      `GET /chat?room=1&x=%20 HTTP/1.1\r\nHost: example.com\r\n${WS_HEADERS}\r\n`,
      // Repeated fields: set-cookie an array, cookie joined with "; ", single-valued ones keep the first, others ", ".
      `GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n${WS_HEADERS}Set-Cookie: a=1\r\nset-cookie: b=2\r\nCookie: a=1\r\nCOOKIE: b=2\r\n` +
        'X-Custom: 1\r\nx-custom: 2\r\nAuthorization: one\r\nauthorization: two\r\nContent-Type: a\r\nContent-Type: b\r\n' +
        'User-Agent: u1\r\nUser-Agent: u2\r\nSec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: b\r\nSec-WebSocket-Extensions: x\r\nsec-websocket-extensions: y\r\n' +
        'Origin: https://o.example\r\nEmpty:\r\nEmpty: \r\nProxy-Authorization: p\r\nFrom: f\r\nReferer: r\r\nIf-Modified-Since: i\r\n\r\n',
      // Whitespace around values, obs-text (latin1), a target in absolute form, HTTP/1.0, leading empty lines.
      `GET http://example.com/a HTTP/1.1\r\nHost:   spaced \t \r\n${WS_HEADERS}X-Latin: caf\xe9\r\nX-Tab: a\tb\r\n\r\n`,
      `GET / HTTP/1.0\r\nHost: a\r\n${WS_HEADERS}\r\n`,
      `\r\nGET /after-empty-line HTTP/1.1\r\nHost: a\r\n${WS_HEADERS}\r\n`,
      // A method Node knows but the handshake refuses, with a Connection list, and a first frame behind the head.
      `POST /p HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n\x81\x80abcd`,
      // An upgrade to something else, with a body announced: both hand it over (the handshake refuses it).
      `GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nContent-Length: 5\r\n\r\nhello`,
    ].map(latin1);
    const { node, ours } = await againstBoth(requests);
    for (let i = 0; i < requests.length; i++) {
      assert.equal(node[i]!.kind, 'upgrade', `case ${i}: Node`);
      assert.deepEqual(ours[i], node[i], `case ${i}`);
    }
    assert.equal(ours[0]!.kind === 'upgrade' && ours[0]!.request['instanceOfIncomingMessage'], true);
  });
});

describe('StandaloneServer like http.Server: which requests are refused', () => {
  // [what, bytes, why we differ from Node on purpose (absent: we must not)]
  const cases: Array<[string, string, string?]> = [
    ['a plain GET', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['Upgrade without Connection', 'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n'],
    ['Connection: upgrade without Upgrade', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n'],
    ['bare LF line ends', `GET / HTTP/1.1\nHost: a\n${WS_HEADERS.replace(/\r/g, '')}\n`],
    ['a bare LF after a field', `GET / HTTP/1.1\r\nHost: a\n${WS_HEADERS}\r\n`],
    ['a lone CR in a value', `GET / HTTP/1.1\r\nHost: a\rb\r\n${WS_HEADERS}\r\n`],
    ['whitespace before a colon', `GET / HTTP/1.1\r\nHost : a\r\n${WS_HEADERS}\r\n`],
    ['obs-fold', `GET / HTTP/1.1\r\nHost: a\r\n b\r\n${WS_HEADERS}\r\n`],
    ['NUL in a value', `GET / HTTP/1.1\r\nHost: a\x00b\r\n${WS_HEADERS}\r\n`],
    ['DEL in a value', `GET / HTTP/1.1\r\nHost: a\x7fb\r\n${WS_HEADERS}\r\n`],
    ['a field without a colon', `GET / HTTP/1.1\r\nHost: a\r\n${WS_HEADERS}X\r\n\r\n`],
    ['a field name with a parenthesis', `GET / HTTP/1.1\r\nHost: a\r\n${WS_HEADERS}X-(a): 1\r\n\r\n`],
    ['an empty field name', `GET / HTTP/1.1\r\nHost: a\r\n${WS_HEADERS}: v\r\n\r\n`],
    ['a non-ASCII byte in the target', `GET /\xe9 HTTP/1.1\r\nHost: a\r\n${WS_HEADERS}\r\n`],
    ['a tab in the target', `GET /a\tb HTTP/1.1\r\nHost: a\r\n${WS_HEADERS}\r\n`],
    ['a lower-case version', `GET / http/1.1\r\nHost: a\r\n${WS_HEADERS}\r\n`],
    ['HTTP/1.2', `GET / HTTP/1.2\r\nHost: a\r\n${WS_HEADERS}\r\n`, 'RFC 9110 §15.6.6: 505 for a version we do not speak; Node says 400'],
    ['a repeated Content-Length', `GET / HTTP/1.1\r\nHost: a\r\n${WS_HEADERS}Content-Length: 1\r\nContent-Length: 1\r\n\r\nx`],
    ['a Content-Length that is not a number', `GET / HTTP/1.1\r\nHost: a\r\n${WS_HEADERS}Content-Length: x\r\n\r\n`],
    ['a header of 20 KiB', `GET / HTTP/1.1\r\nHost: a\r\n${WS_HEADERS}X-Big: ${'b'.repeat(20 * 1024)}\r\n\r\n`],
    ['a target of 20 KiB', `GET /${'t'.repeat(20 * 1024)} HTTP/1.1\r\nHost: a\r\n${WS_HEADERS}\r\n`, 'RFC 9112 §3: 414 URI Too Long names the cause; Node counts the target in its 431 limit'],
    ['two spaces after the method', `GET  / HTTP/1.1\r\nHost: a\r\n${WS_HEADERS}\r\n`, 'RFC 9112 §3: one SP between the parts of the request line; llhttp is lenient'],
    ['HTTP/2.0 in an HTTP/1 request line', `GET / HTTP/2.0\r\nHost: a\r\n${WS_HEADERS}\r\n`, 'an HTTP/1 request line cannot carry HTTP/2 (RFC 9113 §3): 505; llhttp parses it as an upgrade request'],
    ['no version (HTTP/0.9)', `GET /\r\nHost: a\r\n${WS_HEADERS}\r\n`, 'HTTP/0.9 has no headers, so no upgrade: 400; llhttp reads the lines as headers'],
    ['an unknown method', `FOO / HTTP/1.1\r\nHost: a\r\n${WS_HEADERS}\r\n`, 'any token is a method (RFC 9110 §9.1): the handshake then answers 405 (Allow: GET); llhttp knows a fixed list'],
    ['CONNECT', 'CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n', 'no CONNECT tunnels here: 426 like any other request that is not an upgrade; Node drops the connection without a connect listener'],
  ];

  it('the same outcome on the same bytes, but for the differences kept on purpose (each with its reason)', async () => {
    const { node, ours } = await againstBoth(cases.map(([, text]) => latin1(text)));
    const differences: string[] = [];
    cases.forEach(([what, , reason], i) => {
      const same = JSON.stringify(ours[i]) === JSON.stringify(node[i]);
      if (reason === undefined && !same) differences.push(`${what}: Node ${JSON.stringify(node[i])}, ours ${JSON.stringify(ours[i])}`);
      if (reason !== undefined && same) differences.push(`${what}: listed as a difference (${reason}) but both give ${JSON.stringify(ours[i])}`);
    });
    assert.deepEqual(differences, []);
  });
});

describe('WebSocketServer standalone: what its own front promises', () => {
  it('answers a request that is not an upgrade with the 426 it always gave, then closes (HEAD: no body)', async () => {
    const { wss, port } = await startServer();
    try {
      for (const method of ['GET', 'HEAD']) {
        const peer = await RawPeer.connect(port);
        peer.write(`${method} / HTTP/1.1\r\nHost: a\r\n\r\n`);
        await peer.waitClosed();
        const text = peer.received.toString('latin1').replace(/Date: [^\r]*\r\n/, 'Date: *\r\n');
        const body = 'Upgrade Required: this endpoint speaks WebSocket\n';
        assert.equal(
          text,
          'HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 49\r\nUpgrade: websocket\r\n' +
            `Connection: Upgrade\r\nDate: *\r\n\r\n${method === 'HEAD' ? '' : body}`,
        );
      }
    } finally {
      await stopServer(wss);
    }
  });

  it('hands the bytes after the head to the connection: a first frame in the same packet as the handshake is echoed', async () => {
    const { wss, port } = await startServer();
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    const peer = await RawPeer.connect(port);
    try {
      peer.write(Buffer.concat([Buffer.from(upgradeRequest('/')), frame(Opcode.Text, 'early')]));
      await peer.response();
      peer.consumeResponse();
      await peer.waitFor((received) => received.includes('early'));
    } finally {
      peer.destroy();
      await stopServer(wss);
    }
  });

  it('requestLimits: a smaller head limit is 431, a smaller request line limit 414; a bad limit is a RangeError', async () => {
    const { wss, port } = await startServer({ requestLimits: { maxHeaderSize: 512, maxRequestLineLength: 100 } });
    try {
      const statusOf = async (request: string): Promise<number> => {
        const peer = await RawPeer.connect(port);
        peer.write(request);
        const { status } = await peer.response();
        peer.destroy();
        return status;
      };
      assert.equal(await statusOf(upgradeRequest('/', { 'X-Pad': 'p'.repeat(600) })), 431);
      assert.equal(await statusOf(upgradeRequest(`/${'a'.repeat(200)}`)), 414);
      assert.equal(await statusOf(upgradeRequest('/', { 'X-Pad': 'p'.repeat(300) })), 101);
    } finally {
      await stopServer(wss);
    }
    assert.throws(() => new WebSocketServer({ port: 0, requestLimits: { maxHeaderCount: 0 } }), RangeError);
  });

  it('close() calls back once a connection that never sent its request is dropped at handshakeTimeout', async () => {
    const { wss, port } = await startServer({ handshakeTimeout: 200 });
    const peer = await RawPeer.connect(port);
    const closed = new Promise<void>((resolve) => wss.close(() => resolve()));
    await within(closed, 'close() to call back', scaled(5000));
    assert.equal(peer.closed || (await peer.waitClosed().then(() => true)), true);
  });

  it('a client that sends half a head and its FIN is dropped at once', async () => {
    const { wss, port } = await startServer({ handshakeTimeout: scaled(60_000) });
    try {
      const peer = await RawPeer.connect(port);
      peer.write('GET / HTTP/1.1\r\nHost: a\r\n');
      peer.socket.end();
      await peer.waitClosed();
    } finally {
      await stopServer(wss);
    }
  });

  it("reports EADDRINUSE as an 'error' of the WebSocketServer, as before", async () => {
    const { wss, port } = await startServer();
    const second = new WebSocketServer({ port, host: '127.0.0.1' });
    try {
      const [error] = (await within(once(second, 'error'), 'the error')) as [NodeJS.ErrnoException];
      assert.equal(error.code, 'EADDRINUSE');
    } finally {
      second.close();
      await stopServer(wss);
    }
  });
});

describe('StandaloneServer: the accept step', () => {
  it('runs on every socket before its head, and the bytes it read past its own go to the head parser', async () => {
    const seenPrefixes: string[] = [];
    // A stand-in for the PROXY protocol: one line before the request, read here.
    const server = new StandaloneServer({
      handshakeTimeout: scaled(10_000),
      acceptStep: (socket, next) => {
        let bytes = Buffer.alloc(0);
        const onData = (chunk: Buffer): void => {
          bytes = Buffer.concat([bytes, chunk]);
          const end = bytes.indexOf('\r\n');
          if (end === -1) return;
          socket.off('data', onData);
          seenPrefixes.push(bytes.subarray(0, end).toString('latin1'));
          next(socket, bytes.subarray(end + 2));
        };
        socket.on('data', onData);
      },
    });
    const upgraded = new Promise<IncomingMessage>((resolve) => server.on('upgrade', (request: IncomingMessage, socket: Socket) => {
      socket.destroy();
      resolve(request);
    }));
    const port = await listen(server);
    try {
      const peer = await RawPeer.connect(port);
      peer.write(`PREFIX 1\r\n${upgradeRequest('/after-step')}`);
      const request = await within(upgraded, 'the upgrade');
      assert.equal(request.url, '/after-step');
      assert.deepEqual(seenPrefixes, ['PREFIX 1']);
    } finally {
      server.close();
    }
  });

  it('the handshake timeout runs from the TCP accept, through the step', async () => {
    const server = new StandaloneServer({ handshakeTimeout: 100, acceptStep: () => {} });
    const port = await listen(server);
    try {
      const peer = await RawPeer.connect(port);
      await peer.waitClosed(scaled(5000));
    } finally {
      server.close();
    }
  });
});
