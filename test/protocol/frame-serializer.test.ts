import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Opcode, RSV1 } from '../../src/protocol/constants.js';
import {
  MaskKeyPool,
  encodeClosePayload,
  serializeFrame,
  serializeMessage,
  serializeTextFrame,
  type ChunkSink,
} from '../../src/protocol/frame-serializer.js';
import { hex, recordingReceiver } from '../helpers/protocol.js';

function collect(fn: (sink: ChunkSink) => void): { chunks: Buffer[]; bytes: Buffer } {
  const chunks: Buffer[] = [];
  fn({ write: (chunk) => chunks.push(chunk) });
  return { chunks, bytes: Buffer.concat(chunks) };
}

const MASK = hex('37 fa 21 3d');

describe('frame serializer: RFC 6455 §5.7 examples byte for byte', () => {
  it('single-frame unmasked text "Hello"', () => {
    assert.deepEqual(collect((s) => serializeTextFrame(s, 'Hello', true, 0, null)).bytes, hex('81 05 48 65 6c 6c 6f'));
  });
  it('single-frame masked text "Hello"', () => {
    assert.deepEqual(collect((s) => serializeTextFrame(s, 'Hello', true, 0, MASK)).bytes, hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
    assert.deepEqual(collect((s) => serializeFrame(s, Opcode.Text, Buffer.from('Hello'), true, 0, MASK)).bytes, hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
  });
  it('fragmented unmasked text "Hel" + "lo"', () => {
    assert.deepEqual(
      collect((s) => serializeMessage(s, Opcode.Text, Buffer.from('Hello'), 3, 0, null)).bytes,
      hex('01 03 48 65 6c 80 02 6c 6f'),
    );
  });
  it('unmasked ping and masked pong "Hello"', () => {
    assert.deepEqual(collect((s) => serializeFrame(s, Opcode.Ping, Buffer.from('Hello'), true, 0, null)).bytes, hex('89 05 48 65 6c 6c 6f'));
    assert.deepEqual(collect((s) => serializeFrame(s, Opcode.Pong, Buffer.from('Hello'), true, 0, MASK)).bytes, hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'));
  });
  it('256 bytes of binary with a 16-bit length', () => {
    const { bytes } = collect((s) => serializeFrame(s, Opcode.Binary, Buffer.alloc(256, 1), true, 0, null));
    assert.deepEqual(bytes.subarray(0, 4), hex('82 7e 01 00'));
    assert.equal(bytes.length, 260);
  });
  it('64 KiB of binary with a 64-bit length', () => {
    const { bytes } = collect((s) => serializeFrame(s, Opcode.Binary, Buffer.alloc(65536, 1), true, 0, null));
    assert.deepEqual(bytes.subarray(0, 10), hex('82 7f 00 00 00 00 00 01 00 00'));
    assert.equal(bytes.length, 65546);
  });
});

describe('frame serializer: chunks and masking', () => {
  it('leaves a large server payload uncopied (header + the same buffer)', () => {
    const payload = Buffer.alloc(4096, 7);
    const { chunks } = collect((s) => serializeFrame(s, Opcode.Binary, payload, true, 0, null));
    assert.equal(chunks.length, 2);
    assert.equal(chunks[1], payload);
  });

  it('never modifies the caller\'s data when masking', () => {
    const payload = Buffer.alloc(1000, 0x41);
    collect((s) => serializeFrame(s, Opcode.Binary, payload, true, 0, MASK));
    assert.ok(payload.every((b) => b === 0x41));
  });

  it('uses the length boundaries 125/126 and 65535/65536', () => {
    for (const [length, headerLength] of [
      [125, 2],
      [126, 4],
      [65535, 4],
      [65536, 10],
    ] as const) {
      const { bytes } = collect((s) => serializeFrame(s, Opcode.Binary, Buffer.alloc(length), true, 0, null));
      assert.equal(bytes.length - length, headerLength, `length ${length}`);
    }
  });

  it('sets RSV on the first fragment only', () => {
    const { bytes } = collect((s) => serializeMessage(s, Opcode.Binary, Buffer.alloc(10), 4, RSV1, null));
    assert.deepEqual([bytes[0], bytes[6], bytes[12]], [0x42, 0x00, 0x80]);
  });

  it('fragments a masked message with a fresh key per frame, and our parser reads it back', () => {
    const pool = new MaskKeyPool();
    const keys: string[] = [];
    const payload = Buffer.from('x'.repeat(1000));
    const { bytes } = collect((s) =>
      serializeMessage(s, Opcode.Text, payload, 100, 0, () => {
        const key = pool.next();
        keys.push(key.toString('hex'));
        return key;
      }),
    );
    assert.equal(keys.length, 10);
    assert.ok(new Set(keys).size > 1);
    const { receiver, events } = recordingReceiver({ role: 'server' });
    receiver.push(bytes);
    assert.deepEqual(events, [{ type: 'message', data: payload, isBinary: false }]);
  });

  it('the mask pool gives different keys', () => {
    const pool = new MaskKeyPool();
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(pool.next().toString('hex'));
    assert.ok(seen.size > 4990);
  });
});

describe('close payloads (RFC 6455 §5.5.1, §7.4)', () => {
  it('encodes nothing, a code, or a code and reason', () => {
    assert.equal(encodeClosePayload().length, 0);
    assert.deepEqual(encodeClosePayload(1000), hex('03 e8'));
    assert.deepEqual(encodeClosePayload(4000, 'bye'), Buffer.concat([hex('0f a0'), Buffer.from('bye')]));
  });
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5, Number.NaN]) {
    it(`refuses to send code ${code}`, () => assert.throws(() => encodeClosePayload(code), RangeError));
  }
  it('refuses a reason over 123 bytes, counting UTF-8 bytes', () => {
    assert.equal(encodeClosePayload(1000, 'a'.repeat(123)).length, 125);
    assert.throws(() => encodeClosePayload(1000, 'a'.repeat(124)), RangeError);
    assert.throws(() => encodeClosePayload(1000, '€'.repeat(42)), RangeError); // 126 bytes
  });
  it('refuses a reason without a code', () => assert.throws(() => encodeClosePayload(undefined, 'why'), TypeError));
});
