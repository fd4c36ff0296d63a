/**
 * The resume subprotocol `fullduplex.resume.v1`: the wire format (docs/recovery.md "Wire format").
 *
 * Negotiation. A client that wants positions and resume offers `fullduplex.resume.v1` in
 * `Sec-WebSocket-Protocol` (RFC 6455 §1.9, §4.1, §11.3.4); a server that speaks it selects it. The name
 * carries the version: a server that does not speak this version does not select it (it answers with
 * another offered protocol or none, RFC 6455 §4.2.2), and the client then knows before any message that
 * there is no resume. A future incompatible version gets a new name (`fullduplex.resume.v2`); within v1
 * nothing is added, so every message is checked strictly (an unknown field is an error, not ignored:
 * `{"form": ...}` for `from` must not silently mean "live only").
 *
 * Binary frames (data and acks; the hot path). `varint` is unsigned LEB128: 7 bits per byte, least
 * significant first, high bit = more bytes follow; at most 8 bytes, at most 2^53 - 1
 * (Number.MAX_SAFE_INTEGER), and in its shortest form (a last byte of 0 after the first is overlong).
 *
 *   server → client  data   [0x01 | 0x80 if the payload is binary][alias varint][offset varint][payload]
 *   client → server  send   [0x10 | 0x80 if the payload is binary][seq varint][payload]
 *   server → client  ack    [0x11][seq varint]
 *
 *  - A data frame carries one message of a topic: `alias` is the number the server gave the topic in
 *    `subscribed` (server-wide, never reused for another topic within a server process), `offset` its
 *    position in the topic's current epoch. It names no subscriber, so a server frames a published
 *    message once for all its subscribers. A text payload is UTF-8.
 *  - A send is an application message with an idempotency key: (the session of `hello`, `seq`). The client
 *    numbers its sends 1, 2, 3 ... for the whole session and keeps each until acked; on every connection it
 *    first re-sends the unacked ones (same seq, in order), then goes on, so the seqs one connection
 *    carries increase by one from the first.
 *  - Acks are cumulative: `[0x11][N]` says every send of this session with seq ≤ N was applied (its
 *    'message' handler ran, or the promise it returned settled). Cumulative because handlers that settle
 *    out of order need no ack each, a lost ack is covered by the next one, a server may coalesce acks
 *    under load, and the client frees a prefix of its queue. A server that received its first send on a
 *    connection with seq F acks at most what it applied from F on (everything below F was acked before:
 *    the client re-sends all it has not seen acked).
 *
 * Control messages: JSON text frames, one object each, with `t` naming the type.
 *
 *   client  {"t":"hello","v":1,"session":S}                      first message of every connection
 *   client  {"t":"sub","id":I,"topic":T,"from":{"epoch":E|null,"offset":N}}   `from` optional
 *   client  {"t":"unsub","id":I,"topic":T}
 *   server  {"t":"welcome","v":1,"session":S}                    answers hello (echoes S)
 *   server  {"t":"subscribed","id":I,"topic":T,"alias":A,"epoch":E,"offset":N,"replay":K,"gap":null|"epoch"|"trimmed"}
 *   server  {"t":"unsubscribed","id":I,"topic":T}
 *   server  {"t":"reset","alias":A,"epoch":E,"offset":N,"reason":"epoch"|"trimmed"}
 *   server  {"t":"error","id":I,"code":C,"message":M}             `id` absent when about no request
 *
 *  - `sub` without `from`: live only. `from: {epoch, offset}`: resume after that position; `epoch: null`
 *    means the topic's current epoch (`{epoch: null, offset: 0}`: everything still kept).
 *  - `subscribed`: the data frames of the topic that follow continue after (`epoch`, `offset`): the next
 *    one has offset + 1. The first `replay` of them come from history, then the stream is live. `gap` is
 *    null when nothing between `from` and the stream is missing, else why (`epoch`: the history of `from`
 *    is gone; `trimmed`: messages right after `from` are no longer kept).
 *  - `reset`: the history of a live subscription changed (new epoch, or a hole that could not be filled);
 *    frames continue after (`epoch`, `offset`). The client must tell its application: it missed messages.
 *
 * Limits (named below): `id`, `alias`, `offset`, `replay` and `seq` are safe integers ≥ 0; `topic` is a
 * non-empty well-formed string of at most MAX_TOPIC_BYTES UTF-8 bytes; `epoch` and `session` are 1 to
 * MAX_TOKEN_LENGTH visible ASCII characters; `code` is 1 to MAX_ERROR_CODE_LENGTH of A–Z, 0–9, `_`
 * (starting with a letter); `message` at most MAX_ERROR_MESSAGE_LENGTH characters.
 *
 * Errors (`ResumeError`, code → the close code to fail the connection with, RFC 6455 §7.4.1):
 *  - FD_ERR_RESUME_UNKNOWN_TYPE → 1003 Unsupported Data: a kind byte or `t` this side does not accept
 *    (unknown, or one that only travels the other way).
 *  - FD_ERR_RESUME_BAD_FRAME → 1002 Protocol Error: an empty or truncated binary frame, a bad varint,
 *    bytes after an ack.
 *  - FD_ERR_RESUME_BAD_JSON → 1007 Invalid Payload Data: a text frame that is not JSON.
 *  - FD_ERR_RESUME_BAD_MESSAGE → 1002: JSON that is not an object of the schema above (missing, unknown or
 *    mistyped field, a value out of its limits).
 *  - FD_ERR_RESUME_BAD_TEXT → 1007: a data or send frame flagged text whose payload is not UTF-8.
 *  - (client state, src/protocol/resume-state.ts) FD_ERR_RESUME_UNREPORTED_GAP and
 *    FD_ERR_RESUME_UNEXPECTED → 1002; FD_ERR_RESUME_UNACKED_FULL: a local limit, no close.
 *  - (resuming clients) FD_ERR_RESUME_NOT_SELECTED → 1010: the server's handshake response did not
 *    select this subprotocol. 1010 is RFC 6455 §7.4.1's code for a client that ends the connection
 *    because the server did not negotiate what it needs (there: an extension); the closest fit. A
 *    browser may only send 1000 or 3000–4999, so the browser client closes with 1000 and this code as
 *    the reason.
 *
 * No Node API (the browser build imports this file): Uint8Array, TextEncoder, TextDecoder only.
 */
import { CloseCode } from './close-codes.js';

/** The subprotocol name, as offered and selected in `Sec-WebSocket-Protocol`. */
export const RESUME_SUBPROTOCOL = 'fullduplex.resume.v1';
/** The version `hello` and `welcome` carry (`v`); the same as in the name. */
export const RESUME_VERSION = 1;

/** The kind bytes of binary frames (the binary flag aside). */
export const ResumeKind = { Data: 0x01, Send: 0x10, Ack: 0x11 } as const;
/** Set in the kind byte of a data or send frame whose payload is binary (clear: UTF-8 text). */
export const RESUME_BINARY_FLAG = 0x80;

/** Largest varint value: 2^53 - 1. */
export const MAX_VARINT = Number.MAX_SAFE_INTEGER;
/** Longest varint: 8 bytes (56 bits hold 53). */
export const MAX_VARINT_BYTES = 8;
/** Longest topic name, in UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 1024;
/** Longest epoch or session, in characters (visible ASCII). */
export const MAX_TOKEN_LENGTH = 64;
/** Longest `code` of an error message. */
export const MAX_ERROR_CODE_LENGTH = 64;
/** Longest `message` of an error message, in characters. */
export const MAX_ERROR_MESSAGE_LENGTH = 1024;

/** Why a stream does not continue from where the client was. */
export type ResumeGapReason = 'epoch' | 'trimmed';

/** A position in a topic (the same shape as `Position` of src/node/history.ts). */
export interface ResumePosition {
  /** The epoch of the topic's history (1 to MAX_TOKEN_LENGTH visible ASCII characters; a new one: the history was replaced). */
  readonly epoch: string;
  /** 1 for the first message of the epoch; 0 for "before the first". */
  readonly offset: number;
}

/** Where a `sub` asks to resume: after `offset` of `epoch` (null: the topic's current epoch). */
export interface ResumeFrom {
  /** The epoch of the position, or null for the topic's current epoch. */
  readonly epoch: string | null;
  /** Resume after this offset (`{ epoch: null, offset: 0 }`: everything still kept). */
  readonly offset: number;
}

/** Client → server, first message of every connection: `{"t":"hello","v":1,"session":S}`. */
export interface HelloMessage {
  /** The message type. */
  readonly t: 'hello';
  /** The subprotocol version, {@link RESUME_VERSION}. */
  readonly v: typeof RESUME_VERSION;
  /** The session id: the scope of the sends' idempotency keys (the same on every connection of a client). */
  readonly session: string;
}
/** Client → server: subscribe to `topic`, live only or resuming `from` a position. */
export interface SubMessage {
  /** The message type. */
  readonly t: 'sub';
  /** The request id, echoed by `subscribed` or `error`. */
  readonly id: number;
  /** The topic. */
  readonly topic: string;
  /** Resume after this position; absent: live only. */
  readonly from?: ResumeFrom;
}
/** Client → server: unsubscribe from `topic`. */
export interface UnsubMessage {
  /** The message type. */
  readonly t: 'unsub';
  /** The request id, echoed by `unsubscribed` or `error`. */
  readonly id: number;
  /** The topic. */
  readonly topic: string;
}
/** A control message a client sends. */
export type ClientControl = HelloMessage | SubMessage | UnsubMessage;

/** Server → client, the answer to `hello` (echoes its session). */
export interface WelcomeMessage {
  /** The message type. */
  readonly t: 'welcome';
  /** The subprotocol version, {@link RESUME_VERSION}. */
  readonly v: typeof RESUME_VERSION;
  /** The session of the `hello`. */
  readonly session: string;
}
/** Server → client, the answer to `sub`: the topic's data frames that follow continue after (`epoch`, `offset`). */
export interface SubscribedMessage {
  /** The message type. */
  readonly t: 'subscribed';
  /** The id of the `sub`. */
  readonly id: number;
  /** The topic. */
  readonly topic: string;
  /** The number the topic's data frames carry (server-wide, never reused for another topic within a server process). */
  readonly alias: number;
  /** The epoch of the topic's history. */
  readonly epoch: string;
  /** The frames that follow continue after this offset. */
  readonly offset: number;
  /** How many of the frames that follow are replayed from history. */
  readonly replay: number;
  /** Null when nothing between `from` and the stream is missing; else why (`epoch`: that history is gone; `trimmed`: no longer kept). */
  readonly gap: ResumeGapReason | null;
}
/** Server → client, the answer to `unsub`. */
export interface UnsubscribedMessage {
  /** The message type. */
  readonly t: 'unsubscribed';
  /** The id of the `unsub`. */
  readonly id: number;
  /** The topic. */
  readonly topic: string;
}
/** Server → client: the history of a live subscription changed; frames continue after (`epoch`, `offset`) and messages were missed. */
export interface ResetMessage {
  /** The message type. */
  readonly t: 'reset';
  /** The topic's alias (from `subscribed`). */
  readonly alias: number;
  /** The epoch the frames continue in. */
  readonly epoch: string;
  /** The frames continue after this offset. */
  readonly offset: number;
  /** `epoch`: a new history; `trimmed`: a hole that could not be filled. */
  readonly reason: ResumeGapReason;
}
/** Server → client: a request refused, or an error about no request. */
export interface ErrorMessage {
  /** The message type. */
  readonly t: 'error';
  /** The id of the refused request; absent when about no request. */
  readonly id?: number;
  /** A stable code: 1 to MAX_ERROR_CODE_LENGTH of A–Z, 0–9, `_` (e.g. `FD_ERR_RESUME_FORBIDDEN`). */
  readonly code: string;
  /** A human-readable explanation, at most MAX_ERROR_MESSAGE_LENGTH characters. */
  readonly message: string;
}
/** A control message a server sends. */
export type ServerControl = WelcomeMessage | SubscribedMessage | UnsubscribedMessage | ResetMessage | ErrorMessage;

/** A binary frame a client receives. `payload` is a view of the received bytes (no copy). */
export type ServerFrame =
  | { readonly kind: 'data'; readonly alias: number; readonly offset: number; readonly binary: boolean; readonly payload: Uint8Array }
  | { readonly kind: 'ack'; readonly seq: number };

/** A binary frame a server receives. `payload` is a view of the received bytes (no copy). */
export interface SendFrame {
  /** The frame kind. */
  readonly kind: 'send';
  /** The send's sequence number in its session (1, 2, 3...): with the session, its idempotency key. */
  readonly seq: number;
  /** Whether the payload is binary (false: UTF-8 text). */
  readonly binary: boolean;
  /** The message. */
  readonly payload: Uint8Array;
}

/** Stable codes of resume errors (see the top of this file for the close code of each). */
export type ResumeErrorCode =
  | 'FD_ERR_RESUME_UNKNOWN_TYPE'
  | 'FD_ERR_RESUME_BAD_FRAME'
  | 'FD_ERR_RESUME_BAD_JSON'
  | 'FD_ERR_RESUME_BAD_MESSAGE'
  | 'FD_ERR_RESUME_BAD_TEXT'
  | 'FD_ERR_RESUME_UNREPORTED_GAP'
  | 'FD_ERR_RESUME_UNEXPECTED'
  | 'FD_ERR_RESUME_UNACKED_FULL'
  | 'FD_ERR_RESUME_NOT_SELECTED';

const CLOSE_CODES: Readonly<Record<ResumeErrorCode, number | undefined>> = {
  FD_ERR_RESUME_UNKNOWN_TYPE: CloseCode.UnsupportedData,
  FD_ERR_RESUME_BAD_FRAME: CloseCode.ProtocolError,
  FD_ERR_RESUME_BAD_JSON: CloseCode.InvalidPayload,
  FD_ERR_RESUME_BAD_MESSAGE: CloseCode.ProtocolError,
  FD_ERR_RESUME_BAD_TEXT: CloseCode.InvalidPayload,
  FD_ERR_RESUME_UNREPORTED_GAP: CloseCode.ProtocolError,
  FD_ERR_RESUME_UNEXPECTED: CloseCode.ProtocolError,
  FD_ERR_RESUME_UNACKED_FULL: undefined,
  FD_ERR_RESUME_NOT_SELECTED: CloseCode.MandatoryExtension,
};

/**
 * A violation of the resume subprotocol by the peer (then `closeCode` is what to close the connection
 * with), or a local limit (`closeCode` undefined: nothing is wrong with the connection).
 */
export class ResumeError extends Error {
  /** Always `'ResumeError'`. */
  override readonly name = 'ResumeError';
  /** The stable code ({@link ResumeErrorCode}). */
  readonly code: ResumeErrorCode;
  /**
   * The close code to fail the connection with (RFC 6455 §7.4.1): 1003 for UNKNOWN_TYPE, 1007 for
   * BAD_JSON and BAD_TEXT, 1010 for NOT_SELECTED, 1002 for the others; undefined for UNACKED_FULL (a
   * local limit).
   */
  readonly closeCode: number | undefined;

  constructor(code: ResumeErrorCode, message: string) {
    super(message);
    this.code = code;
    this.closeCode = CLOSE_CODES[code];
  }
}

// ---------------------------------------------------------------------------------------------- varints

/** How many bytes `value` takes as a varint (a safe integer ≥ 0; the writers check that). */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80 && size <= MAX_VARINT_BYTES) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** Write `value` (a safe integer ≥ 0) as a varint at `at`; returns the index after it. */
export function writeVarint(target: Uint8Array, at: number, value: number): number {
  while (value > 0xffffffff) {
    target[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  while (value >= 0x80) {
    target[at++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  target[at++] = value;
  return at;
}

/** The index after the varint `readVarint` read last (one module-wide cursor: no object per read). */
let cursor = 0;

/** Read a varint at `at` (then `cursor` is the index after it); `what` names it in the error. */
function readVarint(bytes: Uint8Array, at: number, what: string): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const byte = bytes[at + i];
    if (byte === undefined) throw new ResumeError('FD_ERR_RESUME_BAD_FRAME', `The ${what} varint is truncated`);
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      if (byte === 0 && i > 0) throw new ResumeError('FD_ERR_RESUME_BAD_FRAME', `The ${what} varint is overlong (not in its shortest form)`);
      if (value > MAX_VARINT) throw new ResumeError('FD_ERR_RESUME_BAD_FRAME', `The ${what} varint is above 2^53 - 1`);
      cursor = at + i + 1;
      return value;
    }
    scale *= 0x80;
  }
  throw new ResumeError('FD_ERR_RESUME_BAD_FRAME', `The ${what} varint is longer than ${MAX_VARINT_BYTES} bytes`);
}

/** Read the varint at `at` of `bytes`: its value and the index after it (for tests and tools). */
export function decodeVarint(bytes: Uint8Array, at = 0): { value: number; end: number } {
  const value = readVarint(bytes, at, 'value');
  return { value, end: cursor };
}

function checkVarintValue(value: number, what: string): void {
  if (!(Number.isSafeInteger(value) && value >= 0)) throw new RangeError(`The ${what} must be a safe integer >= 0; got ${String(value)}`);
}

// -------------------------------------------------------------------------------------- binary frames

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The UTF-8 bytes of a text payload (lone surrogates become U+FFFD, as in `WebSocket.send`). */
export function encodeText(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The text of a payload flagged text; FD_ERR_RESUME_BAD_TEXT when it is not UTF-8. A BOM is kept. */
export function decodeText(payload: Uint8Array): string {
  try {
    return decoder.decode(payload);
  } catch {
    throw new ResumeError('FD_ERR_RESUME_BAD_TEXT', 'A payload flagged text is not valid UTF-8');
  }
}

/** How many bytes the header of a data frame (kind, alias, offset) takes. */
export function dataFrameHeaderSize(alias: number, offset: number): number {
  return 1 + varintSize(alias) + varintSize(offset);
}

/**
 * Write the header of a data frame at `at` of `target` (which must have `dataFrameHeaderSize` bytes
 * there); returns the index after it, where the payload goes. The cheapest way to frame: a server writes
 * it into the buffer it allocates for the WebSocket frame anyway (V8 allocates a typed array above 64
 * bytes outside the heap, which costs more than all the rest of the envelope).
 */
export function writeDataFrameHeader(target: Uint8Array, at: number, alias: number, offset: number, binary: boolean): number {
  checkVarintValue(alias, 'alias');
  checkVarintValue(offset, 'offset');
  target[at] = binary ? ResumeKind.Data | RESUME_BINARY_FLAG : ResumeKind.Data;
  return writeVarint(target, writeVarint(target, at + 1, alias), offset);
}

/** The header of a data frame in its own array: the same prefix for every subscriber. */
export function dataFrameHeader(alias: number, offset: number, binary: boolean): Uint8Array {
  const header = new Uint8Array(dataFrameHeaderSize(alias, offset));
  writeDataFrameHeader(header, 0, alias, offset, binary);
  return header;
}

/** A whole data frame: header and payload in one new array. */
export function encodeDataFrame(alias: number, offset: number, payload: Uint8Array, binary: boolean): Uint8Array {
  const frame = new Uint8Array(dataFrameHeaderSize(alias, offset) + payload.length);
  frame.set(payload, writeDataFrameHeader(frame, 0, alias, offset, binary));
  return frame;
}

/** A send frame (client → server): `payload` is the message's bytes (UTF-8 when text). */
export function encodeSendFrame(seq: number, payload: Uint8Array, binary: boolean): Uint8Array {
  checkVarintValue(seq, 'seq');
  const head = 1 + varintSize(seq);
  const frame = new Uint8Array(head + payload.length);
  frame[0] = binary ? ResumeKind.Send | RESUME_BINARY_FLAG : ResumeKind.Send;
  writeVarint(frame, 1, seq);
  frame.set(payload, head);
  return frame;
}

/** An ack frame: every send with seq ≤ `seq` was applied. */
export function encodeAckFrame(seq: number): Uint8Array {
  checkVarintValue(seq, 'seq');
  const frame = new Uint8Array(1 + varintSize(seq));
  frame[0] = ResumeKind.Ack;
  writeVarint(frame, 1, seq);
  return frame;
}

/** Decode a binary frame a client received (data or ack). Throws `ResumeError`. */
export function decodeServerFrame(bytes: Uint8Array): ServerFrame {
  const kind = bytes[0];
  if (kind === undefined) throw new ResumeError('FD_ERR_RESUME_BAD_FRAME', 'An empty binary frame');
  if ((kind & 0x7f) === ResumeKind.Data) {
    const alias = readVarint(bytes, 1, 'alias');
    const offset = readVarint(bytes, cursor, 'offset');
    return { kind: 'data', alias, offset, binary: kind >= RESUME_BINARY_FLAG, payload: bytes.subarray(cursor) };
  }
  if (kind === ResumeKind.Ack) {
    const seq = readVarint(bytes, 1, 'seq');
    if (cursor !== bytes.length) throw new ResumeError('FD_ERR_RESUME_BAD_FRAME', `An ack frame has ${bytes.length - cursor} bytes after its seq`);
    return { kind: 'ack', seq };
  }
  throw new ResumeError('FD_ERR_RESUME_UNKNOWN_TYPE', `A binary frame of kind 0x${hex(kind)}: a client accepts 0x01 and 0x81 (data) and 0x11 (ack)`);
}

/** Decode a binary frame a server received (a send). Throws `ResumeError`. */
export function decodeClientFrame(bytes: Uint8Array): SendFrame {
  const kind = bytes[0];
  if (kind === undefined) throw new ResumeError('FD_ERR_RESUME_BAD_FRAME', 'An empty binary frame');
  if ((kind & 0x7f) !== ResumeKind.Send) {
    throw new ResumeError('FD_ERR_RESUME_UNKNOWN_TYPE', `A binary frame of kind 0x${hex(kind)}: a server accepts 0x10 and 0x90 (send)`);
  }
  const seq = readVarint(bytes, 1, 'seq');
  return { kind: 'send', seq, binary: kind >= RESUME_BINARY_FLAG, payload: bytes.subarray(cursor) };
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

// ----------------------------------------------------------------------------------- control messages

/** Checks one field's value: null when good, else what is wrong ("must be ..."). */
type Check = (value: unknown) => string | null;
interface Field { readonly check: Check; readonly optional?: boolean }
type Schema = Readonly<Record<string, Field>>;

const count: Check = (value) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? null : 'must be a safe integer >= 0');
const version: Check = (value) => (value === RESUME_VERSION ? null : `must be ${RESUME_VERSION}`);
const token: Check = (value) =>
  typeof value === 'string' && value.length >= 1 && value.length <= MAX_TOKEN_LENGTH && /^[\x21-\x7e]+$/.test(value)
    ? null
    : `must be 1 to ${MAX_TOKEN_LENGTH} visible ASCII characters`;
const topic: Check = (value) => (typeof value === 'string' && isTopic(value) ? null : `must be a non-empty well-formed string of at most ${MAX_TOPIC_BYTES} UTF-8 bytes`);
const gapReason: Check = (value) => (value === 'epoch' || value === 'trimmed' ? null : 'must be "epoch" or "trimmed"');
const gap: Check = (value) => (value === null ? null : gapReason(value) === null ? null : 'must be null, "epoch" or "trimmed"');
const errorCode: Check = (value) =>
  typeof value === 'string' && value.length <= MAX_ERROR_CODE_LENGTH && /^[A-Z][A-Z0-9_]*$/.test(value)
    ? null
    : `must be 1 to ${MAX_ERROR_CODE_LENGTH} characters of A-Z, 0-9 and _, starting with a letter`;
const errorMessage: Check = (value) => (typeof value === 'string' && value.length <= MAX_ERROR_MESSAGE_LENGTH ? null : `must be a string of at most ${MAX_ERROR_MESSAGE_LENGTH} characters`);
const fromSchema: Schema = {
  epoch: { check: (value) => (value === null ? null : token(value) === null ? null : `must be null or 1 to ${MAX_TOKEN_LENGTH} visible ASCII characters`) },
  offset: { check: count },
};
const from: Check = (value) => {
  if (!isPlainObject(value)) return 'must be an object { epoch, offset }';
  const problem = schemaProblem(value, fromSchema);
  return problem === null ? null : `.${problem}`;
};

const CLIENT_SCHEMAS: Readonly<Record<ClientControl['t'], Schema>> = {
  hello: { v: { check: version }, session: { check: token } },
  sub: { id: { check: count }, topic: { check: topic }, from: { check: from, optional: true } },
  unsub: { id: { check: count }, topic: { check: topic } },
};

const SERVER_SCHEMAS: Readonly<Record<ServerControl['t'], Schema>> = {
  welcome: { v: { check: version }, session: { check: token } },
  subscribed: {
    id: { check: count },
    topic: { check: topic },
    alias: { check: count },
    epoch: { check: token },
    offset: { check: count },
    replay: { check: count },
    gap: { check: gap },
  },
  unsubscribed: { id: { check: count }, topic: { check: topic } },
  reset: { alias: { check: count }, epoch: { check: token }, offset: { check: count }, reason: { check: gapReason } },
  error: { id: { check: count, optional: true }, code: { check: errorCode }, message: { check: errorMessage } },
};

/**
 * Whether `value` is a valid topic name: non-empty, no lone surrogate (it must survive UTF-8), at most
 * MAX_TOPIC_BYTES bytes of UTF-8.
 */
export function isTopic(value: string): boolean {
  if (value.length === 0 || value.length > MAX_TOPIC_BYTES) return false;
  let bytes = 0;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      bytes += 4;
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) return false;
    else bytes += 3;
  }
  return bytes <= MAX_TOPIC_BYTES;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What is wrong with `object` against `schema` (`t` aside): "field must ..." or null. */
function schemaProblem(object: Record<string, unknown>, schema: Schema): string | null {
  for (const key of Object.keys(object)) {
    if (key !== 't' && !Object.hasOwn(schema, key)) return `${JSON.stringify(key)} is not a field of this message`;
  }
  for (const [key, field] of Object.entries(schema)) {
    const value = object[key];
    if (value === undefined) {
      if (field.optional === true) continue;
      return `${key} is missing`;
    }
    const problem = field.check(value);
    if (problem !== null) return problem.startsWith('.') ? `${key}${problem}` : `${key} ${problem}; got ${describe(value)}`;
  }
  return null;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function decodeControl<T extends { t: string }>(text: string, schemas: Readonly<Record<string, Schema>>, side: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ResumeError('FD_ERR_RESUME_BAD_JSON', 'A text frame that is not JSON: control messages are JSON objects');
  }
  if (!isPlainObject(value)) throw new ResumeError('FD_ERR_RESUME_BAD_MESSAGE', `A control message must be a JSON object; got ${describe(value)}`);
  const type = value['t'];
  if (typeof type !== 'string') throw new ResumeError('FD_ERR_RESUME_BAD_MESSAGE', `A control message needs "t" (a string); got ${describe(type)}`);
  if (!Object.hasOwn(schemas, type)) {
    throw new ResumeError('FD_ERR_RESUME_UNKNOWN_TYPE', `A control message of type ${describe(type)}: ${side} accepts ${Object.keys(schemas).join(', ')}`);
  }
  const problem = schemaProblem(value, schemas[type]!);
  if (problem !== null) throw new ResumeError('FD_ERR_RESUME_BAD_MESSAGE', `Bad "${type}" message: ${problem}`);
  return value as unknown as T;
}

function encodeControl(message: { readonly t: string }, schemas: Readonly<Record<string, Schema>>, side: string): string {
  const schema = Object.hasOwn(schemas, message.t) ? schemas[message.t] : undefined;
  if (schema === undefined) throw new TypeError(`A ${side} does not send control messages of type ${describe(message.t)}`);
  const problem = schemaProblem(message as unknown as Record<string, unknown>, schema);
  if (problem !== null) throw new TypeError(`Bad "${message.t}" message: ${problem}`);
  return JSON.stringify(message);
}

/** Decode a control message a server received. Throws `ResumeError`. */
export function decodeClientControl(text: string): ClientControl {
  return decodeControl<ClientControl>(text, CLIENT_SCHEMAS, 'a server');
}

/** Decode a control message a client received. Throws `ResumeError`. */
export function decodeServerControl(text: string): ServerControl {
  return decodeControl<ServerControl>(text, SERVER_SCHEMAS, 'a client');
}

/** The text frame of a client's control message (checked: a TypeError names a bad field). */
export function encodeClientControl(message: ClientControl): string {
  return encodeControl(message, CLIENT_SCHEMAS, 'client');
}

/** The text frame of a server's control message (checked: a TypeError names a bad field). */
export function encodeServerControl(message: ServerControl): string {
  return encodeControl(message, SERVER_SCHEMAS, 'server');
}
