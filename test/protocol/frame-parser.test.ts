import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FrameParser, type FrameSink } from '../../src/protocol/frame-parser.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { RSV1 } from '../../src/protocol/constants.js';
import { bytewise, hex } from '../helpers/protocol.js';

interface Seen {
  headers: Array<{ opcode: number; fin: boolean; rsv: number; length: number }>;
  payload: Buffer[];
  lasts: boolean[];
}

function parser(role: 'client' | 'server', allowedRsv = 0): { parser: FrameParser; seen: Seen } {
  const seen: Seen = { headers: [], payload: [], lasts: [] };
  const sink: FrameSink = {
    onFrameHeader: (opcode, fin, rsv, length) => seen.headers.push({ opcode, fin, rsv, length }),
    onFramePayload: (data, last) => {
      seen.payload.push(Buffer.from(data));
      seen.lasts.push(last);
    },
  };
  return { parser: new FrameParser({ role, allowedRsv }, sink), seen };
}

function expectError(role: 'client' | 'server', bytes: Buffer, code: string, closeCode: number): void {
  const { parser: p } = parser(role);
  assert.throws(
    () => p.push(bytes),
    (error: unknown) => error instanceof ProtocolError && error.code === code && error.closeCode === closeCode,
  );
  assert.equal(p.isStopped, true);
}

describe('FrameParser: RFC 6455 §5.7 examples', () => {
  it('reads a single-frame unmasked text message (client role)', () => {
    const { parser: p, seen } = parser('client');
    p.push(hex('81 05 48 65 6c 6c 6f'));
    assert.deepEqual(seen.headers, [{ opcode: 1, fin: true, rsv: 0, length: 5 }]);
    assert.equal(Buffer.concat(seen.payload).toString(), 'Hello');
  });

  it('reads and unmasks a single-frame masked text message (server role)', () => {
    const { parser: p, seen } = parser('server');
    p.push(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
    assert.equal(Buffer.concat(seen.payload).toString(), 'Hello');
  });

  it('reads a fragmented unmasked text message as two frames', () => {
    const { parser: p, seen } = parser('client');
    p.push(hex('01 03 48 65 6c 80 02 6c 6f'));
    assert.deepEqual(
      seen.headers.map((h) => [h.opcode, h.fin]),
      [
        [1, false],
        [0, true],
      ],
    );
    assert.deepEqual(seen.payload.map(String), ['Hel', 'lo']);
  });

  it('reads a 256-byte binary frame with a 16-bit length and a 64 KiB one with a 64-bit length', () => {
    const { parser: p, seen } = parser('client');
    const small = Buffer.alloc(256, 7);
    const large = Buffer.alloc(65536, 9);
    p.push(Buffer.concat([hex('82 7e 01 00'), small, hex('82 7f 00 00 00 00 00 01 00 00'), large]));
    assert.deepEqual(
      seen.headers.map((h) => h.length),
      [256, 65536],
    );
    assert.deepEqual(Buffer.concat(seen.payload), Buffer.concat([small, large]));
  });

  it('accepts non-minimal length encodings, as the RFC allows', () => {
    const { parser: p, seen } = parser('client');
    p.push(hex('82 7e 00 03 01 02 03 82 7f 00 00 00 00 00 00 00 02 04 05'));
    assert.deepEqual(
      seen.headers.map((h) => h.length),
      [3, 2],
    );
    assert.deepEqual(Buffer.concat(seen.payload), hex('01 02 03 04 05'));
  });
});

describe('FrameParser: any split of the input gives the same result', () => {
  const stream = hex('81 85 37 fa 21 3d 7f 9f 4d 51 58 89 80 01 02 03 04 82 fe 01 00 aa bb cc dd');
  const tail = Buffer.alloc(256, 0x5a);
  const bytes = Buffer.concat([stream, tail]);

  it('fed one byte at a time', () => {
    const whole = parser('server');
    whole.parser.push(Buffer.from(bytes));
    const split = parser('server');
    for (const chunk of bytewise(bytes)) split.parser.push(chunk);
    assert.deepEqual(split.seen.headers, whole.seen.headers);
    assert.deepEqual(Buffer.concat(split.seen.payload), Buffer.concat(whole.seen.payload));
    assert.equal(split.seen.lasts.filter(Boolean).length, 3);
  });

  it('reports an empty payload as one empty last piece', () => {
    const { parser: p, seen } = parser('client');
    p.push(hex('82 00 8a 00'));
    assert.deepEqual(seen.lasts, [true, true]);
    assert.deepEqual(
      seen.payload.map((b) => b.length),
      [0, 0],
    );
  });
});

describe('FrameParser: per-frame rules', () => {
  it('requires masked frames from clients (1002)', () => expectError('server', hex('81 05 48 65 6c 6c 6f'), 'FD_ERR_EXPECTED_MASK', 1002));
  it('refuses masked frames from servers (1002)', () => expectError('client', hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), 'FD_ERR_UNEXPECTED_MASK', 1002));

  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    it(`refuses reserved opcode 0x${opcode.toString(16)} (1002)`, () =>
      expectError('client', Buffer.from([0x80 | opcode, 0x00]), 'FD_ERR_INVALID_OPCODE', 1002));
  }

  for (const [bit, name] of [
    [0x40, 'RSV1'],
    [0x20, 'RSV2'],
    [0x10, 'RSV3'],
  ] as const) {
    it(`refuses ${name} without an extension (1002)`, () => expectError('client', Buffer.from([0x81 | bit, 0x00]), 'FD_ERR_UNEXPECTED_RSV', 1002));
  }

  it('says which reserved bits were unexpected (reservedBits)', () => {
    const { parser: p } = parser('client');
    assert.throws(() => p.push(Buffer.from([0x81 | 0x60, 0x00])), (error: unknown) => error instanceof ProtocolError && error.reservedBits === 0x60);
  });

  it('lets an extension claim RSV1, and only RSV1', () => {
    const { parser: p, seen } = parser('client', RSV1);
    p.push(hex('c1 00'));
    assert.equal(seen.headers[0]!.rsv, RSV1);
    const other = parser('client', RSV1);
    assert.throws(() => other.parser.push(hex('a1 00')), /Reserved bits/);
  });

  it('refuses a fragmented control frame (1002)', () => expectError('client', hex('09 00'), 'FD_ERR_CONTROL_FRAGMENTED', 1002));
  it('refuses a control frame longer than 125 bytes (1002)', () =>
    expectError('client', Buffer.concat([hex('89 7e 00 7e'), Buffer.alloc(126)]), 'FD_ERR_CONTROL_TOO_LONG', 1002));

  it('accepts a control frame of exactly 125 bytes', () => {
    const { parser: p, seen } = parser('client');
    p.push(Buffer.concat([hex('89 7d'), Buffer.alloc(125, 1)]));
    assert.equal(seen.headers[0]!.length, 125);
  });

  it('refuses a 64-bit length with the most significant bit set (1002)', () =>
    expectError('client', hex('82 7f 80 00 00 00 00 00 00 00'), 'FD_ERR_INVALID_LENGTH', 1002));

  it('refuses a 2^63-1 length as unsupported (1009: FD_ERR_UNSUPPORTED_LENGTH), before any payload', () =>
    expectError('client', hex('82 7f 7f ff ff ff ff ff ff ff'), 'FD_ERR_UNSUPPORTED_LENGTH', 1009));

  it('checks the first two header bytes before the rest of the header arrives', () => {
    const { parser: p } = parser('client');
    p.push(hex('82'));
    // A masked frame with a 64-bit length: 12 more header bytes would follow, but the mask bit is enough.
    assert.throws(() => p.push(hex('ff')), /masked/);
  });

  it('ignores everything after it stops', () => {
    const { parser: p, seen } = parser('client');
    p.push(hex('81 01 41'));
    p.stop();
    p.push(hex('81 01 42'));
    assert.equal(seen.headers.length, 1);
  });
});

describe('FrameParser: pause and resume', () => {
  it('queues chunks while paused and parses them in order on resume', () => {
    const seen: number[] = [];
    let target: FrameParser | null = null;
    const p = new FrameParser(
      { role: 'client' },
      {
        onFrameHeader: () => {},
        onFramePayload: (data, last) => {
          if (last) {
            seen.push(data[0]!);
            if (seen.length === 1) target!.pause();
          }
        },
      },
    );
    target = p;
    p.push(hex('82 01 01 82 01 02'));
    p.push(hex('82 01 03'));
    assert.deepEqual(seen, [1]);
    assert.equal(p.bufferedBytes, 6);
    p.resume();
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(p.bufferedBytes, 0);
  });
});
