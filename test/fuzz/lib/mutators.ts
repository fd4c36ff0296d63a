/**
 * Mutations of valid streams. Structural ones edit frame specs before encoding, to reach the header
 * rules of RFC 6455 §5 quickly (a flipped FIN, a reserved opcode, an unmasked frame, a length field
 * that lies, a fragmented control frame, bad UTF-8, a forbidden close code); byte-level ones (bit
 * flips, set/insert/delete bytes, duplicated ranges, splices of two streams, truncation) then break
 * the encoding blindly. Each returns a short description for the failure report.
 */
import type { Prng } from './prng.js';
import { Op, closePayload, encodeFrames, isControl, type FrameSpec } from './frames.js';
import { maskKey } from './generator.js';

/** Lengths at the edges of the three forms and of what the parser can represent (§5.2). */
const INTERESTING_LENGTHS: readonly bigint[] = [
  0n, 1n, 2n, 124n, 125n, 126n, 127n, 128n, 0xfffen, 0xffffn, 0x1_0000n, 0x7fff_ffffn, 0x8000_0000n, 0xffff_ffffn,
  0x1_0000_0000n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n,
];

/** Bytes that mean something in a header or in UTF-8. */
const INTERESTING_BYTES: readonly number[] = [
  0x00, 0x01, 0x02, 0x08, 0x09, 0x0a, 0x0b, 0x0f, 0x7d, 0x7e, 0x7f, 0x80, 0x81, 0x82, 0x88, 0x89, 0x8a, 0xc0, 0xc1,
  0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xfe, 0xff, 0x03, 0xe8, 0xee,
];

/** Byte sequences that are not UTF-8 (overlong, surrogate, too large, truncated, stray continuation). */
const BAD_UTF8: readonly number[][] = [
  [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80, 0x80, 0x80], [0xff], [0x80], [0xbf], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xce], [0xf8, 0x88, 0x80, 0x80, 0x80],
];

/** Close codes a peer must not send (§7.4.1: 1004–1006, 1015 reserved; 0–999, 1016–2999, 5000+ unused). */
const FORBIDDEN_CLOSE_CODES: readonly number[] = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];

/** Edits frames in place; returns what it did, or null if it does not apply (e.g. no text frame). */
type FrameMutator = (rng: Prng, frames: FrameSpec[]) => string | null;

function someFrame(rng: Prng, frames: FrameSpec[]): [FrameSpec, number] | null {
  if (frames.length === 0) return null;
  const index = rng.below(frames.length);
  return [frames[index]!, index];
}

function randomControl(rng: Prng): FrameSpec {
  const kind = rng.int(0, 8);
  const mask = maskKey(rng);
  switch (kind) {
    case 0:
      return { fin: false, rsv: 0, opcode: Op.Ping, payload: rng.bytes(rng.int(0, 10)), mask }; // §5.5: fragmented control
    case 1:
      return { fin: true, rsv: 0, opcode: Op.Ping, payload: rng.bytes(rng.int(126, 200)), mask }; // §5.5: over 125 bytes
    case 2:
      return { fin: true, rsv: 0, opcode: Op.Close, payload: Buffer.from([rng.int(0, 255)]), mask }; // §5.5.1: 1 byte
    case 3:
      return { fin: true, rsv: 0, opcode: Op.Close, payload: closePayload(rng.pick(FORBIDDEN_CLOSE_CODES), 'bad code'), mask };
    case 4:
      return { fin: true, rsv: 0, opcode: Op.Close, payload: Buffer.concat([closePayload(1000), Buffer.from(rng.pick(BAD_UTF8))]), mask };
    case 5:
      return { fin: true, rsv: 0, opcode: Op.Close, payload: closePayload(rng.int(1000, 1015)), mask };
    case 6:
      return { fin: true, rsv: 0, opcode: Op.Continuation, payload: rng.bytes(rng.int(0, 10)), mask }; // §5.4: nothing to continue?
    case 7:
      return { fin: rng.chance(0.5), rsv: 0, opcode: Op.Text, payload: Buffer.from(rng.pick(BAD_UTF8)), mask };
    default:
      return { fin: true, rsv: 0, opcode: rng.pick([Op.Ping, Op.Pong]), payload: rng.bytes(rng.int(0, 125)), mask };
  }
}

const FRAME_MUTATORS: ReadonlyArray<readonly [number, FrameMutator]> = [
  [10, (rng, frames) => {
    const hit = someFrame(rng, frames);
    if (hit === null) return null;
    hit[0].fin = !hit[0].fin;
    return `frame ${hit[1]}: FIN → ${hit[0].fin}`;
  }],
  [10, (rng, frames) => {
    const hit = someFrame(rng, frames);
    if (hit === null) return null;
    hit[0].opcode = rng.int(0, 15);
    return `frame ${hit[1]}: opcode → ${hit[0].opcode}`;
  }],
  [6, (rng, frames) => {
    const hit = someFrame(rng, frames);
    if (hit === null) return null;
    hit[0].rsv = rng.int(1, 7);
    return `frame ${hit[1]}: RSV → ${hit[0].rsv}`;
  }],
  [6, (rng, frames) => {
    const hit = someFrame(rng, frames);
    if (hit === null) return null;
    hit[0].mask = null;
    return `frame ${hit[1]}: unmasked`;
  }],
  [12, (rng, frames) => {
    const hit = someFrame(rng, frames);
    if (hit === null) return null;
    const length = rng.chance(0.7) ? rng.pick(INTERESTING_LENGTHS) : BigInt(Math.max(0, hit[0].payload.length + rng.int(-3, 3)));
    hit[0].declaredLength = length;
    return `frame ${hit[1]}: declared length ${length} (payload ${hit[0].payload.length})`;
  }],
  [5, (rng, frames) => {
    const hit = someFrame(rng, frames);
    if (hit === null) return null;
    hit[0].lengthForm = rng.pick([16, 64] as const);
    return `frame ${hit[1]}: ${hit[0].lengthForm}-bit length form`;
  }],
  [6, (rng, frames) => {
    const hit = someFrame(rng, frames);
    if (hit === null) return null;
    frames.splice(hit[1], 1);
    return `frame ${hit[1]}: dropped`;
  }],
  [6, (rng, frames) => {
    const hit = someFrame(rng, frames);
    if (hit === null) return null;
    frames.splice(hit[1], 0, { ...hit[0] });
    return `frame ${hit[1]}: duplicated`;
  }],
  [4, (rng, frames) => {
    if (frames.length < 2) return null;
    const i = rng.below(frames.length - 1);
    [frames[i], frames[i + 1]] = [frames[i + 1]!, frames[i]!];
    return `frames ${i} and ${i + 1}: swapped`;
  }],
  [12, (rng, frames) => {
    const at = rng.int(0, frames.length);
    const control = randomControl(rng);
    frames.splice(at, 0, control);
    return `inserted at ${at}: opcode ${control.opcode}, FIN ${control.fin}, ${control.payload.length} bytes`;
  }],
  [10, (rng, frames) => {
    // Bad UTF-8 inside a text message: in the middle of a fragment, or straddling two.
    const texts = frames.filter((f) => !isControl(f.opcode) && f.opcode !== Op.Binary);
    if (texts.length === 0) return null;
    const frame = rng.pick(texts);
    const at = rng.int(0, frame.payload.length);
    const bad = Buffer.from(rng.pick(BAD_UTF8));
    frame.payload = Buffer.concat([frame.payload.subarray(0, at), bad, frame.payload.subarray(at)]);
    return `frame ${frames.indexOf(frame)}: bytes ${bad.toString('hex')} inserted at ${at}`;
  }],
  [4, (rng, frames) => {
    // A close frame with a forbidden code (§7.4.1).
    const at = rng.int(0, frames.length);
    const code = rng.pick(FORBIDDEN_CLOSE_CODES);
    frames.splice(at, 0, { fin: true, rsv: 0, opcode: Op.Close, payload: closePayload(code), mask: maskKey(rng) });
    return `close ${code} inserted at ${at}`;
  }],
];

type ByteMutator = (rng: Prng, bytes: Buffer, donor: () => Buffer) => [Buffer, string];

function position(rng: Prng, bytes: Buffer, end = false): number {
  // Header bytes sit near the start and at frame boundaries; sample the start more often.
  const limit = bytes.length + (end ? 1 : 0);
  if (limit === 0) return 0;
  return rng.chance(0.3) ? rng.below(Math.min(limit, 16)) : rng.below(limit);
}

const BYTE_MUTATORS: ReadonlyArray<readonly [number, ByteMutator]> = [
  [20, (rng, bytes) => {
    if (bytes.length === 0) return [bytes, 'bit flip: empty stream'];
    const at = position(rng, bytes);
    const bit = rng.int(0, 7);
    const out = Buffer.from(bytes);
    out[at] = out[at]! ^ (1 << bit);
    return [out, `bit ${bit} of byte ${at} flipped`];
  }],
  [12, (rng, bytes) => {
    if (bytes.length === 0) return [bytes, 'set: empty'];
    const at = position(rng, bytes);
    const value = rng.chance(0.7) ? rng.pick(INTERESTING_BYTES) : rng.int(0, 255);
    const out = Buffer.from(bytes);
    out[at] = value;
    return [out, `byte ${at} set to 0x${value.toString(16)}`];
  }],
  [8, (rng, bytes) => {
    const at = position(rng, bytes, true);
    const inserted = rng.chance(0.5) ? Buffer.from([rng.pick(INTERESTING_BYTES)]) : rng.bytes(rng.int(1, 8));
    return [Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at)]), `${inserted.toString('hex')} inserted at ${at}`];
  }],
  [8, (rng, bytes) => {
    const at = position(rng, bytes);
    const count = rng.int(1, 8);
    return [Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + count)]), `${count} bytes deleted at ${at}`];
  }],
  [6, (rng, bytes) => {
    const start = position(rng, bytes);
    const length = rng.int(1, Math.min(64, Math.max(1, bytes.length - start)));
    const at = position(rng, bytes, true);
    const copy = Buffer.from(bytes.subarray(start, start + length));
    return [Buffer.concat([bytes.subarray(0, at), copy, bytes.subarray(at)]), `bytes ${start}+${copy.length} duplicated at ${at}`];
  }],
  [8, (rng, bytes, donor) => {
    const other = donor();
    const at = position(rng, bytes, true);
    const from = rng.int(0, other.length);
    return [Buffer.concat([bytes.subarray(0, at), other.subarray(from)]), `spliced at ${at} with another stream from ${from}`];
  }],
  [8, (rng, bytes) => {
    const at = rng.int(0, bytes.length);
    return [bytes.subarray(0, at), `truncated to ${at} bytes`];
  }],
];

/** Mutate a generated stream: some structural edits, then some byte-level ones (none at all sometimes). */
export function mutate(rng: Prng, frames: FrameSpec[], donor: () => Buffer): { bytes: Buffer; mutations: string[] } {
  const mutations: string[] = [];
  const copy = frames.map((frame) => ({ ...frame }));
  const structural = rng.weighted([
    [40, 0],
    [40, 1],
    [20, 2],
  ] as const);
  for (let i = 0; i < structural; i++) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const done = rng.weighted(FRAME_MUTATORS)(rng, copy);
      if (done === null) continue;
      mutations.push(done);
      break;
    }
  }
  let bytes = encodeFrames(copy);
  const blind = structural > 0 ? rng.weighted([[60, 0], [30, 1], [10, 2]] as const) : rng.weighted([[15, 0], [50, 1], [25, 2], [10, 4]] as const);
  for (let i = 0; i < blind; i++) {
    const [out, description] = rng.weighted(BYTE_MUTATORS)(rng, bytes, donor);
    bytes = out;
    mutations.push(description);
  }
  return { bytes, mutations };
}
