import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Utf8Validator, isValidUtf8 } from '../../src/protocol/utf8.js';

const b = (...bytes: number[]): Buffer => Buffer.from(bytes);

/** Sequences every strict validator must refuse (RFC 3629 §3, §10; Autobahn 6.x). */
const INVALID: Array<[string, Buffer]> = [
  ['lone continuation byte', b(0x80)],
  ['C0 overlong', b(0xc0, 0xaf)],
  ['C1 overlong', b(0xc1, 0xbf)],
  ['E0 overlong', b(0xe0, 0x80, 0xaf)],
  ['F0 overlong', b(0xf0, 0x80, 0x80, 0xaf)],
  ['surrogate U+D800', b(0xed, 0xa0, 0x80)],
  ['surrogate U+DFFF', b(0xed, 0xbf, 0xbf)],
  ['above U+10FFFF', b(0xf4, 0x90, 0x80, 0x80)],
  ['F5 lead byte', b(0xf5, 0x80, 0x80, 0x80)],
  ['FE', b(0xfe)],
  ['FF', b(0xff)],
  ['truncated 2-byte', b(0xc3)],
  ['truncated 3-byte', b(0xe2, 0x82)],
  ['truncated 4-byte', b(0xf0, 0x9f, 0x98)],
  ['lead byte followed by ASCII', b(0xe2, 0x41, 0x41)],
];

const VALID: Array<[string, Buffer]> = [
  ['empty', b()],
  ['ASCII', Buffer.from('hello')],
  ['U+0080', b(0xc2, 0x80)],
  ['U+07FF', b(0xdf, 0xbf)],
  ['U+0800', b(0xe0, 0xa0, 0x80)],
  ['U+D7FF', b(0xed, 0x9f, 0xbf)],
  ['U+E000', b(0xee, 0x80, 0x80)],
  ['U+FFFF', b(0xef, 0xbf, 0xbf)],
  ['U+10000', b(0xf0, 0x90, 0x80, 0x80)],
  ['U+10FFFF', b(0xf4, 0x8f, 0xbf, 0xbf)],
  ['Greek', Buffer.from('κόσμε')],
];

function validateInPieces(data: Buffer, cuts: number[]): boolean {
  const validator = new Utf8Validator();
  let start = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < data.length).sort((x, y) => x - y), data.length]) {
    if (!validator.write(data.subarray(start, cut))) return false;
    start = cut;
  }
  return validator.end();
}

describe('UTF-8 validation (RFC 3629)', () => {
  for (const [name, bytes] of INVALID) {
    it(`refuses ${name}`, () => {
      assert.equal(isValidUtf8(bytes), false);
      assert.equal(validateInPieces(bytes, []), false);
      // Also inside a longer text, so the native path sees it.
      const padded = Buffer.concat([Buffer.from('a'.repeat(40)), bytes, Buffer.from('b'.repeat(40))]);
      assert.equal(validateInPieces(padded, []), false);
    });
  }
  for (const [name, bytes] of VALID) {
    it(`accepts ${name}`, () => {
      assert.equal(isValidUtf8(bytes), true);
      for (let cut = 0; cut <= bytes.length; cut++) assert.equal(validateInPieces(bytes, [cut]), true);
    });
  }

  it('fails on the first byte that makes the text invalid, not at the end', () => {
    const validator = new Utf8Validator();
    assert.equal(validator.write(Buffer.from('κόσμε')), true);
    assert.equal(validator.write(b(0xf4)), true); // could still be valid
    assert.equal(validator.write(b(0x90)), false); // F4 90 is above U+10FFFF
  });

  it('flags an invalid prefix at the end of a long piece at once', () => {
    const validator = new Utf8Validator();
    assert.equal(validator.write(Buffer.concat([Buffer.from('x'.repeat(100)), b(0xed, 0xa0)])), false);
  });

  it('agrees with the native validator on random bytes split anywhere', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(200), { maxLength: 6 }), (bytes, cuts) => {
        const data = Buffer.from(bytes);
        assert.equal(validateInPieces(data, cuts), isValidUtf8(data));
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts any valid Unicode text split anywhere', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 100 }), fc.array(fc.nat(400), { maxLength: 6 }), (text, cuts) => {
        assert.equal(validateInPieces(Buffer.from(text, 'utf8'), cuts), true);
      }),
      { numRuns: 1000 },
    );
  });
});
