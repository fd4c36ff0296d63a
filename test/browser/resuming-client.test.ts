/**
 * ResumingWebSocket (src/browser/resuming-client.ts) on Node, over fullduplex/web's `WebSocket` (passed
 * as `options.WebSocket`, as the browser build uses the browser's own), against the fake resume server
 * (test/helpers/resume-peer.ts). The same class runs in Chromium in test/e2e/resuming-browser.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from '../../src/web/index.js';
import {
  ReconnectedEvent,
  ReconnectingEvent,
  ResumeError,
  ResumeErrorEvent,
  ResumeMessageEvent,
  ResumingWebSocket,
  type ResumingWebSocketOptions,
} from '../../src/browser/index.js';
import type { ResumePeer } from '../helpers/resume-peer.js';
import { messages, startPeer, subs } from '../helpers/resume-peer-kit.js';
import { cleanupAfterEach, pollUntil as until } from '../helpers/wait.js';

const FAST = { initialDelay: 10, maxDelay: 50, factor: 2, jitter: 0 } as const;

/** Every event of a ResumingWebSocket, in order, as short strings. */
function record(ws: ResumingWebSocket): string[] {
  const log: string[] = [];
  ws.addEventListener('open', () => log.push('open'));
  ws.addEventListener('reconnecting', (event) => log.push(`reconnecting ${event.detail.attempt} ${event.detail.code}${event instanceof ReconnectingEvent ? '' : ' (not a ReconnectingEvent)'}`));
  ws.addEventListener('reconnected', (event) => log.push(`reconnected${event instanceof ReconnectedEvent ? '' : ' (not a ReconnectedEvent)'}`));
  ws.addEventListener('subscribed', ({ detail: d }) => log.push(`subscribed ${d.topic} ${d.epoch}:${d.offset} replay ${d.replay} gap ${String(d.gap)}`));
  ws.addEventListener('message', (event) => {
    const d = event.detail;
    const data = typeof d.data === 'string' ? d.data : `0x${Buffer.from(d.data).toString('hex')}`;
    log.push(`message ${d.topic} ${data} ${d.epoch}:${d.offset}${d.replayed ? ' replayed' : ''}${event instanceof ResumeMessageEvent ? '' : ' (not a ResumeMessageEvent)'}`);
  });
  ws.addEventListener('gap', ({ detail: d }) => log.push(`gap ${d.topic} ${d.reason} ${d.epoch}:${d.offset}`));
  ws.addEventListener('unsubscribed', ({ detail: d }) => log.push(`unsubscribed ${d.topic}`));
  ws.addEventListener('refused', ({ detail: d }) => log.push(`refused ${String(d.topic)} ${d.code}`));
  ws.addEventListener('acked', ({ detail: d }) => log.push(`acked ${d.seq}`));
  ws.addEventListener('error', (event) => log.push(`error ${event instanceof ResumeErrorEvent ? (event.error?.code ?? 'connection') : '(not a ResumeErrorEvent)'}`));
  ws.addEventListener('close', (event) => log.push(`close ${event.code} ${event.reason}`));
  return log;
}

describe('ResumingWebSocket (the browser build, on Node over fullduplex/web)', () => {
  const cleanup = cleanupAfterEach();
  const peer = (): Promise<ResumePeer> => startPeer(cleanup);

  function client(url: string, options: ResumingWebSocketOptions = {}): { ws: ResumingWebSocket; log: string[] } {
    const ws = new ResumingWebSocket(url, { reconnect: FAST, WebSocket, ...options });
    const log = record(ws);
    cleanup.push(async () => {
      if (ws.readyState === 3) return;
      const closed = new Promise((resolve) => ws.addEventListener('close', resolve, { once: true }));
      ws.close();
      await closed;
    });
    return { ws, log };
  }

  it('has the EventTarget surface and offers fullduplex.resume.v1', async () => {
    const p = await peer();
    const { ws, log } = client(p.url);
    assert.ok(ws instanceof EventTarget);
    assert.deepEqual([ResumingWebSocket.CONNECTING, ResumingWebSocket.OPEN, ResumingWebSocket.CLOSING, ResumingWebSocket.CLOSED], [0, 1, 2, 3]);
    assert.deepEqual([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED], [0, 1, 2, 3]);
    assert.equal(ws.readyState, 0);
    assert.equal(ws.url, p.url);
    const connection = await p.connection(0);
    assert.equal(connection.ws.protocol, 'fullduplex.resume.v1');
    await until('open', () => log.includes('open'));
    assert.equal(ws.readyState, 1);
    await p.until('the hello', () => connection.log.length > 0);
    assert.deepEqual(JSON.parse(connection.log[0]!), { t: 'hello', v: 1, session: ws.session });
  });

  it('keeps receiving across a server-side drop: resubscribes from the last positions, no duplicate, no hole', async () => {
    const p = await peer();
    p.publish('news', 'old');
    const { ws, log } = client(p.url);
    ws.subscribe('news', { from: 'start' });
    ws.subscribe('bin');
    await until('subscribed', () => log.filter((e) => e.startsWith('subscribed')).length === 2);
    p.publish('news', 'n2');
    p.publish('bin', Uint8Array.of(1, 2));
    await until('live', () => messages(log).length === 3);
    p.connections[0]!.drop();
    p.publish('news', 'n3');
    p.publish('bin', Uint8Array.of(3));
    const second = await p.connection(1);
    await until('the replay', () => messages(log).length === 5);
    p.publish('news', 'n4');
    await until('live again', () => messages(log).length === 6);
    assert.deepEqual(
      subs(second).map((sub) => (sub as { from: unknown }).from),
      [
        { epoch: 'e1', offset: 2 },
        { epoch: 'e1', offset: 1 },
      ],
    );
    assert.deepEqual(messages(log), [
      'message news old e1:1 replayed',
      'message news n2 e1:2',
      'message bin 0x0102 e1:1',
      'message news n3 e1:3 replayed',
      'message bin 0x03 e1:2 replayed',
      'message news n4 e1:4',
    ]);
    assert.ok(log.includes('reconnecting 1 1006'), log.join('\n'));
    assert.ok(log.includes('reconnected'), log.join('\n'));
    assert.ok(!log.some((e) => e.includes('(not a')), log.join('\n'));
    assert.deepEqual(ws.positions(), { news: { epoch: 'e1', offset: 4 }, bin: { epoch: 'e1', offset: 2 } });
  });

  it('tells every hole as gap: history trimmed while away, a new epoch while live', async () => {
    const p = await peer();
    const { ws, log } = client(p.url);
    ws.subscribe('t', { from: { epoch: 'e1', offset: 0 } });
    await until('subscribed', () => log.some((e) => e.startsWith('subscribed')));
    p.publish('t', '1');
    await until('1', () => messages(log).length === 1);
    await p.stop();
    for (let i = 2; i <= 6; i++) p.publish('t', String(i));
    p.trim('t', 2);
    await p.listen();
    await until('the trimmed replay', () => messages(log).length === 3);
    p.newEpoch('t', 'e2');
    p.publish('t', 'x');
    await until('x', () => messages(log).length === 4);
    assert.deepEqual(
      log.filter((e) => e.startsWith('gap') || e.startsWith('message')),
      ['message t 1 e1:1', 'gap t trimmed e1:4', 'message t 5 e1:5 replayed', 'message t 6 e1:6 replayed', 'gap t epoch e2:0', 'message t x e2:1'],
    );
  });

  it('sends are idempotent: re-sent with the same seq after a drop, freed by the ack; bounded by maxUnacked', async () => {
    const p = await peer();
    p.autoAck = false;
    const { ws, log } = client(p.url, { maxUnacked: 3 });
    assert.equal(ws.send('a'), 1);
    await until('open', () => log.includes('open'));
    assert.equal(ws.send(Uint8Array.of(0xff)), 2);
    assert.equal(ws.send(new ArrayBuffer(2)), 3);
    assert.throws(() => ws.send('d'), (error: unknown) => error instanceof ResumeError && error.code === 'FD_ERR_RESUME_UNACKED_FULL');
    await until('the sends', () => p.sends.length === 3);
    p.connections[0]!.ack(1);
    await until('acked 1', () => log.includes('acked 1'));
    assert.equal(ws.unacked, 2);
    p.connections[0]!.drop();
    const second = await p.connection(1);
    await until('the re-sends', () => p.sends.length === 5);
    assert.deepEqual(second.log.slice(1), ['send 2 0xff', 'send 3 0x0000']);
    assert.deepEqual(
      p.applied.map((send) => send.seq),
      [1, 2, 3],
    );
    second.ack(3);
    await until('acked 3', () => log.includes('acked 3'));
    assert.equal(ws.unacked, 0);
  });

  it('a server that does not select the subprotocol: the WHATWG WebSocket fails the handshake, so it is a failed attempt (retried per policy)', async () => {
    // WHATWG WebSockets / Fetch "establish a WebSocket connection": protocols were offered and the
    // response selects none → fail the connection (error, close 1006), as browsers do.
    const p = await peer();
    p.select = false;
    const { ws, log } = client(p.url, { reconnect: { ...FAST, maxRetries: 1 } });
    await until('close', () => ws.readyState === 3);
    assert.deepEqual(log, ['error connection', 'reconnecting 1 1006', 'error connection', 'close 1006 ']);
    assert.equal(p.connections.length, 2);
  });

  it('a WebSocket class that lets the handshake through without the subprotocol: error (FD_ERR_RESUME_NOT_SELECTED), then close, no other attempt', async () => {
    const p = await peer();
    p.select = false;
    // Offers nothing, so the server's answer without a subprotocol is accepted and `protocol` is "".
    const Lenient = function (url: string) {
      return new WebSocket(url);
    } as unknown as typeof WebSocket;
    const { ws, log } = client(p.url, { WebSocket: Lenient });
    let error: ResumeError | null = null;
    ws.addEventListener('error', (event) => (error = event.error));
    await until('close', () => ws.readyState === 3);
    assert.deepEqual(log, ['error FD_ERR_RESUME_NOT_SELECTED', 'close 1000 ']);
    assert.match(String((error as ResumeError | null)?.message), /did not select the subprotocol fullduplex\.resume\.v1 \(it selected none\)/);
    await p.until('the close', () => p.connections[0]!.closed !== null);
    assert.deepEqual(p.connections[0]!.closed, { code: 1000, reason: 'FD_ERR_RESUME_NOT_SELECTED' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(p.connections.length, 1);
    assert.throws(() => ws.send('x'), (e: unknown) => e instanceof DOMException && e.name === 'InvalidStateError');
  });

  it('a protocol violation: error with the ResumeError, that connection closed (1000, the code as reason), then it resumes', async () => {
    const p = await peer();
    p.publish('t', 'a');
    const { ws, log } = client(p.url);
    ws.subscribe('t', { from: 'start' });
    await until('a', () => messages(log).length === 1);
    p.connections[0]!.data(p.topic('t'), 3, 'skipped');
    await p.until('the close', () => p.connections[0]!.closed !== null);
    assert.deepEqual(p.connections[0]!.closed, { code: 1000, reason: 'FD_ERR_RESUME_UNREPORTED_GAP' });
    const second = await p.connection(1);
    await until('resubscribed', () => subs(second).length === 1);
    assert.deepEqual((subs(second)[0] as { from: unknown }).from, { epoch: 'e1', offset: 1 });
    p.publish('t', 'b');
    await until('b', () => messages(log).length === 2);
    assert.deepEqual(log, [
      'open',
      'subscribed t e1:0 replay 1 gap null',
      'message t a e1:1 replayed',
      'error FD_ERR_RESUME_UNREPORTED_GAP',
      'reconnecting 1 1000',
      'open',
      'reconnected',
      'subscribed t e1:1 replay 0 gap null',
      'message t b e1:2',
    ]);
  });

  it('refuses bad options and arguments with clear errors', async () => {
    const p = await peer();
    assert.throws(() => new ResumingWebSocket(p.url, { WebSocket, reconnect: { queue: false } as never }), /reconnect\.queue does not apply/);
    assert.throws(() => new ResumingWebSocket(p.url, { WebSocket, maxUnackedBytes: 1.5 }), /maxUnackedBytes/);
    const { ws } = client(p.url);
    assert.throws(() => ws.subscribe(''), TypeError);
    assert.throws(() => ws.send(null as never), /send takes a string \(text\) or bytes/);
    assert.throws(() => ws.close(1002), (e: unknown) => e instanceof DOMException && e.name === 'InvalidAccessError');
    assert.equal(ws.readyState, 0, 'a refused close() does not close');
  });
});
