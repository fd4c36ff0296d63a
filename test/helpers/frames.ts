/**
 * Reading raw WebSocket frames (RFC 6455 §5.2) out of captured bytes, for tests that play a peer or
 * watch the wire: every whole frame from the start, unmasked, and how many bytes they used (a frame
 * cut short at the end is left for the next read). It checks nothing: the callers judge the frames.
 */

export interface RawFrame {
  fin: boolean;
  /** RSV1-3 as a number 0-7 (RSV1 is 4). */
  rsv: number;
  opcode: number;
  /** Whether the frame carried a masking key (§5.3). */
  masked: boolean;
  /** The payload, unmasked (a copy when it was masked, else a view of `bytes`). */
  payload: Buffer;
}

/** The whole frames at the start of `bytes`, and how many bytes they take. */
export function readFrames(bytes: Buffer): { frames: RawFrame[]; used: number } {
  const frames: RawFrame[] = [];
  let offset = 0;
  while (offset + 2 <= bytes.length) {
    const b0 = bytes[offset]!;
    const b1 = bytes[offset + 1]!;
    let length = b1 & 0x7f;
    let position = offset + 2;
    if (length === 126) {
      if (position + 2 > bytes.length) break;
      length = bytes.readUInt16BE(position);
      position += 2;
    } else if (length === 127) {
      if (position + 8 > bytes.length) break;
      const big = bytes.readBigUInt64BE(position);
      if (big > BigInt(bytes.length)) break; // cannot be whole in what was captured
      length = Number(big);
      position += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? bytes.subarray(position, position + 4) : null;
    if (masked) position += 4;
    if (position + length > bytes.length) break;
    let payload = bytes.subarray(position, position + length);
    if (key !== null) {
      payload = Buffer.from(payload);
      for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
    }
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload });
    offset = position + length;
  }
  return { frames, used: offset };
}
