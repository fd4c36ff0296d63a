import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { maskInto, unmask, xorMask } from '../../src/protocol/mask.js';

function reference(data: Uint8Array, mask: Uint8Array, offset = 0): Buffer {
  return Buffer.from(data.map((b, i) => b ^ mask[(i + offset) & 3]!));
}

describe('mask (RFC 6455 §5.3)', () => {
  it('unmasks the RFC §5.7 example to "Hello"', () => {
    const data = Buffer.from([0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    unmask(data, Buffer.from([0x37, 0xfa, 0x21, 0x3d]));
    assert.equal(data.toString(), 'Hello');
  });

  it('matches the byte-by-byte definition for every length, alignment and mask offset', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 1000, maxLength: 3000 })),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat(7),
        fc.nat(3),
        (bytes, mask, shift, maskOffset) => {
          // Place the data at an arbitrary alignment inside a larger buffer.
          const backing = Buffer.alloc(bytes.length + 16, 0xee);
          backing.set(bytes, shift);
          const before = Buffer.from(backing);
          const next = xorMask(backing, shift, shift + bytes.length, mask, maskOffset);
          assert.deepEqual(backing.subarray(shift, shift + bytes.length), reference(bytes, mask, maskOffset));
          assert.equal(next, (maskOffset + bytes.length) & 3);
          // Bytes outside the range are untouched.
          assert.deepEqual(backing.subarray(0, shift), before.subarray(0, shift));
          assert.deepEqual(backing.subarray(shift + bytes.length), before.subarray(shift + bytes.length));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('unmasks a payload in pieces exactly as in one go', () => {
    const mask = Buffer.from([1, 2, 3, 4]);
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));
    const whole = Buffer.from(data);
    unmask(whole, mask);
    const pieces = Buffer.from(data);
    let offset = 0;
    for (const [start, end] of [
      [0, 3],
      [3, 100],
      [100, 101],
      [101, 1000],
    ] as const) {
      offset = xorMask(pieces, start, end, mask, offset);
    }
    assert.deepEqual(pieces, whole);
  });

  it('maskInto leaves the source untouched', () => {
    const source = Buffer.alloc(100, 0x41);
    const target = Buffer.alloc(110);
    maskInto(source, Buffer.from([0xff, 0, 0xff, 0]), target, 10);
    assert.ok(source.every((b) => b === 0x41));
    assert.deepEqual(target.subarray(10), reference(source, Buffer.from([0xff, 0, 0xff, 0])));
  });
});
