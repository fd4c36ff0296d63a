/**
 * ReconnectingWebSocket (src/browser/reconnecting-websocket.ts) on Node, over fullduplex/web's
 * `WebSocket` (as fullduplex/web exports it), against a real WebSocketServer that the tests stop,
 * restart on the same port, and make close with 1001, 1012, 1013 (retried) or 1008, 4001 (final).
 * The same class runs in Chromium in test/e2e/reconnecting-browser.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket as ServerSocket } from '../../src/node/index.js';
import { ReconnectingWebSocket, ReconnectedEvent, ReconnectingEvent, WebSocket } from '../../src/web/index.js';
import { ReconnectingWebSocket as BrowserReconnectingWebSocket } from '../../src/browser/index.js';
import { cleanupAfterEach, pollUntil as until, Wakeups } from '../helpers/wait.js';

const FAST = { initialDelay: 10, maxDelay: 50, factor: 2, jitter: 0 } as const;

/** A server that can stop and start again on the same port, echoing and recording what it gets. */
class RestartableServer {
  wss: WebSocketServer | null = null;
  port = 0;
  readonly sockets: ServerSocket[] = [];
  readonly received: string[] = [];
  readonly #wakeups = new Wakeups();
  /** Echo messages back (off to check what the client sent, in order, without replies mixing in). */
  echo = true;

  async start(): Promise<void> {
    const wss = new WebSocketServer({ port: this.port, host: '127.0.0.1', heartbeat: false });
    await once(wss, 'listening');
    this.port = (wss.address() as AddressInfo).port;
    wss.on('connection', (ws) => {
      this.sockets.push(ws);
      ws.on('error', () => {});
      ws.on('message', (data) => {
        const text = String(data);
        this.received.push(text);
        if (this.echo) ws.send(text);
        this.#wakeups.wake();
      });
      this.#wakeups.wake();
    });
    this.wss = wss;
  }

  async stop(): Promise<void> {
    const wss = this.wss;
    this.wss = null;
    if (wss !== null) await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /** Wait (with a scaled guard) until `ready()` holds; checked on every connection and message. */
  until(what: string, ready: () => boolean): Promise<void> {
    return this.#wakeups.until(what, ready);
  }
}

/** Every event of a ReconnectingWebSocket, in order, as short strings ("open", "reconnecting 1 1001"...). */
function record(ws: BrowserReconnectingWebSocket): string[] {
  const log: string[] = [];
  ws.addEventListener('open', () => log.push('open'));
  ws.addEventListener('error', () => log.push('error'));
  ws.addEventListener('message', (event) => log.push(`message ${String(event.data)}`));
  ws.addEventListener('close', (event) => log.push(`close ${event.code} ${event.reason}`));
  ws.addEventListener('reconnecting', (event) => log.push(`reconnecting ${event.detail.attempt} ${event.detail.code}`));
  ws.addEventListener('reconnected', (event) => log.push(`reconnected ${event.detail.attempt}`));
  return log;
}

const count = (log: readonly string[], entry: string): number => log.filter((e) => e === entry).length;

describe('ReconnectingWebSocket (Node, over fullduplex/web)', () => {
  const cleanup = cleanupAfterEach();

  async function server(): Promise<RestartableServer> {
    const s = new RestartableServer();
    await s.start();
    cleanup.push(() => s.stop());
    return s;
  }

  function client(url: string, options: ConstructorParameters<typeof ReconnectingWebSocket>[2] = {}): ReconnectingWebSocket {
    const ws = new ReconnectingWebSocket(url, undefined, { reconnect: FAST, ...options });
    cleanup.push(() => ws.close());
    return ws;
  }

  it('has the WHATWG surface and constants, and fullduplex/web presets its own WebSocket', async () => {
    const s = await server();
    const ws = client(s.url);
    assert.ok(ws instanceof EventTarget);
    assert.ok(ws instanceof BrowserReconnectingWebSocket);
    assert.deepEqual([ReconnectingWebSocket.CONNECTING, ReconnectingWebSocket.OPEN, ReconnectingWebSocket.CLOSING, ReconnectingWebSocket.CLOSED], [0, 1, 2, 3]);
    assert.deepEqual([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED], [0, 1, 2, 3]);
    assert.equal(ws.url, s.url);
    assert.equal(ws.readyState, 0);
    assert.equal(ws.binaryType, 'blob');
    ws.binaryType = 'arraybuffer';
    ws.binaryType = 'nonsense' as 'blob'; // Web IDL: ignored
    assert.equal(ws.binaryType, 'arraybuffer');
    await once(ws, 'open');
    assert.equal(ws.readyState, 1);
    assert.equal(ws.protocol, '');
    assert.equal(ws.extensions, '');
  });

  it('checks its options: a bad queue bound, bad reconnect options, the old top-level queue, no WebSocket class', () => {
    // The same checks and messages as the Node client's reconnect.queue (src/protocol/reconnect-queue.ts).
    assert.throws(() => new ReconnectingWebSocket('ws://127.0.0.1:1/', undefined, { reconnect: { queue: { maxMessages: -1 } } }), {
      name: 'RangeError',
      message: /reconnect\.queue\.maxMessages/,
    });
    assert.throws(() => new ReconnectingWebSocket('ws://127.0.0.1:1/', undefined, { reconnect: { queue: 'refuse' as unknown as false } }), {
      name: 'TypeError',
      message: /reconnect\.queue option must be \{ maxMessages, maxBytes \} or false/,
    });
    // The spelling before the options were made one: a clear error pointing to reconnect.queue.
    const old = { queue: { messages: 2 } } as ConstructorParameters<typeof ReconnectingWebSocket>[2];
    assert.throws(() => new ReconnectingWebSocket('ws://127.0.0.1:1/', undefined, old), { name: 'TypeError', message: /inside reconnect/ });
    assert.throws(() => new ReconnectingWebSocket('ws://127.0.0.1:1/', undefined, { reconnect: { factor: 0.5 } }), /reconnect\.factor/);
    const hadGlobal = 'WebSocket' in globalThis;
    if (!hadGlobal) assert.throws(() => new BrowserReconnectingWebSocket('ws://127.0.0.1:1/'), /options\.WebSocket/);
    // The platform class checks the URL, and its SyntaxError reaches the caller.
    assert.throws(() => new ReconnectingWebSocket('ftp://127.0.0.1/'), { name: 'SyntaxError' });
  });

  it('the server stops and starts again: reconnecting, open, reconnected — and close never fires in between', async () => {
    const s = await server();
    const ws = client(s.url);
    const log = record(ws);
    await until('open', () => ws.readyState === 1);
    const port = s.port;
    await s.stop();
    await until('a failed attempt while the server is down', () => log.includes('reconnecting 2 1006'));
    assert.equal(ws.readyState, 0, 'CONNECTING between connections');
    s.port = port;
    await s.start();
    await until('reconnected', () => log.some((e) => e.startsWith('reconnected')));
    assert.equal(ws.readyState, 1);
    // The first loss is the server's 1001; then attempts that never opened (error, close 1006) count up.
    assert.equal(log[0], 'open');
    assert.equal(log[1], 'reconnecting 1 1001');
    const between = log.slice(2, log.lastIndexOf('open'));
    assert.ok(between.length >= 2);
    between.forEach((entry, i) => assert.equal(entry, i % 2 === 0 ? 'error' : `reconnecting ${(i + 1) / 2 + 1} 1006`));
    assert.deepEqual(log.slice(-2), ['open', `reconnected ${(between.length / 2) + 1}`]);
    assert.equal(count(log, 'open'), 2);
    assert.equal(log.filter((e) => e.startsWith('close')).length, 0);
    ws.send('after');
    await until('the echo', () => log.includes('message after'));
    ws.close(1000, 'done');
    await until('close', () => ws.readyState === 3);
    assert.deepEqual(log.filter((e) => e.startsWith('close')), ['close 1000 ']); // the server echoes the code, not the reason
  });

  for (const code of [1001, 1012, 1013]) {
    it(`a server close with ${code} is retried; reconnecting tells the code and reason, and the delay honours the policy`, async () => {
      const s = await server();
      const initialDelay = 40;
      const ws = client(s.url, { reconnect: { initialDelay, maxDelay: 200, jitter: 1 } });
      const log = record(ws);
      const delays: number[] = [];
      ws.addEventListener('reconnecting', (event) => {
        assert.ok(event instanceof ReconnectingEvent);
        assert.equal(event.detail.reason, `bye ${code}`);
        delays.push(event.detail.delay);
      });
      await until('open', () => ws.readyState === 1);
      s.sockets[0]!.close(code, `bye ${code}`);
      await until('reconnected', () => log.some((e) => e.startsWith('reconnected')));
      assert.deepEqual(log, ['open', `reconnecting 1 ${code}`, 'open', 'reconnected 1']);
      assert.equal(delays.length, 1);
      assert.ok(delays[0]! >= 0 && delays[0]! <= initialDelay);
      // RFC 6455 / IANA: 1013 Try Again Later waits at least initialDelay even with full jitter.
      if (code === 1013) assert.equal(delays[0], initialDelay);
      assert.equal(s.sockets.length, 2);
    });
  }

  for (const code of [1008, 4001]) {
    it(`a server close with ${code} is final: close fires once with it, and nothing reconnects`, async () => {
      const s = await server();
      const ws = client(s.url);
      const log = record(ws);
      await until('open', () => ws.readyState === 1);
      s.sockets[0]!.close(code, 'final');
      await until('close', () => ws.readyState === 3);
      await new Promise((resolve) => setTimeout(resolve, 200)); // no reconnection (a "nothing happens" wait)
      assert.deepEqual(log, ['open', `close ${code} final`]);
      assert.equal(s.sockets.length, 1);
    });
  }

  it('handshake failures count as failed attempts: maxRetries ends it with one close 1006', async () => {
    const s = await server();
    const port = s.port;
    await s.stop();
    const ws = client(`ws://127.0.0.1:${port}/`, { reconnect: { ...FAST, maxRetries: 2 } });
    const log = record(ws);
    await until('close', () => ws.readyState === 3);
    assert.deepEqual(log, ['error', 'reconnecting 1 1006', 'error', 'reconnecting 2 1006', 'error', 'close 1006 ']);
  });

  it('reconnect: false is a single connection: the first close is final', async () => {
    const s = await server();
    const ws = client(s.url, { reconnect: false });
    const log = record(ws);
    await until('open', () => ws.readyState === 1);
    s.sockets[0]!.close(1012, 'restart');
    await until('close', () => ws.readyState === 3);
    assert.deepEqual(log, ['open', 'close 1012 restart']);
  });

  it('sends before the first open and while disconnected are queued, counted in bufferedAmount, and arrive in order after what open listeners send (a login goes first, as in the Node client)', async () => {
    const s = await server();
    s.echo = false;
    const ws = client(s.url);
    ws.send('q1');
    ws.send(new Uint8Array([0x71, 0x32])); // "q2" as bytes: arrives binary, recorded as text here
    assert.equal(ws.bufferedAmount, 4);
    await until('open', () => ws.readyState === 1);
    await s.until('q1, q2', () => s.received.length >= 2);
    const port = s.port;
    await s.stop();
    await until('reconnecting', () => ws.readyState === 0);
    const bytes = new Uint8Array([0x62, 0x33]);
    ws.send('b1');
    ws.send('b2 é'); // 5 bytes of UTF-8
    ws.send(bytes);
    bytes[0] = 0x78; // queued bytes were copied at send()
    assert.equal(ws.bufferedAmount, 2 + 5 + 2);
    assert.equal(ws.unsent.length, 3);
    ws.addEventListener('open', () => ws.send('from open'));
    s.port = port;
    await s.start();
    await s.until('the queue and the open message', () => s.received.length >= 6);
    assert.deepEqual(s.received, ['q1', 'q2', 'from open', 'b1', 'b2 é', 'b3']);
    assert.equal(ws.unsent.length, 0);
  });

  it('past the queue bound send throws InvalidStateError, and what was queued still arrives', async () => {
    const s = await server();
    s.echo = false;
    const port = s.port;
    await s.stop();
    const ws = client(`ws://127.0.0.1:${port}/`, { reconnect: { ...FAST, queue: { maxMessages: 2, maxBytes: 6 } } });
    ws.send('abc');
    assert.throws(() => ws.send('defg'), { name: 'InvalidStateError', message: /queue is full/ }); // 7 bytes
    ws.send('def');
    assert.throws(() => ws.send(''), { name: 'InvalidStateError' }); // a third message
    assert.equal(ws.bufferedAmount, 6);
    s.port = port;
    await s.start();
    await s.until('the queue', () => s.received.length >= 2);
    assert.deepEqual(s.received, ['abc', 'def']);
  });

  it('reconnect.queue: false throws InvalidStateError for every send while not open', async () => {
    const s = await server();
    const ws = client(s.url, { reconnect: { ...FAST, queue: false } });
    assert.throws(() => ws.send('early'), { name: 'InvalidStateError', message: /refused/ });
    await until('open', () => ws.readyState === 1);
    ws.send('now');
    await s.until('now', () => s.received.includes('now'));
  });

  it('the default bound is the Node client\'s, 1,000 messages, also with reconnect: false (a single connection)', async () => {
    const s = await server();
    s.echo = false;
    const port = s.port;
    await s.stop();
    for (const reconnect of [true, false]) {
      const ws = client(`ws://127.0.0.1:${port}/`, { reconnect });
      for (let i = 0; i < 1_000; i++) ws.send('m');
      assert.throws(() => ws.send('m'), { name: 'InvalidStateError', message: /bound 1000 messages, 1048576 bytes/ });
      ws.close();
    }
  });

  it('close() during the wait ends it: one close 1006, CLOSED, no further attempt; what was queued stays in unsent', async () => {
    const s = await server();
    const ws = client(s.url, { reconnect: { initialDelay: 60_000, maxDelay: 60_000, jitter: 0 } });
    const log = record(ws);
    await until('open', () => ws.readyState === 1);
    s.sockets[0]!.close(1012, 'restart');
    await until('reconnecting', () => log.includes('reconnecting 1 1012'));
    ws.send('never sent');
    ws.close(1000, 'bye');
    assert.equal(ws.readyState, 2, 'CLOSING until the close event');
    ws.close(); // a second close does nothing
    await until('close', () => ws.readyState === 3);
    assert.deepEqual(log, ['open', 'reconnecting 1 1012', 'close 1006 ']);
    assert.deepEqual(ws.unsent, ['never sent']);
    assert.equal(ws.bufferedAmount, 10);
    ws.send('after close'); // as WebSocket: discarded and counted, no exception
    assert.equal(ws.bufferedAmount, 21);
    assert.equal(s.sockets.length, 1);
  });

  it('close() while open closes cleanly with the given code and does not reconnect', async () => {
    const s = await server();
    const ws = client(s.url);
    const log = record(ws);
    await until('open', () => ws.readyState === 1);
    assert.throws(() => ws.close(1001), { name: 'InvalidAccessError' });
    assert.throws(() => ws.close(1000, 'x'.repeat(124)), { name: 'SyntaxError' });
    ws.close(4000, 'app');
    assert.equal(ws.readyState, 2);
    let wasClean: boolean | undefined;
    ws.addEventListener('close', (event) => (wasClean = event.wasClean));
    await until('close', () => ws.readyState === 3);
    // The close event carries the server's answer: our code echoed, without a reason (RFC 6455 §5.5.1).
    assert.deepEqual(log, ['open', 'close 4000 ']);
    assert.equal(wasClean, true);
  });

  it('onopen/onmessage/onclose handlers and listeners stay attached across connections', async () => {
    const s = await server();
    const ws = client(s.url);
    const seen: string[] = [];
    ws.onopen = () => seen.push('onopen');
    ws.onmessage = (event) => seen.push(`onmessage ${String(event.data)}`);
    ws.onclose = (event) => seen.push(`onclose ${event.code}`);
    ws.onerror = () => seen.push('onerror');
    assert.equal(typeof ws.onopen, 'function');
    await until('open', () => seen.includes('onopen'));
    ws.send('one');
    await until('one', () => seen.includes('onmessage one'));
    s.sockets[0]!.close(1012);
    await until('second open', () => seen.filter((e) => e === 'onopen').length === 2);
    ws.send('two');
    await until('two', () => seen.includes('onmessage two'));
    ws.close();
    await until('close', () => ws.readyState === 3);
    assert.deepEqual(seen, ['onopen', 'onmessage one', 'onopen', 'onmessage two', 'onclose 1005']);
  });

  it('binaryType applies to every connection; messages are MessageEvents; reconnected is a ReconnectedEvent', async () => {
    const s = await server();
    const ws = client(s.url);
    ws.binaryType = 'arraybuffer';
    const kinds: string[] = [];
    ws.addEventListener('message', (event) => {
      assert.ok(event instanceof MessageEvent);
      kinds.push(event.data instanceof ArrayBuffer ? 'arraybuffer' : typeof event.data);
    });
    let reconnected: Event | null = null;
    ws.addEventListener('reconnected', (event) => (reconnected = event));
    await until('open', () => ws.readyState === 1);
    s.sockets[0]!.send(Buffer.from([1, 2]));
    await until('binary', () => kinds.length === 1);
    s.sockets[0]!.close(1001);
    await until('reconnected', () => reconnected !== null);
    assert.ok(reconnected! instanceof ReconnectedEvent);
    s.sockets[1]!.send(Buffer.from([3]));
    await until('binary', () => kinds.length === 2);
    assert.deepEqual(kinds, ['arraybuffer', 'arraybuffer']);
  });

  it('connectOptions reach fullduplex/web on every connection; another WebSocket class can be given', async () => {
    const s = await server();
    const headers: string[] = [];
    s.wss!.on('connection', (_ws, request) => headers.push(String(request.headers['x-token'])));
    const ws = client(s.url, { connectOptions: { headers: { 'x-token': 'secret' } } });
    await until('open', () => ws.readyState === 1);
    s.sockets[0]!.close(1012);
    await until('second connection', () => headers.length === 2);
    assert.deepEqual(headers, ['secret', 'secret']);

    let made = 0;
    const Counting = class extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        made++;
        super(url, protocols);
      }
    };
    const other = client(s.url, { WebSocket: Counting });
    await until('open', () => other.readyState === 1);
    assert.equal(made, 1);
  });
});
