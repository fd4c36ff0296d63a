import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Opcode, RSV1 } from '../../src/protocol/constants.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { Receiver } from '../../src/protocol/receiver.js';
import type { MessageBuffer } from '../../src/protocol/message-buffer.js';
import type { Utf8Validator } from '../../src/protocol/utf8.js';
import type { DecodeCallback, MessageDecoder } from '../../src/protocol/extension.js';
import { bytewise, errorOf, frame, recordingReceiver, splitAt, waitFor, type ReceivedEvent } from '../helpers/protocol.js';
import { scaled } from '../helpers/time.js';

function feed(chunks: Buffer[], options: Parameters<typeof recordingReceiver>[0] = {}): ReceivedEvent[] {
  const { receiver, events } = recordingReceiver(options);
  for (const chunk of chunks) receiver.push(chunk);
  return events;
}

function expectFailure(chunks: Buffer[], code: string, closeCode: number, options: Parameters<typeof recordingReceiver>[0] = {}): void {
  failureEvents(chunks, code, closeCode, options);
}

function failureEvents(chunks: Buffer[], code: string, closeCode: number, options: Parameters<typeof recordingReceiver>[0] = {}): ReceivedEvent[] {
  const events = feed(chunks, options);
  const error = errorOf(events);
  assert.ok(error, `expected an error, got ${JSON.stringify(events.map((e) => e.type))}`);
  assert.equal(error.code, code);
  assert.equal(error.closeCode, closeCode);
  return events;
}

const messages = (events: ReceivedEvent[]): string[] =>
  events.flatMap((e) => (e.type === 'message' ? [e.isBinary ? `bin:${e.data.toString('hex')}` : `txt:${e.data.toString()}`] : []));

describe('Receiver: messages and fragmentation (RFC 6455 §5.4)', () => {
  it('delivers text and binary messages', () => {
    const events = feed([frame(Opcode.Text, 'hello'), frame(Opcode.Binary, Buffer.from([1, 2, 3]))]);
    assert.deepEqual(messages(events), ['txt:hello', 'bin:010203']);
  });

  it('joins a fragmented message, with control frames interleaved', () => {
    const events = feed([
      frame(Opcode.Text, 'frag', { fin: false }),
      frame(Opcode.Ping, 'p1'),
      frame(Opcode.Continuation, 'men', { fin: false }),
      frame(Opcode.Pong, 'p2'),
      frame(Opcode.Continuation, 'ted'),
    ]);
    assert.deepEqual(
      events.map((e) => e.type),
      ['ping', 'pong', 'message'],
    );
    assert.deepEqual(messages(events), ['txt:fragmented']);
  });

  it('accepts empty fragments and empty messages', () => {
    const events = feed([
      frame(Opcode.Binary, '', { fin: false }),
      frame(Opcode.Continuation, '', { fin: false }),
      frame(Opcode.Continuation, ''),
      frame(Opcode.Text, ''),
    ]);
    assert.deepEqual(messages(events), ['bin:', 'txt:']);
  });

  it('refuses a continuation frame with no message to continue (1002)', () =>
    expectFailure([frame(Opcode.Continuation, 'x')], 'FD_ERR_UNEXPECTED_CONTINUATION', 1002));

  it('refuses a new data frame inside a fragmented message (1002)', () =>
    expectFailure([frame(Opcode.Text, 'a', { fin: false }), frame(Opcode.Binary, 'b')], 'FD_ERR_EXPECTED_CONTINUATION', 1002));

  it('delivers the pieces of a fragmented message when asked to keep fragments', () => {
    const pieces: Buffer[][] = [];
    const r = new Receiver(
      { role: 'server', keepFragments: true },
      {
        onMessage: (data) => pieces.push((data as Buffer[]).map((b) => Buffer.from(b))),
        onPing: () => {},
        onPong: () => {},
        onClose: () => {},
        onError: (e) => assert.fail(e),
      },
    );
    r.push(Buffer.concat([frame(Opcode.Binary, Buffer.alloc(5000, 1), { fin: false }), frame(Opcode.Continuation, Buffer.alloc(6000, 2))]));
    assert.equal(pieces.length, 1);
    assert.deepEqual(
      pieces[0]!.map((b) => b.length),
      [5000, 6000],
    );
  });
});

describe('Receiver: size and fragment limits', () => {
  it('refuses a frame over maxPayload from its header alone (1009)', () => {
    // Only the header is pushed: the limit acts before any payload arrives.
    const header = frame(Opcode.Binary, Buffer.alloc(2000)).subarray(0, 8);
    expectFailure([header], 'FD_ERR_MESSAGE_TOO_BIG', 1009, { maxPayload: 1000 });
  });

  it('counts the whole fragmented message against maxPayload (1009)', () => {
    const events = failureEvents(
      [frame(Opcode.Text, 'a'.repeat(600), { fin: false }), frame(Opcode.Continuation, 'b'.repeat(600))],
      'FD_ERR_MESSAGE_TOO_BIG',
      1009,
      { maxPayload: 1000 },
    );
    assert.equal(messages(events).length, 0);
  });

  it('accepts a message of exactly maxPayload bytes', () => {
    assert.equal(messages(feed([frame(Opcode.Binary, Buffer.alloc(1000))], { maxPayload: 1000 })).length, 1);
  });

  it('bounds the number of fragments when asked (1009)', () =>
    expectFailure(
      [frame(Opcode.Binary, 'a', { fin: false }), frame(Opcode.Continuation, 'b', { fin: false }), frame(Opcode.Continuation, 'c')],
      'FD_ERR_TOO_MANY_FRAGMENTS',
      1009,
      { maxFragments: 2 },
    ));

  it('keeps a message of 100,000 one-byte fragments in a bounded number of pieces', () => {
    const { receiver, events } = recordingReceiver({ keepFragments: true });
    const parts: Buffer[] = [frame(Opcode.Binary, 'x', { fin: false })];
    for (let i = 0; i < 99_998; i++) parts.push(frame(Opcode.Continuation, 'x', { fin: false }));
    parts.push(frame(Opcode.Continuation, 'x'));
    receiver.push(Buffer.concat(parts));
    assert.equal(events.length, 1);
    const message = events[0]!;
    assert.equal(message.type === 'message' && message.data.length, 100_000);
  });
});

describe('Receiver: UTF-8 (RFC 6455 §8.1)', () => {
  it('refuses invalid UTF-8 in a text message (1007)', () =>
    expectFailure([frame(Opcode.Text, Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65]))], 'FD_ERR_INVALID_UTF8', 1007));

  it('does not check binary messages', () => {
    assert.deepEqual(messages(feed([frame(Opcode.Binary, Buffer.from([0xff, 0xfe]))])), ['bin:fffe']);
  });

  it('accepts a character split across fragments', () => {
    const euro = Buffer.from('€', 'utf8');
    const events = feed([frame(Opcode.Text, euro.subarray(0, 1), { fin: false }), frame(Opcode.Continuation, euro.subarray(1))]);
    assert.deepEqual(messages(events), ['txt:€']);
  });

  it('fails fast: on the fragment that makes the text invalid, before the message ends', () => {
    // Autobahn 6.4.1: valid, then 0xF4 0x90 (beyond U+10FFFF), then more.
    const { receiver, events } = recordingReceiver();
    receiver.push(frame(Opcode.Text, 'κόσμε', { fin: false }));
    assert.equal(events.length, 0);
    receiver.push(frame(Opcode.Continuation, Buffer.from([0xf4, 0x90, 0x80, 0x80]), { fin: false }));
    assert.equal(errorOf(events)?.closeCode, 1007);
  });

  it('fails fast inside one frame whose payload arrives in pieces (Autobahn 6.4.3)', () => {
    const payload = Buffer.concat([Buffer.from('κόσμε'), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('edited')]);
    const bytes = frame(Opcode.Text, payload);
    const invalidAt = bytes.length - payload.length + Buffer.byteLength('κόσμε') + 1; // the 0x90 byte
    const { receiver, events } = recordingReceiver();
    const chunks = splitAt(bytes, [invalidAt, invalidAt + 1]);
    receiver.push(chunks[0]!);
    assert.equal(events.length, 0);
    receiver.push(chunks[1]!);
    assert.equal(errorOf(events)?.closeCode, 1007);
  });

  it('refuses text that ends in the middle of a character (1007)', () =>
    expectFailure([frame(Opcode.Text, Buffer.from([0x61, 0xe2, 0x82]))], 'FD_ERR_INVALID_UTF8', 1007));

  it('can skip validation when asked', () => {
    assert.equal(messages(feed([frame(Opcode.Text, Buffer.from([0xff]))], { skipUtf8Validation: true })).length, 1);
  });
});

describe('Receiver: control frames and close payloads (RFC 6455 §5.5)', () => {
  it('reports pings and pongs with their payloads, also when split byte by byte', () => {
    const bytes = Buffer.concat([frame(Opcode.Ping, 'are you there'), frame(Opcode.Pong, '')]);
    const events = feed(bytewise(bytes));
    assert.deepEqual(events, [
      { type: 'ping', data: Buffer.from('are you there') },
      { type: 'pong', data: Buffer.alloc(0) },
    ]);
  });

  it('refuses RSV bits on a control frame even when an extension claims them (1002)', () =>
    expectFailure([frame(Opcode.Ping, '', { rsv: RSV1 })], 'FD_ERR_UNEXPECTED_RSV', 1002, { decoder: identityDecoder() }));

  it('reports an empty close frame as 1005', () => {
    assert.deepEqual(feed([frame(Opcode.Close, '')]), [{ type: 'close', code: 1005, reason: '' }]);
  });

  it('reports the close code and reason', () => {
    const payload = Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from('bye ✓')]);
    assert.deepEqual(feed([frame(Opcode.Close, payload)]), [{ type: 'close', code: 4000, reason: 'bye ✓' }]);
  });

  it('refuses a 1-byte close payload (1002)', () => expectFailure([frame(Opcode.Close, Buffer.from([0x03]))], 'FD_ERR_INVALID_CLOSE_PAYLOAD', 1002));

  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    it(`refuses close code ${code} (1002)`, () =>
      expectFailure([frame(Opcode.Close, Buffer.from([code >> 8, code & 0xff]))], 'FD_ERR_INVALID_CLOSE_CODE', 1002));
  }

  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    it(`accepts close code ${code}`, () => {
      assert.deepEqual(feed([frame(Opcode.Close, Buffer.from([code >> 8, code & 0xff]))]), [{ type: 'close', code, reason: '' }]);
    });
  }

  it('refuses a close reason that is not UTF-8 (1007)', () =>
    expectFailure([frame(Opcode.Close, Buffer.from([0x03, 0xe8, 0xff]))], 'FD_ERR_INVALID_UTF8', 1007));

  it('parses nothing after a close frame', () => {
    const events = feed([Buffer.concat([frame(Opcode.Close, Buffer.from([0x03, 0xe8])), frame(Opcode.Text, 'late'), Buffer.from([0xff, 0xff])])]);
    assert.deepEqual(events, [{ type: 'close', code: 1000, reason: '' }]);
  });

  it('parses nothing after an error', () => {
    const events = feed([frame(Opcode.Continuation, 'x'), frame(Opcode.Text, 'after')]);
    assert.deepEqual(
      events.map((e) => e.type),
      ['error'],
    );
  });
});

/** An "extension" claiming RSV1 whose encoding is XOR 0x55 of every byte, answering asynchronously. */
function xorDecoder(async: boolean, log: string[] = []): MessageDecoder {
  return {
    rsv: RSV1,
    decode(payload: readonly Buffer[], fin: boolean, limit: number, callback: DecodeCallback) {
      const data = Buffer.concat(payload).map((b) => b ^ 0x55);
      log.push(`decode ${data.length} fin=${fin}`);
      const done = (): void => {
        if (data.length > limit) callback(new ProtocolError('FD_ERR_MESSAGE_TOO_BIG', 1009, 'too big'), null);
        else callback(null, [Buffer.from(data)]);
      };
      if (async) setImmediate(done);
      else done();
    },
  };
}

function identityDecoder(): MessageDecoder {
  return { rsv: RSV1, decode: (payload, _fin, _limit, callback) => callback(null, [...payload]) };
}

const xor = (text: string): Buffer => Buffer.from(Buffer.from(text).map((b) => b ^ 0x55));

describe('Receiver: the extension hook', () => {
  for (const async of [false, true]) {
    it(`decodes marked messages in order with ${async ? 'an asynchronous' : 'a synchronous'} extension`, async () => {
      const { receiver, events } = recordingReceiver({ decoder: xorDecoder(async) });
      const bytes = Buffer.concat([
        frame(Opcode.Text, xor('one'), { rsv: RSV1 }),
        frame(Opcode.Text, 'two'),
        frame(Opcode.Binary, xor('thr'), { rsv: RSV1, fin: false }),
        frame(Opcode.Ping, 'p'),
        frame(Opcode.Continuation, xor('ee')),
        frame(Opcode.Text, 'four'),
      ]);
      for (const chunk of splitAt(bytes, [3, 10, 17, 30])) receiver.push(chunk);
      await waitFor(() => events.length >= 5, scaled(5000), 'five events');
      assert.deepEqual(
        events.map((e) => (e.type === 'message' ? (e.isBinary ? 'bin:' : 'txt:') + e.data.toString() : e.type)),
        ['txt:one', 'txt:two', 'ping', 'bin:three', 'txt:four'],
      );
    });
  }

  it('refuses the extension bit on a continuation frame (1002)', () =>
    expectFailure([frame(Opcode.Text, 'a', { fin: false, rsv: RSV1 }), frame(Opcode.Continuation, 'b', { rsv: RSV1 })], 'FD_ERR_UNEXPECTED_RSV', 1002, {
      decoder: identityDecoder(),
    }));

  it('validates UTF-8 of decoded text (1007)', () =>
    expectFailure([frame(Opcode.Text, Buffer.from([0xff ^ 0x55]), { rsv: RSV1 })], 'FD_ERR_INVALID_UTF8', 1007, { decoder: xorDecoder(false) }));

  it('passes the remaining size budget to the decoder and reports its refusal', () =>
    expectFailure([frame(Opcode.Binary, xor('x'.repeat(20)), { rsv: RSV1 })], 'FD_ERR_MESSAGE_TOO_BIG', 1009, { decoder: xorDecoder(false), maxPayload: 10 }));
});

describe('Receiver: a large frame collected in its own buffer', () => {
  /** A receiver that records the buffers it allocates for whole frames (`payloadTarget`). */
  function spiedReceiver(options: Parameters<typeof recordingReceiver>[0] = {}): ReturnType<typeof recordingReceiver> & { targets: number[] } {
    const recording = recordingReceiver(options);
    const targets: number[] = [];
    const original = recording.receiver.payloadTarget.bind(recording.receiver);
    recording.receiver.payloadTarget = (length, received, address) => {
      const target = original(length, received, address);
      if (target !== null) targets.push(target.length);
      return target;
    };
    return { ...recording, targets };
  }

  it('delivers the same message however the frame is split, text or binary, masked or not', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300_000 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.boolean(),
        fc.boolean(),
        (size, cuts, binary, masked) => {
          const payload = Buffer.alloc(size);
          for (let i = 0; i < size; i++) payload[i] = binary ? (i * 7) & 0xff : 0x61 + (i % 26);
          const bytes = frame(binary ? Opcode.Binary : Opcode.Text, payload, masked ? {} : { mask: null });
          const { receiver, events } = spiedReceiver({ role: masked ? 'server' : 'client' });
          for (const chunk of splitAt(bytes, cuts.map((cut) => cut % bytes.length))) receiver.push(chunk);
          assert.equal(events.length, 1);
          const event = events[0]!;
          assert.ok(event.type === 'message' && event.isBinary === binary && event.data.equals(payload));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('allocates the frame buffer only once an eighth of it has arrived', () => {
    const { receiver, events, targets } = spiedReceiver();
    const payload = Buffer.alloc(1024 * 1024, 0x62);
    const bytes = frame(Opcode.Binary, payload);
    receiver.push(Buffer.from(bytes.subarray(0, 64 * 1024)));
    receiver.push(Buffer.from(bytes.subarray(64 * 1024, 100 * 1024)));
    assert.deepEqual(targets, [], 'a peer that announced 1 MiB and sent 100 KiB is not given 1 MiB');
    receiver.push(Buffer.from(bytes.subarray(100 * 1024, 200 * 1024)));
    assert.deepEqual(targets, [1024 * 1024]);
    receiver.push(Buffer.from(bytes.subarray(200 * 1024)));
    assert.equal(events.length, 1);
    assert.ok(events[0]!.type === 'message' && events[0]!.data.equals(payload));
  });

  it('does not use one for fragmented, compressed or control frames, nor for a frame in one chunk', () => {
    const { receiver, events, targets } = spiedReceiver();
    const half = Buffer.alloc(100_000, 0x63);
    for (const bytes of [frame(Opcode.Binary, half, { fin: false }), frame(Opcode.Continuation, half), frame(Opcode.Binary, half)]) {
      receiver.push(Buffer.from(bytes.subarray(0, 50_000)));
      receiver.push(Buffer.from(bytes.subarray(50_000)));
    }
    receiver.push(frame(Opcode.Binary, half));
    assert.deepEqual(targets, [100_000], 'only the single-frame message that spanned two chunks');
    assert.equal(events.filter((e) => e.type === 'message').length, 3);
  });

  it('keeps strict UTF-8: a bad byte in a collected text frame fails it (1007)', () => {
    const text = Buffer.alloc(200_000, 0x61);
    text[150_000] = 0xff;
    const bytes = frame(Opcode.Text, text);
    failureEvents([bytes.subarray(0, 60_000), bytes.subarray(60_000)].map((b) => Buffer.from(b)), 'FD_ERR_INVALID_UTF8', 1007);
  });
});

describe('Receiver: bounded buffers however the peer splits its data', () => {
  it('a 1 MB frame read as a million 1-byte TCP chunks holds a few blocks, not a million buffers', () => {
    const { receiver, events } = recordingReceiver();
    const payload = Buffer.alloc(1_000_000, 0x61);
    const bytes = frame(Opcode.Binary, payload);
    let most = 0;
    for (let i = 0; i < bytes.length; i++) {
      receiver.push(bytes.subarray(i, i + 1));
      if ((i & 1023) === 0) most = Math.max(most, receiver.bufferedChunks);
    }
    assert.ok(most <= 70, `${most} buffers held`); // 1 MB / 16 KiB blocks
    assert.equal(events.length, 1);
    assert.ok(events[0]!.type === 'message' && events[0]!.data.equals(payload));
  });

  it('a million 1-byte fragments and a million empty continuation frames', () => {
    const { receiver, events } = recordingReceiver();
    receiver.push(frame(Opcode.Text, 'a', { fin: false }));
    const one = frame(Opcode.Continuation, 'b', { fin: false });
    const empty = frame(Opcode.Continuation, '', { fin: false });
    let most = 0;
    for (let i = 0; i < 1_000_000; i++) {
      receiver.push(Buffer.from(i % 2 === 0 ? one : empty)); // copies: the parser unmasks in place
      if ((i & 4095) === 0) most = Math.max(most, receiver.bufferedChunks);
    }
    receiver.push(frame(Opcode.Continuation, 'c'));
    assert.ok(most <= 33, `${most} buffers held`); // 500 KB of payload in 16 KiB blocks
    assert.deepEqual(messages(events), [`txt:a${'b'.repeat(500_000)}c`]);
  });

  it('maxFragments bounds the frames of one message (1009)', () => {
    const chunks = [frame(Opcode.Binary, 'a', { fin: false }), ...Array.from({ length: 9 }, () => frame(Opcode.Continuation, '', { fin: false })), frame(Opcode.Continuation, '')];
    assert.equal(messages(feed(chunks, { maxFragments: 11 })).length, 1);
    expectFailure(chunks, 'FD_ERR_TOO_MANY_FRAGMENTS', 1009, { maxFragments: 10 });
  });

  it('1-byte chunks that arrive while the decoder works are queued in blocks', () => {
    let pending: (() => void) | null = null;
    const decoder: MessageDecoder = {
      rsv: RSV1,
      decode(payload: readonly Buffer[], _fin: boolean, _limit: number, callback: DecodeCallback) {
        const output = payload.map((piece) => Buffer.from(piece));
        pending = () => callback(null, output);
      },
    };
    const { receiver, events } = recordingReceiver({ decoder });
    receiver.push(frame(Opcode.Binary, 'x', { rsv: RSV1 })); // the decoder now holds the parser paused
    assert.ok(receiver.isPaused);
    const next = frame(Opcode.Binary, Buffer.alloc(200_000, 0x62));
    for (let i = 0; i < next.length; i++) receiver.push(next.subarray(i, i + 1));
    assert.ok(receiver.bufferedChunks <= 20, `${receiver.bufferedChunks} buffers queued`);
    assert.equal(receiver.bufferedBytes, next.length);
    (pending as unknown as () => void)();
    assert.deepEqual(messages(events), ['bin:78', `bin:${'62'.repeat(200_000)}`]);
  });
});

describe('Receiver: the shared placeholders before the first data message', () => {
  /** The receiver's private message state, for checking what it holds. */
  interface Insides {
    message: MessageBuffer;
    utf8: Utf8Validator;
    encoded: MessageBuffer | null;
  }
  const insides = (receiver: Receiver): Insides => receiver as unknown as Insides;

  it('an idle receiver stops, closes and answers control frames without touching them', () => {
    for (const options of [{}, { decoder: identityDecoder() }]) {
      assert.deepEqual(feed([frame(Opcode.Ping, 'p'), frame(Opcode.Close, Buffer.from([0x03, 0xe8]))], options), [
        { type: 'ping', data: Buffer.from('p') },
        { type: 'close', code: 1000, reason: '' },
      ]);
      const { receiver, events } = recordingReceiver(options);
      receiver.stop();
      assert.equal(receiver.bufferedChunks, 0);
      assert.deepEqual(events, []);
      assert.equal(errorOf(feed([frame(Opcode.Continuation, 'x')], options))?.code, 'FD_ERR_UNEXPECTED_CONTINUATION');
    }
  });

  it('are frozen: a write that reached one by mistake would throw, not leak into another connection', () => {
    const idle = insides(recordingReceiver({ decoder: identityDecoder() }).receiver);
    assert.ok(Object.isFrozen(idle.message) && Object.isFrozen(idle.utf8) && Object.isFrozen(idle.encoded));
    assert.throws(() => idle.message.add(Buffer.from('leak')), TypeError);
    assert.throws(() => idle.utf8.write(Buffer.from([0xe2])), TypeError);
    assert.equal(idle.message.length, 0);
    assert.ok(idle.utf8.complete);
    // The same mistake through the receiver: a payload with no data frame header before it.
    const { receiver } = recordingReceiver();
    assert.throws(() => receiver.onFramePayload(Buffer.from('leak'), true), TypeError);

    // A connection that receives data gets its own, and the shared ones stay empty.
    const { receiver: busy, events } = recordingReceiver({ decoder: identityDecoder() });
    busy.push(Buffer.concat([frame(Opcode.Text, 'abc', { fin: false }), frame(Opcode.Continuation, 'de', { fin: false })]));
    const own = insides(busy);
    assert.ok(own.message !== idle.message && own.utf8 !== idle.utf8 && !Object.isFrozen(own.message) && !Object.isFrozen(own.utf8));
    busy.push(frame(Opcode.Continuation, 'f'));
    busy.push(frame(Opcode.Binary, 'xyz', { rsv: RSV1 }));
    assert.ok(own.encoded !== idle.encoded && !Object.isFrozen(own.encoded));
    assert.deepEqual(messages(events), ['txt:abcdef', 'bin:78797a']);
    assert.equal(idle.message.length, 0);
    assert.equal(idle.encoded?.length, 0);
    assert.ok(idle.utf8.complete);
  });
});
