/**
 * Protocol errors as `ws` reports them. The protocol core raises `ProtocolError` with fullduplex's own
 * `FD_ERR_*` codes; the `ws`-shaped `WebSocket` emits the error `ws`'s receiver would have emitted for
 * the same bytes: a `RangeError` (framing and size errors) or an `Error` (invalid UTF-8, invalid
 * compressed data), with `ws`'s stable `code` (`WS_ERR_*`, ws/lib/receiver.js `createError`), so code
 * that switches on `err.code` keeps working. Our own code stays in `fdCode`, the close code the
 * connection failed with in `closeCode` (`ws` keeps it on a private symbol), and the core's
 * `ProtocolError` in `cause`.
 */
import type { ProtocolError, ProtocolErrorCode } from '../protocol/errors.js';

/** The `code` values of `ws`'s receiver errors. */
export type WsErrorCode =
  | 'WS_ERR_EXPECTED_FIN'
  | 'WS_ERR_EXPECTED_MASK'
  | 'WS_ERR_INVALID_CLOSE_CODE'
  | 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH'
  | 'WS_ERR_INVALID_OPCODE'
  | 'WS_ERR_INVALID_UTF8'
  | 'WS_ERR_TOO_MANY_BUFFERED_PARTS'
  | 'WS_ERR_UNEXPECTED_MASK'
  | 'WS_ERR_UNEXPECTED_RSV_1'
  | 'WS_ERR_UNEXPECTED_RSV_2_3'
  | 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH'
  | 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';

/**
 * What a `WebSocket` emits on `error` when the peer breaks the protocol: a `RangeError` or an `Error`,
 * as in `ws`. `code` is `ws`'s code; for invalid compressed data it is zlib's (`Z_DATA_ERROR`...), as
 * `ws` passes zlib's error on; a violation `ws` has no code for keeps our `FD_ERR_*` code.
 */
export interface WebSocketProtocolError extends Error {
  /**
   * `ws`'s code (`WS_ERR_*`); for invalid compressed data zlib's (`Z_DATA_ERROR`...); our `FD_ERR_*` code for a violation `ws` has no code for.
   */
  readonly code: WsErrorCode | ProtocolErrorCode | `Z_${string}`;
  /** fullduplex's own code (more specific than `ws`'s in places, e.g. which continuation rule broke). */
  readonly fdCode: ProtocolErrorCode;
  /** The close code the connection fails with (1002, 1007, 1009...). */
  readonly closeCode: number;
  /** The protocol core's error (for invalid compressed data, its own `cause` is zlib's error). */
  readonly cause: ProtocolError;
}

const RSV2_RSV3 = 0x30;

/** `ws`'s code and error class for each of our codes (the class as `ws`'s receiver picks it). */
const WS_ERRORS: Readonly<Record<ProtocolErrorCode, { code: WsErrorCode | null; range: boolean }>> = {
  FD_ERR_INVALID_OPCODE: { code: 'WS_ERR_INVALID_OPCODE', range: true },
  // RSV1 or RSV2/3: decided by the bits (see toWsError).
  FD_ERR_UNEXPECTED_RSV: { code: 'WS_ERR_UNEXPECTED_RSV_1', range: true },
  FD_ERR_EXPECTED_MASK: { code: 'WS_ERR_EXPECTED_MASK', range: true },
  FD_ERR_UNEXPECTED_MASK: { code: 'WS_ERR_UNEXPECTED_MASK', range: true },
  FD_ERR_CONTROL_FRAGMENTED: { code: 'WS_ERR_EXPECTED_FIN', range: true },
  FD_ERR_CONTROL_TOO_LONG: { code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', range: true },
  // `ws` refuses every 64-bit length from 2^53 up, the most significant bit included, with this code.
  FD_ERR_INVALID_LENGTH: { code: 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', range: true },
  FD_ERR_UNSUPPORTED_LENGTH: { code: 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', range: true },
  // A continuation frame with no message to continue, or a new message inside one: `ws` names the opcode.
  FD_ERR_UNEXPECTED_CONTINUATION: { code: 'WS_ERR_INVALID_OPCODE', range: true },
  FD_ERR_EXPECTED_CONTINUATION: { code: 'WS_ERR_INVALID_OPCODE', range: true },
  FD_ERR_MESSAGE_TOO_BIG: { code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', range: true },
  FD_ERR_TOO_MANY_FRAGMENTS: { code: 'WS_ERR_TOO_MANY_BUFFERED_PARTS', range: true },
  FD_ERR_INVALID_UTF8: { code: 'WS_ERR_INVALID_UTF8', range: false },
  // A 1-byte close payload: `ws` reports the control frame's length.
  FD_ERR_INVALID_CLOSE_PAYLOAD: { code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', range: true },
  FD_ERR_INVALID_CLOSE_CODE: { code: 'WS_ERR_INVALID_CLOSE_CODE', range: true },
  // Invalid compressed data: `ws` emits zlib's own error (an `Error` with zlib's code).
  FD_ERR_EXTENSION: { code: null, range: false },
  FD_ERR_FRAME_AFTER_CLOSE: { code: null, range: false },
};

/** The error `ws` would emit for this protocol violation (built only when a violation happens). */
export function toWsError(error: ProtocolError): WebSocketProtocolError {
  const entry = WS_ERRORS[error.code];
  let code: WebSocketProtocolError['code'] = entry.code ?? error.code;
  // As in ws/lib/receiver.js: RSV2/RSV3 are checked (and reported) before RSV1.
  if (error.code === 'FD_ERR_UNEXPECTED_RSV' && error.reservedBits !== undefined && (error.reservedBits & RSV2_RSV3) !== 0) {
    code = 'WS_ERR_UNEXPECTED_RSV_2_3';
  }
  if (error.code === 'FD_ERR_EXTENSION' && error.cause instanceof Error) {
    const zlibCode = (error.cause as { code?: unknown }).code;
    if (typeof zlibCode === 'string' && zlibCode.startsWith('Z_')) code = zlibCode as `Z_${string}`;
  }
  const options = { cause: error };
  const wsError = (entry.range ? new RangeError(error.message, options) : new Error(error.message, options)) as Error & {
    code: WebSocketProtocolError['code'];
    fdCode: ProtocolErrorCode;
    closeCode: number;
  };
  wsError.code = code;
  wsError.fdCode = error.code;
  wsError.closeCode = error.closeCode;
  // Where the violation was found (the parser), not where it was converted.
  const frames = error.stack?.indexOf('\n    at ') ?? -1;
  if (frames !== -1) wsError.stack = `${wsError.name}: ${wsError.message}${error.stack!.slice(frames)}`;
  return wsError as WebSocketProtocolError;
}
