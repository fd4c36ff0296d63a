/**
 * The messages of the load tests. Every payload starts with a 17-byte ASCII header: its kind (one
 * letter), the connection id and the sequence number (8 hex digits each). Its size, its opcode (text
 * for odd sequence numbers, binary for even ones) and its filler bytes follow from those three, so any
 * receiver can check a message on its own, and both ends can keep a CRC-32 of everything they sent
 * or received to compare at the end.
 */
import { crc32 } from 'node:zlib';

export const Kind = {
  /** Client to server, echoed back as it came. */
  Echo: 0x45, // 'E'
  /** Pushed by the server, at its own pace. */
  Push: 0x50, // 'P'
  /** Pushed by the server as fast as it can, ignoring backpressure (the slow-reader test). */
  Flood: 0x46, // 'F'
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export const HEADER_SIZE = 17;
/** Flood messages are 64 KiB (a 64-bit length in the frame header). */
export const FLOOD_SIZE = 64 * 1024;

/** The payload size of message `seq` of `kind` on connection `id`: mostly 17-416 bytes, every 16th 3-5 KB. */
export function payloadSize(kind: number, id: number, seq: number): number {
  if (kind === Kind.Flood) return FLOOD_SIZE;
  const mix = (Math.imul(id, 31) + Math.imul(seq, 97)) >>> 0;
  return HEADER_SIZE + (seq % 16 === 0 ? 3000 + (mix % 2000) : mix % 400);
}

/** Odd sequence numbers travel as text, even ones as binary. */
export function isBinarySeq(seq: number): boolean {
  return seq % 2 === 0;
}

// Filler: deterministic pseudo-random bytes, and printable ASCII for text messages.
const POOL_SIZE = 2 * FLOOD_SIZE;
const binaryPool = Buffer.allocUnsafe(POOL_SIZE);
const textPool = Buffer.allocUnsafe(POOL_SIZE);
{
  let state = 0x9e3779b9;
  for (let i = 0; i < POOL_SIZE; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    binaryPool[i] = state & 0xff;
    textPool[i] = 0x20 + ((state >>> 8) % 95);
  }
}

const HEX = Buffer.from('0123456789abcdef', 'latin1');

function writeHex(target: Buffer, offset: number, value: number): void {
  for (let i = 7; i >= 0; i--) {
    target[offset + i] = HEX[value & 0xf]!;
    value >>>= 4;
  }
}

function readHex(source: Buffer, offset: number): number {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    const c = source[offset + i]!;
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/** Message `seq` of `kind` on connection `id`, in a buffer of its own. */
export function makePayload(kind: Kind, id: number, seq: number): Buffer {
  const size = payloadSize(kind, id, seq);
  const payload = Buffer.allocUnsafe(size);
  payload[0] = kind;
  writeHex(payload, 1, id);
  writeHex(payload, 9, seq);
  const filler = size - HEADER_SIZE;
  const start = ((Math.imul(id, 7919) + Math.imul(seq, 104_729)) >>> 0) % (POOL_SIZE - filler);
  (isBinarySeq(seq) ? binaryPool : textPool).copy(payload, HEADER_SIZE, start, start + filler);
  return payload;
}

export interface Header {
  kind: number;
  id: number;
  seq: number;
}

/** The header of a received payload, or null if it has none. */
export function readHeader(payload: Buffer): Header | null {
  if (payload.length < HEADER_SIZE) return null;
  const id = readHex(payload, 1);
  const seq = readHex(payload, 9);
  if (id < 0 || seq < 0) return null;
  return { kind: payload[0]!, id, seq };
}

/** Running CRC-32 over payloads (start with 0). */
export function checksum(payload: Buffer, previous: number): number {
  return crc32(payload, previous);
}

/** The CRC-32 of messages 1..count of `kind` on connection `id` (what a complete stream adds up to). */
export function expectedChecksum(kind: Kind, id: number, count: number): number {
  let crc = 0;
  for (let seq = 1; seq <= count; seq++) crc = checksum(makePayload(kind, id, seq), crc);
  return crc;
}

/** What a client says it sent, in its close frame's reason (the server checks it against what arrived). */
export function formatTally(count: number, crc: number): string {
  return `n=${count} crc=${(crc >>> 0).toString(16)}`;
}

export function parseTally(reason: string): { count: number; crc: number } | null {
  const match = /^n=(\d+) crc=([0-9a-f]+)$/.exec(reason);
  return match === null ? null : { count: Number(match[1]), crc: parseInt(match[2]!, 16) };
}
