/**
 * A reference model of what a server must make of a client's byte stream: a deliberately plain,
 * whole-buffer decoder written from RFC 6455 (§5.1–5.5, §7.4, §8.1) and RFC 3629, sharing no code with
 * the library. The fuzzer checks the library against it event by event (a differential oracle).
 *
 * Where the RFC leaves a choice, the model follows the library's documented behaviour (docs/protocol.md,
 * "Behaviour on bad input"): framing errors fail with 1002, invalid UTF-8 with 1007 as soon as a byte makes the text
 * invalid (even inside a fragment), a message over `maxPayload` with 1009 as soon as a frame header
 * announces it, and a 64-bit length of 2^53 or more (unrepresentable, beyond any limit) with 1009.
 * Compressed messages (RFC 7692) are decoded by `model-deflate.ts`.
 */
import type { WireEvent } from './events.js';
import { DECODE_BATCH, ModelInflater } from './model-deflate.js';

export interface ModelOptions {
  readonly maxPayload: number;
  /** Largest number of frames in one message (the library's `maxFragments`; beyond: 1009). */
  readonly maxFragments?: number;
  /** permessage-deflate was negotiated (RFC 7692): RSV1 on a message's first frame marks it compressed. */
  readonly deflate?: { readonly contextTakeover: boolean };
}

/** Incremental UTF-8 check (RFC 3629 §4; Unicode Table 3-7): does the text so far start a valid string? */
export class Utf8Prefix {
  private need = 0;
  private low = 0x80;
  private high = 0xbf;
  private dead = false;

  /** Feed bytes; false once they cannot begin valid UTF-8. */
  write(bytes: Uint8Array): boolean {
    if (this.dead) return false;
    for (const byte of bytes) {
      if (this.need === 0) {
        if (byte <= 0x7f) continue;
        if (byte >= 0xc2 && byte <= 0xdf) this.need = 1;
        else if (byte === 0xe0) [this.need, this.low] = [2, 0xa0]; // no overlong 3-byte forms
        else if ((byte >= 0xe1 && byte <= 0xec) || byte === 0xee || byte === 0xef) this.need = 2;
        else if (byte === 0xed) [this.need, this.high] = [2, 0x9f]; // no surrogates
        else if (byte === 0xf0) [this.need, this.low] = [3, 0x90]; // no overlong 4-byte forms
        else if (byte >= 0xf1 && byte <= 0xf3) this.need = 3;
        else if (byte === 0xf4) [this.need, this.high] = [3, 0x8f]; // nothing above U+10FFFF
        else return this.die(); // 80–C1, F5–FF never start a character
      } else {
        if (byte < this.low || byte > this.high) return this.die();
        this.need--;
        this.low = 0x80;
        this.high = 0xbf;
      }
    }
    return true;
  }

  /** The text ended: valid only between characters. */
  get complete(): boolean {
    return !this.dead && this.need === 0;
  }

  private die(): false {
    this.dead = true;
    return false;
  }
}

export function isUtf8Text(bytes: Uint8Array): boolean {
  const check = new Utf8Prefix();
  return check.write(bytes) && check.complete;
}

/** Close codes a peer may send (RFC 6455 §7.4.1, §7.4.2; 1012–1014 registered with IANA since). */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

const PROTOCOL_ERROR = 1002;
const INVALID_PAYLOAD = 1007;
const TOO_BIG = 1009;

interface Message {
  isBinary: boolean;
  compressed: boolean;
  /** Decoded data so far. */
  pieces: Buffer[];
  length: number;
  frames: number;
  utf8: Utf8Prefix;
  /** Compressed bytes not decoded yet. */
  pending: Buffer[];
  pendingLength: number;
}

/** Facts about a stream that the checks may want besides its events. */
export interface ModelNotes {
  /** A compressed message ended its DEFLATE stream with a BFINAL block (RFC 7692 §7.2.3.4). */
  streamEnded: boolean;
}

/** The events a server reports for `bytes`, received from a client, in order. */
export function modelServerEvents(bytes: Buffer, options: ModelOptions, notes?: ModelNotes): WireEvent[] {
  const inflater = options.deflate === undefined ? null : new ModelInflater(options.deflate.contextTakeover);
  const events = decodeStream(bytes, options, inflater);
  if (notes !== undefined) notes.streamEnded = inflater?.sawStreamEnd ?? false;
  return events;
}

function decodeStream(bytes: Buffer, options: ModelOptions, inflater: ModelInflater | null): WireEvent[] {
  const events: WireEvent[] = [];
  const fail = (closeCode: number, detail: string, alternative?: number): WireEvent[] => {
    events.push({ type: 'error', closeCode, detail, ...(alternative !== undefined && { alternative }) });
    return events;
  };
  const allowedRsv = inflater === null ? 0 : 4; // RFC 7692 §6: RSV1 means "compressed"
  let message: Message | null = null; // the data message being received (RFC 6455 §5.4)
  let pos = 0;

  while (pos + 2 <= bytes.length) {
    const b0 = bytes[pos]!;
    const b1 = bytes[pos + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >> 4) & 7;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    const control = (opcode & 0x8) !== 0;

    // Rules decidable from the first two bytes; all are framing errors (1002).
    if ((rsv & ~allowedRsv) !== 0) return fail(PROTOCOL_ERROR, 'RSV bit without an extension claiming it (§5.2)');
    if (opcode !== 0 && opcode !== 1 && opcode !== 2 && opcode !== 8 && opcode !== 9 && opcode !== 10) {
      return fail(PROTOCOL_ERROR, `reserved opcode ${opcode} (§5.2)`);
    }
    if (control && !fin) return fail(PROTOCOL_ERROR, 'fragmented control frame (§5.5)');
    if (control && len7 > 125) return fail(PROTOCOL_ERROR, 'control frame over 125 bytes (§5.5)');
    if (!masked) return fail(PROTOCOL_ERROR, 'unmasked client frame (§5.1)');

    const headerSize = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + 4;
    if (pos + headerSize > bytes.length) break; // the header is not complete yet
    let length: number;
    if (len7 === 126) {
      length = bytes.readUInt16BE(pos + 2);
    } else if (len7 === 127) {
      const big = bytes.readBigUInt64BE(pos + 2);
      if (big >> 63n !== 0n) return fail(PROTOCOL_ERROR, '64-bit length with the top bit set (§5.2)');
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) return fail(TOO_BIG, 'length of 2^53 or more');
      length = Number(big);
    } else {
      length = len7;
    }
    const key = bytes.subarray(pos + headerSize - 4, pos + headerSize);

    if (control) {
      if (rsv !== 0) return fail(PROTOCOL_ERROR, 'RSV bit on a control frame (RFC 7692 §6.1)');
    } else {
      if (opcode === 0 && message === null) return fail(PROTOCOL_ERROR, 'continuation without a message (§5.4)');
      if (opcode !== 0 && message !== null) return fail(PROTOCOL_ERROR, 'new message inside a fragmented one (§5.4)');
      if (opcode === 0 && rsv !== 0) return fail(PROTOCOL_ERROR, 'RSV1 on a continuation frame (RFC 7692 §6.1)');
      message ??= { isBinary: opcode === 2, compressed: rsv !== 0, pieces: [], length: 0, frames: 0, utf8: new Utf8Prefix(), pending: [], pendingLength: 0 };
      if (++message.frames > (options.maxFragments ?? Infinity)) return fail(TOO_BIG, 'more frames than maxFragments');
      // §10.4: refused on the header; for a compressed message, on the compressed bytes not yet decoded.
      const size = (message.compressed ? message.pendingLength : message.length) + length;
      if (size > options.maxPayload) return fail(TOO_BIG, 'message over maxPayload (§10.4)');
    }

    const start = pos + headerSize;
    const available = Math.min(length, bytes.length - start);
    const payload = Buffer.alloc(available);
    for (let i = 0; i < available; i++) payload[i] = bytes[start + i]! ^ key[i & 3]!;
    const complete = available === length;
    pos = start + available;

    if (!control) {
      const current = message!;
      let data: Buffer = payload;
      if (current.compressed) {
        current.pending.push(payload);
        current.pendingLength += available;
        if (!complete || !(fin || current.pendingLength >= DECODE_BATCH)) {
          if (!complete) break;
          continue;
        }
        const decoded = inflater!.decode(Buffer.concat(current.pending), fin, options.maxPayload - current.length);
        current.pending = [];
        current.pendingLength = 0;
        if (!decoded.ok) return fail(decoded.closeCode, decoded.detail, decoded.alternative);
        data = decoded.output;
      }
      // §8.1: fail as soon as the text can no longer be valid, even mid-frame.
      if (!current.isBinary && !current.utf8.write(data)) return fail(INVALID_PAYLOAD, 'invalid UTF-8 (§8.1)');
      current.pieces.push(data);
      current.length += data.length;
      if (!complete) break;
      if (fin) {
        if (!current.isBinary && !current.utf8.complete) return fail(INVALID_PAYLOAD, 'text ends inside a character (§8.1)');
        events.push({ type: 'message', isBinary: current.isBinary, data: Buffer.concat(current.pieces) });
        message = null;
      }
      continue;
    }

    if (!complete) break; // control frames are handled once whole
    if (opcode === 9) events.push({ type: 'ping', data: payload });
    else if (opcode === 10) events.push({ type: 'pong', data: payload });
    else {
      // §5.5.1: empty, or a 2-byte code and a UTF-8 reason; §7.4: only sendable codes.
      if (payload.length === 1) return fail(PROTOCOL_ERROR, 'close payload of 1 byte (§5.5.1)');
      if (payload.length === 0) {
        events.push({ type: 'close', code: 1005, reason: Buffer.alloc(0) });
        return events;
      }
      const code = payload.readUInt16BE(0);
      if (!isSendableCloseCode(code)) return fail(PROTOCOL_ERROR, `close code ${code} may not be sent (§7.4)`);
      const reason = payload.subarray(2);
      if (!isUtf8Text(reason)) return fail(INVALID_PAYLOAD, 'close reason is not UTF-8 (§5.5.1)');
      events.push({ type: 'close', code, reason });
      return events; // §5.5.1: nothing after a close frame is processed
    }
  }
  return events;
}
