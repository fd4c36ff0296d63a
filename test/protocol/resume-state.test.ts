import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RESUME_STATE_DEFAULTS, ResumeState, type ResumeEvent, type ResumeOutgoing, type ResumeSubscribeOptions } from '../../src/protocol/resume-state.js';
import {
  ResumeError,
  decodeClientControl,
  decodeClientFrame,
  encodeAckFrame,
  encodeDataFrame,
  encodeServerControl,
  encodeText,
  type ClientControl,
  type ResumeGapReason,
  type ServerControl,
} from '../../src/protocol/resume-wire.js';

const SESSION = 'test-session';

/** What a server would send (the codec does the framing). */
const server = {
  welcome: (session = SESSION) => encodeServerControl({ t: 'welcome', v: 1, session }),
  subscribed: (id: number, topic: string, alias: number, epoch: string, offset: number, replay = 0, gap: ResumeGapReason | null = null) =>
    encodeServerControl({ t: 'subscribed', id, topic, alias, epoch, offset, replay, gap }),
  unsubscribed: (id: number, topic: string) => encodeServerControl({ t: 'unsubscribed', id, topic }),
  reset: (alias: number, epoch: string, offset: number, reason: ResumeGapReason) => encodeServerControl({ t: 'reset', alias, epoch, offset, reason }),
  error: (message: Omit<Extract<ServerControl, { t: 'error' }>, 't'>) => encodeServerControl({ t: 'error', ...message }),
  text: (alias: number, offset: number, text = `m${offset}`) => encodeDataFrame(alias, offset, encodeText(text), false),
  binary: (alias: number, offset: number, payload: Uint8Array) => encodeDataFrame(alias, offset, payload, true),
  ack: (seq: number) => encodeAckFrame(seq),
};

/** Decode what the client sends: control messages as objects, sends as { seq, text }. */
function sent(frames: readonly ResumeOutgoing[]): (ClientControl | { seq: number; text: string })[] {
  return frames.map((frame) => {
    if (typeof frame === 'string') return decodeClientControl(frame);
    const send = decodeClientFrame(frame);
    return { seq: send.seq, text: new TextDecoder().decode(send.payload) };
  });
}

/** Feed messages; returns all events, each message event shortened to "topic@epoch:offset=data". */
function feed(state: ResumeState, ...messages: (string | Uint8Array)[]): (string | ResumeEvent)[] {
  return messages.flatMap((message) => state.onMessage(message)).map((event) =>
    event.type === 'message' ? `${event.topic}@${event.position.epoch}:${event.position.offset}=${typeof event.data === 'string' ? event.data : `[${[...event.data].join(',')}]`}${event.replayed ? ' (replayed)' : ''}` : event,
  );
}

function errorOf(events: (string | ResumeEvent)[]): ResumeError {
  const last = events.at(-1);
  assert.ok(typeof last === 'object' && last.type === 'error', `expected an error event last: ${JSON.stringify(events)}`);
  return last.error;
}

/** A state wanting `topics` (in insertion order: no array-index names; each with its options), just opened: hello and the subs sent, nothing answered yet. */
function opened(topics: Record<string, ResumeSubscribeOptions>): ResumeState {
  const state = new ResumeState({ session: SESSION });
  for (const [topic, options] of Object.entries(topics)) state.subscribe(topic, options);
  state.onOpen();
  return state;
}

/** A state opened and welcomed, subscribed to `topic` (alias 1, epoch e1) after `offset`. */
function live(topic = 'a', offset = 0): ResumeState {
  const state = opened({ [topic]: {} });
  feed(state, server.welcome(), server.subscribed(1, topic, 1, 'e1', offset));
  return state;
}

describe('resume state: subscriptions and positions', () => {
  it('on open sends hello, then a sub for every wanted topic (live, from a position, or from the start)', () => {
    const state = new ResumeState({ session: SESSION });
    assert.deepEqual(state.subscribe('live'), [], 'nothing is sent while closed');
    state.subscribe('kept', { from: { epoch: 'e9', offset: 41 } });
    state.subscribe('all', { from: 'start' });
    assert.deepEqual(sent(state.onOpen()), [
      { t: 'hello', v: 1, session: SESSION },
      { t: 'sub', id: 1, topic: 'live' },
      { t: 'sub', id: 2, topic: 'kept', from: { epoch: 'e9', offset: 41 } },
      { t: 'sub', id: 3, topic: 'all', from: { epoch: null, offset: 0 } },
    ]);
    assert.deepEqual(sent(state.subscribe('later')), [{ t: 'sub', id: 4, topic: 'later' }], 'sent at once while open');
    assert.deepEqual(state.subscribe('later'), [], 'a topic wanted already');
    assert.deepEqual(state.subscriptions(), ['live', 'kept', 'all', 'later']);
  });

  it('resubscribes from the last position seen after a reopen (and from where subscribed left it when nothing came)', () => {
    const state = opened({ a: {}, b: {}, c: {} });
    const events = feed(
      state,
      server.welcome(),
      server.subscribed(1, 'a', 10, 'ea', 0),
      server.subscribed(2, 'b', 11, 'eb', 500),
      server.text(10, 1),
      server.text(10, 2),
      server.text(11, 501, 'x'),
      server.text(10, 3),
    );
    assert.deepEqual(events.filter((e) => typeof e === 'string'), ['a@ea:1=m1', 'a@ea:2=m2', 'b@eb:501=x', 'a@ea:3=m3']);
    state.onClose();
    assert.deepEqual(state.position('a'), { epoch: 'ea', offset: 3 });
    assert.deepEqual(sent(state.onOpen()), [
      { t: 'hello', v: 1, session: SESSION },
      { t: 'sub', id: 4, topic: 'a', from: { epoch: 'ea', offset: 3 } },
      { t: 'sub', id: 5, topic: 'b', from: { epoch: 'eb', offset: 501 } },
      { t: 'sub', id: 6, topic: 'c' }, // never answered: still live only
    ]);
    // The new server (other aliases) replays what was missed, then goes live.
    const resumed = feed(state, server.welcome(), server.subscribed(4, 'a', 3, 'ea', 3, 2), server.text(3, 4), server.text(3, 5), server.text(3, 6));
    assert.deepEqual(resumed, [
      { type: 'subscribed', topic: 'a', replay: 2, gap: null, position: { epoch: 'ea', offset: 3 } },
      'a@ea:4=m4 (replayed)',
      'a@ea:5=m5 (replayed)',
      'a@ea:6=m6',
    ]);
  });

  it('gives text as a string and binary as bytes, from a Uint8Array or an ArrayBuffer', () => {
    const state = live();
    const frame = server.binary(1, 1, Uint8Array.of(0, 255));
    assert.deepEqual(feed(state, frame), ['a@e1:1=[0,255]']);
    const copy = server.text(1, 2, 'é');
    assert.deepEqual(state.onMessage(copy.buffer.slice(copy.byteOffset, copy.byteOffset + copy.byteLength) as ArrayBuffer).map((e) => e.type === 'message' && e.data), ['é']);
  });

  it('unsubscribe forgets the topic; frames of a subscription left or replaced meanwhile are dropped', () => {
    const state = live();
    assert.deepEqual(sent(state.unsubscribe('a')), [{ t: 'unsub', id: 2, topic: 'a' }]);
    assert.deepEqual(sent(state.subscribe('a')), [{ t: 'sub', id: 3, topic: 'a' }]);
    assert.deepEqual(state.unsubscribe('nope'), []);
    const events = feed(state, server.text(1, 1), server.unsubscribed(2, 'a'), server.subscribed(3, 'a', 1, 'e1', 1), server.text(1, 2));
    assert.deepEqual(events, [{ type: 'subscribed', topic: 'a', replay: 0, gap: null, position: { epoch: 'e1', offset: 1 } }, 'a@e1:2=m2']);
    assert.deepEqual(sent(state.unsubscribe('a')), [{ t: 'unsub', id: 4, topic: 'a' }]);
    assert.deepEqual(feed(state, server.text(1, 3), server.unsubscribed(4, 'a')), [{ type: 'unsubscribed', topic: 'a' }]);
    assert.equal(state.position('a'), null);
    state.onClose();
    assert.deepEqual(sent(state.onOpen()), [{ t: 'hello', v: 1, session: SESSION }]);
  });

  it('a refused subscription is reported and no longer wanted', () => {
    const state = opened({ secret: {}, open: {} });
    const events = feed(state, server.welcome(), server.error({ id: 1, code: 'FD_ERR_RESUME_FORBIDDEN', message: 'no' }), server.error({ code: 'BUSY', message: 'later' }));
    assert.deepEqual(events, [
      { type: 'refused', code: 'FD_ERR_RESUME_FORBIDDEN', message: 'no', topic: 'secret' },
      { type: 'refused', code: 'BUSY', message: 'later', topic: null },
    ]);
    assert.deepEqual(state.subscriptions(), ['open']);
  });
});

describe('resume state: exactly once, holes reported', () => {
  // Subscribed after offset `from` in e1, then data frames with these offsets: what is delivered, or the error.
  const table: [string, number, number[], string[] | RegExp][] = [
    ['in order', 0, [1, 2, 3], ['1', '2', '3']],
    ['a repeated offset is dropped', 0, [1, 2, 2, 3], ['1', '2', '3']],
    ['an older offset is dropped', 5, [6, 7, 3, 6, 8], ['6', '7', '8']],
    ['a jump is an unreported gap', 0, [1, 3], /offset 3 after 1 \(epoch e1\) with no reset: messages 2 to 2 are missing/],
    ['a first frame past from + 1 is an unreported gap', 10, [12], /offset 12 after 10/],
  ];
  for (const [label, from, offsets, expected] of table) {
    it(label, () => {
      const state = live('a', from);
      const events = feed(state, ...offsets.map((offset) => server.text(1, offset)));
      if (Array.isArray(expected)) {
        assert.deepEqual(events, expected.map((offset) => `a@e1:${offset}=m${offset}`));
      } else {
        const error = errorOf(events);
        assert.equal(error.code, 'FD_ERR_RESUME_UNREPORTED_GAP');
        assert.equal(error.closeCode, 1002);
        assert.match(error.message, expected);
      }
    });
  }

  it('drops the replayed frames a server starts before the position asked for', () => {
    const state = opened({ a: { from: { epoch: 'e1', offset: 3 } } });
    const events = feed(state, server.welcome(), server.subscribed(1, 'a', 1, 'e1', 1, 4), ...[2, 3, 4, 5].map((o) => server.text(1, o)), server.text(1, 6));
    assert.deepEqual(events, [
      { type: 'subscribed', topic: 'a', replay: 4, gap: null, position: { epoch: 'e1', offset: 3 } },
      'a@e1:4=m4 (replayed)',
      'a@e1:5=m5 (replayed)',
      'a@e1:6=m6',
    ]);
  });

  it('reports a gap at subscribe (trimmed, or a new epoch) and goes on from the new position', () => {
    for (const [gap, epoch, offset] of [['trimmed', 'e1', 40], ['epoch', 'e2', 0]] as const) {
      const state = opened({ a: { from: { epoch: 'e1', offset: 3 } } });
      const events = feed(state, server.welcome(), server.subscribed(1, 'a', 1, epoch, offset, 1, gap), server.text(1, offset + 1));
      assert.deepEqual(events, [
        { type: 'subscribed', topic: 'a', replay: 1, gap, position: { epoch, offset } },
        { type: 'gap', topic: 'a', reason: gap, position: { epoch, offset } },
        `a@${epoch}:${offset + 1}=m${offset + 1} (replayed)`,
      ]);
    }
  });

  it('reports a reset of a live subscription as a gap, and never goes back within an epoch', () => {
    const state = live();
    const events = feed(state, server.text(1, 1), server.text(1, 2), server.reset(1, 'e2', 0, 'epoch'), server.text(1, 1), server.reset(1, 'e2', 7, 'trimmed'), server.text(1, 8));
    assert.deepEqual(events, [
      'a@e1:1=m1',
      'a@e1:2=m2',
      { type: 'gap', topic: 'a', reason: 'epoch', position: { epoch: 'e2', offset: 0 } },
      'a@e2:1=m1',
      { type: 'gap', topic: 'a', reason: 'trimmed', position: { epoch: 'e2', offset: 7 } },
      'a@e2:8=m8',
    ]);
    const back = feed(state, server.reset(1, 'e2', 3, 'trimmed'), server.text(1, 4), server.text(1, 9));
    assert.deepEqual(back, [{ type: 'gap', topic: 'a', reason: 'trimmed', position: { epoch: 'e2', offset: 8 } }, 'a@e2:9=m9']);
  });

  it('a subscribed that skips ahead or changes epoch without a gap is an unreported gap', () => {
    const table: [{ epoch: string; offset: number } | 'start', string, number, RegExp][] = [
      [{ epoch: 'e1', offset: 3 }, 'e2', 3, /resume after 3 \(epoch e1\), the stream continues after 3 \(epoch e2\) with no gap reported/],
      [{ epoch: 'e1', offset: 3 }, 'e1', 9, /continues after 9/],
      ['start', 'e1', 5, /resume after 0 \(epoch current\), the stream continues after 5/],
    ];
    for (const [from, epoch, offset, message] of table) {
      const state = opened({ a: { from } });
      const error = errorOf(feed(state, server.welcome(), server.subscribed(1, 'a', 1, epoch, offset)));
      assert.equal(error.code, 'FD_ERR_RESUME_UNREPORTED_GAP');
      assert.match(error.message, message);
    }
  });

  it('after a protocol error ignores the connection, and the next one resumes from the last message seen', () => {
    const state = live();
    assert.equal(errorOf(feed(state, server.text(1, 1), server.text(1, 5))).closeCode, 1002);
    assert.deepEqual(feed(state, server.text(1, 2)), [], 'ignored until reopened');
    state.onClose();
    assert.deepEqual(sent(state.onOpen()).slice(1), [{ t: 'sub', id: 2, topic: 'a', from: { epoch: 'e1', offset: 1 } }]);
    assert.deepEqual(feed(state, server.welcome(), server.subscribed(2, 'a', 1, 'e1', 1, 1), server.text(1, 2)), [
      { type: 'subscribed', topic: 'a', replay: 1, gap: null, position: { epoch: 'e1', offset: 1 } },
      'a@e1:2=m2 (replayed)',
    ]);
  });

  it('reports what the server gets wrong with the typed error and its close code', () => {
    const table: [string, (string | Uint8Array)[], string, number, RegExp][] = [
      ['a data frame before welcome', [server.text(1, 1)], 'FD_ERR_RESUME_UNEXPECTED', 1002, /binary frame before "welcome"/],
      ['subscribed before welcome', [server.subscribed(1, 'a', 1, 'e', 0)], 'FD_ERR_RESUME_UNEXPECTED', 1002, /"subscribed" message before "welcome"/],
      ['a welcome for another session', [server.welcome('other')], 'FD_ERR_RESUME_UNEXPECTED', 1002, /names session other, not test-session/],
      ['two welcomes', [server.welcome(), server.welcome()], 'FD_ERR_RESUME_UNEXPECTED', 1002, /second "welcome"/],
      ['an unknown alias', [server.welcome(), server.text(9, 1)], 'FD_ERR_RESUME_UNEXPECTED', 1002, /alias 9, which no "subscribed" named/],
      ['a reset of an unknown alias', [server.welcome(), server.reset(9, 'e', 0, 'epoch')], 'FD_ERR_RESUME_UNEXPECTED', 1002, /"reset" for alias 9/],
      ['subscribed for an id never sent', [server.welcome(), server.subscribed(7, 'a', 1, 'e', 0)], 'FD_ERR_RESUME_UNEXPECTED', 1002, /answers id 7/],
      ['subscribed for another topic', [server.welcome(), server.subscribed(1, 'b', 1, 'e', 0)], 'FD_ERR_RESUME_UNEXPECTED', 1002, /answers id 1 \(topic "b"\)/],
      ['subscribed twice', [server.welcome(), server.subscribed(1, 'a', 1, 'e', 0), server.subscribed(1, 'a', 1, 'e', 0)], 'FD_ERR_RESUME_UNEXPECTED', 1002, /answers id 1/],
      ['unsubscribed for a sub', [server.welcome(), server.unsubscribed(1, 'a')], 'FD_ERR_RESUME_UNEXPECTED', 1002, /no unsub of this connection/],
      ['an alias for two topics', [server.welcome(), server.subscribed(1, 'a', 1, 'e', 0), server.subscribed(2, 'b', 1, 'e', 0)], 'FD_ERR_RESUME_UNEXPECTED', 1002, /Alias 1 named topic "a" before, now "b"/],
      ['an ack of a seq never sent', [server.welcome(), server.ack(1)], 'FD_ERR_RESUME_UNEXPECTED', 1002, /ack of seq 1, but this connection carried sends up to 0/],
      ['text that is not UTF-8', [server.welcome(), server.subscribed(1, 'a', 1, 'e', 0), encodeDataFrame(1, 1, Uint8Array.of(0xff), false)], 'FD_ERR_RESUME_BAD_TEXT', 1007, /not valid UTF-8/],
      ['a frame the codec refuses', [server.welcome(), Uint8Array.of(0x10, 1)], 'FD_ERR_RESUME_UNKNOWN_TYPE', 1003, /kind 0x10/],
      ['a control message the codec refuses', ['{"t":"welcome","v":1}'], 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /session is missing/],
      ['not JSON', ['hi'], 'FD_ERR_RESUME_BAD_JSON', 1007, /not JSON/],
    ];
    for (const [label, messages, code, closeCode, message] of table) {
      const state = opened({ a: {}, b: {} });
      const error = errorOf(feed(state, ...messages));
      assert.ok(error instanceof ResumeError, label);
      assert.deepEqual([error.code, error.closeCode], [code, closeCode], `${label}: ${error.message}`);
      assert.match(error.message, message, label);
    }
  });

  it('ignores messages while closed', () => {
    const state = live();
    state.onClose();
    assert.deepEqual(feed(state, server.text(1, 1)), []);
  });
});

describe('resume state: sends applied once (seq, acks, re-sends)', () => {
  it('re-sends the unacked after hello and subs with the same seq and bytes; cumulative acks free them', () => {
    const state = new ResumeState({ session: SESSION });
    state.subscribe('a');
    const first = state.send('one');
    assert.deepEqual(first, { seq: 1, frame: null }, 'kept while closed');
    const opened = state.onOpen();
    assert.deepEqual(sent(opened), [{ t: 'hello', v: 1, session: SESSION }, { t: 'sub', id: 1, topic: 'a' }, { seq: 1, text: 'one' }]);
    const two = state.send('two');
    const three = state.send(encodeText('three'));
    assert.deepEqual([two.seq, three.seq], [2, 3]);
    assert.deepEqual(decodeClientFrame(three.frame!).binary, true);
    assert.equal(state.unackedCount, 3);
    assert.deepEqual(feed(state, server.welcome(), server.ack(2)), [{ type: 'acked', seq: 2 }]);
    assert.equal(state.unackedCount, 1);
    assert.deepEqual(feed(state, server.ack(1)), [], 'an ack below what is acked already changes nothing');
    state.onClose();
    const reopened = state.onOpen();
    assert.deepEqual(sent(reopened), [{ t: 'hello', v: 1, session: SESSION }, { t: 'sub', id: 2, topic: 'a' }, { seq: 3, text: 'three' }]);
    assert.equal(reopened[2], three.frame, 'the very bytes sent before');
    assert.deepEqual(feed(state, server.welcome(), server.ack(3)), [{ type: 'acked', seq: 3 }]);
    assert.equal(state.unackedCount, 0);
    assert.equal(state.send('four').seq, 4);
    assert.equal(errorOf(feed(state, server.ack(5))).code, 'FD_ERR_RESUME_UNEXPECTED');
  });

  it('frees acked sends in order over many (queue compaction keeps the order)', () => {
    const state = new ResumeState({ session: SESSION, maxUnacked: Infinity });
    state.onOpen();
    feed(state, server.welcome());
    for (let i = 1; i <= 5_000; i++) state.send(`m${i}`);
    for (const upTo of [1, 1_500, 2_048, 3_000, 4_999]) {
      assert.deepEqual(feed(state, server.ack(upTo)), [{ type: 'acked', seq: upTo }]);
      assert.equal(state.unackedCount, 5_000 - upTo);
    }
    state.onClose();
    assert.deepEqual(sent(state.onOpen()).slice(1), [{ seq: 5_000, text: 'm5000' }]);
  });

  it('bounds the unacked sends (maxUnacked, maxUnackedBytes): one more throws and is not taken', () => {
    assert.deepEqual(RESUME_STATE_DEFAULTS, { maxUnacked: 1_000, maxUnackedBytes: 1_048_576 });
    const byCount = new ResumeState({ session: SESSION, maxUnacked: 2 });
    byCount.onOpen();
    feed(byCount, server.welcome());
    byCount.send('a');
    byCount.send('b');
    assert.throws(
      () => byCount.send('c'),
      (error: unknown) => error instanceof ResumeError && error.code === 'FD_ERR_RESUME_UNACKED_FULL' && error.closeCode === undefined && /2 messages, 2 bytes; maxUnacked 2/.test(error.message),
    );
    feed(byCount, server.ack(1));
    assert.equal(byCount.send('c').seq, 3, 'the refused send took no seq');

    const byBytes = new ResumeState({ session: SESSION, maxUnackedBytes: 10 });
    byBytes.send('€€€'); // 9 bytes of UTF-8
    assert.throws(() => byBytes.send('ab'), /9 bytes; .* maxUnackedBytes 10\): this one \(2 bytes\) was not taken/);
    byBytes.send('a');
    assert.equal(byBytes.unackedCount, 2);
    const defaults = new ResumeState({ session: SESSION });
    for (let i = 0; i < 1_000; i++) defaults.send('x');
    assert.throws(() => defaults.send('x'), { code: 'FD_ERR_RESUME_UNACKED_FULL' });
  });
});

describe('resume state: options', () => {
  it('makes a random session (22 base64url characters) unless one is given', () => {
    const sessions = new Set(Array.from({ length: 100 }, () => new ResumeState().session));
    assert.equal(sessions.size, 100);
    for (const session of sessions) assert.match(session, /^[A-Za-z0-9_-]{22}$/);
  });

  it('rejects bad options and topics with an error naming them', () => {
    const table: [() => unknown, typeof TypeError | typeof RangeError, RegExp][] = [
      [() => new ResumeState({ session: '' }), TypeError, /session option must be 1 to 64 visible ASCII/],
      [() => new ResumeState({ session: 'a b' }), TypeError, /session option/],
      [() => new ResumeState({ maxUnacked: -1 }), RangeError, /maxUnacked option must be an integer >= 0 .* got -1/],
      [() => new ResumeState({ maxUnackedBytes: 1.5 }), RangeError, /maxUnackedBytes option .* got 1\.5/],
      [() => new ResumeState().subscribe(''), TypeError, /A topic must be a non-empty/],
      [() => new ResumeState().subscribe('x'.repeat(1025)), TypeError, /at most 1024 UTF-8 bytes/],
      [() => new ResumeState().subscribe(5 as unknown as string), TypeError, /A topic must be/],
      [() => new ResumeState().subscribe('x', { from: { epoch: 'e', offset: -1 } }), TypeError, /from option must be a position/],
      [() => new ResumeState().subscribe('x', { from: 'end' as unknown as 'start' }), TypeError, /from option/],
    ];
    for (const [fn, type, message] of table) assert.throws(fn, (error: Error) => error instanceof type && message.test(error.message), String(message));
  });
});

describe('fullduplex/protocol exports the resume codec and client state (the sans-I/O surface)', () => {
  it('a client state and a hand-written server talk through the public entry only', async () => {
    const protocol = await import('../../src/protocol/index.js');
    const client = new protocol.ResumeState({ session: 'sess-1' });
    client.subscribe('t', { from: 'start' });
    const [hello, sub] = client.onOpen() as [string, string];
    assert.deepEqual(protocol.decodeClientControl(hello), { t: 'hello', v: protocol.RESUME_VERSION, session: 'sess-1' });
    const request = protocol.decodeClientControl(sub);
    assert.equal(request.t, 'sub');
    const events = [
      ...client.onMessage(protocol.encodeServerControl({ t: 'welcome', v: 1, session: 'sess-1' })),
      ...client.onMessage(protocol.encodeServerControl({ t: 'subscribed', id: (request as { id: number }).id, topic: 't', alias: 3, epoch: 'E', offset: 0, replay: 1, gap: null })),
      ...client.onMessage(protocol.encodeDataFrame(3, 1, protocol.encodeResumeText('hi'), false)),
    ];
    assert.deepEqual(events.at(-1), { type: 'message', topic: 't', data: 'hi', position: { epoch: 'E', offset: 1 }, replayed: true });
    const { frame } = client.send('x');
    assert.deepEqual(protocol.decodeClientFrame(frame!).seq, 1);
    assert.deepEqual(client.onMessage(protocol.encodeAckFrame(1)), [{ type: 'acked', seq: 1 }]);
    assert.equal(new protocol.ResumeError('FD_ERR_RESUME_NOT_SELECTED', 'x').closeCode, 1010);
    assert.equal(protocol.RESUME_SUBPROTOCOL, 'fullduplex.resume.v1');
  });
});
