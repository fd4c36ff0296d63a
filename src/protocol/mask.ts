/**
 * Masking (RFC 6455 §5.3): byte i of the payload is XORed with byte (i mod 4) of the 4-byte key.
 *
 * The work is done over views of the same memory, never on a copy: a byte loop for short payloads and
 * the unaligned edges, 32-bit words for medium payloads, and 64-bit words (a `BigUint64Array`, which
 * V8 compiles to plain 64-bit XORs) for long ones, each unrolled 8 times. `npm run bench:mask` measures
 * this against `bufferutil`'s native code; the thresholds below come from that benchmark.
 */

/** Below this many bytes a byte loop beats creating a typed-array view. */
const WORD_THRESHOLD = 32;
/** From this many bytes on, 64-bit words beat 32-bit ones. */
const WIDE_THRESHOLD = 1024;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * XOR `data[start, end)` in place with the 4-byte `mask`, where `data[start]` lines up with mask byte
 * `maskOffset` (0–3). Masking and unmasking are the same operation. Returns the mask offset for the byte
 * after `end`, so a payload that arrives in pieces can be unmasked piece by piece.
 */
export function xorMask(data: Uint8Array, start: number, end: number, mask: Uint8Array, maskOffset = 0): number {
  const length = end - start;
  if (length < WORD_THRESHOLD) return xorBytes(data, start, end, mask, maskOffset);

  const wide = length >= WIDE_THRESHOLD;
  const alignment = wide ? 7 : 3;
  // Bytes up to the first aligned address.
  let i = start;
  let k = maskOffset & 3;
  const base = data.byteOffset;
  const head = (alignment + 1 - ((base + i) & alignment)) & alignment;
  if (head > 0) {
    k = xorBytes(data, i, i + head, mask, k);
    i += head;
  }

  // The 32-bit word that lines up with mask offset k.
  const b0 = mask[k]!;
  const b1 = mask[(k + 1) & 3]!;
  const b2 = mask[(k + 2) & 3]!;
  const b3 = mask[(k + 3) & 3]!;
  const word = LITTLE_ENDIAN ? b0 | (b1 << 8) | (b2 << 16) | (b3 << 24) : (b0 << 24) | (b1 << 16) | (b2 << 8) | b3;

  if (wide) {
    const words = (end - i) >>> 3;
    const wide64 = BigInt(word >>> 0);
    xorWords64(new BigUint64Array(data.buffer, base + i, words), (wide64 << 32n) | wide64, words);
    i += words << 3;
  } else {
    const words = (end - i) >>> 2;
    xorWords32(new Int32Array(data.buffer, base + i, words), word, words);
    i += words << 2;
  }
  // Whole words leave the mask offset where it was; finish the tail byte by byte.
  return xorBytes(data, i, end, mask, k);
}

function xorBytes(data: Uint8Array, start: number, end: number, mask: Uint8Array, maskOffset: number): number {
  let k = maskOffset & 3;
  for (let i = start; i < end; i++) {
    data[i]! ^= mask[k]!;
    k = (k + 1) & 3;
  }
  return k;
}

function xorWords32(view: Int32Array, word: number, words: number): void {
  let w = 0;
  const unrolled = words & ~7;
  for (; w < unrolled; w += 8) {
    view[w]! ^= word;
    view[w + 1]! ^= word;
    view[w + 2]! ^= word;
    view[w + 3]! ^= word;
    view[w + 4]! ^= word;
    view[w + 5]! ^= word;
    view[w + 6]! ^= word;
    view[w + 7]! ^= word;
  }
  for (; w < words; w++) view[w]! ^= word;
}

function xorWords64(view: BigUint64Array, word: bigint, words: number): void {
  let w = 0;
  const unrolled = words & ~7;
  for (; w < unrolled; w += 8) {
    view[w]! ^= word;
    view[w + 1]! ^= word;
    view[w + 2]! ^= word;
    view[w + 3]! ^= word;
    view[w + 4]! ^= word;
    view[w + 5]! ^= word;
    view[w + 6]! ^= word;
    view[w + 7]! ^= word;
  }
  for (; w < words; w++) view[w]! ^= word;
}

/** Unmask `data` in place (a whole frame payload, mask offset 0). */
export function unmask(data: Uint8Array, mask: Uint8Array): void {
  xorMask(data, 0, data.length, mask, 0);
}

/**
 * Write `source[start, end)` XOR `mask` into `target` at `targetOffset`, where `source[start]` lines up
 * with mask byte `maskOffset`; the source is left untouched. Returns the mask offset for the byte after
 * `end`. When source and target addresses agree modulo 8 this is one pass of 64-bit words (read, XOR,
 * write), which costs what unmasking in place costs and saves the copy that would follow it; otherwise
 * it is a native copy and the in-place loop. `allocAligned` makes a target that agrees with its source.
 */
export function xorMaskInto(
  source: Uint8Array,
  start: number,
  end: number,
  target: Uint8Array,
  targetOffset: number,
  mask: Uint8Array,
  maskOffset: number,
): number {
  const length = end - start;
  const sourceAddress = source.byteOffset + start;
  if (length < WIDE_THRESHOLD || ((sourceAddress - target.byteOffset - targetOffset) & 7) !== 0) {
    target.set(start === 0 && end === source.length ? source : source.subarray(start, end), targetOffset);
    return xorMask(target, targetOffset, targetOffset + length, mask, maskOffset);
  }
  let k = maskOffset & 3;
  // Bytes up to the first 8-byte boundary (the same boundary in both).
  const head = (8 - (sourceAddress & 7)) & 7;
  let i = start;
  let t = targetOffset;
  for (const headEnd = start + head; i < headEnd; i++, t++) {
    target[t] = source[i]! ^ mask[k]!;
    k = (k + 1) & 3;
  }
  const b0 = mask[k]!;
  const b1 = mask[(k + 1) & 3]!;
  const b2 = mask[(k + 2) & 3]!;
  const b3 = mask[(k + 3) & 3]!;
  const word = (LITTLE_ENDIAN ? b0 | (b1 << 8) | (b2 << 16) | (b3 << 24) : (b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
  const word64 = (BigInt(word) << 32n) | BigInt(word);
  const words = (end - i) >>> 3;
  copyXorWords64(new BigUint64Array(source.buffer, source.byteOffset + i, words), new BigUint64Array(target.buffer, target.byteOffset + t, words), word64, words);
  i += words << 3;
  t += words << 3;
  // Whole words leave the mask offset where it was; finish the tail byte by byte.
  for (; i < end; i++, t++) {
    target[t] = source[i]! ^ mask[k]!;
    k = (k + 1) & 3;
  }
  return k;
}

function copyXorWords64(from: BigUint64Array, to: BigUint64Array, word: bigint, words: number): void {
  let w = 0;
  const unrolled = words & ~7;
  for (; w < unrolled; w += 8) {
    to[w] = from[w]! ^ word;
    to[w + 1] = from[w + 1]! ^ word;
    to[w + 2] = from[w + 2]! ^ word;
    to[w + 3] = from[w + 3]! ^ word;
    to[w + 4] = from[w + 4]! ^ word;
    to[w + 5] = from[w + 5]! ^ word;
    to[w + 6] = from[w + 6]! ^ word;
    to[w + 7] = from[w + 7]! ^ word;
  }
  for (; w < words; w++) to[w] = from[w]! ^ word;
}

/**
 * An uninitialized buffer of `length` bytes whose address agrees modulo 8 with `address` (a source's
 * `byteOffset + start`), so that `xorMaskInto` can take its one-pass path. It is a view of its own
 * ArrayBuffer, at most 7 bytes larger.
 */
export function allocAligned(length: number, address: number): Buffer {
  const shift = address & 7;
  return Buffer.allocUnsafeSlow(length + shift).subarray(shift);
}

/**
 * Write `source` XOR `mask` into `target` at `offset` (the source is left untouched). A native copy
 * followed by the in-place word loop is faster than a byte-by-byte copy-and-XOR.
 */
export function maskInto(source: Uint8Array, mask: Uint8Array, target: Uint8Array, offset: number): void {
  target.set(source, offset);
  xorMask(target, offset, offset + source.length, mask, 0);
}
