/**
 * One resume connection on the server (src/node/resume-session.ts): the control messages and their
 * errors (close codes of ResumeError, hello first), and the client's idempotent sends — applied once per
 * (session, seq) across reconnects, acked cumulatively after the handler (and its promise) settled.
 * Also MemoryDedupe (src/node/send-dedupe.ts) on its own.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket, WebSocketServer } from '../../src/node/index.js';
import { MemoryDedupe } from '../../src/node/send-dedupe.js';
import { encodeSendFrame, RESUME_SUBPROTOCOL } from '../../src/protocol/resume-wire.js';
import { nextEvent, startServer, stopServer } from '../helpers/net.js';
import { ResumeTestClient, until } from '../helpers/resume-client.js';

type Options = ConstructorParameters<typeof WebSocketServer>[0];

async function resumeServer(options: Partial<Options> = {}) {
  return startServer({ heartbeat: false, history: { topics: (topic) => topic.startsWith('h:') }, resume: { authorize: () => true }, ...options });
}

/** A raw connection offering the subprotocol: what it sends is sent as is; resolves with the close code. */
async function rawExchange(url: string, frames: Array<string | Uint8Array>): Promise<{ code: number; reason: string; texts: string[] }> {
  const ws = new WebSocket(url, [RESUME_SUBPROTOCOL]);
  const texts: string[] = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) texts.push(String(data));
  });
  await nextEvent(ws, 'open');
  assert.equal(ws.protocol, RESUME_SUBPROTOCOL);
  for (const frame of frames) ws.send(frame);
  const [code, reason] = (await nextEvent(ws, 'close')) as [number, Buffer];
  return { code, reason: String(reason), texts };
}

const HELLO = JSON.stringify({ t: 'hello', v: 1, session: 's1' });

describe('resume connection: control messages and errors', () => {
  it('closes with the close code of each kind of bad input', async () => {
    const { wss, url } = await resumeServer();
    try {
      const cases: Array<[string, Array<string | Uint8Array>, number, RegExp]> = [
        ['first message not hello', [JSON.stringify({ t: 'sub', id: 1, topic: 'h:a' })], 1002, /first message must be "hello"/],
        ['a send before hello', [encodeSendFrame(1, new Uint8Array([1]), true)], 1002, /first message must be "hello"/],
        ['not JSON', ['{nope'], 1007, /not JSON/],
        ['unknown type', [HELLO, JSON.stringify({ t: 'dance' })], 1003, /type "dance"/],
        ['a type that travels the other way', [HELLO, JSON.stringify({ t: 'welcome', v: 1, session: 's' })], 1003, /type "welcome"/],
        ['an unknown field', [HELLO, JSON.stringify({ t: 'sub', id: 1, topic: 'h:a', form: { epoch: null, offset: 0 } })], 1002, /"form" is not a field/],
        ['a second hello', [HELLO, HELLO], 1002, /second "hello"/],
        ['an unknown binary kind', [HELLO, new Uint8Array([0x01, 1, 1])], 1003, /kind 0x01/],
        ['a truncated varint', [HELLO, new Uint8Array([0x10, 0x80])], 1002, /truncated/],
        ['a send flagged text that is not UTF-8', [HELLO, encodeSendFrame(1, new Uint8Array([0xff, 0xfe]), false)], 1007, /UTF-8/],
        ['seqs that do not go up by one', [HELLO, encodeSendFrame(5, new Uint8Array([1]), true), encodeSendFrame(7, new Uint8Array([1]), true)], 1002, /seq 7 where 6 was due/],
      ];
      for (const [name, frames, code, reason] of cases) {
        const result = await rawExchange(url, frames);
        assert.equal(result.code, code, name);
        assert.match(result.reason, reason, name);
      }
    } finally {
      await stopServer(wss);
    }
  });

  it('answers hello with welcome, unsub with unsubscribed, and a sub past maxSubscriptions with an error', async () => {
    const { wss, url } = await resumeServer({ resume: { authorize: () => true, maxSubscriptions: 2 } });
    try {
      const client = await ResumeTestClient.connect(url, { session: 'my-session', subscribe: { 'h:1': {}, 'h:2': {}, 'h:3': {} } });
      await until(() => client.eventsOf('subscribed').length === 2 && client.eventsOf('refused').length === 1, 'answers');
      assert.deepEqual(client.eventsOf('refused').map((event) => (event.type === 'refused' ? [event.topic, event.code] : [])), [['h:3', 'FD_ERR_RESUME_TOO_MANY']]);
      assert.equal(wss.subscriberCount('h:1'), 1);
      client.unsubscribe('h:1');
      await until(() => client.eventsOf('unsubscribed').length === 1, 'unsubscribed');
      assert.equal(wss.subscriberCount('h:1'), 0);
      client.subscribe('h:3');
      await until(() => client.eventsOf('subscribed').length === 3, 'room for another');
      assert.deepEqual(client.errors, []);
      await client.drop();
    } finally {
      await stopServer(wss);
    }
  });
});

describe('resume connection: idempotent sends', () => {
  it('gives each send to the message listeners once, as (data, isBinary), and acks cumulatively', async () => {
    const { wss, url } = await resumeServer();
    const got: Array<[string, boolean]> = [];
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => got.push([isBinary ? `bin:${(data as Buffer).toString('hex')}` : String(data), isBinary])));
    try {
      const client = await ResumeTestClient.connect(url);
      client.send('one');
      client.send(new Uint8Array([1, 2]));
      client.send('three');
      await until(() => client.state.unackedCount === 0, 'acked');
      assert.deepEqual(got, [['one', false], ['bin:0102', true], ['three', false]]);
      assert.ok(client.eventsOf('acked').length >= 1);
      assert.equal((client.eventsOf('acked').at(-1) as { seq: number }).seq, 3);
      await client.drop();
    } finally {
      await stopServer(wss);
    }
  });

  it('applies a send re-sent after a reconnect once, and acks after the promise a handler returned settled', async () => {
    const { wss, url } = await resumeServer();
    const applied: string[] = [];
    let release: (() => void) | null = null;
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        const text = String(data);
        applied.push(text);
        if (text === 'slow') return new Promise<void>((resolve) => (release = resolve));
        return undefined;
      });
    });
    try {
      const client = await ResumeTestClient.connect(url);
      client.send('a');
      client.send('slow');
      await until(() => applied.length === 2 && release !== null, 'both applied');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(client.state.unackedCount, 1, '"a" is acked, "slow" waits for its promise');
      // The link dies before the ack: the client re-sends "slow" (same seq) on the next connection.
      await client.drop(1006);
      await client.open(url);
      client.send('b');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(client.state.unackedCount, 2, 'nothing acked while the original still runs');
      release!();
      await until(() => client.state.unackedCount === 0, 'all acked');
      assert.deepEqual(applied, ['a', 'slow', 'b'], 'each applied once');
      await client.drop();
    } finally {
      await stopServer(wss);
    }
  });

  it('records a send applied only after its handler settled: one that never settled is applied again on the next connection after sendLeaseMs, with the same idempotency key', async () => {
    const { wss, url } = await resumeServer({ resume: { authorize: () => true, sendLeaseMs: 200 } });
    const applied: Array<[string, string]> = [];
    wss.on('connection', (ws) => {
      ws.on('message', (data, _isBinary, send) => {
        const first = !applied.some(([text]) => text === String(data));
        applied.push([String(data), send!.idempotencyKey]);
        // The first run of "lost" never settles: as if its server died before the effect.
        if (first && String(data) === 'lost') return new Promise<void>(() => {});
        // Turned into a publish with the key: stored once whatever ran before.
        return new Promise<void>((resolve, reject) => ws.publish('h:log', String(data), { idempotencyKey: send!.idempotencyKey }, (error) => (error ? reject(error) : resolve())));
      });
    });
    try {
      const reader = await ResumeTestClient.connect(url, { subscribe: { 'h:log': { from: 'start' } } });
      await until(() => reader.eventsOf('subscribed').length === 1, 'subscribed');
      const client = await ResumeTestClient.connect(url);
      const session = client.state.session;
      client.send('kept');
      client.send('lost');
      await until(() => applied.length === 2 && client.state.unackedCount === 1, '"kept" acked, "lost" running');
      await client.drop(1006);
      await client.open(url);
      await until(() => client.state.unackedCount === 0, 're-sent and acked');
      assert.deepEqual(applied, [
        ['kept', `${session}:1`],
        ['lost', `${session}:2`],
        ['lost', `${session}:2`],
      ]);
      await until(() => reader.received.length === 2, 'published');
      assert.deepEqual(reader.received.map((m) => String(m.data)), ['kept', 'lost']);
      await Promise.all([client.drop(), reader.drop()]);
    } finally {
      await stopServer(wss);
    }
  });

  it('publish with idempotencyKey: appended once per key on a history topic; a TypeError on a topic without history or for a bad key', async () => {
    const { wss } = await resumeServer();
    try {
      const publish = (key: string) => new Promise<number>((resolve, reject) => wss.publish('h:t', key, { idempotencyKey: key }, (error, position) => (error ? reject(error) : resolve(position!.offset))));
      assert.deepEqual([await publish('a'), await publish('b'), await publish('a')], [1, 2, 1]);
      assert.throws(() => wss.publish('plain', 'x', { idempotencyKey: 'a' }), (error: Error) => error instanceof TypeError && /idempotencyKey needs a topic with history/.test(error.message));
      assert.throws(() => wss.publish('h:t', 'x', { idempotencyKey: '' }), TypeError);
    } finally {
      await stopServer(wss);
    }
  });

  it('acks a send whose handler threw or rejected (it was applied) and reports the error on the socket', async () => {
    const { wss, url } = await resumeServer();
    const errors: string[] = [];
    wss.on('connection', (ws) => {
      ws.on('error', (error) => errors.push(error.message));
      ws.on('message', (data) => {
        if (String(data) === 'throw') throw new Error('thrown');
        if (String(data) === 'reject') return Promise.reject(new Error('rejected'));
        return undefined;
      });
    });
    try {
      const client = await ResumeTestClient.connect(url);
      client.send('throw');
      client.send('reject');
      client.send('fine');
      await until(() => client.state.unackedCount === 0 && errors.length === 2, 'acked and reported');
      assert.deepEqual(errors, ['thrown', 'rejected']);
      await client.drop();
    } finally {
      await stopServer(wss);
    }
  });
});

describe('MemoryDedupe', () => {
  it('claim-after-apply: a claim leases, only a commit makes a send applied', () => {
    let now = 0;
    const dedupe = new MemoryDedupe({ leaseMs: 100, now: () => now });
    assert.equal(dedupe.claim('a', 1, 'A'), 'new');
    assert.equal(dedupe.claim('a', 1, 'B'), 'running', 'leased by A: another owner waits');
    assert.equal(dedupe.claim('a', 2, 'A'), 'new');
    assert.equal(dedupe.claim('a', 2, 'B'), 'running');
    dedupe.commit('a', 1);
    assert.equal(dedupe.claim('a', 1, 'B'), 'applied', 'committed: a duplicate');
    assert.equal(dedupe.claim('a', 2, 'B'), 'running', 'not committed yet');
    now = 101;
    assert.equal(dedupe.claim('a', 2, 'B'), 'new', 'the lease ran out (A died before committing): redelivered');
    assert.equal(dedupe.claim('a', 3, 'B'), 'new', 'B holds the lease now');
    assert.equal(dedupe.claim('a', 2, 'A'), 'running', "A's late re-send waits for B");
    dedupe.commit('a', 3);
    assert.equal(dedupe.claim('a', 2, 'A'), 'applied');
    assert.equal(dedupe.claim('a', 10, 'C'), 'new', 'a jump: the seqs below were acked');
    dedupe.commit('a', 2);
    assert.equal(dedupe.claim('a', 3, 'C'), 'applied', 'a commit never goes back');
  });

  it('remembers sessions for sessionTtlMs after their last claim or commit, at most maxSessions', () => {
    let now = 0;
    const dedupe = new MemoryDedupe({ sessionTtlMs: 1000, maxSessions: 2, now: () => now });
    dedupe.commit('a', 2);
    assert.equal(dedupe.claim('a', 1, 'X'), 'applied');
    dedupe.commit('b', 1);
    assert.equal(dedupe.claim('a', 2, 'X'), 'applied', 'touches a: b is now the least recent');
    dedupe.commit('c', 1);
    assert.equal(dedupe.size, 2);
    assert.equal(dedupe.claim('b', 1, 'X'), 'new', 'b was forgotten (count bound)');
    now = 5000;
    assert.equal(dedupe.claim('c', 1, 'X'), 'new', 'expired');
    assert.equal(dedupe.size, 1);
    assert.throws(() => new MemoryDedupe({ maxSessions: 0 }), /maxSessions/);
    assert.throws(() => new MemoryDedupe({ leaseMs: 0 }), /sendLeaseMs/);
  });
});
