/**
 * `WebSocketStream` and `WebSocketError` (src/web) against the project's `WebSocketServer` on
 * 127.0.0.1: each scenario runs on ours and on undici's (`NativeWebSocketStream`) and the recorded
 * results must match, unless docs/web-api.md ("WebSocketStream" table) lists the difference with its
 * reason. Then what only we have: `toWebSocketStream` over an accepted connection, Node client options.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket as NodeWebSocket } from '../../src/node/index.js';
import { WebSocketStream, WebSocketError, toWebSocketStream } from '../../src/web/index.js';
import { NativeWebSocketStream, NativeWebSocketError } from '../helpers/web-oracle.js';
import { assertSameOrDocumented } from '../helpers/web-differences.js';
import { within } from '../helpers/node.js';

// --- the two implementations, seen through one shape -------------------------------------------------

interface StreamLike {
  readonly url: string;
  readonly opened: Promise<{ readable: ReadableStream; writable: WritableStream; extensions: string; protocol: string }>;
  readonly closed: Promise<{ closeCode: number; reason: string }>;
  close(info?: unknown): void;
}
type StreamClass = new (url: string, options?: unknown) => StreamLike;
type ErrorClass = new (message?: string, init?: unknown) => Error & { closeCode: number | null; reason: string };

interface Impl {
  name: 'ours' | 'undici';
  Stream: StreamClass;
  Error: ErrorClass;
}

const OURS: Impl = { name: 'ours', Stream: WebSocketStream as unknown as StreamClass, Error: WebSocketError as unknown as ErrorClass };
const UNDICI: Impl = { name: 'undici', Stream: NativeWebSocketStream as unknown as StreamClass, Error: NativeWebSocketError as unknown as ErrorClass };

// undici warns once that its WebSocketStream is experimental: keep the test output clean.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if ((warning as { code?: string }).code !== 'UNDICI-WSS') console.warn(warning);
});

/** A rejection or exception as the tests compare it: its class, name, and close code and reason. */
function describeError(impl: Impl, error: unknown): Record<string, unknown> {
  if (!(error instanceof Error) && !(error instanceof DOMException)) return { value: String(error) };
  const described: Record<string, unknown> = { name: error.name, isWebSocketError: error instanceof impl.Error };
  if ('closeCode' in error) described['closeCode'] = (error as { closeCode: unknown }).closeCode;
  if ('reason' in error) described['reason'] = (error as { reason: unknown }).reason;
  return described;
}

async function settle<T>(impl: Impl, promise: Promise<T>, map: (value: T) => unknown = (value) => value): Promise<unknown> {
  try {
    return { resolved: map(await promise) };
  } catch (error) {
    return { rejected: describeError(impl, error) };
  }
}

function attempt(impl: Impl, action: () => unknown): unknown {
  try {
    action();
    return 'ok';
  } catch (error) {
    return describeError(impl, error);
  }
}

/** A chunk as the tests compare it: its type and content. */
function describeChunk(chunk: unknown): unknown {
  if (typeof chunk === 'string') return { text: chunk };
  if (chunk instanceof Uint8Array) return { [Object.getPrototypeOf(chunk).constructor.name]: [...chunk] };
  return { other: String(chunk) };
}

// --- the server ----------------------------------------------------------------------------------------

interface ServerLog {
  /** Per connection: the close code and reason it saw, and the request headers. */
  closes: Array<Promise<[number, string]>>;
  requests: IncomingMessage[];
}

let wss: WebSocketServer;
let base: string;
const log: ServerLog = { closes: [], requests: [] };

/** Echo, except for paths that ask for something else. */
function onConnection(ws: NodeWebSocket, request: IncomingMessage): void {
  log.requests.push(request);
  log.closes.push(
    new Promise((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()]))),
  );
  const path = request.url ?? '/';
  if (path.startsWith('/server-close')) {
    ws.close(4002, 'server done');
    return;
  }
  if (path.startsWith('/server-terminate')) {
    ws.terminate();
    return;
  }
  if (path.startsWith('/stream')) {
    // The server side as streams: echo through toWebSocketStream.
    const stream = toWebSocketStream(ws);
    void stream.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => undefined);
    return;
  }
  ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
}

before(async () => {
  wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    heartbeat: false,
    perMessageDeflate: true,
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : protocols.has('none') ? false : [...protocols][0] ?? false),
  });
  await once(wss, 'listening');
  base = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  wss.on('connection', onConnection);
});

after(async () => {
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

/** The close code and reason the server saw on the last connection. */
function lastServerClose(): Promise<[number, string]> {
  return within(log.closes.at(-1)!, 'the server to see the close');
}

/** Run `scenario` on both implementations (one after the other) and compare what they recorded. */
async function differential(id: string, scenario: (impl: Impl) => Promise<unknown>): Promise<void> {
  const ours = await within(scenario(OURS), `${id} (ours)`);
  const theirs = await within(scenario(UNDICI), `${id} (undici)`);
  assertSameOrDocumented(id, ours, theirs);
}

// --- differential scenarios --------------------------------------------------------------------------

describe('WebSocketStream, differential against undici', () => {
  it('echoes text as strings and binary as Uint8Array, in order', () =>
    differential('stream-echo', async (impl) => {
      const stream = new impl.Stream(`${base}/echo`);
      const { readable, writable } = await stream.opened;
      const writer = writable.getWriter();
      const reader = readable.getReader();
      const sent: unknown[] = ['héllo', new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6, 7]).subarray(1, 3), new Uint8Array([8, 9]).buffer, '', new Uint8Array(0)];
      const writes = await Promise.all(sent.map((chunk) => settle(impl, writer.write(chunk))));
      const received: unknown[] = [];
      for (let i = 0; i < sent.length; i++) received.push(describeChunk((await reader.read()).value));
      stream.close();
      const closed = await settle(impl, stream.closed);
      return { url: stream.url, writes, received, closed };
    }));

  it('reports the subprotocol and the extensions the server selected in opened', () =>
    differential('stream-open-info', async (impl) => {
      const stream = new impl.Stream(`${base}/info`, { protocols: ['chat', 'other'] });
      const info = await stream.opened;
      const result = { keys: Object.keys(info), protocol: info.protocol, extensions: info.extensions, readable: info.readable instanceof ReadableStream, writable: info.writable instanceof WritableStream };
      stream.close();
      await stream.closed;
      return result;
    }));

  it('fails the connection when subprotocols were requested and the server selected none', () =>
    differential('stream-no-subprotocol', async (impl) => {
      const stream = new impl.Stream(`${base}/none`, { protocols: ['none'] });
      return { opened: await settle(impl, stream.opened, () => 'open'), closed: await settle(impl, stream.closed) };
    }));

  for (const [label, info, expectedOnServer] of [
    ['a code and a reason', { closeCode: 4001, reason: 'bye' }, [4001, 'bye']],
    ['a reason only (sent with 1000)', { reason: 'just because' }, [1000, 'just because']],
    ['nothing (an empty close frame)', undefined, [1005, '']],
  ] as const) {
    it(`close() with ${label}: the server sees them and closed resolves with its answer`, () =>
      differential(`stream-close-${label.split(' ')[1]}`, async (impl) => {
        const stream = new impl.Stream(`${base}/echo`);
        await stream.opened;
        stream.close(info);
        const closed = await settle(impl, stream.closed);
        const server = await lastServerClose();
        assert.deepEqual(server, expectedOnServer);
        return { closed, server };
      }));
  }

  it('close() checks its argument: code 1000 or 3000-4999, reason at most 123 bytes, an object', () =>
    differential('stream-close-checks', async (impl) => {
      const stream = new impl.Stream(`${base}/echo`);
      await stream.opened;
      const results = [999, 1001, 2999, 5000, 65536, -1, Number.NaN].map((closeCode) => attempt(impl, () => stream.close({ closeCode })));
      results.push(attempt(impl, () => stream.close({ reason: 'x'.repeat(124) })));
      results.push(attempt(impl, () => stream.close(true)));
      stream.close({ closeCode: 3000.9, reason: 'truncated' });
      const closed = await settle(impl, stream.closed);
      return { results, closed };
    }));

  it('the server closes: the readable ends, writes fail, closed resolves with its code and reason', () =>
    differential('stream-server-close', async (impl) => {
      const stream = new impl.Stream(`${base}/server-close`);
      const { readable, writable } = await stream.opened;
      const closed = await settle(impl, stream.closed);
      const read = await readable.getReader().read();
      const write = await settle(impl, writable.getWriter().write('late'));
      return { closed, read, write };
    }));

  it('the server drops the connection: opened resolved, closed and both streams error with WebSocketError 1006', () =>
    differential('stream-server-terminate', async (impl) => {
      const stream = new impl.Stream(`${base}/server-terminate`);
      const { readable, writable } = await stream.opened;
      const closed = await settle(impl, stream.closed);
      const read = await settle(impl, readable.getReader().read());
      const write = await settle(impl, writable.getWriter().write('late'));
      return { closed, read, write };
    }));

  it('a connection that fails rejects opened and closed with WebSocketErrors', async () => {
    // A port nobody listens on: take one, then close it.
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await differential('stream-refused', async (impl) => {
      const stream = new impl.Stream(`ws://127.0.0.1:${port}/`);
      return { opened: await settle(impl, stream.opened), closed: await settle(impl, stream.closed) };
    });
  });

  it('close() during the handshake rejects opened and closed with WebSocketErrors', () =>
    differential('stream-close-connecting', async (impl) => {
      const stream = new impl.Stream(`${base}/echo`);
      stream.close();
      return { opened: await settle(impl, stream.opened), closed: await settle(impl, stream.closed) };
    }));

  it('an already aborted signal rejects opened and closed with its reason, and nothing connects', () =>
    differential('stream-abort-before', async (impl) => {
      const connections = log.requests.length;
      const controller = new AbortController();
      const reason = new Error('stop');
      controller.abort(reason);
      const stream = new impl.Stream(`${base}/echo`, { signal: controller.signal });
      const opened = await stream.opened.then(() => 'open', (error: unknown) => (error === reason ? 'the reason' : describeError(impl, error)));
      const closed = await stream.closed.then(() => 'closed', (error: unknown) => (error === reason ? 'the reason' : describeError(impl, error)));
      // Wait a moment for a connection that should not come.
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { opened, closed, url: stream.url, connected: log.requests.length > connections };
    }));

  it('aborting during the handshake rejects both promises with the reason and drops the connection', async () => {
    // A server that accepts TCP and never answers the upgrade request.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
      socket.resume(); // read (and drop) the upgrade request, so that the client's FIN is seen
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const port = (silent.address() as AddressInfo).port;
    try {
      await differential('stream-abort-connecting', async (impl) => {
        const before = sockets.length;
        const controller = new AbortController();
        const stream = new impl.Stream(`ws://127.0.0.1:${port}/`, { signal: controller.signal });
        while (sockets.length === before) await new Promise((resolve) => setTimeout(resolve, 10));
        const socket = sockets.at(-1)!;
        controller.abort();
        const opened = await settle(impl, stream.opened);
        const closed = await settle(impl, stream.closed);
        if (!socket.destroyed) await within(once(socket, 'close'), 'the aborted connection to be dropped');
        return { opened, closed, dropped: true };
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('aborting after the connection is established does nothing', () =>
    differential('stream-abort-after', async (impl) => {
      const controller = new AbortController();
      const stream = new impl.Stream(`${base}/echo`, { signal: controller.signal });
      const { readable, writable } = await stream.opened;
      controller.abort();
      await writable.getWriter().write('still here');
      const echoed = await readable.getReader().read();
      stream.close({ closeCode: 1000 });
      return { echoed, closed: await settle(impl, stream.closed) };
    }));

  /** Abort the writable or cancel the readable with each kind of reason; what closed and the server saw. */
  async function closeUsingReasons(impl: Impl, how: 'abort' | 'cancel'): Promise<unknown[]> {
    const results: unknown[] = [];
    for (const reason of [
      new impl.Error('x', { closeCode: 4000, reason: 'r' }),
      new impl.Error('', { reason: 'only a reason' }),
      Object.assign(new DOMException('look-alike', 'DataCloneError'), { closeCode: 4001, reason: 'ignored' }),
      undefined,
    ]) {
      const stream = new impl.Stream(`${base}/echo`);
      const { readable, writable } = await stream.opened;
      const done = how === 'abort' ? writable.getWriter().abort(reason) : readable.cancel(reason);
      results.push({ done: await settle(impl, done), closed: await settle(impl, stream.closed), server: await lastServerClose() });
    }
    return results;
  }

  const CLOSED_USING_REASONS = [
    { done: { resolved: undefined }, closed: { resolved: { closeCode: 4000, reason: '' } }, server: [4000, 'r'] },
    { done: { resolved: undefined }, closed: { resolved: { closeCode: 1000, reason: '' } }, server: [1000, 'only a reason'] },
    { done: { resolved: undefined }, closed: { resolved: { closeCode: 1005, reason: '' } }, server: [1005, ''] },
    { done: { resolved: undefined }, closed: { resolved: { closeCode: 1005, reason: '' } }, server: [1005, ''] },
  ];

  it('writer.abort(WebSocketError) closes with its code and reason; other reasons close without a code', () =>
    differential('stream-writer-abort', async (impl) => {
      const results = await closeUsingReasons(impl, 'abort');
      assert.deepEqual(results, CLOSED_USING_REASONS);
      return results;
    }));

  it('readable.cancel(WebSocketError) closes with its code and reason, as writer.abort does', async () => {
    // Not differential: undici 7 throws from its socket's close listener after a cancel (it closes the
    // readable's controller a second time), an uncaught exception. The standard gives both "close using reason".
    assert.deepEqual(await closeUsingReasons(OURS, 'cancel'), CLOSED_USING_REASONS);
  });

  it('closing the writable closes the connection; its promise waits for the closing handshake', () =>
    differential('stream-writer-close', async (impl) => {
      const stream = new impl.Stream(`${base}/echo`);
      const { readable, writable } = await stream.opened;
      const events: string[] = [];
      const writer = writable.getWriter();
      const closing = writer.close().then(() => events.push('writer closed'), () => events.push('writer close rejected'));
      const closed = stream.closed.then((info) => {
        events.push('closed');
        return info;
      });
      await Promise.all([closing, closed]);
      const read = await readable.getReader().read();
      return { events: events.sort(), closed: await closed, read, server: await lastServerClose() };
    }));

  it('a chunk that is neither a string nor a BufferSource is written as its string', () =>
    differential('stream-write-number', async (impl) => {
      const stream = new impl.Stream(`${base}/echo`);
      const { readable, writable } = await stream.opened;
      const write = await settle(impl, writable.getWriter().write(42));
      const read = write && 'resolved' in (write as object) ? describeChunk((await readable.getReader().read()).value) : null;
      stream.close();
      await settle(impl, stream.closed);
      return { write, read };
    }));

  it('the constructor checks its arguments as the standard says', () =>
    differential('stream-constructor-checks', async (impl) => {
      const cases: Array<[string, () => StreamLike]> = [
        ['no arguments', () => new (impl.Stream as unknown as new () => StreamLike)()],
        ['relative URL', () => new impl.Stream('/path')],
        ['ftp scheme', () => new impl.Stream('ftp://127.0.0.1/')],
        ['fragment', () => new impl.Stream(`${base}/#frag`)],
        ['duplicate protocols', () => new impl.Stream(`${base}/`, { protocols: ['a', 'a'] })],
        ['duplicate protocols differing in case', () => new impl.Stream(`${base}/`, { protocols: ['echo', 'eCho'] })],
        ['invalid protocol', () => new impl.Stream(`${base}/`, { protocols: ['a b'] })],
        ['protocols as a string', () => new impl.Stream(`${base}/`, { protocols: 'chat' })],
        ['options not an object', () => new impl.Stream(`${base}/`, 5)],
        ['signal not a signal', () => new impl.Stream(`${base}/`, { signal: {} })],
      ];
      const results: Record<string, unknown> = {};
      for (const [label, make] of cases) results[label] = attempt(impl, make);
      // http maps to ws.
      const mapped = new impl.Stream(`http://127.0.0.1:${new URL(base).port}/path?q`);
      results['http url'] = mapped.url;
      await mapped.opened;
      mapped.close();
      await mapped.closed;
      return results;
    }));
});

describe('WebSocketError, differential against undici', () => {
  it('is a DOMException named WebSocketError with the standard constructor checks', () => {
    const run = (impl: Impl): unknown => {
      const results: unknown[] = [];
      for (const args of [
        [],
        ['message'],
        ['m', { closeCode: 1000 }],
        ['m', { closeCode: 3000, reason: 'r' }],
        ['m', { reason: 'no code' }],
        ['m', { closeCode: 1001 }],
        ['m', { closeCode: 5000 }],
        ['m', { closeCode: 70000 }],
        ['m', { reason: 'é'.repeat(62) }],
        ['m', null],
        ['m', 5],
      ] as unknown[][]) {
        try {
          const error = new impl.Error(...(args as [string, unknown]));
          results.push({
            name: error.name,
            message: error.message,
            code: (error as unknown as DOMException).code,
            closeCode: error.closeCode,
            reason: error.reason,
            isDOMException: error instanceof DOMException,
            tag: Object.prototype.toString.call(error),
          });
        } catch (error) {
          results.push(describeError(impl, error));
        }
      }
      return results;
    };
    assertSameOrDocumented('stream-error-constructor', run(OURS), run(UNDICI));
  });
});

// --- what only fullduplex has ------------------------------------------------------------------------

describe('WebSocketStream extras', () => {
  it('toWebSocketStream gives the streams of an accepted connection (a server echoing through them)', async () => {
    const stream = new WebSocketStream(`${base}/stream`);
    const { readable, writable } = await stream.opened;
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write('over streams');
    await writer.write(new Uint8Array([7, 8, 9]));
    assert.deepEqual((await reader.read()).value, 'over streams');
    assert.deepEqual((await reader.read()).value, new Uint8Array([7, 8, 9]));
    stream.close({ closeCode: 4005, reason: 'done' });
    // `closed` holds the peer's answer: the code echoed, without the reason (as both sides do).
    assert.deepEqual(await stream.closed, { closeCode: 4005, reason: '' });
    assert.deepEqual(await lastServerClose(), [4005, 'done']);
  });

  it('toWebSocketStream: opened, closed and close() on the server side', async () => {
    const accepted = once(wss, 'connection') as Promise<[NodeWebSocket, IncomingMessage]>;
    const client = new WebSocketStream(`${base}/plain`);
    const [ws] = await accepted;
    ws.removeAllListeners('message');
    const server = toWebSocketStream(ws);
    assert.equal(server.url, '');
    const serverInfo = await server.opened;
    assert.equal(typeof serverInfo.extensions, 'string');
    const { readable } = await client.opened;
    server.close({ closeCode: 4444, reason: 'from the server' });
    assert.deepEqual(await server.closed, { closeCode: 4444, reason: '' });
    assert.deepEqual(await client.closed, { closeCode: 4444, reason: 'from the server' });
    assert.equal((await readable.getReader().read()).done, true);
    assert.throws(() => toWebSocketStream(ws), { name: 'InvalidStateError' });
    assert.throws(() => toWebSocketStream({} as NodeWebSocket), TypeError);
  });

  it('takes Node client options as a third argument (headers reach the server)', async () => {
    const stream = new WebSocketStream(`${base}/echo`, {}, { headers: { 'x-token': 'abc' }, readableHighWaterMark: 0 });
    await stream.opened;
    assert.equal(log.requests.at(-1)!.headers['x-token'], 'abc');
    stream.close();
    await stream.closed;
    assert.throws(() => new WebSocketStream(`${base}/echo`, {}, { readableHighWaterMark: -1 }), RangeError);
  });

  it('resolves a relative URL against baseURL, as the WebSocket class does', async () => {
    const stream = new WebSocketStream('echo?x=1', {}, { baseURL: `${base.replace('ws:', 'http:')}/app/` });
    assert.equal(stream.url, `${base}/app/echo?x=1`);
    await stream.opened;
    assert.equal(log.requests.at(-1)!.url, '/app/echo?x=1');
    stream.close();
    await stream.closed;
    assert.throws(() => new WebSocketStream('echo', {}, { baseURL: 'not absolute' }), TypeError);
  });

  it('fails a connection to a bad port (fetch standard) without touching the network, as browsers do', async () => {
    const stream = new WebSocketStream('ws://127.0.0.1:10080/');
    await assert.rejects(stream.opened, (error: unknown) => error instanceof WebSocketError);
    await assert.rejects(stream.closed, (error: unknown) => error instanceof WebSocketError && error.closeCode === 1006);
  });

  it('WebSocketError: instanceof needs the real class (a look-alike is not one)', () => {
    const error = new WebSocketError('m', { closeCode: 4000 });
    assert.ok(error instanceof WebSocketError && error instanceof DOMException && error instanceof Error);
    assert.equal(Object.prototype.toString.call(error), '[object WebSocketError]');
    assert.equal(Object.prototype.toString.call(new WebSocketStream(`${base}/x`, { signal: AbortSignal.abort() })), '[object WebSocketStream]');
    const lookAlike = Object.assign(new DOMException('m', 'WebSocketError'), { closeCode: 4000, reason: '' });
    assert.equal(lookAlike instanceof WebSocketError, false);
  });
});
