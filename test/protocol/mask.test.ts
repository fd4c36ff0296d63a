import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allocAligned, maskInto, unmask, xorMask, xorMaskInto } from '../../src/protocol/mask.js';

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

  it('xorMaskInto writes the unmasked bytes for every length, alignment and mask offset, source untouched', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 1000, maxLength: 5000 })),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat(7),
        fc.nat(7),
        fc.nat(3),
        fc.boolean(),
        (bytes, mask, sourceShift, targetShift, maskOffset, aligned) => {
          const source = Buffer.alloc(bytes.length + 16, 0xee);
          source.set(bytes, sourceShift);
          const sourceBefore = Buffer.from(source);
          // Either a target that lines up with the source (the one-pass path) or any other alignment.
          const target = aligned ? allocAligned(bytes.length + 16, source.byteOffset + sourceShift - targetShift) : Buffer.alloc(bytes.length + 16);
          target.fill(0xdd);
          const next = xorMaskInto(source, sourceShift, sourceShift + bytes.length, target, targetShift, mask, maskOffset);
          assert.deepEqual(target.subarray(targetShift, targetShift + bytes.length), reference(bytes, mask, maskOffset));
          assert.equal(next, (maskOffset + bytes.length) & 3);
          assert.deepEqual(source, sourceBefore);
          assert.ok(target.subarray(0, targetShift).every((b) => b === 0xdd));
          assert.ok(target.subarray(targetShift + bytes.length).every((b) => b === 0xdd));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('allocAligned returns exactly the length asked for, at the address alignment asked for', () => {
    for (let address = -9; address < 20; address++) {
      const buffer = allocAligned(4096, address);
      assert.equal(buffer.length, 4096);
      assert.equal(buffer.byteOffset & 7, address & 7);
    }
  });
});
