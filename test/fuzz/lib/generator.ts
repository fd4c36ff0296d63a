/**
 * Valid client frame streams (RFC 6455 §5): masked text and binary messages, fragmented or not (text
 * split anywhere, inside multi-byte characters too), pings and pongs between messages and between
 * fragments (§5.4 allows control frames there), all three length forms, and usually a close frame
 * with a sendable code and a UTF-8 reason (§5.5.1, §7.4). Each stream comes with the events a correct
 * server reports for it, which also checks the reference model.
 */
import { constants, deflateRawSync } from 'node:zlib';
import type { Prng } from './prng.js';
import { Op, closePayload, type FrameSpec } from './frames.js';
import type { WireEvent } from './events.js';

export interface GeneratedStream {
  frames: FrameSpec[];
  /** What a server reports for these frames (nothing after the close frame, §5.5.1). */
  expected: WireEvent[];
}

/** Write `codePoint` as UTF-8 at `offset` (RFC 3629 §3); returns the offset after it. */
function putCodePoint(out: Buffer, offset: number, codePoint: number): number {
  if (codePoint < 0x80) {
    out[offset] = codePoint;
    return offset + 1;
  }
  if (codePoint < 0x800) {
    out[offset] = 0xc0 | (codePoint >> 6);
    out[offset + 1] = 0x80 | (codePoint & 0x3f);
    return offset + 2;
  }
  if (codePoint < 0x10000) {
    out[offset] = 0xe0 | (codePoint >> 12);
    out[offset + 1] = 0x80 | ((codePoint >> 6) & 0x3f);
    out[offset + 2] = 0x80 | (codePoint & 0x3f);
    return offset + 3;
  }
  out[offset] = 0xf0 | (codePoint >> 18);
  out[offset + 1] = 0x80 | ((codePoint >> 12) & 0x3f);
  out[offset + 2] = 0x80 | ((codePoint >> 6) & 0x3f);
  out[offset + 3] = 0x80 | (codePoint & 0x3f);
  return offset + 4;
}

const EDGE_CODE_POINTS = [0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfeff, 0xfffd, 0xfffe, 0xffff, 0x10000, 0x10ffff];

/** Random valid UTF-8 of exactly `bytes` bytes: ASCII, 2-, 3- and 4-byte characters and the edge code points. */
export function randomText(rng: Prng, bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  const style = rng.pick(['ascii', 'mixed', 'wide'] as const);
  let offset = 0;
  while (offset < bytes) {
    const room = bytes - offset;
    let codePoint: number;
    const kind = style === 'ascii' || room === 1 ? 0 : style === 'wide' ? rng.int(1, 4) : rng.int(0, 4);
    switch (kind) {
      case 0:
        codePoint = rng.next() & 0x7f;
        break;
      case 1:
        codePoint = rng.int(0x80, 0x7ff);
        break;
      case 2:
        // U+0800–U+FFFF without the surrogates.
        codePoint = rng.int(0x800, 0xfffd - 0x800);
        if (codePoint >= 0xd800) codePoint += 0x800;
        break;
      case 3:
        codePoint = rng.int(0x10000, 0x10ffff);
        break;
      default:
        codePoint = rng.pick(EDGE_CODE_POINTS);
    }
    const size = codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
    offset = size <= room ? putCodePoint(out, offset, codePoint) : putCodePoint(out, offset, 0x20 + (rng.next() % 0x5f));
  }
  return out;
}

/** A payload size covering the three length forms and their boundaries (§5.2). */
export function randomSize(rng: Prng): number {
  return rng.weighted<() => number>([
    [10, () => 0],
    [50, () => rng.int(1, 125)],
    [22, () => rng.int(126, 1024)],
    [8, () => rng.skewed(1025, 16384)],
    [1, () => rng.int(16385, 65535)],
    [1, () => rng.int(65536, 70000)],
    [7, () => rng.pick([1, 2, 3, 4, 124, 125, 126, 127, 128, 1000])],
    [0.5, () => rng.pick([65535, 65536])],
  ])();
}

export function maskKey(rng: Prng): Buffer {
  return rng.chance(0.05) ? Buffer.alloc(4) : rng.bytes(4);
}

function controlFrame(rng: Prng, expected: WireEvent[]): FrameSpec {
  const opcode = rng.chance(0.7) ? Op.Ping : Op.Pong;
  const payload = rng.chance(0.3) ? Buffer.alloc(0) : rng.chance(0.5) ? rng.bytes(rng.int(1, 125)) : randomText(rng, rng.int(1, 125));
  expected.push({ type: opcode === Op.Ping ? 'ping' : 'pong', data: payload });
  return { fin: true, rsv: 0, opcode, payload, mask: maskKey(rng) };
}

/** A close code a client may send (§7.4.1, §7.4.2). */
export function randomCloseCode(rng: Prng): number {
  return rng.weighted<() => number>([
    [40, () => 1000],
    [20, () => rng.pick([1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014])],
    [20, () => rng.int(3000, 4999)],
    [5, () => rng.pick([3000, 3999, 4000, 4999])],
  ])();
}

/** Cut `data` into `count` pieces at random points (empty pieces allowed, characters split freely). */
function cut(rng: Prng, data: Buffer, count: number): Buffer[] {
  const points = Array.from({ length: count - 1 }, () => rng.int(0, data.length)).sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const point of [...points, data.length]) {
    pieces.push(data.subarray(start, point));
    start = point;
  }
  return pieces;
}

/** With permessage-deflate (RFC 7692) negotiated: compress most messages, sometimes a zip bomb. */
export interface DeflateGeneration {
  /** The connection's limit: a bomb inflates beyond it, and fails with 1009. */
  maxPayload: number;
}

/**
 * A message's payload compressed as RFC 7692 §7.2.1 says: DEFLATE, flushed, without the final
 * 00 00 FF FF; or ended by a block with BFINAL set (§7.2.3.4); or in stored (uncompressed) blocks
 * (§7.2.3.3). Each message is compressed on its own, which is valid with or without context takeover.
 */
export function compress(rng: Prng, data: Buffer, only?: 'flushed'): { payload: Buffer; how: 'flushed' | 'bfinal' | 'stored' } {
  const how = only ?? rng.weighted([[80, 'flushed'], [10, 'bfinal'], [10, 'stored']] as const);
  if (how === 'bfinal') return { payload: deflateRawSync(data), how };
  const flushed = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH, level: how === 'stored' ? 0 : rng.int(1, 9) });
  return { payload: flushed.subarray(0, flushed.length - 4), how };
}

export function generateStream(rng: Prng, deflate?: DeflateGeneration): GeneratedStream {
  const frames: FrameSpec[] = [];
  const expected: WireEvent[] = [];
  const messages = rng.weighted([
    [5, 0],
    [40, 1],
    [30, rng.int(2, 3)],
    [25, rng.int(4, 8)],
  ] as const);
  const controlRate = rng.pick([0, 0.1, 0.3, 0.6]);

  for (let m = 0; m < messages; m++) {
    if (rng.chance(controlRate)) frames.push(controlFrame(rng, expected));
    const isBinary = rng.chance(0.4);
    const bomb = deflate !== undefined && rng.chance(0.03);
    const size = bomb ? rng.int(deflate.maxPayload + 1, 4 * deflate.maxPayload) : randomSize(rng);
    const data = bomb ? Buffer.alloc(size, 0x61) : isBinary ? rng.bytes(size) : randomText(rng, size);
    // RFC 7692 §6: RSV1 on the first frame marks a compressed message; the compressed bytes are fragmented.
    const compressed = deflate !== undefined && (bomb || rng.chance(0.7));
    const payload = compressed ? compress(rng, data, bomb ? 'flushed' : undefined).payload : data;
    // §5.4: one unfragmented frame, or a first frame and continuations; control frames may come between.
    const pieces = rng.chance(0.5) ? [payload] : cut(rng, payload, rng.int(2, 6));
    pieces.forEach((piece, i) => {
      if (i > 0 && rng.chance(controlRate)) frames.push(controlFrame(rng, expected));
      frames.push({
        fin: i === pieces.length - 1,
        rsv: i === 0 && compressed ? 4 : 0,
        opcode: i === 0 ? (isBinary ? Op.Binary : Op.Text) : Op.Continuation,
        payload: piece,
        mask: maskKey(rng),
      });
    });
    if (bomb) {
      // It inflates beyond maxPayload: 1009, and the connection is over (§7.1.7).
      expected.push({ type: 'error', closeCode: 1009 });
      return { frames, expected };
    }
    expected.push({ type: 'message', isBinary, data: Buffer.from(data) });
  }
  if (rng.chance(controlRate)) frames.push(controlFrame(rng, expected));

  if (rng.chance(0.6)) {
    // §5.5.1: no body, or a code and an optional UTF-8 reason; the whole payload fits in 125 bytes.
    const shape = rng.weighted([
      [15, 'empty'],
      [25, 'code'],
      [60, 'reason'],
    ] as const);
    const code = randomCloseCode(rng);
    const reason = shape === 'reason' ? randomText(rng, rng.int(1, 123)) : Buffer.alloc(0);
    const payload = shape === 'empty' ? Buffer.alloc(0) : closePayload(code, reason);
    frames.push({ fin: true, rsv: 0, opcode: Op.Close, payload, mask: maskKey(rng) });
    expected.push({ type: 'close', code: shape === 'empty' ? 1005 : code, reason });
    // Anything after a close frame is ignored (§5.5.1): sometimes send more.
    if (rng.chance(0.2)) frames.push({ fin: true, rsv: 0, opcode: Op.Text, payload: Buffer.from('after close'), mask: maskKey(rng) });
  }
  return { frames, expected };
}

/**
 * A ping flood behind big messages, for a client that does not read: the server's echoes of the first
 * messages (several MiB, more than the socket buffers hold) back up its writes, so that the pings
 * after them must have their answers coalesced (§5.5.3), without losing the order of anything else.
 */
export function generateFlood(rng: Prng): GeneratedStream {
  const frames: FrameSpec[] = [];
  const expected: WireEvent[] = [];
  const message = (): void => {
    // A repeated 16-byte pattern: cheap to make, and nothing here compresses it.
    const data = Buffer.alloc(rng.int(192 * 1024, 250 * 1024), rng.bytes(16));
    frames.push({ fin: true, rsv: 0, opcode: Op.Binary, payload: data, mask: maskKey(rng) });
    expected.push({ type: 'message', isBinary: true, data });
  };
  const backlog = rng.int(16, 28);
  for (let m = 0; m < backlog; m++) message();
  const pings = rng.int(50, 300);
  for (let p = 0; p < pings; p++) {
    const payload = rng.bytes(rng.int(0, 125));
    frames.push({ fin: true, rsv: 0, opcode: Op.Ping, payload, mask: maskKey(rng) });
    expected.push({ type: 'ping', data: payload });
    if (rng.chance(0.01)) message();
  }
  return { frames, expected };
}
