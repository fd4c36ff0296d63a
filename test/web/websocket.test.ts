/**
 * The WHATWG `WebSocket` (src/web) against the project's own `WebSocketServer` on 127.0.0.1. Section
 * numbers (§) are those of the WebSockets Standard (https://websockets.spec.whatwg.org/).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket as NodeWebSocket, type ServerOptions } from '../../src/node/index.js';
import { WebSocket, CloseEvent, type WebSocketMessageEvent } from '../../src/web/index.js';
import { scaled } from '../helpers/time.js';

// --- helpers -----------------------------------------------------------------------------------------

interface Peer {
  wss: WebSocketServer;
  port: number;
  url: string;
}

async function startServer(options: Omit<ServerOptions, 'port' | 'host'> = {}): Promise<Peer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeat: false, ...options });
  await once(wss, 'listening');
  const { port } = wss.address() as AddressInfo;
  return { wss, port, url: `ws://127.0.0.1:${port}` };
}

function stopServer(peer: Peer): Promise<void> {
  return new Promise((resolve) => peer.wss.close(() => resolve()));
}

/** The next connection the server accepts (listen before the client connects: same tick is fine). */
function nextConnection(peer: Peer): Promise<[NodeWebSocket, IncomingMessage]> {
  return once(peer.wss, 'connection') as Promise<[NodeWebSocket, IncomingMessage]>;
}

interface Recording {
  /** Event types in the order they were dispatched. */
  log: string[];
  events: Event[];
  opened: Promise<Event>;
  closed: Promise<CloseEvent>;
}

function record(ws: WebSocket): Recording {
  const log: string[] = [];
  const events: Event[] = [];
  for (const type of ['open', 'message', 'error', 'close']) {
    ws.addEventListener(type, (event) => {
      log.push(type);
      events.push(event);
    });
  }
  const opened = new Promise<Event>((resolve) => ws.addEventListener('open', resolve, { once: true }));
  const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener('close', resolve, { once: true }));
  return { log, events, opened, closed };
}

function nextMessage(ws: WebSocket): Promise<WebSocketMessageEvent> {
  return new Promise((resolve) => ws.addEventListener('message', resolve, { once: true }));
}

/** What a server-side connection received, and a promise of its close (code, reason). */
function serverRecorder(socket: NodeWebSocket): { messages: Array<{ data: Buffer; isBinary: boolean }>; closed: Promise<[number, string]> } {
  const messages: Array<{ data: Buffer; isBinary: boolean }> = [];
  socket.on('message', (data, isBinary) => messages.push({ data: Buffer.from(data as Buffer), isBinary }));
  const closed = new Promise<[number, string]>((resolve) => socket.once('close', (code, reason) => resolve([code, reason.toString('utf8')])));
  return { messages, closed };
}

/** Resolves once the server connection has received `count` messages. */
function serverMessages(socket: NodeWebSocket, count: number): Promise<Array<{ data: Buffer; isBinary: boolean }>> {
  const messages: Array<{ data: Buffer; isBinary: boolean }> = [];
  return new Promise((resolve) => {
    const onMessage = (data: unknown, isBinary: boolean): void => {
      messages.push({ data: Buffer.from(data as Buffer), isBinary });
      if (messages.length === count) {
        socket.off('message', onMessage);
        resolve(messages);
      }
    };
    socket.on('message', onMessage);
  });
}

/** A port on 127.0.0.1 where nothing listens (a server was there a moment ago). */
async function refusedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function assertDOMException(fn: () => unknown, name: string, message?: string): void {
  assert.throws(
    fn,
    (error: unknown) => {
      assert.ok(error instanceof DOMException, `expected a DOMException, got ${String(error)}`);
      assert.equal(error.name, name, message);
      return true;
    },
    message,
  );
}

/** Connect, wait for `open`, and return both ends. */
async function connect(peer: Peer, path = '/'): Promise<{ ws: WebSocket; rec: Recording; server: NodeWebSocket }> {
  const connection = nextConnection(peer);
  const ws = new WebSocket(`${peer.url}${path}`);
  const rec = record(ws);
  const [server] = await connection;
  await rec.opened;
  return { ws, rec, server };
}

/** Close from the client and wait for the close event (tests end with every socket closed). */
async function closeAndWait(ws: WebSocket, rec: Recording): Promise<CloseEvent> {
  ws.close();
  return rec.closed;
}

// --- tests -------------------------------------------------------------------------------------------

// A safety net so that a broken build fails instead of hanging; no assertion depends on timing.
describe('web WebSocket', { timeout: scaled(60_000) }, () => {
  let peer: Peer;
  before(async () => {
    peer = await startServer({
      handleProtocols: (protocols) => (protocols.has('pick-me') ? 'pick-me' : protocols.has('none') ? false : [...protocols][0] ?? false),
      allowedOrigins: ['https://good.example'],
    });
  });
  after(async () => {
    await stopServer(peer);
  });

  describe('constructor (§3.1)', () => {
    it('requires a url argument (TypeError)', () => {
      const Ctor = WebSocket as unknown as new () => unknown;
      assert.throws(() => new Ctor(), TypeError);
    });

    it('throws a "SyntaxError" DOMException for a URL that does not parse, relative ones included (Node has no base URL)', () => {
      for (const url of ['', 'not a url', '/chat', 'chat', '//127.0.0.1/chat', '?x', 'ws://[::1', 'ws://exa mple.com/']) {
        assertDOMException(() => new WebSocket(url), 'SyntaxError', `url ${JSON.stringify(url)}`);
      }
    });

    it('throws a "SyntaxError" DOMException for a scheme other than ws, wss, http and https', () => {
      for (const url of ['ftp://127.0.0.1/', 'file:///tmp/x', 'data:,hello', 'javascript:alert(1)', 'wsx://127.0.0.1/', 'blob:ws://127.0.0.1/x']) {
        assertDOMException(() => new WebSocket(url), 'SyntaxError', `url ${url}`);
      }
    });

    it('throws a "SyntaxError" DOMException for a URL with a fragment, even an empty one', () => {
      for (const url of ['ws://127.0.0.1/#frag', 'ws://127.0.0.1/#', 'http://127.0.0.1/a?b#c', 'wss://127.0.0.1/%23#']) {
        assertDOMException(() => new WebSocket(url), 'SyntaxError', `url ${url}`);
      }
    });

    it('throws a "SyntaxError" DOMException for duplicated (ASCII case-insensitively) or invalid subprotocols', () => {
      const bad: Array<string | string[]> = [['chat', 'chat'], ['Chat', 'chat'], ['echo', 'eCho'], ['a', 'b', 'a'], '', ['x', ''], 'a b', 'a,b', 'a;b', '(x)', 'caf\u00e9', 'a\u0000', 'a\tb', '"q"', ['ok', 'not ok']];
      for (const protocols of bad) {
        assertDOMException(() => new WebSocket(peer.url, protocols), 'SyntaxError', `protocols ${JSON.stringify(protocols)}`);
      }
    });

    it('nothing connects when the constructor throws', async () => {
      let connections = 0;
      const count = (): void => {
        connections++;
      };
      peer.wss.on('connection', count);
      assertDOMException(() => new WebSocket('ftp://127.0.0.1/', ['a', 'a']), 'SyntaxError');
      assertDOMException(() => new WebSocket(peer.url, ['a', 'a']), 'SyntaxError');
      // A connection made after them is the first one the server sees.
      const { ws, rec } = await connect(peer);
      peer.wss.off('connection', count);
      await closeAndWait(ws, rec);
      assert.equal(connections, 1);
    });

    it('maps http: to ws: and https: to wss:, and url returns the serialized URL', async () => {
      const connection = nextConnection(peer);
      const ws = new WebSocket(`http://127.0.0.1:${peer.port}/path/x?q=1`);
      const rec = record(ws);
      assert.equal(ws.url, `ws://127.0.0.1:${peer.port}/path/x?q=1`);
      const [, request] = await connection;
      assert.equal(request.url, '/path/x?q=1');
      await rec.opened;
      await closeAndWait(ws, rec);

      const port = await refusedPort();
      const secure = new WebSocket(new URL(`https://LOCALHOST:${port}`));
      const secureRec = record(secure);
      assert.equal(secure.url, `wss://localhost:${port}/`);
      await secureRec.closed;
    });

    it('accepts one subprotocol as a string, a list, or any iterable, and valid tokens in any case', async () => {
      for (const protocols of ['chat', new Set(['a', 'b']), "!#$%&'*+-.^_`|~09AZaz"]) {
        const ws = new WebSocket(peer.url, protocols);
        const rec = record(ws);
        ws.close();
        await rec.closed;
      }
    });

    it('starts CONNECTING, with empty protocol and extensions, bufferedAmount 0 and binaryType "blob"', async () => {
      const ws = new WebSocket(peer.url);
      const rec = record(ws);
      assert.equal(ws.readyState, WebSocket.CONNECTING);
      assert.equal(ws.protocol, '');
      assert.equal(ws.extensions, '');
      assert.equal(ws.bufferedAmount, 0);
      assert.equal(ws.binaryType, 'blob');
      await rec.opened;
      await closeAndWait(ws, rec);
    });

    it('has the ready state constants on the class and the prototype, read-only', () => {
      const expected = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
      for (const [name, value] of Object.entries(expected)) {
        for (const holder of [WebSocket, WebSocket.prototype]) {
          const descriptor = Object.getOwnPropertyDescriptor(holder, name);
          assert.ok(descriptor !== undefined, name);
          assert.equal(descriptor.value, value);
          assert.equal(descriptor.writable, false);
          assert.equal(descriptor.configurable, false);
        }
      }
      assert.equal(WebSocket.OPEN, 1);
      assert.ok(WebSocket.prototype instanceof EventTarget);
      assert.equal(Object.prototype.toString.call(WebSocket.prototype), '[object WebSocket]');
    });
  });

  describe('opening (§2, §4)', () => {
    it('fires open (a plain Event) once established: readyState OPEN and the selected subprotocol', async () => {
      const ws = new WebSocket(peer.url, ['one', 'pick-me']);
      const rec = record(ws);
      let stateInOpen = -1;
      ws.addEventListener('open', () => {
        stateInOpen = ws.readyState;
      });
      const open = await rec.opened;
      assert.equal(open.constructor, Event);
      assert.equal(open.type, 'open');
      assert.equal(open.target, ws);
      assert.equal(stateInOpen, WebSocket.OPEN);
      assert.equal(ws.protocol, 'pick-me');
      assert.equal(ws.extensions, '');
      await closeAndWait(ws, rec);
      assert.deepEqual(rec.log, ['open', 'close']);
    });

    it('passes Node client options (headers, origin) through the non-standard third argument', async () => {
      const connection = nextConnection(peer);
      const ws = new WebSocket(peer.url, [], { headers: { 'X-Test': 'yes' }, origin: 'https://good.example' });
      const rec = record(ws);
      const [, request] = await connection;
      assert.equal(request.headers['x-test'], 'yes');
      assert.equal(request.headers.origin, 'https://good.example');
      await rec.opened;
      await closeAndWait(ws, rec);
    });

    it('fails the connection (error, then close 1006) when subprotocols were requested and the server selected none', async () => {
      const ws = new WebSocket(peer.url, ['none']);
      const rec = record(ws);
      ws.onopen = () => ws.close(); // (were it wrongly opened, the test would still end)
      const close = await rec.closed;
      assert.deepEqual(rec.log, ['error', 'close']);
      assert.equal(close.code, 1006);
      assert.equal(close.wasClean, false);
      assert.equal(ws.readyState, WebSocket.CLOSED);
      assert.equal(ws.protocol, '');
    });

    it('a refused TCP connection: error, then close 1006 with wasClean false, never open', async () => {
      const port = await refusedPort();
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      const rec = record(ws);
      let stateInError = -1;
      ws.addEventListener('error', () => {
        stateInError = ws.readyState;
      });
      const close = await rec.closed;
      assert.deepEqual(rec.log, ['error', 'close']);
      assert.equal(rec.events[0]!.constructor, Event);
      assert.ok(close instanceof CloseEvent);
      assert.equal(close.code, 1006);
      assert.equal(close.reason, '');
      assert.equal(close.wasClean, false);
      assert.equal(stateInError, WebSocket.CLOSED);
      assert.equal(ws.readyState, WebSocket.CLOSED);
    });

    it('a handshake the server refuses (403 for a foreign Origin): error, then close 1006', async () => {
      const ws = new WebSocket(peer.url, [], { origin: 'https://evil.example' });
      const rec = record(ws);
      const close = await rec.closed;
      assert.deepEqual(rec.log, ['error', 'close']);
      assert.equal(close.code, 1006);
      assert.equal(close.wasClean, false);
    });
  });

  describe('receiving (§4 "handle a WebSocket message")', () => {
    it('text arrives as a string in a MessageEvent whose origin is the URL\'s origin', async () => {
      const connection = nextConnection(peer);
      const ws = new WebSocket(`http://127.0.0.1:${peer.port}/some/path?x=1`);
      const rec = record(ws);
      const [server] = await connection;
      const message = nextMessage(ws);
      server.send('h\u00e9llo \u{1f30d}');
      const event = await message;
      assert.ok(event instanceof MessageEvent);
      assert.equal(event.type, 'message');
      assert.equal(event.data, 'h\u00e9llo \u{1f30d}');
      assert.equal(event.origin, `ws://127.0.0.1:${peer.port}`);
      assert.equal(event.lastEventId, '');
      assert.equal(event.target, ws);
      server.send('');
      assert.equal((await nextMessage(ws)).data, '');
      await closeAndWait(ws, rec);
    });

    it('binary arrives as a Blob by default', async () => {
      const { ws, rec, server } = await connect(peer);
      const message = nextMessage(ws);
      server.send(Buffer.from([0, 1, 2, 0xff]));
      const { data } = await message;
      assert.ok(data instanceof Blob);
      assert.equal(data.size, 4);
      assert.deepEqual([...new Uint8Array(await data.arrayBuffer())], [0, 1, 2, 0xff]);
      await closeAndWait(ws, rec);
    });

    it('binaryType "arraybuffer" delivers ArrayBuffers, and a change applies from the next dispatched message', async () => {
      const { ws, rec, server } = await connect(peer);
      const received: unknown[] = [];
      const done = new Promise<void>((resolve) => {
        ws.onmessage = (event) => {
          received.push(event.data);
          if (received.length === 1) ws.binaryType = 'arraybuffer';
          if (received.length === 2) ws.binaryType = 'blob';
          if (received.length === 4) resolve();
        };
      });
      // Sent together, so the change made while the first one is handled is seen by the second.
      server.send(Buffer.from([1]));
      server.send(Buffer.from([2, 3]));
      server.send(Buffer.alloc(0));
      server.send(Buffer.from([4]));
      await done;
      assert.ok(received[0] instanceof Blob);
      assert.ok(received[1] instanceof ArrayBuffer);
      assert.deepEqual([...new Uint8Array(received[1])], [2, 3]);
      assert.ok(received[2] instanceof Blob);
      assert.equal(received[2].size, 0);
      assert.ok(received[3] instanceof Blob);
      await closeAndWait(ws, rec);
    });

    it('an ArrayBuffer message is a fresh buffer holding exactly the message', async () => {
      const { ws, rec, server } = await connect(peer);
      ws.binaryType = 'arraybuffer';
      const big = Buffer.alloc(100_000, 7);
      const messages: ArrayBuffer[] = [];
      const done = new Promise<void>((resolve) => {
        ws.onmessage = (event) => {
          messages.push(event.data as ArrayBuffer);
          if (messages.length === 3) resolve();
        };
      });
      server.send(Buffer.from([9, 8, 7]));
      server.send(big);
      server.send(Buffer.alloc(0));
      await done;
      assert.deepEqual([...new Uint8Array(messages[0]!)], [9, 8, 7]);
      assert.equal(messages[0]!.byteLength, 3);
      assert.equal(messages[1]!.byteLength, big.length);
      assert.ok(Buffer.from(messages[1]!).equals(big));
      assert.equal(messages[2]!.byteLength, 0);
      await closeAndWait(ws, rec);
    });

    it('setting binaryType to a value outside the enum is ignored, without an exception (Web IDL enumeration)', async () => {
      const ws = new WebSocket(peer.url);
      const rec = record(ws);
      const setter = ws as unknown as { binaryType: unknown };
      for (const value of ['nodebuffer', 'fragments', 'ArrayBuffer', 'Blob', '', null, undefined, 1]) {
        setter.binaryType = value;
        assert.equal(ws.binaryType, 'blob', `after setting ${String(value)}`);
      }
      ws.binaryType = 'arraybuffer';
      assert.equal(ws.binaryType, 'arraybuffer');
      setter.binaryType = 'nodebuffer';
      assert.equal(ws.binaryType, 'arraybuffer');
      setter.binaryType = { toString: () => 'blob' };
      assert.equal(ws.binaryType, 'blob');
      assert.throws(() => {
        setter.binaryType = Symbol('blob');
      }, TypeError);
      ws.close();
      await rec.closed;
    });

    it('messages that arrive once close() has been called are not delivered (step 1: ready state must be OPEN)', async () => {
      const connection = nextConnection(peer);
      const ws = new WebSocket(peer.url);
      const rec = record(ws);
      const [server] = await connection;
      // Sent before the server can see the client's close frame, so it reaches the client after close().
      server.send('too late');
      server.send(Buffer.from([1]));
      ws.onopen = () => ws.close(1000);
      const close = await rec.closed;
      assert.deepEqual(rec.log, ['open', 'close']);
      assert.equal(close.wasClean, true);
    });
  });

  describe('send() (§3.1)', () => {
    it('throws an "InvalidStateError" DOMException while CONNECTING, and bufferedAmount stays 0', async () => {
      const ws = new WebSocket(peer.url);
      const rec = record(ws);
      assertDOMException(() => ws.send('x'), 'InvalidStateError');
      assertDOMException(() => ws.send(new ArrayBuffer(4)), 'InvalidStateError');
      assertDOMException(() => ws.send(new Blob(['x'])), 'InvalidStateError');
      assert.equal(ws.bufferedAmount, 0);
      await rec.opened;
      await closeAndWait(ws, rec);
    });

    it('sends strings as text, and ArrayBuffer, views (only the viewed bytes), DataView and Blob as binary, in order', async () => {
      const { ws, rec, server } = await connect(peer);
      const got = serverMessages(server, 8);
      const bytes = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      ws.send('text \u00e9');
      ws.send(bytes.buffer.slice(0, 3));
      ws.send(bytes.subarray(2, 5));
      ws.send(new DataView(bytes.buffer, 6, 2));
      ws.send(new Uint16Array([0x0102]));
      ws.send(new Blob(['bl', Uint8Array.from([0x6f, 0x62])]));
      ws.send('after the blob');
      ws.send(new ArrayBuffer(0));
      const messages = await got;
      assert.deepEqual(
        messages.map(({ data, isBinary }) => [isBinary, isBinary ? [...data] : data.toString('utf8')]),
        [
          [false, 'text \u00e9'],
          [true, [0, 1, 2]],
          [true, [2, 3, 4]],
          [true, [6, 7]],
          [true, [...new Uint8Array(new Uint16Array([0x0102]).buffer)]],
          [true, [0x62, 0x6c, 0x6f, 0x62]],
          [false, 'after the blob'],
          [true, []],
        ],
      );
      await closeAndWait(ws, rec);
    });

    it('converts other values to strings as Web IDL does, and rejects what it cannot convert', async () => {
      const { ws, rec, server } = await connect(peer);
      const got = serverMessages(server, 3);
      const send = ws.send.bind(ws) as (...args: unknown[]) => void;
      send(42);
      send({ toString: () => 'object' });
      send(null);
      assert.throws(() => send(Symbol('x')), TypeError);
      assert.throws(() => send(new SharedArrayBuffer(2)), TypeError);
      assert.throws(() => send(new Uint8Array(new SharedArrayBuffer(2))), TypeError);
      assert.throws(() => send(), TypeError);
      const messages = await got;
      assert.deepEqual(
        messages.map(({ data, isBinary }) => [isBinary, data.toString()]),
        [
          [false, '42'],
          [false, 'object'],
          [false, 'null'],
        ],
      );
      await closeAndWait(ws, rec);
    });

    it('data sent behind a Blob is sent as it was when send() was called', async () => {
      const { ws, rec, server } = await connect(peer);
      const got = serverMessages(server, 2);
      const bytes = Uint8Array.from([1, 2, 3]);
      ws.send(new Blob([Buffer.alloc(64 * 1024, 5)]));
      ws.send(bytes);
      bytes.fill(0xee);
      const messages = await got;
      assert.equal(messages[0]!.data.length, 64 * 1024);
      assert.deepEqual([...messages[1]!.data], [1, 2, 3]);
      await closeAndWait(ws, rec);
    });

    it('bufferedAmount counts the application bytes (UTF-8, no framing) and falls back to 0 once written', async () => {
      const { ws, rec, server } = await connect(peer);
      const got = serverMessages(server, 3);
      ws.send('h\u00e9llo'); // 6 bytes of UTF-8
      assert.equal(ws.bufferedAmount, 6);
      ws.send(new ArrayBuffer(10));
      ws.send(new Blob(['abcd']));
      assert.equal(ws.bufferedAmount, 20);
      await got;
      // A round trip later the writes have long completed.
      const echo = nextMessage(ws);
      server.send('echo');
      await echo;
      assert.equal(ws.bufferedAmount, 0);
      await closeAndWait(ws, rec);
    });

    it('while CLOSING or CLOSED, send() only increases bufferedAmount, and nothing is sent', async () => {
      const { ws, rec, server } = await connect(peer);
      const serverSide = serverRecorder(server);
      ws.close(1000, 'done');
      assert.equal(ws.readyState, WebSocket.CLOSING);
      ws.send('abc');
      ws.send(Uint8Array.from([1, 2, 3, 4, 5]));
      ws.send(new Blob(['1234567']));
      ws.send(new ArrayBuffer(2));
      assert.equal(ws.bufferedAmount, 3 + 5 + 7 + 2);
      const close = await rec.closed;
      assert.equal(close.wasClean, true);
      assert.deepEqual(await serverSide.closed, [1000, 'done']);
      assert.deepEqual(serverSide.messages, []);
      assert.equal(ws.readyState, WebSocket.CLOSED);
      ws.send('\u00e9'); // does not throw when CLOSED either
      assert.equal(ws.bufferedAmount, 17 + 2);
      assert.deepEqual(rec.log, ['open', 'close']);
    });

    it('send() from the close handler (CLOSED after a server-initiated close) is counted, not sent', async () => {
      const { ws, rec, server } = await connect(peer);
      const serverSide = serverRecorder(server);
      let inClose = -1;
      ws.onclose = () => {
        ws.send('xyz');
        inClose = ws.bufferedAmount;
      };
      server.close(1000);
      await rec.closed;
      assert.equal(inClose, 3);
      await serverSide.closed;
      assert.deepEqual(serverSide.messages, []);
    });
  });

  describe('close() (§3.1) and the close event (§4 "handle connection close")', () => {
    it('a code other than 1000 or 3000–4999 throws an "InvalidAccessError" DOMException, in any state', async () => {
      const { ws, rec, server } = await connect(peer);
      const serverSide = serverRecorder(server);
      const close = ws.close.bind(ws) as (...args: unknown[]) => void;
      for (const code of [0, 999, 1001, 1002, 1005, 1006, 1011, 1015, 2999, 5000, 65535, 70000, -1, NaN, 'abc', 1000.5 + 1]) {
        assertDOMException(() => close(code), 'InvalidAccessError', `code ${String(code)}`);
      }
      assert.equal(ws.readyState, WebSocket.OPEN);
      // [Clamp]: 999.6 rounds to 1000 and 4999.4 to 4999 (valid). "1000" converts to 1000.
      close('1000', 'string code');
      assert.equal(ws.readyState, WebSocket.CLOSING);
      assert.deepEqual(await serverSide.closed, [1000, 'string code']);
      await rec.closed;
      assertDOMException(() => close(1001), 'InvalidAccessError', 'when CLOSED');
      assertDOMException(() => close(1001, 'x'.repeat(200)), 'InvalidAccessError', 'the code is checked before the reason');
      assert.throws(() => close(Symbol('x')), TypeError);
    });

    it('[Clamp] rounds a fractional code to the nearest integer (ties to even) before checking it', async () => {
      for (const [code, expected] of [
        [999.6, 1000],
        [4999.4, 4999],
        [2999.5, 3000],
        [3000.5, 3000],
      ] as const) {
        const { ws, rec, server } = await connect(peer);
        const serverSide = serverRecorder(server);
        ws.close(code);
        assert.deepEqual(await serverSide.closed, [expected, '']);
        await rec.closed;
      }
    });

    it('a reason over 123 bytes of UTF-8 throws a "SyntaxError" DOMException; 123 bytes are fine', async () => {
      const { ws, rec, server } = await connect(peer);
      const serverSide = serverRecorder(server);
      assertDOMException(() => ws.close(1000, 'a'.repeat(124)), 'SyntaxError');
      assertDOMException(() => ws.close(1000, '\u00e9'.repeat(62)), 'SyntaxError'); // 62 characters, 124 bytes
      assertDOMException(() => ws.close(undefined, 'a'.repeat(124)), 'SyntaxError');
      assert.equal(ws.readyState, WebSocket.OPEN);
      const reason = `${'\u00e9'.repeat(61)}a`; // 123 bytes
      ws.close(4000, reason);
      assert.deepEqual(await serverSide.closed, [4000, reason]);
      await rec.closed;
    });

    for (const code of [1000, 4000]) {
      it(`client-initiated clean close with ${code} and a reason: the server gets both, the close event reports the code it echoed`, async () => {
        const { ws, rec, server } = await connect(peer);
        const serverSide = serverRecorder(server);
        ws.close(code, `bye from client ${code}`);
        assert.equal(ws.readyState, WebSocket.CLOSING);
        const close = await rec.closed;
        assert.deepEqual(await serverSide.closed, [code, `bye from client ${code}`]);
        assert.ok(close instanceof CloseEvent);
        assert.equal(close.type, 'close');
        assert.equal(close.code, code);
        assert.equal(close.reason, ''); // this server echoes the code without a reason
        assert.equal(close.wasClean, true);
        assert.equal(ws.readyState, WebSocket.CLOSED);
        assert.deepEqual(rec.log, ['open', 'close']);
      });

      it(`server-initiated clean close with ${code} and a reason: the close event reports them, wasClean true`, async () => {
        const { ws, rec, server } = await connect(peer);
        let stateInClose = -1;
        ws.onclose = () => {
          stateInClose = ws.readyState;
        };
        server.close(code, `bye from server ${code} \u{1f44b}`);
        const close = await rec.closed;
        assert.equal(close.code, code);
        assert.equal(close.reason, `bye from server ${code} \u{1f44b}`);
        assert.equal(close.wasClean, true);
        assert.equal(stateInClose, WebSocket.CLOSED);
        assert.deepEqual(rec.log, ['open', 'close']);
      });
    }

    it('close() does not discard messages sent before it, Blobs still being read included (§3.1 note)', async () => {
      const { ws, rec, server } = await connect(peer);
      const serverSide = serverRecorder(server);
      ws.send(new Blob(['blob data']));
      ws.send('text behind the blob');
      ws.send(Uint8Array.from([7]));
      ws.close(4000, 'after the data');
      ws.send('after close()'); // not sent: the connection is CLOSING
      const close = await rec.closed;
      assert.equal(close.wasClean, true);
      assert.deepEqual(await serverSide.closed, [4000, 'after the data']);
      assert.deepEqual(
        serverSide.messages.map(({ data, isBinary }) => [isBinary, isBinary ? [...data] : data.toString()]),
        [
          [true, [...Buffer.from('blob data')]],
          [false, 'text behind the blob'],
          [true, [7]],
        ],
      );
      assert.equal(ws.bufferedAmount, Buffer.byteLength('after close()'));
    });

    it('close() without arguments sends a close frame without a body: 1005 both ways', async () => {
      const { ws, rec, server } = await connect(peer);
      const serverSide = serverRecorder(server);
      ws.close();
      const close = await rec.closed;
      assert.deepEqual(await serverSide.closed, [1005, '']);
      assert.equal(close.code, 1005);
      assert.equal(close.wasClean, true);
    });

    it('close() while CONNECTING fails the connection: CLOSING at once, then error and close 1006, never open', async () => {
      const ws = new WebSocket(peer.url);
      const rec = record(ws);
      ws.close(1000, 'never mind');
      assert.equal(ws.readyState, WebSocket.CLOSING);
      assert.deepEqual(rec.log, [], 'no event is fired during the call');
      ws.close(); // CLOSING: does nothing
      const close = await rec.closed;
      assert.deepEqual(rec.log, ['error', 'close']);
      assert.equal(close.code, 1006);
      assert.equal(close.reason, '');
      assert.equal(close.wasClean, false);
      assert.equal(ws.readyState, WebSocket.CLOSED);
      assert.equal(ws.protocol, '');
    });

    it('close() while CLOSING or CLOSED does nothing (one close frame, one close event)', async () => {
      const { ws, rec, server } = await connect(peer);
      const serverSide = serverRecorder(server);
      ws.close(4001, 'first');
      ws.close(4002, 'second');
      assert.equal(ws.readyState, WebSocket.CLOSING);
      const close = await rec.closed;
      assert.deepEqual(await serverSide.closed, [4001, 'first']);
      assert.equal(close.code, 4001);
      ws.close(4003);
      ws.close();
      assert.equal(ws.readyState, WebSocket.CLOSED);
      // Let anything that would wrongly follow happen first: one round through the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(rec.log, ['open', 'close']);
    });

    it('the server violates the protocol (invalid UTF-8 in a text frame): error, then close 1006, not the 1007 the client sent', async () => {
      const { ws, rec, server } = await connect(peer);
      const serverSide = serverRecorder(server);
      // A text frame whose payload is not UTF-8: 0xc3 0x28.
      (server.socket as NonNullable<typeof server.socket>).write(Buffer.from([0x81, 0x02, 0xc3, 0x28]));
      const close = await rec.closed;
      assert.deepEqual(rec.log, ['open', 'error', 'close']);
      assert.equal(close.code, 1006);
      assert.equal(close.reason, '');
      assert.equal(close.wasClean, false);
      assert.equal(ws.readyState, WebSocket.CLOSED);
      // The Node layer did fail the connection with 1007 on the wire.
      assert.equal((await serverSide.closed)[0], 1007);
    });

    it('the server violates the protocol (a masked frame): error, then close 1006, not the 1002 the client sent', async () => {
      const { ws, rec, server } = await connect(peer);
      const serverSide = serverRecorder(server);
      // Servers must not mask (RFC 6455 §5.1): a masked binary frame with one byte.
      (server.socket as NonNullable<typeof server.socket>).write(Buffer.from([0x82, 0x81, 1, 2, 3, 4, 0x42]));
      const close = await rec.closed;
      assert.deepEqual(rec.log, ['open', 'error', 'close']);
      assert.equal(close.code, 1006);
      assert.equal(close.wasClean, false);
      assert.equal(ws.readyState, WebSocket.CLOSED);
      assert.equal((await serverSide.closed)[0], 1002);
    });

    it('the server closes with a close frame carrying 1002: the close event reports the peer\'s code, no error', async () => {
      const { ws, rec, server } = await connect(peer);
      // 1002 sent by the peer is its close code (RFC 6455 §7.1.5), and the handshake completes cleanly.
      server.close(1002, 'you broke it');
      const close = await rec.closed;
      assert.deepEqual(rec.log, ['open', 'close']);
      assert.equal(close.code, 1002);
      assert.equal(close.reason, 'you broke it');
      assert.equal(ws.readyState, WebSocket.CLOSED);
    });

    it('the connection drops without a close frame: close 1006, wasClean false, and no error (lost, not failed: §4)', async () => {
      const { ws, rec, server } = await connect(peer);
      server.terminate();
      const close = await rec.closed;
      assert.deepEqual(rec.log, ['open', 'close']);
      assert.equal(close.code, 1006);
      assert.equal(close.wasClean, false);
      assert.equal(ws.readyState, WebSocket.CLOSED);
    });
  });

  describe('event handler attributes (§3.1, HTML §8.1.8.1)', () => {
    it('are null by default, return what was set, and treat non-objects as null', async () => {
      const ws = new WebSocket(peer.url);
      const rec = record(ws);
      const handlers = ws as unknown as Record<'onopen' | 'onmessage' | 'onerror' | 'onclose', unknown>;
      for (const name of ['onopen', 'onmessage', 'onerror', 'onclose'] as const) {
        assert.equal(handlers[name], null, name);
        const fn = (): void => {};
        handlers[name] = fn;
        assert.equal(handlers[name], fn, name);
        handlers[name] = 'alert(1)';
        assert.equal(handlers[name], null, `${name} after a string`);
        handlers[name] = fn;
        handlers[name] = 42;
        assert.equal(handlers[name], null, `${name} after a number`);
        const object = { handleEvent: fn };
        handlers[name] = object; // an object is kept (and, not being callable, never called)
        assert.equal(handlers[name], object, name);
        handlers[name] = null;
        assert.equal(handlers[name], null, name);
      }
      ws.close();
      await rec.closed;
    });

    it('setting replaces the handler in place, null removes it, and a later handler goes to the end', async () => {
      const ws = new WebSocket(peer.url);
      const rec = record(ws);
      const calls: string[] = [];
      const fire = (): void => {
        calls.length = 0;
        ws.dispatchEvent(new Event('custom-check'));
        ws.dispatchEvent(new MessageEvent('message', { data: 'synthetic' }));
      };
      // A listener, then the handler, then another listener.
      ws.addEventListener('message', () => calls.push('A'));
      ws.onmessage = () => calls.push('H1');
      ws.addEventListener('message', () => calls.push('B'));
      fire();
      assert.deepEqual(calls, ['A', 'H1', 'B']);
      ws.onmessage = () => calls.push('H2');
      fire();
      assert.deepEqual(calls, ['A', 'H2', 'B'], 'replaced where the first one was');
      ws.onmessage = null;
      fire();
      assert.deepEqual(calls, ['A', 'B'], 'removed');
      ws.onmessage = () => calls.push('H3');
      fire();
      assert.deepEqual(calls, ['A', 'B', 'H3'], 'registered again at the end');
      ws.onmessage = { handleEvent: () => calls.push('object') } as unknown as null;
      fire();
      assert.deepEqual(calls, ['A', 'B'], 'a non-callable object is not called');
      ws.onmessage = null;
      ws.close();
      await rec.closed;
    });

    it('each handler only sees its own event type; this is the socket; returning false cancels a cancelable event', async () => {
      const ws = new WebSocket(peer.url);
      const rec = record(ws);
      const seen: string[] = [];
      let self: unknown = null;
      ws.onopen = function (event) {
        self = this;
        seen.push(`onopen:${event.type}`);
      };
      ws.onerror = (event) => seen.push(`onerror:${event.type}`);
      ws.onclose = (event) => seen.push(`onclose:${event.type}`);
      ws.onmessage = (event) => {
        seen.push(`onmessage:${event.type}`);
        return false;
      };
      // (A plain Event: Node 20's MessageEvent ignores `cancelable`.)
      const synthetic = new Event('message', { cancelable: true });
      ws.dispatchEvent(synthetic);
      assert.equal(synthetic.defaultPrevented, true);
      assert.deepEqual(seen, ['onmessage:message']);
      ws.onmessage = null;
      await rec.opened;
      assert.equal(self, ws);
      ws.close();
      await rec.closed;
      assert.deepEqual(seen, ['onmessage:message', 'onopen:open', 'onclose:close']);
    });

    it('handlers and listeners see the real events of a connection in registration order', async () => {
      const connection = nextConnection(peer);
      const ws = new WebSocket(peer.url);
      const order: string[] = [];
      ws.addEventListener('open', () => order.push('listener:open'));
      ws.onopen = () => order.push('onopen');
      ws.onmessage = (event) => order.push(`onmessage:${String(event.data)}`);
      ws.addEventListener('message', () => order.push('listener:message'));
      ws.onerror = () => order.push('onerror');
      const closed = new Promise<CloseEvent>((resolve) => {
        ws.onclose = resolve;
      });
      const [server] = await connection;
      // Dropped once the message has been written out (terminate() discards what is still queued).
      server.send('hi', () => server.terminate());
      const close = await closed;
      assert.equal(close.code, 1006);
      // A lost connection is not a failed one: no error event (§4; onerror is checked on a refused connection below).
      assert.deepEqual(order, ['listener:open', 'onopen', 'onmessage:hi', 'listener:message']);
    });

    it('onerror and onclose report a refused connection', async () => {
      const port = await refusedPort();
      const ws = new WebSocket(`ws://127.0.0.1:${port}`);
      const order: string[] = [];
      ws.onopen = () => order.push('open');
      ws.onerror = (event) => order.push(`error:${event.constructor.name}`);
      const close = await new Promise<CloseEvent>((resolve) => {
        ws.onclose = resolve;
      });
      assert.deepEqual(order, ['error:Event']);
      assert.equal(close.code, 1006);
    });
  });

  describe('CloseEvent (§6)', () => {
    it('has the standard defaults and takes its init dictionary', () => {
      const plain = new CloseEvent('close');
      assert.ok(plain instanceof Event);
      assert.equal(plain.type, 'close');
      assert.equal(plain.code, 0);
      assert.equal(plain.reason, '');
      assert.equal(plain.wasClean, false);
      assert.equal(plain.bubbles, false);
      const full = new CloseEvent('close', { code: 4000, reason: 'r\u00e9', wasClean: true, cancelable: true });
      assert.equal(full.code, 4000);
      assert.equal(full.reason, 'r\u00e9');
      assert.equal(full.wasClean, true);
      assert.equal(full.cancelable, true);
      // unsigned short: modulo 2^16; USVString: a lone surrogate becomes U+FFFD.
      assert.equal(new CloseEvent('close', { code: 65536 + 1000 }).code, 1000);
      assert.equal(new CloseEvent('close', { reason: 'a\ud800' }).reason, 'a\ufffd');
      assert.equal(Object.prototype.toString.call(plain), '[object CloseEvent]');
      const Ctor = CloseEvent as unknown as new () => unknown;
      assert.throws(() => new Ctor(), TypeError);
    });

    it('is the global CloseEvent where Node has one', () => {
      const global = (globalThis as { CloseEvent?: unknown }).CloseEvent;
      if (global !== undefined) assert.equal(CloseEvent, global);
      else assert.equal(CloseEvent.name, 'CloseEvent');
    });
  });
});
