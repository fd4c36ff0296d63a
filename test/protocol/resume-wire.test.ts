import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_TOPIC_BYTES,
  RESUME_SUBPROTOCOL,
  RESUME_VERSION,
  ResumeError,
  dataFrameHeader,
  dataFrameHeaderSize,
  writeDataFrameHeader,
  decodeClientControl,
  decodeClientFrame,
  decodeServerControl,
  decodeServerFrame,
  decodeText,
  decodeVarint,
  encodeAckFrame,
  encodeClientControl,
  encodeDataFrame,
  encodeSendFrame,
  encodeServerControl,
  encodeText,
  isTopic,
  varintSize,
  writeVarint,
  type ClientControl,
  type ResumeErrorCode,
  type ServerControl,
} from '../../src/protocol/resume-wire.js';

const bytes = (...values: number[]) => Uint8Array.from(values);

function encodeVarint(value: number): Uint8Array {
  const out = new Uint8Array(varintSize(value));
  assert.equal(writeVarint(out, 0, value), out.length);
  return out;
}

/** Assert that `fn` throws a ResumeError with `code`, `closeCode` and a message matching `message`. */
function assertResumeError(fn: () => unknown, code: ResumeErrorCode, closeCode: number | undefined, message: RegExp, label: string): void {
  assert.throws(
    fn,
    (error: unknown) => {
      assert.ok(error instanceof ResumeError, `${label}: not a ResumeError: ${String(error)}`);
      assert.equal(error.code, code, `${label}: ${error.message}`);
      assert.equal(error.closeCode, closeCode, label);
      assert.match(error.message, message, label);
      return true;
    },
    label,
  );
}

describe('resume wire: names', () => {
  it('is the subprotocol fullduplex.resume.v1, version 1 (a valid Sec-WebSocket-Protocol token)', () => {
    assert.equal(RESUME_SUBPROTOCOL, 'fullduplex.resume.v1');
    assert.equal(RESUME_VERSION, 1);
    // RFC 6455 §4.1: each subprotocol is a token (RFC 7230 tchar).
    assert.match(RESUME_SUBPROTOCOL, /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/);
  });

  it('a server that does not select the subprotocol is FD_ERR_RESUME_NOT_SELECTED, closed with 1010', () => {
    const error = new ResumeError('FD_ERR_RESUME_NOT_SELECTED', 'not selected');
    assert.equal(error.closeCode, 1010);
  });
});

describe('resume wire: varints (unsigned LEB128, at most 2^53 - 1, shortest form)', () => {
  const table: [number, number[]][] = [
    [0, [0x00]],
    [1, [0x01]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [300, [0xac, 0x02]],
    [16_383, [0xff, 0x7f]],
    [16_384, [0x80, 0x80, 0x01]],
    [2 ** 31 - 1, [0xff, 0xff, 0xff, 0xff, 0x07]],
    [2 ** 32, [0x80, 0x80, 0x80, 0x80, 0x10]],
    [2 ** 35 + 5, [0x85, 0x80, 0x80, 0x80, 0x80, 0x01]],
    [2 ** 49, [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
    [Number.MAX_SAFE_INTEGER, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]],
  ];

  it('encodes and decodes the edges to the expected bytes', () => {
    for (const [value, expected] of table) {
      assert.deepEqual([...encodeVarint(value)], expected, `encode ${value}`);
      assert.equal(varintSize(value), expected.length, `size ${value}`);
      assert.deepEqual(decodeVarint(bytes(...expected, 0xee), 0), { value, end: expected.length }, `decode ${value}`);
    }
  });

  it('round-trips values across the whole range', () => {
    for (let bits = 0; bits <= 53; bits++) {
      for (const value of [2 ** bits - 1, 2 ** bits, 2 ** bits + 1].filter((v) => v <= Number.MAX_SAFE_INTEGER)) {
        assert.equal(decodeVarint(encodeVarint(value)).value, value, `value ${value}`);
      }
    }
  });

  it('rejects truncated, overlong, too long and too large encodings', () => {
    const bad: [string, number[], RegExp][] = [
      ['empty', [], /truncated/],
      ['a continuation byte and nothing after', [0x80], /truncated/],
      ['seven continuation bytes', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], /truncated/],
      ['0 in two bytes', [0x80, 0x00], /overlong/],
      ['127 in two bytes', [0xff, 0x00], /overlong/],
      ['1 in three bytes', [0x81, 0x80, 0x00], /overlong/],
      ['nine bytes', [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], /longer than 8 bytes/],
      ['2^53', [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10], /above 2\^53 - 1/],
      ['2^56 - 1', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], /above 2\^53 - 1/],
    ];
    for (const [label, encoded, message] of bad) {
      assertResumeError(() => decodeVarint(bytes(...encoded)), 'FD_ERR_RESUME_BAD_FRAME', 1002, message, label);
    }
  });

  it('refuses to encode what is not a safe integer >= 0', () => {
    for (const value of [-1, 1.5, Number.NaN, 2 ** 53, Infinity]) {
      assert.throws(() => encodeAckFrame(value), RangeError, `value ${value}`);
      assert.throws(() => encodeDataFrame(1, value, new Uint8Array(0), true), RangeError, `offset ${value}`);
      assert.throws(() => dataFrameHeader(value, 1, true), RangeError, `alias ${value}`);
      assert.throws(() => encodeSendFrame(value, new Uint8Array(0), true), RangeError, `seq ${value}`);
    }
  });
});

describe('resume wire: binary frames', () => {
  it('round-trips data frames, text and binary, and the header alone is the same prefix', () => {
    const cases: [number, number, Uint8Array, boolean, number[]][] = [
      [7, 1, encodeText('héllo'), false, [0x01, 0x07, 0x01]],
      [7, 128, bytes(1, 2, 3), true, [0x81, 0x07, 0x80, 0x01]],
      [300, Number.MAX_SAFE_INTEGER, new Uint8Array(0), true, [0x81, 0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]],
      [0, 0, encodeText(''), false, [0x01, 0x00, 0x00]],
    ];
    for (const [alias, offset, payload, binary, head] of cases) {
      const frame = encodeDataFrame(alias, offset, payload, binary);
      assert.deepEqual([...frame], [...head, ...payload], `frame ${alias}/${offset}`);
      assert.deepEqual([...dataFrameHeader(alias, offset, binary)], head);
      const decoded = decodeServerFrame(frame);
      assert.equal(decoded.kind, 'data');
      if (decoded.kind !== 'data') continue;
      assert.deepEqual({ alias: decoded.alias, offset: decoded.offset, binary: decoded.binary, payload: [...decoded.payload] }, { alias, offset, binary, payload: [...payload] });
      assert.equal(decoded.payload.buffer, frame.buffer, 'the payload is a view of the frame (no copy)');
    }
  });

  it('round-trips acks and sends', () => {
    assert.deepEqual([...encodeAckFrame(0)], [0x11, 0x00]);
    assert.deepEqual([...encodeAckFrame(129)], [0x11, 0x81, 0x01]);
    assert.deepEqual(decodeServerFrame(encodeAckFrame(Number.MAX_SAFE_INTEGER)), { kind: 'ack', seq: Number.MAX_SAFE_INTEGER });
    const text = encodeSendFrame(1, encodeText('hi'), false);
    assert.deepEqual([...text], [0x10, 0x01, 0x68, 0x69]);
    const sent = decodeClientFrame(text);
    assert.deepEqual({ ...sent, payload: decodeText(sent.payload) }, { kind: 'send', seq: 1, binary: false, payload: 'hi' });
    const binary = decodeClientFrame(encodeSendFrame(2 ** 40, bytes(0xff), true));
    assert.deepEqual({ ...binary, payload: [...binary.payload] }, { kind: 'send', seq: 2 ** 40, binary: true, payload: [0xff] });
  });

  it('rejects every malformed frame with the typed error of its kind', () => {
    const table: ['client' | 'server', string, number[], ResumeErrorCode, number, RegExp][] = [
      ['client', 'an empty frame', [], 'FD_ERR_RESUME_BAD_FRAME', 1002, /empty/],
      ['server', 'an empty frame', [], 'FD_ERR_RESUME_BAD_FRAME', 1002, /empty/],
      ['client', 'a send (other direction)', [0x10, 0x01], 'FD_ERR_RESUME_UNKNOWN_TYPE', 1003, /kind 0x10/],
      ['client', 'an unknown kind', [0x02, 0x01, 0x01], 'FD_ERR_RESUME_UNKNOWN_TYPE', 1003, /kind 0x02/],
      ['client', 'an ack with the binary flag', [0x91, 0x01], 'FD_ERR_RESUME_UNKNOWN_TYPE', 1003, /kind 0x91/],
      ['client', 'data without an alias', [0x01], 'FD_ERR_RESUME_BAD_FRAME', 1002, /alias varint is truncated/],
      ['client', 'data without an offset', [0x81, 0x05], 'FD_ERR_RESUME_BAD_FRAME', 1002, /offset varint is truncated/],
      ['client', 'data with a truncated offset', [0x01, 0x05, 0x80], 'FD_ERR_RESUME_BAD_FRAME', 1002, /offset varint is truncated/],
      ['client', 'data with an overlong alias', [0x01, 0x85, 0x00, 0x01], 'FD_ERR_RESUME_BAD_FRAME', 1002, /alias varint is overlong/],
      ['client', 'data with an offset above 2^53 - 1', [0x01, 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10], 'FD_ERR_RESUME_BAD_FRAME', 1002, /offset varint is above/],
      ['client', 'an ack without a seq', [0x11], 'FD_ERR_RESUME_BAD_FRAME', 1002, /seq varint is truncated/],
      ['client', 'an ack with bytes after the seq', [0x11, 0x01, 0x00], 'FD_ERR_RESUME_BAD_FRAME', 1002, /1 bytes after its seq/],
      ['client', 'an ack with a 9-byte seq', [0x11, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 'FD_ERR_RESUME_BAD_FRAME', 1002, /longer than 8 bytes/],
      ['server', 'a data frame (other direction)', [0x01, 0x01, 0x01], 'FD_ERR_RESUME_UNKNOWN_TYPE', 1003, /kind 0x01/],
      ['server', 'an ack (other direction)', [0x11, 0x01], 'FD_ERR_RESUME_UNKNOWN_TYPE', 1003, /kind 0x11/],
      ['server', 'a send without a seq', [0x90], 'FD_ERR_RESUME_BAD_FRAME', 1002, /seq varint is truncated/],
      ['server', 'a send with an overlong seq', [0x10, 0x80, 0x00], 'FD_ERR_RESUME_BAD_FRAME', 1002, /seq varint is overlong/],
    ];
    for (const [receiver, label, frame, code, closeCode, message] of table) {
      const decode = receiver === 'client' ? decodeServerFrame : decodeClientFrame;
      assertResumeError(() => decode(bytes(...frame)), code, closeCode, message, `${receiver} receives ${label}`);
    }
  });

  it('decodes text payloads strictly (invalid UTF-8 is FD_ERR_RESUME_BAD_TEXT, 1007) and keeps a BOM', () => {
    assert.equal(decodeText(encodeText('\u{feff}a€😀')), '\u{feff}a€😀');
    for (const invalid of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      assertResumeError(() => decodeText(bytes(...invalid)), 'FD_ERR_RESUME_BAD_TEXT', 1007, /not valid UTF-8/, `bytes ${invalid.join(',')}`);
    }
  });
});

describe('resume wire: control messages', () => {
  const clientMessages: ClientControl[] = [
    { t: 'hello', v: 1, session: 'Qm9uam91cg' },
    { t: 'sub', id: 1, topic: 'chat/42' },
    { t: 'sub', id: 2, topic: 'prix €', from: { epoch: 'AbC-_12', offset: 17 } },
    { t: 'sub', id: 3, topic: 'x', from: { epoch: null, offset: 0 } },
    { t: 'unsub', id: Number.MAX_SAFE_INTEGER, topic: 'x' },
  ];
  const serverMessages: ServerControl[] = [
    { t: 'welcome', v: 1, session: 'Qm9uam91cg' },
    { t: 'subscribed', id: 1, topic: 'chat/42', alias: 7, epoch: 'e1', offset: 0, replay: 0, gap: null },
    { t: 'subscribed', id: 2, topic: 'x', alias: 0, epoch: 'e2', offset: 99, replay: 12, gap: 'trimmed' },
    { t: 'subscribed', id: 3, topic: 'x', alias: 1, epoch: 'e3', offset: 0, replay: 3, gap: 'epoch' },
    { t: 'unsubscribed', id: 4, topic: 'x' },
    { t: 'reset', alias: 7, epoch: 'e4', offset: 0, reason: 'epoch' },
    { t: 'reset', alias: 7, epoch: 'e4', offset: 50, reason: 'trimmed' },
    { t: 'error', id: 1, code: 'FD_ERR_RESUME_FORBIDDEN', message: 'not allowed' },
    { t: 'error', code: 'OVERLOADED', message: '' },
  ];

  it('round-trips every message type', () => {
    for (const message of clientMessages) assert.deepEqual(decodeClientControl(encodeClientControl(message)), message);
    for (const message of serverMessages) assert.deepEqual(decodeServerControl(encodeServerControl(message)), message);
  });

  it('encodes to plain JSON (field order as given)', () => {
    assert.equal(encodeClientControl({ t: 'sub', id: 2, topic: 't', from: { epoch: 'e', offset: 5 } }), '{"t":"sub","id":2,"topic":"t","from":{"epoch":"e","offset":5}}');
  });

  it('checks topic names: non-empty, well-formed, at most MAX_TOPIC_BYTES of UTF-8', () => {
    assert.equal(MAX_TOPIC_BYTES, 1024);
    const table: [string, boolean][] = [
      ['', false],
      ['a', true],
      ['a'.repeat(1024), true],
      ['a'.repeat(1025), false],
      ['é'.repeat(512), true], // 2 bytes each
      ['é'.repeat(512) + 'a', false],
      ['€'.repeat(341) + 'a', true], // 3 bytes each: 1024
      ['€'.repeat(342), false],
      ['😀'.repeat(256), true], // 4 bytes each (a surrogate pair)
      ['😀'.repeat(256) + 'a', false],
      ['a\ud800', false],
      ['\udc00a', false],
      ['\ud800\ud800', false],
    ];
    for (const [topic, ok] of table) assert.equal(isTopic(topic), ok, `topic of ${topic.length} units`);
  });

  const CLIENT = 'a server receives';
  const SERVER = 'a client receives';
  const malformed: [string, string, ResumeErrorCode, number, RegExp][] = [
    [CLIENT, 'not json', 'FD_ERR_RESUME_BAD_JSON', 1007, /not JSON/],
    [CLIENT, '{"t":"hello","v":1,"session":"s"', 'FD_ERR_RESUME_BAD_JSON', 1007, /not JSON/],
    [CLIENT, '', 'FD_ERR_RESUME_BAD_JSON', 1007, /not JSON/],
    [CLIENT, '[]', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /must be a JSON object; got \[\]/],
    [CLIENT, 'null', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /must be a JSON object; got null/],
    [CLIENT, '"hello"', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /must be a JSON object/],
    [CLIENT, '{}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /needs "t"/],
    [CLIENT, '{"t":1}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /needs "t" \(a string\); got 1/],
    [CLIENT, '{"t":"pub","topic":"x"}', 'FD_ERR_RESUME_UNKNOWN_TYPE', 1003, /type "pub": a server accepts hello, sub, unsub/],
    [CLIENT, '{"t":"welcome","v":1,"session":"s"}', 'FD_ERR_RESUME_UNKNOWN_TYPE', 1003, /type "welcome"/],
    [CLIENT, '{"t":"toString"}', 'FD_ERR_RESUME_UNKNOWN_TYPE', 1003, /type "toString"/],
    [CLIENT, '{"t":"hello","v":2,"session":"s"}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /v must be 1; got 2/],
    [CLIENT, '{"t":"hello","v":"1","session":"s"}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /v must be 1; got "1"/],
    [CLIENT, '{"t":"hello","v":1}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /session is missing/],
    [CLIENT, '{"t":"hello","v":1,"session":""}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /session must be 1 to 64 visible ASCII/],
    [CLIENT, `{"t":"hello","v":1,"session":"${'s'.repeat(65)}"}`, 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /session must be 1 to 64/],
    [CLIENT, '{"t":"hello","v":1,"session":"a b"}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /session must be/],
    [CLIENT, '{"t":"hello","v":1,"session":"s","resume":true}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /"resume" is not a field/],
    [CLIENT, '{"t":"hello","v":1,"session":"s","__proto__":{}}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /"__proto__" is not a field/],
    [CLIENT, '{"t":"sub","topic":"x"}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /id is missing/],
    [CLIENT, '{"t":"sub","id":-1,"topic":"x"}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /id must be a safe integer >= 0; got -1/],
    [CLIENT, '{"t":"sub","id":1.5,"topic":"x"}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /id must be a safe integer/],
    [CLIENT, '{"t":"sub","id":9007199254740992,"topic":"x"}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /id must be a safe integer/],
    [CLIENT, '{"t":"sub","id":"1","topic":"x"}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /id must be a safe integer/],
    [CLIENT, '{"t":"sub","id":1}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /topic is missing/],
    [CLIENT, '{"t":"sub","id":1,"topic":""}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /topic must be a non-empty well-formed string of at most 1024 UTF-8 bytes; got ""/],
    [CLIENT, '{"t":"sub","id":1,"topic":7}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /topic must be/],
    [CLIENT, `{"t":"sub","id":1,"topic":"${'x'.repeat(1025)}"}`, 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /topic must be.*\.\.\.$/],
    [CLIENT, '{"t":"sub","id":1,"topic":"\\ud800"}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /topic must be a non-empty well-formed/],
    [CLIENT, '{"t":"sub","id":1,"topic":"x","from":null}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /from must be an object \{ epoch, offset \}/],
    [CLIENT, '{"t":"sub","id":1,"topic":"x","from":[1]}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /from must be an object/],
    [CLIENT, '{"t":"sub","id":1,"topic":"x","from":{"offset":1}}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /from\.epoch is missing/],
    [CLIENT, '{"t":"sub","id":1,"topic":"x","from":{"epoch":"e"}}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /from\.offset is missing/],
    [CLIENT, '{"t":"sub","id":1,"topic":"x","from":{"epoch":"e","offset":-1}}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /from\.offset must be a safe integer >= 0; got -1/],
    [CLIENT, '{"t":"sub","id":1,"topic":"x","from":{"epoch":"e","offset":1e300}}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /from\.offset must be a safe integer/],
    [CLIENT, '{"t":"sub","id":1,"topic":"x","from":{"epoch":"","offset":1}}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /from\.epoch must be null or 1 to 64 visible ASCII/],
    [CLIENT, '{"t":"sub","id":1,"topic":"x","from":{"epoch":5,"offset":1}}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /from\.epoch must be null or/],
    [CLIENT, '{"t":"sub","id":1,"topic":"x","from":{"epoch":"é","offset":1}}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /from\.epoch must be/],
    [CLIENT, '{"t":"sub","id":1,"topic":"x","from":{"epoch":"e","offset":1,"x":0}}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /from\."x" is not a field/],
    [CLIENT, '{"t":"sub","id":1,"topic":"x","form":{"epoch":"e","offset":1}}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /"form" is not a field/],
    [CLIENT, '{"t":"unsub","id":1}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /topic is missing/],
    [CLIENT, '{"t":"unsub","topic":"x","from":{"epoch":"e","offset":1},"id":1}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /"from" is not a field/],
    [SERVER, '{"t":"hello","v":1,"session":"s"}', 'FD_ERR_RESUME_UNKNOWN_TYPE', 1003, /type "hello": a client accepts welcome, subscribed, unsubscribed, reset, error/],
    [SERVER, '{"t":"welcome","v":1}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /session is missing/],
    [SERVER, '{"t":"welcome","v":0,"session":"s"}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /v must be 1/],
    [SERVER, '{"t":"subscribed","id":1,"topic":"x","alias":7,"epoch":"e","offset":0,"replay":0}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /gap is missing/],
    [SERVER, '{"t":"subscribed","id":1,"topic":"x","alias":7,"epoch":"e","offset":0,"replay":0,"gap":"lost"}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /gap must be null, "epoch" or "trimmed"; got "lost"/],
    [SERVER, '{"t":"subscribed","id":1,"topic":"x","alias":-7,"epoch":"e","offset":0,"replay":0,"gap":null}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /alias must be a safe integer/],
    [SERVER, '{"t":"subscribed","id":1,"topic":"x","alias":7,"epoch":null,"offset":0,"replay":0,"gap":null}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /epoch must be 1 to 64 visible ASCII characters; got null/],
    [SERVER, '{"t":"subscribed","id":1,"topic":"x","alias":7,"epoch":"e","offset":"3","replay":0,"gap":null}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /offset must be a safe integer/],
    [SERVER, '{"t":"subscribed","id":1,"topic":"x","alias":7,"epoch":"e","offset":3,"replay":true,"gap":null}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /replay must be a safe integer/],
    [SERVER, '{"t":"unsubscribed","id":1,"topic":""}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /topic must be/],
    [SERVER, '{"t":"reset","alias":7,"epoch":"e","offset":0}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /reason is missing/],
    [SERVER, '{"t":"reset","alias":7,"epoch":"e","offset":0,"reason":null}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /reason must be "epoch" or "trimmed"; got null/],
    [SERVER, '{"t":"reset","alias":7,"epoch":"e","offset":-0.5,"reason":"epoch"}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /offset must be a safe integer/],
    [SERVER, '{"t":"error","code":"X"}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /message is missing/],
    [SERVER, '{"t":"error","code":"lower","message":""}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /code must be 1 to 64 characters of A-Z/],
    [SERVER, '{"t":"error","code":"","message":""}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /code must be/],
    [SERVER, `{"t":"error","code":"${'A'.repeat(65)}","message":""}`, 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /code must be/],
    [SERVER, `{"t":"error","code":"A","message":"${'m'.repeat(1025)}"}`, 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /message must be a string of at most 1024/],
    [SERVER, '{"t":"error","id":null,"code":"A","message":""}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /id must be a safe integer/],
    [SERVER, '{"t":"error","code":"A","message":"","detail":1}', 'FD_ERR_RESUME_BAD_MESSAGE', 1002, /"detail" is not a field/],
  ];

  it('rejects every malformed control message with a stable code and its close code', () => {
    for (const [receiver, text, code, closeCode, message] of malformed) {
      const decode = receiver === CLIENT ? decodeClientControl : decodeServerControl;
      assertResumeError(() => decode(text), code, closeCode, message, `${receiver} ${text.slice(0, 100)}`);
    }
  });

  it('refuses to encode a malformed message (TypeError naming the field)', () => {
    const table: [() => string, RegExp][] = [
      [() => encodeClientControl({ t: 'sub', id: 1, topic: '' }), /Bad "sub" message: topic must be/],
      [() => encodeClientControl({ t: 'sub', id: 1, topic: 'x', from: { epoch: 'e', offset: -1 } }), /from\.offset must be/],
      [() => encodeClientControl({ t: 'welcome', v: 1, session: 's' } as unknown as ClientControl), /A client does not send control messages of type "welcome"/],
      [() => encodeServerControl({ t: 'subscribed', id: 1, topic: 'x', alias: 1, epoch: 'e', offset: 0, replay: 0, gap: 'lost' } as unknown as ServerControl), /gap must be/],
      [() => encodeServerControl({ t: 'error', code: 'A', message: 'm', extra: 1 } as unknown as ServerControl), /"extra" is not a field/],
    ];
    for (const [fn, message] of table) assert.throws(fn, (error: Error) => error instanceof TypeError && message.test(error.message), String(message));
  });

  it('leaves out an optional field given as undefined', () => {
    assert.equal(encodeClientControl({ t: 'sub', id: 1, topic: 'x', from: undefined } as unknown as ClientControl), '{"t":"sub","id":1,"topic":"x"}');
  });
});

describe('resume wire: framing into a caller buffer', () => {
  it('writes the data frame header where asked and returns where the payload goes', () => {
    const target = new Uint8Array(16).fill(0xee);
    const end = writeDataFrameHeader(target, 2, 300, 128, true);
    assert.equal(end, 2 + dataFrameHeaderSize(300, 128));
    assert.deepEqual([...target.subarray(0, end + 1)], [0xee, 0xee, 0x81, 0xac, 0x02, 0x80, 0x01, 0xee]);
    target.set([1, 2], end);
    const decoded = decodeServerFrame(target.subarray(2, end + 2));
    assert.deepEqual(decoded.kind === 'data' && [decoded.alias, decoded.offset, decoded.binary, [...decoded.payload]], [300, 128, true, [1, 2]]);
  });
});
