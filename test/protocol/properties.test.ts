/**
 * Property tests (fast-check) over the whole receive path:
 *  (a) serialize -> split anywhere -> parse gives back exactly what was sent, in both roles;
 *  (b) arbitrary bytes in arbitrary chunks never raise anything but a ProtocolError, reported once;
 *  (c) valid Unicode text round-trips; invalid UTF-8 text is refused with 1007.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Opcode } from '../../src/protocol/constants.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { MaskKeyPool, serializeFrame, serializeMessage, type ChunkSink } from '../../src/protocol/frame-serializer.js';
import { isValidUtf8 } from '../../src/protocol/utf8.js';
import { recordingReceiver, splitAt, type ReceivedEvent } from '../helpers/protocol.js';

type Item =
  | { kind: 'message'; binary: boolean; payload: Buffer; fragmentSize: number }
  | { kind: 'ping' | 'pong'; payload: Buffer };

const LENGTH_CLASSES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20];

const payloadArb = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...LENGTH_CLASSES), fc.integer({ min: 0, max: 255 })).map(([n, fill]) => Buffer.alloc(n, fill)) },
);

const textArb = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme', maxLength: 100 }).map((s) => Buffer.from(s, 'utf8')) },
  { weight: 1, arbitrary: fc.constantFrom(...LENGTH_CLASSES).map((n) => Buffer.from('é'.repeat(n >> 1) + 'a'.repeat(n & 1), 'utf8')) },
);

const itemArb: fc.Arbitrary<Item> = fc.oneof(
  fc.record({
    kind: fc.constant('message' as const),
    binary: fc.constant(true),
    payload: payloadArb,
    fragmentSize: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 70000 })),
  }),
  fc.record({
    kind: fc.constant('message' as const),
    binary: fc.constant(false),
    payload: textArb,
    fragmentSize: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 70000 })),
  }),
  fc.record({
    kind: fc.constantFrom('ping' as const, 'pong' as const),
    payload: fc.uint8Array({ maxLength: 125 }).map((a) => Buffer.from(a)),
  }),
);

function serialize(items: Item[], masked: boolean): Buffer {
  const chunks: Buffer[] = [];
  const sink: ChunkSink = { write: (chunk) => chunks.push(chunk) };
  const pool = new MaskKeyPool();
  const nextMask = masked ? () => pool.next() : null;
  for (const item of items) {
    if (item.kind === 'message') {
      // Limit the number of frames of huge messages to keep runs quick.
      const fragmentSize = item.fragmentSize === 0 ? 0 : Math.max(item.fragmentSize, Math.ceil(item.payload.length / 64));
      serializeMessage(sink, item.binary ? Opcode.Binary : Opcode.Text, item.payload, fragmentSize, 0, nextMask);
    } else {
      serializeFrame(sink, item.kind === 'ping' ? Opcode.Ping : Opcode.Pong, item.payload, true, 0, nextMask === null ? null : nextMask());
    }
  }
  return Buffer.concat(chunks);
}

function expected(items: Item[]): ReceivedEvent[] {
  return items.map((item) =>
    item.kind === 'message' ? { type: 'message', data: item.payload, isBinary: item.binary } : { type: item.kind, data: item.payload },
  );
}

describe('property: serialize, split anywhere, parse', () => {
  for (const role of ['server', 'client'] as const) {
    it(`gives back every message and control frame (${role} receiving)`, () => {
      fc.assert(
        fc.property(fc.array(itemArb, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (items, cutSeeds) => {
          const bytes = serialize(items, role === 'server');
          const cuts = cutSeeds.map((seed) => seed % (bytes.length + 1));
          const { receiver, events } = recordingReceiver({ role });
          for (const chunk of splitAt(bytes, cuts)) receiver.push(chunk);
          assert.deepEqual(events, expected(items));
        }),
        { numRuns: 300 },
      );
    });
  }

  it('gives the same result fed one byte at a time', () => {
    fc.assert(
      fc.property(fc.array(itemArb.filter((i) => i.payload.length < 2000), { minLength: 1, maxLength: 4 }), (items) => {
        const bytes = serialize(items, true);
        const { receiver, events } = recordingReceiver({ role: 'server' });
        for (let i = 0; i < bytes.length; i++) receiver.push(Buffer.from([bytes[i]!]));
        assert.deepEqual(events, expected(items));
      }),
      { numRuns: 100 },
    );
  });
});

function checkOnlyProtocolErrors(events: ReceivedEvent[]): void {
  const endings = events.filter((e) => e.type === 'error' || e.type === 'close');
  assert.ok(endings.length <= 1, 'at most one error or close');
  if (endings.length === 1) assert.equal(events.at(-1), endings[0], 'nothing after an error or close');
  for (const event of events) {
    if (event.type === 'error') {
      assert.ok(event.error instanceof ProtocolError);
      assert.ok([1002, 1007, 1009].includes(event.error.closeCode), `close code ${event.error.closeCode}`);
    }
  }
}

describe('property: hostile input', () => {
  for (const role of ['server', 'client'] as const) {
    it(`random bytes in random chunks raise only ProtocolError, once (${role})`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(2000), { maxLength: 10 }), (bytes, cuts) => {
          const { receiver, events } = recordingReceiver({ role, maxPayload: 1 << 20 });
          for (const chunk of splitAt(Buffer.from(bytes), cuts)) receiver.push(chunk); // must not throw
          checkOnlyProtocolErrors(events);
        }),
        { numRuns: 3000 },
      );
    });
  }

  it('mutated valid streams (bit flips, truncation, splices) raise only ProtocolError', () => {
    fc.assert(
      fc.property(
        fc.array(itemArb.filter((i) => i.payload.length < 5000), { minLength: 1, maxLength: 5 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(7)), { maxLength: 6 }),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 8 }),
        (items, flips, truncateSeed, cutSeeds) => {
          const bytes = serialize(items, true);
          for (const [position, bit] of flips) if (bytes.length > 0) bytes[position % bytes.length]! ^= 1 << bit;
          const truncated = bytes.subarray(0, truncateSeed % (bytes.length + 1));
          const { receiver, events } = recordingReceiver({ role: 'server', maxPayload: 1 << 20 });
          for (const chunk of splitAt(truncated, cutSeeds.map((s) => s % (truncated.length + 1)))) receiver.push(chunk);
          checkOnlyProtocolErrors(events);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('property: UTF-8 in text messages', () => {
  it('valid Unicode text round-trips, whatever the fragmentation and chunking', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.integer({ min: 1, max: 50 }), fc.array(fc.nat(), { maxLength: 8 }), (text, fragmentSize, cuts) => {
        const payload = Buffer.from(text, 'utf8');
        const bytes = serialize([{ kind: 'message', binary: false, payload, fragmentSize }], true);
        const { receiver, events } = recordingReceiver();
        for (const chunk of splitAt(bytes, cuts.map((c) => c % (bytes.length + 1)))) receiver.push(chunk);
        assert.equal(events.length, 1);
        const [event] = events;
        assert.ok(event?.type === 'message');
        assert.equal(event.data.toString('utf8'), text.replace(/\p{Cs}/gu, '\uFFFD'));
      }),
      { numRuns: 500 },
    );
  });

  it('invalid UTF-8 text is refused with 1007, whatever the fragmentation', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200 }).filter((a) => !isValidUtf8(a)),
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (bytes, fragmentSize, cuts) => {
          const wire = serialize([{ kind: 'message', binary: false, payload: Buffer.from(bytes), fragmentSize }], true);
          const { receiver, events } = recordingReceiver();
          for (const chunk of splitAt(wire, cuts.map((c) => c % (wire.length + 1)))) receiver.push(chunk);
          assert.equal(events.length, 1);
          const [event] = events;
          assert.ok(event?.type === 'error');
          assert.equal(event.error.closeCode, 1007);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
