/**
 * createWebSocketStream: a Duplex over a connection, differential with `ws`'s createWebSocketStream.
 * Each scenario runs once with `ws` (its server, client and createWebSocketStream) and once with
 * fullduplex's, and reports a summary; the two summaries must be equal (and equal to what `ws`
 * documents, so a scenario that breaks both the same way fails too).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable, type Duplex, type DuplexOptions } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWebSocketStream as wsCreateWebSocketStream, WebSocket as WsWebSocket, WebSocketServer as WsServer } from 'ws';
import { createWebSocketStream, WebSocket, WebSocketServer } from '../../src/node/index.js';
import { DEFAULT_TIMEOUT, delay, once, portOf, stopServer, within } from '../helpers/node.js';
import { handshakenPeer, parseServerFrames } from '../helpers/net.js';

const TIMEOUT = { timeout: 120_000 };

/** What the scenarios use of a connection, on either library. */
interface Socket {
  readonly readyState: number;
  readonly isPaused: boolean;
  readonly bufferedAmount: number;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  send(data: string | Buffer, options?: { binary?: boolean }): unknown;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

interface Server {
  url: string;
  port: number;
  stop(): Promise<void>;
}

interface Impl {
  name: 'ws' | 'fullduplex';
  /** Listen on 127.0.0.1, port 0; `onConnection` gets the server's side of each connection. */
  listen(onConnection: (socket: Socket) => void): Promise<Server>;
  connect(url: string): Socket;
  stream(socket: Socket, options?: DuplexOptions): Duplex;
}

const IMPLS: readonly Impl[] = [
  {
    name: 'ws',
    async listen(onConnection) {
      const server = new WsServer({ port: 0, host: '127.0.0.1' });
      server.on('connection', (socket) => onConnection(socket as unknown as Socket));
      await once(server, 'listening');
      const port = portOf(server);
      return {
        url: `ws://127.0.0.1:${port}`,
        port,
        async stop() {
          for (const client of server.clients) client.terminate();
          await within(new Promise<void>((resolve) => server.close(() => resolve())), 'the ws server to close');
        },
      };
    },
    connect: (url) => new WsWebSocket(url, { perMessageDeflate: false }) as unknown as Socket,
    stream: (socket, options) => wsCreateWebSocketStream(socket as unknown as WsWebSocket, options),
  },
  {
    name: 'fullduplex',
    async listen(onConnection) {
      const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      server.on('connection', (socket) => onConnection(socket as unknown as Socket));
      await once(server, 'listening');
      const port = portOf(server);
      return { url: `ws://127.0.0.1:${port}`, port, stop: () => stopServer(server) };
    },
    connect: (url) => new WebSocket(url, { perMessageDeflate: false }) as unknown as Socket,
    stream: (socket, options) => createWebSocketStream(socket as unknown as WebSocket, options),
  },
];

/** Run `scenario` on both libraries; the results must be equal, and equal to `expected` when given. */
async function differential<T>(scenario: (impl: Impl) => Promise<T>, expected?: T): Promise<void> {
  const results: Partial<Record<Impl['name'], T>> = {};
  for (const impl of IMPLS) results[impl.name] = await scenario(impl);
  assert.deepEqual(results.fullduplex, results.ws, 'fullduplex behaves as ws');
  if (expected !== undefined) assert.deepEqual(results.ws, expected, 'ws behaves as the scenario expects');
}

/** Poll `test` until true (the machine may be slow: generous limit, fails with `what`). */
async function until(test: () => boolean, what: string, timeoutMs = DEFAULT_TIMEOUT): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await delay(5);
  }
}

/** The stream's events of interest, in order. */
function recordEvents(duplex: Duplex, events: string[]): void {
  for (const event of ['finish', 'end', 'error', 'close']) duplex.on(event, () => events.push(event));
}

function echo(socket: Socket): void {
  socket.on('message', (data: Buffer, isBinary: boolean) => socket.send(data, { binary: isBinary }));
}

describe('createWebSocketStream (differential with ws)', () => {
  let dir = '';
  let file = '';
  let fileBytes = Buffer.alloc(0);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'fullduplex-stream-'));
    file = join(dir, 'one-mebibyte.bin');
    fileBytes = randomBytes(1024 * 1024);
    writeFileSync(file, fileBytes);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a 1 MiB file piped through an echo server comes back byte for byte (writes start while connecting; end() closes)', TIMEOUT, () =>
    differential(async (impl) => {
      let messagesAtServer = 0;
      let serverCloseCode = 0;
      const server = await impl.listen((socket) => {
        socket.on('message', () => messagesAtServer++);
        socket.on('close', (code: number) => (serverCloseCode = code));
        echo(socket);
      });
      try {
        const client = impl.connect(server.url);
        const duplex = impl.stream(client);
        const events: string[] = [];
        recordEvents(duplex, events);
        const received: Buffer[] = [];
        const sink = new Writable({
          write(chunk: Buffer, _encoding, callback) {
            received.push(chunk);
            callback();
          },
        });
        await within(pipeline(createReadStream(file, { highWaterMark: 64 * 1024 }), duplex, sink), 'the pipeline to finish', 60_000);
        await until(() => events.includes('close'), "the stream's close");
        await until(() => serverCloseCode !== 0, "the server side's close");
        return {
          sameBytes: Buffer.concat(received).equals(fileBytes),
          messagesAtServer,
          events,
          serverCloseCode,
          clientState: client.readyState,
        };
      } finally {
        await server.stop();
      }
    }, { sameBytes: true, messagesAtServer: 16, events: ['finish', 'end', 'close'], serverCloseCode: 1005, clientState: 3 }),
  );

  it('stream modes: readableObjectMode delivers each message as one chunk (text as a string); objectMode is ignored as in ws', TIMEOUT, () =>
    differential(async (impl) => {
      const server = await impl.listen((socket) => {
        socket.send('a');
        socket.send(Buffer.from([1, 2, 3]));
        socket.send('hello');
      });
      try {
        const summary: Record<string, unknown> = {};
        for (const [name, options] of [
          ['default', {}],
          ['readableObjectMode', { readableObjectMode: true }],
          ['objectMode', { objectMode: true }],
          ['encoding utf8', { encoding: 'utf8' }],
        ] as const) {
          const client = impl.connect(server.url);
          const duplex = impl.stream(client, options);
          const chunks: unknown[] = [];
          duplex.on('data', (chunk: unknown) => chunks.push(Buffer.isBuffer(chunk) ? { buffer: [...chunk] } : chunk));
          await until(() => chunks.length >= 3, `three chunks (${name})`);
          summary[name] = {
            chunks: chunks.length === 3 ? chunks : 'merged',
            readableObjectMode: duplex.readableObjectMode,
            writableObjectMode: duplex.writableObjectMode,
            allowHalfOpen: duplex.allowHalfOpen,
          };
          const closed = once(duplex, 'close');
          duplex.destroy();
          await closed;
        }
        return summary;
      } finally {
        await server.stop();
      }
    }, {
      default: { chunks: [{ buffer: [97] }, { buffer: [1, 2, 3] }, { buffer: [...Buffer.from('hello')] }], readableObjectMode: false, writableObjectMode: false, allowHalfOpen: true },
      readableObjectMode: { chunks: ['a', { buffer: [1, 2, 3] }, 'hello'], readableObjectMode: true, writableObjectMode: false, allowHalfOpen: true },
      objectMode: { chunks: [{ buffer: [97] }, { buffer: [1, 2, 3] }, { buffer: [...Buffer.from('hello')] }], readableObjectMode: false, writableObjectMode: false, allowHalfOpen: true },
      'encoding utf8': { chunks: ['a', '\x01\x02\x03', 'hello'], readableObjectMode: false, writableObjectMode: false, allowHalfOpen: true },
    }),
  );

  it('each write is one message: binary by default, text for strings with decodeStrings false', TIMEOUT, () =>
    differential(async (impl) => {
      const received: Array<{ text: string; isBinary: boolean }> = [];
      const server = await impl.listen((socket) => {
        socket.on('message', (data: Buffer, isBinary: boolean) => received.push({ text: data.toString(), isBinary }));
      });
      try {
        for (const options of [{}, { decodeStrings: false }]) {
          const client = impl.connect(server.url);
          const duplex = impl.stream(client, options);
          const count = received.length;
          duplex.write('text');
          duplex.write(Buffer.from('bytes'));
          await until(() => received.length === count + 2, 'two messages at the server');
          const closed = once(duplex, 'close');
          duplex.end();
          duplex.resume();
          await closed;
        }
        return received;
      } finally {
        await server.stop();
      }
    }, [
      { text: 'text', isBinary: true },
      { text: 'bytes', isBinary: true },
      { text: 'text', isBinary: false },
      { text: 'bytes', isBinary: true },
    ]),
  );

  it('backpressure: a reader that does not read pauses the connection and the peer buffers; reading resumes it', TIMEOUT, () =>
    differential(async (impl) => {
      let serverSide: Socket | null = null;
      const server = await impl.listen((socket) => (serverSide = socket));
      try {
        const client = impl.connect(server.url);
        const duplex = impl.stream(client);
        await once(client, 'open');
        await until(() => serverSide !== null, 'the server side');
        const peer = serverSide as unknown as Socket;
        const chunk = randomBytes(256 * 1024);
        // Send until the peer's bufferedAmount grows past 1 MiB (the kernel's buffers are full because the
        // client stopped reading), one send per turn of the event loop so that the socket writes.
        let sent = 0;
        while (peer.bufferedAmount <= 1024 * 1024) {
          if (sent === 200) throw new Error(`${impl.name}: bufferedAmount never grew (${peer.bufferedAmount}) after ${sent} messages`);
          peer.send(chunk);
          sent++;
          await new Promise((resolve) => setImmediate(resolve));
        }
        const pausedWhileNotReading = client.isPaused;
        const peerBufferedGrew = peer.bufferedAmount > 1024 * 1024;

        let receivedBytes = 0;
        let allIntact = true;
        duplex.on('data', (data: Buffer) => {
          if (!data.equals(chunk)) allIntact = false;
          receivedBytes += data.length;
        });
        await until(() => receivedBytes === sent * chunk.length, 'every message at the reader', 60_000);
        await until(() => peer.bufferedAmount === 0, "the peer's buffer to drain");
        await until(() => !client.isPaused, 'the connection to resume');
        const closed = once(duplex, 'close');
        duplex.destroy();
        await closed;
        return { pausedWhileNotReading, peerBufferedGrew, allIntact, resumed: !client.isPaused };
      } finally {
        await server.stop();
      }
    }, { pausedWhileNotReading: true, peerBufferedGrew: true, allIntact: true, resumed: true }),
  );

  it('a peer that sends an invalid frame: the stream emits the error ws emits (invalid opcode), then close; the peer gets 1002', TIMEOUT, () =>
    differential(async (impl) => {
      const events: string[] = [];
      let errorCode = '';
      const server = await impl.listen((socket) => {
        const duplex = impl.stream(socket);
        recordEvents(duplex, events);
        duplex.on('error', (error: Error & { code?: string }) => (errorCode = error.code ?? ''));
      });
      try {
        const peer = await handshakenPeer(server.port);
        // FIN, opcode 3 (reserved), masked, empty payload (RFC 6455 §5.2: the recipient must fail the connection).
        peer.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4]));
        await peer.waitFor((bytes) => parseServerFrames(bytes).some((frame) => frame.opcode === 8), DEFAULT_TIMEOUT, 'a close frame');
        const close = parseServerFrames(peer.received).find((frame) => frame.opcode === 8)!;
        peer.socket.end();
        await until(() => events.includes('close'), "the stream's close");
        await peer.waitClosed(DEFAULT_TIMEOUT);
        return { events, code: errorCode.replace(/^(WS|FD)_ERR_/, ''), peerGot: close.payload.readUInt16BE(0) };
      } finally {
        await server.stop();
      }
    }, { events: ['error', 'close'], code: 'INVALID_OPCODE', peerGot: 1002 }),
  );

  it('destroy() terminates the connection: the peer sees 1006, the stream closes without an error', TIMEOUT, () =>
    differential(async (impl) => {
      let peerClose = -1;
      const server = await impl.listen((socket) => socket.on('close', (code: number) => (peerClose = code)));
      try {
        const client = impl.connect(server.url);
        const duplex = impl.stream(client);
        const events: string[] = [];
        recordEvents(duplex, events);
        await once(client, 'open');
        duplex.destroy();
        await until(() => events.includes('close') && peerClose !== -1, 'both sides to close');
        return { events, peerClose, clientState: client.readyState };
      } finally {
        await server.stop();
      }
    }, { events: ['close'], peerClose: 1006, clientState: 3 }),
  );

  it('destroy(error) terminates the connection and reports that error', TIMEOUT, () =>
    differential(async (impl) => {
      let peerClose = -1;
      const server = await impl.listen((socket) => socket.on('close', (code: number) => (peerClose = code)));
      try {
        const client = impl.connect(server.url);
        const duplex = impl.stream(client);
        const events: string[] = [];
        recordEvents(duplex, events);
        let message = '';
        duplex.on('error', (error: Error) => (message = error.message));
        await once(client, 'open');
        duplex.destroy(new Error('boom'));
        await until(() => events.includes('close') && peerClose !== -1, 'both sides to close');
        return { events, message, peerClose };
      } finally {
        await server.stop();
      }
    }, { events: ['error', 'close'], message: 'boom', peerClose: 1006 }),
  );

  it('messages that arrive before the close stay readable, then the stream ends', TIMEOUT, () =>
    differential(async (impl) => {
      const server = await impl.listen((socket) => {
        socket.send('one');
        socket.send('two');
        socket.send('three');
        socket.close(1000, 'bye');
      });
      try {
        const client = impl.connect(server.url);
        const duplex = impl.stream(client, { encoding: 'utf8' });
        const events: string[] = [];
        recordEvents(duplex, events);
        await once(client, 'close');
        const chunks: string[] = [];
        duplex.on('data', (chunk: string) => chunks.push(chunk));
        await until(() => events.includes('end'), "the stream's end");
        // The writable side is still open (allowHalfOpen): ending it destroys the stream.
        duplex.end();
        await until(() => events.includes('close'), "the stream's close");
        return { chunks, events };
      } finally {
        await server.stop();
      }
    }, { chunks: ['one', 'two', 'three'], events: ['end', 'finish', 'close'] }),
  );

  it('a write after the connection closed fails the stream with the send error', TIMEOUT, () =>
    differential(async (impl) => {
      const server = await impl.listen((socket) => socket.close(1000));
      try {
        const client = impl.connect(server.url);
        const duplex = impl.stream(client);
        const events: string[] = [];
        recordEvents(duplex, events);
        let error = '';
        duplex.on('error', (e: Error) => (error = e.message.replace(/\d \((CLOSING|CLOSED)\)/, 'n')));
        await once(client, 'close');
        duplex.write('late');
        await until(() => events.includes('close'), "the stream's close");
        return { events, error };
      } finally {
        await server.stop();
      }
    }, { events: ['error', 'close'], error: 'WebSocket is not open: readyState n' }),
  );
});

describe('createWebSocketStream (fullduplex only)', () => {
  it("binaryType 'arraybuffer' and 'fragments' are read as bytes; 'blob' fails the stream with a clear error", TIMEOUT, async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    server.on('connection', (socket) => socket.on('message', (data) => socket.send(data as Buffer)));
    await once(server, 'listening');
    try {
      for (const binaryType of ['arraybuffer', 'fragments'] as const) {
        const client = new WebSocket(`ws://127.0.0.1:${portOf(server)}`);
        client.binaryType = binaryType;
        const duplex = createWebSocketStream(client);
        duplex.write(Buffer.from([5, 6, 7]));
        const [chunk] = await once<[Buffer]>(duplex, 'data');
        assert.ok(Buffer.isBuffer(chunk), binaryType);
        assert.deepEqual([...chunk], [5, 6, 7]);
        const closed = once(duplex, 'close');
        duplex.destroy();
        await closed;
      }
      const client = new WebSocket(`ws://127.0.0.1:${portOf(server)}`);
      client.binaryType = 'blob';
      const duplex = createWebSocketStream(client);
      const failed = once<[Error]>(duplex, 'error');
      const closed = once(duplex, 'close');
      duplex.write(Buffer.from([5, 6, 7]));
      const [error] = await failed;
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /binaryType 'blob'/);
      await closed;
      assert.equal(client.readyState, WebSocket.CLOSED);
    } finally {
      await stopServer(server);
    }
  });

  it('end() after the connection was terminated closes the stream (ws would wait forever)', TIMEOUT, async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(server, 'listening');
    try {
      const client = new WebSocket(`ws://127.0.0.1:${portOf(server)}`);
      const duplex = createWebSocketStream(client);
      const events: string[] = [];
      recordEvents(duplex, events);
      duplex.resume();
      await once(client, 'open');
      const closed = once<[number]>(client, 'close');
      client.terminate(); // the socket is destroyed: it never finishes
      const [code] = await closed;
      assert.equal(code, 1006);
      await until(() => events.includes('end'), "the stream's end");
      duplex.end();
      await until(() => events.includes('close'), "the stream's close");
      assert.deepEqual(events, ['end', 'finish', 'close']);
    } finally {
      await stopServer(server);
    }
  });

  it('end() when the socket is destroyed before it finishes still closes the stream (ws would wait forever)', TIMEOUT, async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(server, 'listening');
    try {
      const client = new WebSocket(`ws://127.0.0.1:${portOf(server)}`);
      const duplex = createWebSocketStream(client);
      const events: string[] = [];
      recordEvents(duplex, events);
      duplex.resume();
      await once(client, 'open');
      duplex.end();
      await until(() => client.readyState === WebSocket.CLOSING, 'end() to start the closing handshake');
      const socket = client.socket!;
      socket.destroy();
      await until(() => events.includes('close'), "the stream's close");
      // The connection's close ends the readable side first here, then finishes the writable side.
      assert.deepEqual(events, ['end', 'finish', 'close']);
      assert.equal(client.readyState, WebSocket.CLOSED);
    } finally {
      await stopServer(server);
    }
  });
});
