/**
 * `WebSocketStream` and `WebSocketError` (src/web) against the project's `WebSocketServer` on
 * 127.0.0.1: each scenario (test/helpers/web-stream-scenarios.ts, the same code Chromium runs in
 * test/web/websocket-stream-chromium.test.ts) runs on ours and on undici's (`NativeWebSocketStream`)
 * and the recorded results must match, unless docs/web-api.md ("WebSocketStream" table) lists the
 * difference with its reason. Then what only we have: `toWebSocketStream` over an accepted
 * connection, Node client options.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { WebSocket as NodeWebSocket } from '../../src/node/index.js';
import { WebSocketStream, WebSocketError, toWebSocketStream } from '../../src/web/index.js';
import { NativeWebSocketStream, NativeWebSocketError } from '../helpers/web-oracle.js';
import { assertSameOrDocumented } from '../helpers/web-differences.js';
import { within } from '../helpers/node.js';
import { scaled } from '../helpers/time.js';
import { StreamServers, runStreamScenario, type StreamScenarioId } from '../helpers/web-stream-scenarios.js';

// undici warns once that its WebSocketStream is experimental: keep the test output clean.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if ((warning as { code?: string }).code !== 'UNDICI-WSS') console.warn(warning);
});

const SCENARIO_TIMEOUT = scaled(10_000);

let servers: StreamServers;
let base: string;

before(async () => {
  servers = await new StreamServers().start();
  base = servers.wsOrigin;
});

after(() => servers.stop());

/** One scenario on one implementation. */
function run(client: 'ours' | 'undici', id: StreamScenarioId): Promise<unknown> {
  const [Stream, Error] = client === 'ours' ? [WebSocketStream, WebSocketError] : [NativeWebSocketStream, NativeWebSocketError];
  const env = { ...servers.targets(client, SCENARIO_TIMEOUT), Stream, Error, server: servers.answer };
  return within(runStreamScenario(env, id), `${id} (${client})`, 2 * SCENARIO_TIMEOUT);
}

/** Run a scenario on both implementations (one after the other) and compare what they recorded; ours is returned. */
async function compare(id: StreamScenarioId): Promise<unknown> {
  const ours = await run('ours', id);
  const theirs = await run('undici', id);
  assertSameOrDocumented(id, ours, theirs);
  return ours;
}

async function differential(id: StreamScenarioId): Promise<void> {
  await compare(id);
}

// --- differential scenarios --------------------------------------------------------------------------

describe('WebSocketStream, differential against undici', () => {
  it('echoes text as strings and binary as Uint8Array, in order', () => differential('stream-echo'));

  it('reports the subprotocol and the extensions the server selected in opened', () => differential('stream-open-info'));

  it('fails the connection when subprotocols were requested and the server selected none', () => differential('stream-no-subprotocol'));

  for (const [id, label, expectedOnServer] of [
    ['stream-close-a', 'a code and a reason', [4001, 'bye']],
    ['stream-close-reason', 'a reason only (sent with 1000)', [1000, 'just because']],
    ['stream-close-nothing', 'nothing (an empty close frame)', [1005, '']],
  ] as const) {
    it(`close() with ${label}: the server sees them and closed resolves with its answer`, async () => {
      const ours = (await compare(id)) as { server: unknown };
      assert.deepEqual(ours.server, expectedOnServer);
    });
  }

  it('close() checks its argument: code 1000 or 3000-4999, reason at most 123 bytes, an object', () => differential('stream-close-checks'));

  it('the server closes: the readable ends, writes fail, closed resolves with its code and reason', () => differential('stream-server-close'));

  it('the server drops the connection: opened resolved, closed and both streams error with WebSocketError 1006', () =>
    differential('stream-server-terminate'));

  it('a connection that fails rejects opened and closed with WebSocketErrors', () => differential('stream-refused'));

  it('close() during the handshake rejects opened and closed with WebSocketErrors', () => differential('stream-close-connecting'));

  it('an already aborted signal rejects opened and closed with its reason, and nothing connects', () => differential('stream-abort-before'));

  it('aborting during the handshake rejects both promises with the reason and drops the connection', () => differential('stream-abort-connecting'));

  it('aborting after the connection is established does nothing', () => differential('stream-abort-after'));

  /** What closing using each kind of reason does: a WebSocketError's code and reason, else an empty close frame. */
  const CLOSED_USING_REASONS = [
    { done: {}, closed: { resolved: { closeCode: 4000, reason: '' } }, server: [4000, 'r'] },
    { done: {}, closed: { resolved: { closeCode: 1000, reason: '' } }, server: [1000, 'only a reason'] },
    { done: {}, closed: { resolved: { closeCode: 1005, reason: '' } }, server: [1005, ''] },
    { done: {}, closed: { resolved: { closeCode: 1005, reason: '' } }, server: [1005, ''] },
  ];

  it('writer.abort(WebSocketError) closes with its code and reason; other reasons close without a code', async () => {
    assert.deepEqual(await compare('stream-writer-abort'), CLOSED_USING_REASONS);
  });

  it('readable.cancel(WebSocketError) closes with its code and reason, as writer.abort does', async () => {
    // Not differential: undici 7 throws from its socket's close listener after a cancel (it closes the
    // readable's controller a second time), an uncaught exception. The standard gives both "close using
    // reason"; Chromium does (test/web/websocket-stream-chromium.test.ts).
    assert.deepEqual(await run('ours', 'stream-readable-cancel'), CLOSED_USING_REASONS);
  });

  it('closing the writable closes the connection; its promise waits for the closing handshake', () => differential('stream-writer-close'));

  it('a chunk that is neither a string nor a BufferSource is written as its string', () => differential('stream-write-number'));

  it('the constructor checks its arguments as the standard says', () => differential('stream-constructor-checks'));
});

describe('WebSocketError, differential against undici', () => {
  it('is a DOMException named WebSocketError with the standard constructor checks', () => differential('stream-error-constructor'));
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
    assert.deepEqual(await servers.lastClose(), [4005, 'done']);
  });

  it('toWebSocketStream: opened, closed and close() on the server side', async () => {
    const accepted = once(servers.wss, 'connection') as Promise<[NodeWebSocket, IncomingMessage]>;
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
    assert.equal(servers.requests.at(-1)!.headers['x-token'], 'abc');
    stream.close();
    await stream.closed;
    assert.throws(() => new WebSocketStream(`${base}/echo`, {}, { readableHighWaterMark: -1 }), RangeError);
  });

  it('resolves a relative URL against baseURL, as the WebSocket class does', async () => {
    const stream = new WebSocketStream('echo?x=1', {}, { baseURL: `${base.replace('ws:', 'http:')}/app/` });
    assert.equal(stream.url, `${base}/app/echo?x=1`);
    await stream.opened;
    assert.equal(servers.requests.at(-1)!.url, '/app/echo?x=1');
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
