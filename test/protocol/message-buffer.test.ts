import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MessageBuffer } from '../../src/protocol/message-buffer.js';

describe('MessageBuffer', () => {
  it('returns a single piece without copying it', () => {
    const buffer = new MessageBuffer();
    const piece = Buffer.from('only');
    buffer.add(piece);
    assert.equal(buffer.takeBuffer(), piece);
    assert.equal(buffer.length, 0);
  });

  it('joins pieces in order', () => {
    const buffer = new MessageBuffer();
    for (const text of ['a', 'b'.repeat(5000), 'c', 'd', 'e'.repeat(4096), 'f']) buffer.add(Buffer.from(text));
    assert.equal(buffer.takeBuffer().toString(), 'a' + 'b'.repeat(5000) + 'cd' + 'e'.repeat(4096) + 'f');
  });

  it('keeps large pieces by reference and small ones in shared blocks', () => {
    const buffer = new MessageBuffer();
    const large = Buffer.alloc(8192, 1);
    buffer.add(Buffer.from('x'));
    buffer.add(large);
    for (let i = 0; i < 10_000; i++) buffer.add(Buffer.from([i & 0xff]));
    assert.ok(buffer.pieceCount <= 5, `${buffer.pieceCount} pieces`);
    const pieces = buffer.takePieces();
    assert.equal(pieces[1], large);
    const joined = Buffer.concat(pieces);
    assert.equal(joined.length, 1 + 8192 + 10_000);
    assert.equal(joined[joined.length - 1], 9999 & 0xff);
  });

  it('holds a million one-byte pieces in a few hundred blocks', () => {
    const buffer = new MessageBuffer();
    const one = Buffer.from([7]);
    for (let i = 0; i < 1_000_000; i++) buffer.add(one);
    assert.ok(buffer.pieceCount < 100, `${buffer.pieceCount} pieces`);
    const data = buffer.takeBuffer();
    assert.equal(data.length, 1_000_000);
    assert.ok(data.every((b) => b === 7));
  });

  it('ignores empty pieces and starts over after take', () => {
    const buffer = new MessageBuffer();
    buffer.add(Buffer.alloc(0));
    assert.equal(buffer.takeBuffer().length, 0);
    buffer.add(Buffer.from('a'));
    buffer.add(Buffer.from('b'));
    assert.equal(buffer.takeBuffer().toString(), 'ab');
    buffer.add(Buffer.from('c'));
    assert.equal(buffer.takeBuffer().toString(), 'c');
  });
});
