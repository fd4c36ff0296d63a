/**
 * ResumingClient (src/node/resuming-client.ts) against a fake resume server (test/helpers/resume-peer.ts,
 * a real WebSocketServer speaking fullduplex.resume.v1 with the codec): positions kept across drops and
 * server restarts, replay without duplicates, every hole told as `gap`, idempotent sends re-sent with
 * their seq and freed by acks, a server that does not select the subprotocol, protocol violations.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HandshakeError, ResumingClient, ResumeError, type ReconnectingEvent, type ResumingClientOptions } from '../../src/index.js';
import { ResumingClient as NodeResumingClient } from '../../src/node/resuming-client.js';
import type { PeerConnection, ResumePeer } from '../helpers/resume-peer.js';
import { messages, startPeer, subs } from '../helpers/resume-peer-kit.js';
import { cleanupAfterEach, pollUntil as until } from '../helpers/wait.js';

const FAST = { initialDelay: 10, maxDelay: 50, factor: 2, jitter: 0 } as const;

/** Every event of a client, in order, as short strings. */
function record(client: ResumingClient): string[] {
  const log: string[] = [];
  client.on('open', () => log.push('open'));
  client.on('reconnecting', (event) => log.push(`reconnecting ${event.attempt} ${event.code}${event.error instanceof ResumeError ? ` ${event.error.code}` : ''}`));
  client.on('reconnected', () => log.push('reconnected'));
  client.on('subscribed', (topic, info) => log.push(`subscribed ${topic} ${info.epoch}:${info.offset} replay ${info.replay} gap ${String(info.gap)}`));
  client.on('message', (topic, data, info) => log.push(`message ${topic} ${typeof data === 'string' ? data : `0x${data.toString('hex')}`} ${info.epoch}:${info.offset}${info.replayed ? ' replayed' : ''}`));
  client.on('gap', (topic, info) => log.push(`gap ${topic} ${info.reason} ${info.epoch}:${info.offset}`));
  client.on('unsubscribed', (topic) => log.push(`unsubscribed ${topic}`));
  client.on('refused', (topic, refusal) => log.push(`refused ${String(topic)} ${refusal.code}`));
  client.on('acked', (seq) => log.push(`acked ${seq}`));
  client.on('error', (error) => log.push(`error ${error instanceof ResumeError ? error.code : error.message}`));
  client.on('close', (code, reason) => log.push(`close ${code} ${reason.toString()}`));
  return log;
}

describe('ResumingClient (Node)', () => {
  const cleanup = cleanupAfterEach();
  const peer = (): Promise<ResumePeer> => startPeer(cleanup);

  function client(url: string, options: ResumingClientOptions = {}): { client: ResumingClient; log: string[] } {
    const c = new ResumingClient(url, { reconnect: FAST, ...options });
    const log = record(c);
    cleanup.push(async () => {
      if (c.readyState !== 3) {
        const closed = new Promise((resolve) => c.once('close', resolve));
        c.close();
        await closed;
      }
    });
    return { client: c, log };
  }

  it('is exported from the main entry and offers fullduplex.resume.v1', async () => {
    assert.equal(ResumingClient, NodeResumingClient);
    const p = await peer();
    const { client: c, log } = client(p.url);
    const connection = await p.connection(0);
    assert.equal(connection.ws.protocol, 'fullduplex.resume.v1');
    await until('open', () => log.includes('open'));
    assert.equal(c.readyState, 1);
    assert.equal(c.url, p.url);
    await p.until('the hello', () => connection.log.length > 0);
    assert.deepEqual(JSON.parse(connection.log[0]!), { t: 'hello', v: 1, session: c.session });
  });

  it('subscribes from "start": the kept history is replayed (replayed: true), then live messages follow', async () => {
    const p = await peer();
    for (const text of ['a', 'b', 'c']) p.publish('news', text);
    const { client: c, log } = client(p.url);
    c.subscribe('news', { from: 'start' });
    assert.equal(c.position('news'), null);
    await until('the replay', () => messages(log).length === 3);
    p.publish('news', 'd');
    p.publish('news', Uint8Array.of(0xca, 0xfe));
    await until('live messages', () => messages(log).length === 5);
    assert.deepEqual(log, [
      'open',
      'subscribed news e1:0 replay 3 gap null',
      'message news a e1:1 replayed',
      'message news b e1:2 replayed',
      'message news c e1:3 replayed',
      'message news d e1:4',
      'message news 0xcafe e1:5',
    ]);
    assert.deepEqual(subs(p.connections[0]!), [{ t: 'sub', id: 1, topic: 'news', from: { epoch: null, offset: 0 } }]);
    assert.deepEqual(c.position('news'), { epoch: 'e1', offset: 5 });
    assert.deepEqual(c.positions(), { news: { epoch: 'e1', offset: 5 } });
    assert.deepEqual(c.topics, ['news']);
  });

  it('after a server-side drop it reconnects and resubscribes from the last position: what was missed is replayed, no duplicate, no hole', async () => {
    const p = await peer();
    const { client: c, log } = client(p.url);
    c.subscribe('news'); // live only
    c.subscribe('sport', { from: 'start' });
    await until('subscribed', () => log.filter((e) => e.startsWith('subscribed')).length === 2);
    p.publish('news', 'n1');
    p.publish('news', 'n2');
    p.publish('sport', 's1');
    await until('live messages', () => messages(log).length === 3);
    // The link dies; messages are published before the client can be back (same tick).
    p.connections[0]!.drop();
    p.publish('news', 'n3');
    p.publish('news', 'n4');
    p.publish('sport', 's2');
    const second = await p.connection(1);
    await until('the replay', () => messages(log).length === 6);
    p.publish('news', 'n5');
    await until('live again', () => messages(log).length === 7);
    assert.deepEqual(
      subs(second).map((sub) => (sub as { topic: string; from: unknown }).from),
      [
        { epoch: 'e1', offset: 2 },
        { epoch: 'e1', offset: 1 },
      ],
    );
    assert.deepEqual(messages(log), [
      'message news n1 e1:1',
      'message news n2 e1:2',
      'message sport s1 e1:1',
      'message news n3 e1:3 replayed',
      'message news n4 e1:4 replayed',
      'message sport s2 e1:2 replayed',
      'message news n5 e1:5',
    ]);
    assert.ok(log.includes('reconnecting 1 1006'), log.join('\n'));
    assert.equal(log.filter((e) => e === 'open').length, 2);
    assert.equal(log.filter((e) => e === 'reconnected').length, 1);
    assert.ok(!log.some((e) => e.startsWith('gap') || e.startsWith('close')));
    assert.equal(JSON.parse(second.log[0]!).session, c.session, 'the same session on every connection');
  });

  it('resumes after a position saved before (from disk or localStorage) and keeps it across a server restart', async () => {
    const p = await peer();
    for (const text of ['1', '2', '3', '4', '5']) p.publish('feed', text);
    const { client: c, log } = client(p.url);
    c.subscribe('feed', { from: { epoch: 'e1', offset: 3 } });
    assert.deepEqual(c.position('feed'), { epoch: 'e1', offset: 3 });
    await until('the replay', () => messages(log).length === 2);
    assert.deepEqual(subs(p.connections[0]!), [{ t: 'sub', id: 1, topic: 'feed', from: { epoch: 'e1', offset: 3 } }]);
    await p.stop(); // 1001 Going Away
    p.publish('feed', '6');
    await p.listen();
    await until('the restart', () => messages(log).length === 3);
    assert.deepEqual(messages(log), ['message feed 4 e1:4 replayed', 'message feed 5 e1:5 replayed', 'message feed 6 e1:6 replayed']);
    assert.ok(log.some((e) => e.startsWith('reconnecting 1 1001')), log.join('\n'));
  });

  it('does not surface duplicates: frames at or below the last offset are dropped', async () => {
    const p = await peer();
    for (const text of ['a', 'b', 'c']) p.publish('t', text);
    const { client: c, log } = client(p.url);
    c.subscribe('t', { from: 'start' });
    await until('the replay', () => messages(log).length === 3);
    const connection = p.connections[0]!;
    connection.data(p.topic('t'), 2, 'dup');
    connection.data(p.topic('t'), 3, 'dup');
    p.publish('t', 'd');
    await until('d', () => messages(log).length === 4);
    assert.deepEqual(messages(log), ['message t a e1:1 replayed', 'message t b e1:2 replayed', 'message t c e1:3 replayed', 'message t d e1:4']);
  });

  it('does not surface duplicates: a replay that starts before the position asked for is skipped up to it', async () => {
    const p = await peer();
    p.autoSubscribe = false;
    const { client: c, log } = client(p.url);
    c.subscribe('t', { from: { epoch: 'e1', offset: 3 } });
    const connection = await p.connection(0);
    await until('the sub', () => subs(connection).length === 1);
    const { id } = subs(connection)[0] as { id: number };
    const topic = p.topic('t');
    connection.control({ t: 'subscribed', id, topic: 't', alias: topic.alias, epoch: 'e1', offset: 1, replay: 3, gap: null });
    connection.data(topic, 2, 'b');
    connection.data(topic, 3, 'c');
    connection.data(topic, 4, 'd');
    await until('d', () => messages(log).length === 1);
    assert.deepEqual(messages(log), ['message t d e1:4 replayed']);
    assert.ok(log.includes('subscribed t e1:3 replay 3 gap null'), log.join('\n'));
  });

  it('surfaces every hole as gap: history trimmed or replaced while away, and a reset while live', async () => {
    const p = await peer();
    for (const text of ['1', '2', '3']) p.publish('t', text);
    const main = client(p.url);
    main.client.subscribe('t', { from: 'start' });
    await until('the replay', () => messages(main.log).length === 3);
    // Away while 4..10 are published and the history keeps only the last 3.
    await p.stop();
    for (let i = 4; i <= 10; i++) p.publish('t', String(i));
    p.trim('t', 3);
    await p.listen();
    await until('the trimmed replay', () => messages(main.log).length === 6);
    // Live: the history is replaced (a new epoch): reset → gap.
    p.newEpoch('t', 'e2');
    p.publish('t', 'x');
    await until('x', () => messages(main.log).length === 7);
    // Away while the history is replaced again: the resume finds another epoch.
    await p.stop();
    p.newEpoch('t', 'e3');
    p.publish('t', 'y');
    p.publish('t', 'z');
    await p.listen();
    await until('the replay of e3', () => messages(main.log).length === 9);
    const events = main.log.filter((e) => e.startsWith('message') || e.startsWith('gap') || e.startsWith('subscribed'));
    assert.deepEqual(events, [
      'subscribed t e1:0 replay 3 gap null',
      'message t 1 e1:1 replayed',
      'message t 2 e1:2 replayed',
      'message t 3 e1:3 replayed',
      'subscribed t e1:7 replay 3 gap trimmed',
      'gap t trimmed e1:7',
      'message t 8 e1:8 replayed',
      'message t 9 e1:9 replayed',
      'message t 10 e1:10 replayed',
      'gap t epoch e2:0',
      'message t x e2:1',
      'subscribed t e3:0 replay 2 gap epoch',
      'gap t epoch e3:0',
      'message t y e3:1 replayed',
      'message t z e3:2 replayed',
    ]);
  });

  it('sends are idempotent: kept until acked, re-sent with the same seq after a reconnect, freed by the ack', async () => {
    const p = await peer();
    p.autoAck = false;
    const { client: c, log } = client(p.url);
    const results: Array<string> = [];
    assert.equal(
      c.send('before open', (error) => results.push(`1 ${String(error)}`)),
      1,
    );
    assert.equal(c.unacked, 1);
    await until('open', () => log.includes('open'));
    assert.equal(
      c.send(Buffer.from([1, 2, 3]), (error) => results.push(`2 ${String(error)}`)),
      2,
    );
    await until('two sends', () => p.sends.length === 2);
    assert.equal(c.unacked, 2);
    p.connections[0]!.ack(1);
    await until('acked 1', () => log.includes('acked 1'));
    assert.equal(c.unacked, 1);
    assert.deepEqual(results, ['1 null']);
    // The link dies before send 2 is acked: the next connection carries it again, with seq 2.
    p.connections[0]!.drop();
    const second = await p.connection(1);
    await until('the re-send', () => p.sends.length === 3);
    assert.deepEqual(p.connections[0]!.log.slice(1), ['send 1 before open', 'send 2 0x010203']);
    assert.deepEqual(second.log.slice(1), ['send 2 0x010203']);
    assert.deepEqual(
      p.applied.map((send) => `${send.seq} ${send.data}`),
      ['1 before open', '2 0x010203'],
    );
    assert.equal(c.unacked, 1);
    second.ack(2);
    await until('acked 2', () => log.includes('acked 2'));
    assert.equal(c.unacked, 0);
    assert.deepEqual(results, ['1 null', '2 null']);
    p.autoAck = true;
    assert.equal(c.send('after'), 3);
    await until('acked 3', () => log.includes('acked 3'));
    assert.equal(c.unacked, 0);
  });

  it('refuses a send beyond maxUnacked or maxUnackedBytes with FD_ERR_RESUME_UNACKED_FULL, taking nothing', async () => {
    const p = await peer();
    p.autoAck = false;
    const { client: c, log } = client(p.url, { maxUnacked: 2, maxUnackedBytes: 10 });
    await until('open', () => log.includes('open'));
    c.send('a');
    c.send('b');
    assert.throws(() => c.send('c'), (error: unknown) => error instanceof ResumeError && error.code === 'FD_ERR_RESUME_UNACKED_FULL' && /maxUnacked 2/.test(error.message));
    assert.equal(c.unacked, 2);
    await until('two sends', () => p.sends.length === 2);
    p.connections[0]!.ack(2);
    await until('acked', () => c.unacked === 0);
    assert.equal(c.send('0123456789'), 3); // exactly maxUnackedBytes
    assert.throws(() => c.send('x'), (error: unknown) => error instanceof ResumeError && error.code === 'FD_ERR_RESUME_UNACKED_FULL' && error.closeCode === undefined);
    assert.equal(c.readyState, 1, 'a local limit: the connection goes on');
  });

  it('a server that does not select fullduplex.resume.v1: error FD_ERR_RESUME_NOT_SELECTED, close 1010, no reconnect', async () => {
    const p = await peer();
    p.select = false;
    const { client: c, log } = client(p.url);
    let error: unknown = null;
    c.on('error', (e) => (error = e));
    await new Promise((resolve) => c.once('close', resolve)); // (events.once would reject on the 'error')
    assert.deepEqual(log, ['error FD_ERR_RESUME_NOT_SELECTED', 'close 1010 ']);
    assert.ok(error instanceof ResumeError);
    assert.match((error as ResumeError).message, /did not select the subprotocol fullduplex\.resume\.v1 \(it selected none\)/);
    assert.equal(c.readyState, 3);
    await p.until('the close', () => p.connections[0]!.closed !== null);
    assert.deepEqual(p.connections[0]!.closed, { code: 1010, reason: 'FD_ERR_RESUME_NOT_SELECTED' });
    await new Promise((resolve) => setTimeout(resolve, 200)); // no other attempt comes
    assert.equal(p.connections.length, 1);
    assert.throws(() => c.send('x'), /after close\(\)/);
  });

  it('a protocol violation closes the connection with its close code, then it reconnects and resumes from the last position', async () => {
    const table: Array<[label: string, violate: (connection: PeerConnection, peer: ResumePeer) => void, close: number, code: string]> = [
      ['an offset past last + 1 without a reset', (conn, p) => conn.data(p.topic('t'), 5, 'skipped'), 1002, 'FD_ERR_RESUME_UNREPORTED_GAP'],
      ['a text frame that is not JSON', (conn) => conn.raw('{'), 1007, 'FD_ERR_RESUME_BAD_JSON'],
      ['a binary frame of an unknown kind', (conn) => conn.raw(Uint8Array.of(0x42)), 1003, 'FD_ERR_RESUME_UNKNOWN_TYPE'],
      ['a control message with an unknown field', (conn) => conn.raw('{"t":"welcome","v":1,"session":"s","x":1}'), 1002, 'FD_ERR_RESUME_BAD_MESSAGE'],
      ['an ack beyond what the connection carried', (conn) => conn.ack(9), 1002, 'FD_ERR_RESUME_UNEXPECTED'],
    ];
    for (const [label, violate, close, code] of table) {
      const p = await peer();
      p.publish('t', 'a');
      p.publish('t', 'b');
      const { client: c, log: main } = client(p.url);
      c.subscribe('t', { from: 'start' });
      await until(`${label}: the replay`, () => messages(main).length === 2);
      violate(p.connections[0]!, p);
      await p.until(`${label}: the close`, () => p.connections[0]!.closed !== null);
      assert.deepEqual(p.connections[0]!.closed, { code: close, reason: code }, label);
      const second = await p.connection(1);
      await until(`${label}: resubscribed`, () => subs(second).length === 1);
      assert.deepEqual((subs(second)[0] as { from: unknown }).from, { epoch: 'e1', offset: 2 }, label);
      p.publish('t', 'c');
      await until(`${label}: c`, () => messages(main).length === 3);
      assert.deepEqual(messages(main), ['message t a e1:1 replayed', 'message t b e1:2 replayed', 'message t c e1:3'], label);
      assert.ok(main.includes(`reconnecting 1 ${close} ${code}`), `${label}: ${main.join('\n')}`);
      assert.ok(!main.some((e) => e.startsWith('close') || e.startsWith('error')), label);
    }
  });

  it('a refused subscription is reported and not asked again; an unsubscribed topic is not resubscribed', async () => {
    const p = await peer();
    const { client: c, log } = client(p.url);
    await until('open', () => log.includes('open'));
    p.autoSubscribe = false;
    c.subscribe('secret');
    const connection = p.connections[0]!;
    await until('the sub', () => subs(connection).length === 1);
    connection.control({ t: 'error', id: (subs(connection)[0] as { id: number }).id, code: 'FD_ERR_FORBIDDEN', message: 'not for you' });
    await until('refused', () => log.includes('refused secret FD_ERR_FORBIDDEN'));
    assert.deepEqual(c.topics, []);
    p.autoSubscribe = true;
    c.subscribe('news');
    await until('subscribed', () => log.some((e) => e.startsWith('subscribed news')));
    c.unsubscribe('news');
    await until('unsubscribed', () => log.includes('unsubscribed news'));
    assert.equal(c.position('news'), null);
    c.subscribe('kept');
    connection.drop();
    const second = await p.connection(1);
    await until('resubscribed', () => subs(second).length === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(
      subs(second).map((sub) => (sub as { topic: string }).topic),
      ['kept'],
    );
  });

  it('close() ends it for good: one close, sends never acked get an error, no other attempt, and calls after it throw', async () => {
    const p = await peer();
    p.autoAck = false;
    const { client: c, log } = client(p.url);
    await until('open', () => log.includes('open'));
    const results: string[] = [];
    c.send('a', (error) => results.push(String(error?.message)));
    await until('the send', () => p.sends.length === 1);
    const closed = new Promise((resolve) => c.once('close', resolve));
    c.close(1000, 'bye');
    assert.equal(c.readyState, 2);
    await closed;
    assert.equal(c.readyState, 3);
    assert.deepEqual(log.slice(-1), ['close 1000 ']); // the code and reason of the server's close frame (its echo)
    assert.equal(results.length, 1);
    assert.match(results[0]!, /closed before the server acked send 1: it may or may not have been applied/);
    await p.until('the server side close', () => p.connections[0]!.closed !== null);
    assert.deepEqual(p.connections[0]!.closed, { code: 1000, reason: 'bye' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(p.connections.length, 1);
    assert.throws(() => c.subscribe('x'), /subscribe\(\) after close\(\)/);
    assert.throws(() => c.send('x'), /send\(\) after close\(\)/);
    c.close(); // again: nothing
  });

  it('close() while waiting for the next attempt ends it at once with 1006', async () => {
    const p = await peer();
    const { client: c, log } = client(p.url, { reconnect: { initialDelay: 60_000, maxDelay: 60_000, jitter: 0 } });
    await until('open', () => log.includes('open'));
    p.connections[0]!.drop();
    await until('reconnecting', () => log.some((e) => e.startsWith('reconnecting')));
    const closed = new Promise((resolve) => c.once('close', resolve));
    c.close();
    await closed;
    assert.deepEqual(log, ['open', 'reconnecting 1 1006', 'close 1006 ']);
  });

  it('refuses bad options and arguments with clear errors', async () => {
    const p = await peer();
    assert.throws(() => new ResumingClient(p.url, { reconnect: { queue: false } as never }), /reconnect\.queue does not apply: sends made while disconnected are kept as unacked sends/);
    assert.throws(() => new ResumingClient(p.url, { reconnect: { initialDelay: -1 } }), RangeError);
    assert.throws(() => new ResumingClient(p.url, { maxUnacked: -1 }), /maxUnacked/);
    assert.throws(() => new ResumingClient(p.url, { session: 'has space' }), /session/);
    assert.throws(() => new ResumingClient('not a url'), SyntaxError);
    const { client: c } = client(p.url);
    assert.throws(() => c.subscribe(''), TypeError);
    assert.throws(() => c.subscribe('t', { from: { epoch: 'e1', offset: -1 } }), /from option/);
    assert.throws(() => c.send(42 as never), /send takes a string \(text\) or bytes/);
    assert.throws(() => c.close(1005), /close code/);
    assert.equal(c.readyState, 0);
  });

  it('a refused handshake: 403 is final (the HandshakeError, then close), 503 with Retry-After is retried after it', async () => {
    let answer = 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';
    let upgrades = 0;
    const server = createServer();
    server.on('upgrade', (_request, socket) => {
      upgrades++;
      socket.end(answer);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;

    const refused = client(url);
    const errors: unknown[] = [];
    refused.client.on('error', (error) => errors.push(error));
    await until('close', () => refused.client.readyState === 3);
    assert.deepEqual(refused.log, ['error Unexpected server response: 403', 'close 1006 ']);
    assert.ok(errors[0] instanceof HandshakeError && errors[0].status === 403);
    assert.equal(upgrades, 1);

    answer = 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';
    const retried = client(url, { reconnect: { initialDelay: 10, maxDelay: 5_000, jitter: 0 } });
    const events: ReconnectingEvent[] = [];
    retried.client.on('reconnecting', (event) => events.push(event));
    await until('reconnecting', () => events.length === 1);
    assert.equal(events[0]!.status, 503);
    assert.equal(events[0]!.delay, 1_000, 'Retry-After: 1 (more than initialDelay)');
    assert.ok(events[0]!.error instanceof HandshakeError && events[0]!.error.headers['retry-after'] === '1');
  });

  it('a listener that throws: the exception goes to error, and the messages after it still arrive once', async () => {
    const p = await peer();
    const { client: c, log } = client(p.url);
    c.on('message', (_topic, data) => {
      if (data === 'boom') throw new Error('listener failed');
    });
    c.subscribe('t', { from: 'start' });
    p.publish('t', 'a');
    p.publish('t', 'boom');
    p.publish('t', 'c');
    await until('c', () => messages(log).length === 3);
    assert.ok(log.includes('error listener failed'), log.join('\n'));
    assert.deepEqual(c.position('t'), { epoch: 'e1', offset: 3 });
    assert.equal(p.connections.length, 1, 'the connection goes on');
  });
});
