/**
 * `WebSocketStream` scenarios, written once as plain JavaScript source so that the very same code runs
 * on fullduplex/web and undici in Node and on the browser's own `WebSocketStream` in a Chromium page
 * (as test/helpers/web-events.ts does for the `WebSocket` class), and the servers they talk to.
 *
 * A scenario is `async (env) => result`: it uses only `env` (the classes under test, the URLs to
 * connect to, and asynchronous questions to the servers) and returns a plain value, which
 * `runStreamScenario` passes through JSON (so Node and the page record exactly the same shape: an
 * `undefined` member disappears on both). Results never contain a port: URLs are recorded against
 * "ws://server".
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket as NodeWebSocket } from '../../src/node/index.js';
import { toWebSocketStream } from '../../src/web/index.js';
import { within } from './node.js';
import { scaled } from './time.js';

/** The ids of the scenarios in `STREAM_SCENARIOS_SOURCE`, in the order the tests run them. */
export const STREAM_SCENARIO_IDS = [
  'stream-echo',
  'stream-open-info',
  'stream-no-subprotocol',
  'stream-close-a',
  'stream-close-reason',
  'stream-close-nothing',
  'stream-close-checks',
  'stream-server-close',
  'stream-server-terminate',
  'stream-refused',
  'stream-close-connecting',
  'stream-abort-before',
  'stream-abort-connecting',
  'stream-abort-after',
  'stream-writer-abort',
  'stream-readable-cancel',
  'stream-writer-close',
  'stream-write-number',
  'stream-constructor-checks',
  'stream-error-constructor',
] as const;

export type StreamScenarioId = (typeof STREAM_SCENARIO_IDS)[number];

/** Where a scenario connects, per client (the `fdtag` query makes each connection known to the servers). */
export interface StreamEnvTargets {
  /** The `WebSocketServer`'s origin, "ws://127.0.0.1:port". */
  wsOrigin: string;
  /** A TCP server that accepts and reads the upgrade request but never answers it. */
  silentOrigin: string;
  /** A port nobody listens on. */
  refusedOrigin: string;
  /** The name of the client, in every tag: "ours", "undici", "chromium". */
  client: string;
  /** How long a scenario may take before it is recorded as timed out (ms). */
  timeoutMs: number;
}

/**
 * The scenarios and their runner, as source. Defines `runStreamScenario(env, id)`; `env` holds
 * `Stream` and `Error` (the classes under test), the `StreamEnvTargets` members, and
 * `server(op, url)`: an async question to the servers about the connection made to `url` —
 * "close" (the close code and reason the server saw, `[code, reason]`), "connected" (whether a
 * request reached the server), "accepted" (the silent server read its request), "dropped" (the
 * silent server's socket closed; true).
 */
export const STREAM_SCENARIOS_SOURCE = String.raw`
function tagged(env, origin, path, tag) {
  return origin + path + (path.includes('?') ? '&' : '?') + 'fdtag=' + env.client + '.' + tag;
}
function tidy(env, url) {
  return String(url).split(env.wsOrigin).join('ws://server').replace(/[?&]fdtag=[^&]*/, '');
}
function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

/** A rejection or exception as the scenarios compare it: its name, its class, its close code and reason. */
function describeError(env, error) {
  if (!(error instanceof Error) && !(error instanceof DOMException)) return { value: String(error) };
  const described = { name: error.name, isWebSocketError: error instanceof env.Error };
  if ('closeCode' in error) described.closeCode = error.closeCode;
  if ('reason' in error) described.reason = error.reason;
  return described;
}
async function settle(env, promise, map) {
  try {
    const value = await promise;
    return { resolved: map ? map(value) : value };
  } catch (error) {
    return { rejected: describeError(env, error) };
  }
}
function attempt(env, action) {
  try {
    action();
    return 'ok';
  } catch (error) {
    return describeError(env, error);
  }
}
/** A chunk as the scenarios compare it: its type and content. */
function describeChunk(chunk) {
  if (typeof chunk === 'string') return { text: chunk };
  if (chunk instanceof Uint8Array) return { [Object.getPrototypeOf(chunk).constructor.name]: Array.from(chunk) };
  if (chunk instanceof ArrayBuffer) return { ArrayBuffer: Array.from(new Uint8Array(chunk)) };
  return { other: String(chunk) };
}

async function closeWith(env, tag, info) {
  const url = tagged(env, env.wsOrigin, '/echo', tag);
  const stream = new env.Stream(url);
  await stream.opened;
  stream.close(info);
  const closed = await settle(env, stream.closed);
  const server = await env.server('close', url);
  return { closed, server };
}

/** Abort the writable or cancel the readable with each kind of reason; what closed and the server saw. */
async function closeUsingReasons(env, how) {
  const results = [];
  const reasons = [
    new env.Error('x', { closeCode: 4000, reason: 'r' }),
    new env.Error('', { reason: 'only a reason' }),
    Object.assign(new DOMException('look-alike', 'DataCloneError'), { closeCode: 4001, reason: 'ignored' }),
    undefined,
  ];
  for (let i = 0; i < reasons.length; i++) {
    const url = tagged(env, env.wsOrigin, '/echo', how + i);
    const stream = new env.Stream(url);
    const { readable, writable } = await stream.opened;
    const done = how === 'abort' ? writable.getWriter().abort(reasons[i]) : readable.cancel(reasons[i]);
    results.push({ done: await settle(env, done), closed: await settle(env, stream.closed), server: await env.server('close', url) });
  }
  return results;
}

const scenarios = {
  async 'stream-echo'(env) {
    const stream = new env.Stream(tagged(env, env.wsOrigin, '/echo', 'echo'));
    const { readable, writable } = await stream.opened;
    const writer = writable.getWriter();
    const reader = readable.getReader();
    const sent = ['héllo', new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6, 7]).subarray(1, 3), new Uint8Array([8, 9]).buffer, '', new Uint8Array(0)];
    const writes = await Promise.all(sent.map((chunk) => settle(env, writer.write(chunk))));
    const received = [];
    for (let i = 0; i < sent.length; i++) received.push(describeChunk((await reader.read()).value));
    stream.close();
    const closed = await settle(env, stream.closed);
    return { url: tidy(env, stream.url), writes, received, closed };
  },

  async 'stream-open-info'(env) {
    const stream = new env.Stream(tagged(env, env.wsOrigin, '/info', 'info'), { protocols: ['chat', 'other'] });
    const info = await stream.opened;
    const result = { keys: Object.keys(info), protocol: info.protocol, extensions: info.extensions, readable: info.readable instanceof ReadableStream, writable: info.writable instanceof WritableStream };
    stream.close();
    await stream.closed;
    return result;
  },

  async 'stream-no-subprotocol'(env) {
    const stream = new env.Stream(tagged(env, env.wsOrigin, '/none', 'none'), { protocols: ['none'] });
    return { opened: await settle(env, stream.opened, () => 'open'), closed: await settle(env, stream.closed) };
  },

  'stream-close-a': (env) => closeWith(env, 'close-a', { closeCode: 4001, reason: 'bye' }),
  'stream-close-reason': (env) => closeWith(env, 'close-reason', { reason: 'just because' }),
  'stream-close-nothing': (env) => closeWith(env, 'close-nothing', undefined),

  async 'stream-close-checks'(env) {
    const stream = new env.Stream(tagged(env, env.wsOrigin, '/echo', 'close-checks'));
    await stream.opened;
    const results = [999, 1001, 2999, 5000, 65536, -1, NaN].map((closeCode) => attempt(env, () => stream.close({ closeCode })));
    results.push(attempt(env, () => stream.close({ reason: 'x'.repeat(124) })));
    results.push(attempt(env, () => stream.close(true)));
    stream.close({ closeCode: 3000.9, reason: 'truncated' });
    const closed = await settle(env, stream.closed);
    return { results, closed };
  },

  async 'stream-server-close'(env) {
    const stream = new env.Stream(tagged(env, env.wsOrigin, '/server-close', 'server-close'));
    const { readable, writable } = await stream.opened;
    const closed = await settle(env, stream.closed);
    const read = await readable.getReader().read();
    const write = await settle(env, writable.getWriter().write('late'));
    return { closed, read, write };
  },

  async 'stream-server-terminate'(env) {
    const stream = new env.Stream(tagged(env, env.wsOrigin, '/server-terminate', 'server-terminate'));
    const { readable, writable } = await stream.opened;
    const closed = await settle(env, stream.closed);
    const read = await settle(env, readable.getReader().read());
    const write = await settle(env, writable.getWriter().write('late'));
    return { closed, read, write };
  },

  async 'stream-refused'(env) {
    const stream = new env.Stream(tagged(env, env.refusedOrigin, '/', 'refused'));
    return { opened: await settle(env, stream.opened), closed: await settle(env, stream.closed) };
  },

  async 'stream-close-connecting'(env) {
    const stream = new env.Stream(tagged(env, env.wsOrigin, '/echo', 'close-connecting'));
    stream.close();
    return { opened: await settle(env, stream.opened), closed: await settle(env, stream.closed) };
  },

  async 'stream-abort-before'(env) {
    const url = tagged(env, env.wsOrigin, '/echo', 'abort-before');
    const controller = new AbortController();
    const reason = new Error('stop');
    controller.abort(reason);
    const stream = new env.Stream(url, { signal: controller.signal });
    const opened = await stream.opened.then(() => 'open', (error) => (error === reason ? 'the reason' : describeError(env, error)));
    const closed = await stream.closed.then(() => 'closed', (error) => (error === reason ? 'the reason' : describeError(env, error)));
    // Wait a moment for a connection that should not come.
    await sleep(100);
    return { opened, closed, url: tidy(env, stream.url), connected: await env.server('connected', url) };
  },

  async 'stream-abort-connecting'(env) {
    const url = tagged(env, env.silentOrigin, '/', 'abort-connecting');
    const controller = new AbortController();
    const stream = new env.Stream(url, { signal: controller.signal });
    await env.server('accepted', url);
    controller.abort();
    const opened = await settle(env, stream.opened);
    const closed = await settle(env, stream.closed);
    return { opened, closed, dropped: await env.server('dropped', url) };
  },

  async 'stream-abort-after'(env) {
    const controller = new AbortController();
    const stream = new env.Stream(tagged(env, env.wsOrigin, '/echo', 'abort-after'), { signal: controller.signal });
    const { readable, writable } = await stream.opened;
    controller.abort();
    await writable.getWriter().write('still here');
    const echoed = await readable.getReader().read();
    stream.close({ closeCode: 1000 });
    return { echoed, closed: await settle(env, stream.closed) };
  },

  'stream-writer-abort': (env) => closeUsingReasons(env, 'abort'),
  'stream-readable-cancel': (env) => closeUsingReasons(env, 'cancel'),

  async 'stream-writer-close'(env) {
    const url = tagged(env, env.wsOrigin, '/echo', 'writer-close');
    const stream = new env.Stream(url);
    const { readable, writable } = await stream.opened;
    const events = [];
    const writer = writable.getWriter();
    const closing = writer.close().then(() => events.push('writer closed'), () => events.push('writer close rejected'));
    const closed = stream.closed.then((info) => {
      events.push('closed');
      return info;
    });
    await Promise.all([closing, closed]);
    const read = await readable.getReader().read();
    return { events: events.sort(), closed: await closed, read, server: await env.server('close', url) };
  },

  async 'stream-write-number'(env) {
    const stream = new env.Stream(tagged(env, env.wsOrigin, '/echo', 'write-number'));
    const { readable, writable } = await stream.opened;
    const write = await settle(env, writable.getWriter().write(42));
    const read = 'resolved' in write ? describeChunk((await readable.getReader().read()).value) : null;
    stream.close();
    await settle(env, stream.closed);
    return { write, read };
  },

  async 'stream-constructor-checks'(env) {
    const base = env.wsOrigin;
    const cases = [
      ['no arguments', () => new env.Stream()],
      ['relative URL', () => new env.Stream('/path')],
      ['ftp scheme', () => new env.Stream('ftp://127.0.0.1/')],
      ['fragment', () => new env.Stream(base + '/#frag')],
      ['duplicate protocols', () => new env.Stream(base + '/', { protocols: ['a', 'a'] })],
      ['duplicate protocols differing in case', () => new env.Stream(base + '/', { protocols: ['echo', 'eCho'] })],
      ['invalid protocol', () => new env.Stream(base + '/', { protocols: ['a b'] })],
      ['protocols as a string', () => new env.Stream(base + '/', { protocols: 'chat' })],
      ['options not an object', () => new env.Stream(base + '/', 5)],
      ['signal not a signal', () => new env.Stream(base + '/', { signal: {} })],
    ];
    const results = {};
    // A stream that was made is closed at once (its connection fails: nothing is left behind).
    for (const [label, make] of cases) results[label] = attempt(env, () => make().close());
    // http maps to ws.
    const mapped = new env.Stream(base.replace('ws:', 'http:') + '/path?q');
    results['http url'] = tidy(env, mapped.url);
    await mapped.opened;
    mapped.close();
    await mapped.closed;
    return results;
  },

  async 'stream-error-constructor'(env) {
    const results = [];
    const inits = [[], ['message'], ['m', { closeCode: 1000 }], ['m', { closeCode: 3000, reason: 'r' }], ['m', { reason: 'no code' }],
      ['m', { closeCode: 1001 }], ['m', { closeCode: 5000 }], ['m', { closeCode: 70000 }], ['m', { reason: 'é'.repeat(62) }], ['m', null], ['m', 5]];
    for (const args of inits) {
      try {
        const error = new env.Error(...args);
        results.push({ name: error.name, message: error.message, code: error.code, closeCode: error.closeCode, reason: error.reason,
          isDOMException: error instanceof DOMException, tag: Object.prototype.toString.call(error) });
      } catch (error) {
        results.push(describeError(env, error));
      }
    }
    return results;
  },
};

/** Run one scenario; its result through JSON, or { timedOut } when it did not finish within env.timeoutMs. */
async function runStreamScenario(env, id) {
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve({ timedOut: id }), env.timeoutMs); });
  try {
    const result = await Promise.race([scenarios[id](env), timeout]);
    return JSON.parse(JSON.stringify(result === undefined ? null : result));
  } catch (error) {
    return { threw: describeError(env, error), message: String(error && error.message) };
  } finally {
    clearTimeout(timer);
  }
}
`;

/** What a scenario gets: the classes under test, the targets, and the servers' answers. */
export interface StreamEnv extends StreamEnvTargets {
  Stream: unknown;
  Error: unknown;
  server(op: 'close' | 'connected' | 'accepted' | 'dropped', url: string): Promise<unknown>;
}

/** `runStreamScenario`, compiled in this process (for the Node implementations). */
export const runStreamScenario = new Function(`${STREAM_SCENARIOS_SOURCE}; return runStreamScenario;`)() as (
  env: StreamEnv,
  id: StreamScenarioId,
) => Promise<unknown>;

// --- the servers -------------------------------------------------------------------------------------

/** The request target of `url` (path and query), as a server sees it. */
function targetOf(url: string): string {
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
}

/** A map of promises keyed by request target, resolvable before or after someone waits. */
class Board<T> {
  readonly #entries = new Map<string, { promise: Promise<T>; resolve: (value: T) => void }>();
  #entry(key: string): { promise: Promise<T>; resolve: (value: T) => void } {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      let resolve!: (value: T) => void;
      const promise = new Promise<T>((res) => (resolve = res));
      entry = { promise, resolve };
      this.#entries.set(key, entry);
    }
    return entry;
  }
  set(key: string, value: T): void {
    this.#entry(key).resolve(value);
  }
  get(key: string): Promise<T> {
    return this.#entry(key).promise;
  }
  has(key: string): boolean {
    return this.#entries.has(key);
  }
}

/**
 * The servers the scenarios talk to: our `WebSocketServer` (permessage-deflate on; it selects "chat"
 * when offered, none when "none" is offered, else the first; `/server-close` closes with 4002
 * "server done", `/server-terminate` drops the connection, `/stream` echoes through
 * `toWebSocketStream`, anything else echoes), a silent TCP server, and a refused port.
 */
export class StreamServers {
  wss!: WebSocketServer;
  silent!: Server;
  refusedPort = 0;
  /** Every upgrade request the `WebSocketServer` accepted, in order. */
  readonly requests: IncomingMessage[] = [];
  /** Per connection, in order: the close code and reason the server saw. */
  readonly closes: Array<Promise<[number, string]>> = [];
  readonly #closeByTarget = new Board<[number, string]>();
  readonly #accepted = new Board<Socket>();
  readonly #silentSockets = new Set<Socket>();

  async start(): Promise<this> {
    this.wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      heartbeat: false,
      perMessageDeflate: true,
      handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : protocols.has('none') ? false : ([...protocols][0] ?? false)),
    });
    await once(this.wss, 'listening');
    this.wss.on('connection', (ws, request) => this.#onConnection(ws, request));
    this.silent = createServer((socket) => this.#onSilent(socket));
    this.silent.listen(0, '127.0.0.1');
    await once(this.silent, 'listening');
    // A port nobody listens on: take one, then close it.
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    this.refusedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    return this;
  }

  get wsOrigin(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  /** The targets for one client. */
  targets(client: string, timeoutMs: number): StreamEnvTargets {
    return {
      wsOrigin: this.wsOrigin,
      silentOrigin: `ws://127.0.0.1:${(this.silent.address() as AddressInfo).port}`,
      refusedOrigin: `ws://127.0.0.1:${this.refusedPort}`,
      client,
      timeoutMs,
    };
  }

  /** The scenarios' questions to the servers (see `STREAM_SCENARIOS_SOURCE`). */
  readonly answer = async (op: string, url: string): Promise<unknown> => {
    const target = targetOf(url);
    switch (op) {
      case 'close':
        return within(this.#closeByTarget.get(target), `the server to see ${target} close`);
      case 'connected':
        return this.requests.some((request) => request.url === target);
      case 'accepted':
        await within(this.#accepted.get(target), `the silent server to read ${target}`);
        return true;
      case 'dropped': {
        const socket = await within(this.#accepted.get(target), `the silent server to read ${target}`);
        if (!socket.destroyed) await within(once(socket, 'close'), `the connection to ${target} to be dropped`, scaled(10_000));
        return true;
      }
      default:
        throw new Error(`StreamServers: unknown question ${op}`);
    }
  };

  /** The close code and reason the server saw on the last connection. */
  lastClose(): Promise<[number, string]> {
    return within(this.closes.at(-1)!, 'the server to see the close');
  }

  #onConnection(ws: NodeWebSocket, request: IncomingMessage): void {
    this.requests.push(request);
    const target = request.url ?? '/';
    const closed = new Promise<[number, string]>((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()])));
    this.closes.push(closed);
    void closed.then((value) => this.#closeByTarget.set(target, value));
    ws.on('error', () => undefined);
    if (target.startsWith('/server-close')) {
      ws.close(4002, 'server done');
      return;
    }
    if (target.startsWith('/server-terminate')) {
      ws.terminate();
      return;
    }
    if (target.startsWith('/stream')) {
      // The server side as streams: echo through toWebSocketStream.
      const stream = toWebSocketStream(ws);
      void stream.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => undefined);
      return;
    }
    ws.on('message', (data, isBinary) => {
      if (ws.readyState === 1) ws.send(data as Buffer, { binary: isBinary });
    });
  }

  /** Read the upgrade request, never answer it; known by its target. */
  #onSilent(socket: Socket): void {
    this.#silentSockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.#silentSockets.delete(socket));
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const line = head.indexOf('\r\n');
      if (line < 0) return;
      socket.off('data', onData);
      socket.resume(); // read (and drop) the rest, so that the client's FIN is seen
      this.#accepted.set(head.slice(0, line).split(' ')[1] ?? '/', socket);
    };
    socket.on('data', onData);
  }

  async stop(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    for (const socket of this.#silentSockets) socket.destroy();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.silent.close(() => resolve()));
  }
}
