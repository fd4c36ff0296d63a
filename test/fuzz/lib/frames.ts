/**
 * Client frames as the fuzzer describes them, and their encoding (RFC 6455 §5.2), written here from the
 * RFC rather than with the library's serializer, so that the harness does not share its bugs. A spec
 * may lie about its length (`declaredLength`) or use a longer length form than needed, to build the
 * broken headers the parser must refuse.
 */

export const Op = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

export interface FrameSpec {
  fin: boolean;
  /** The three reserved bits, 0–7 (RSV1 is 4). */
  rsv: number;
  opcode: number;
  /** The payload, unmasked. */
  payload: Buffer;
  /** The masking key (RFC 6455 §5.3), or null for an unmasked frame (illegal from a client, §5.1). */
  mask: Buffer | null;
  /** The length written in the header, when it differs from the payload's (a lying header). */
  declaredLength?: bigint;
  /** The length encoding: the smallest that fits (§5.2 requires it) or a forced 16/64-bit form. */
  lengthForm?: 'minimal' | 16 | 64;
}

export function isControl(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

function headerLength(spec: FrameSpec, length: bigint): { size: number; form: 7 | 16 | 64 } {
  let form: 7 | 16 | 64 = length < 126n ? 7 : length < 0x1_0000n ? 16 : 64;
  if (spec.lengthForm === 16 && form === 7) form = 16;
  if (spec.lengthForm === 64) form = 64;
  if (form === 16 && length > 0xffffn) form = 64;
  return { size: 2 + (form === 16 ? 2 : form === 64 ? 8 : 0) + (spec.mask === null ? 0 : 4), form };
}

/** Encode one frame: header, masking key, masked payload. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const length = spec.declaredLength ?? BigInt(spec.payload.length);
  const { size, form } = headerLength(spec, length);
  const out = Buffer.alloc(size + spec.payload.length);
  out[0] = (spec.fin ? 0x80 : 0) | ((spec.rsv & 7) << 4) | (spec.opcode & 0x0f);
  const maskBit = spec.mask === null ? 0 : 0x80;
  let offset = 2;
  if (form === 7) {
    out[1] = maskBit | Number(length);
  } else if (form === 16) {
    out[1] = maskBit | 126;
    out.writeUInt16BE(Number(length), 2);
    offset = 4;
  } else {
    out[1] = maskBit | 127;
    out.writeBigUInt64BE(BigInt.asUintN(64, length), 2);
    offset = 10;
  }
  if (spec.mask !== null) {
    spec.mask.copy(out, offset, 0, 4);
    offset += 4;
  }
  for (let i = 0; i < spec.payload.length; i++) {
    out[offset + i] = spec.payload[i]! ^ (spec.mask === null ? 0 : spec.mask[i & 3]!);
  }
  return out;
}

/** Encode a list of frames into one stream. */
export function encodeFrames(frames: readonly FrameSpec[]): Buffer {
  return Buffer.concat(frames.map(encodeFrame));
}

/** A close frame's payload: a 2-byte status code and a reason (RFC 6455 §5.5.1). */
export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const text = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : reason;
  const out = Buffer.alloc(2 + text.length);
  out.writeUInt16BE(code, 0);
  text.copy(out, 2);
  return out;
}

/** A well-formed masked client frame. */
export function clientFrame(opcode: number, payload: Buffer | string, options: { fin?: boolean; mask?: Buffer } = {}): FrameSpec {
  return {
    fin: options.fin ?? true,
    rsv: 0,
    opcode,
    payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload,
    mask: options.mask ?? Buffer.from([0x37, 0xfa, 0x21, 0x3d]),
  };
}
