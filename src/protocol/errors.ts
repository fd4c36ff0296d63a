/**
 * Errors raised by the protocol core. Every error carries a stable `code` (for programs) and a human
 * message (for people); frame-level errors also carry the close code the connection fails with.
 */

/** Stable identifiers of protocol errors, in the style of `ws`'s `WS_ERR_*`. */
export type ProtocolErrorCode =
  | 'FD_ERR_INVALID_OPCODE'
  | 'FD_ERR_UNEXPECTED_RSV'
  | 'FD_ERR_EXPECTED_MASK'
  | 'FD_ERR_UNEXPECTED_MASK'
  | 'FD_ERR_CONTROL_FRAGMENTED'
  | 'FD_ERR_CONTROL_TOO_LONG'
  | 'FD_ERR_INVALID_LENGTH'
  | 'FD_ERR_UNSUPPORTED_LENGTH'
  | 'FD_ERR_UNEXPECTED_CONTINUATION'
  | 'FD_ERR_EXPECTED_CONTINUATION'
  | 'FD_ERR_MESSAGE_TOO_BIG'
  | 'FD_ERR_TOO_MANY_FRAGMENTS'
  | 'FD_ERR_INVALID_UTF8'
  | 'FD_ERR_INVALID_CLOSE_PAYLOAD'
  | 'FD_ERR_INVALID_CLOSE_CODE'
  | 'FD_ERR_EXTENSION'
  | 'FD_ERR_FRAME_AFTER_CLOSE';

/**
 * A violation of the wire protocol by the peer. The connection fails with `closeCode`
 * (RFC 6455 §7.1.7): 1002 protocol error, 1007 invalid payload data, 1009 message too big, ...
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  readonly closeCode: number;
  /** For `FD_ERR_UNEXPECTED_RSV`: the reserved bits that were set (0x40 RSV1, 0x20 RSV2, 0x10 RSV3), when known. */
  readonly reservedBits: number | undefined;

  constructor(code: ProtocolErrorCode, closeCode: number, message: string, options: ProtocolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.closeCode = closeCode;
    this.reservedBits = options.reservedBits;
  }
}

/** Details a `ProtocolError` may carry. */
export interface ProtocolErrorOptions {
  /** The reserved bits that were set, as in the frame's first byte (0x70 mask). */
  reservedBits?: number;
  /** The underlying error (e.g. zlib's, for invalid compressed data). */
  cause?: unknown;
}

/** Stable identifiers of handshake failures. */
export type HandshakeErrorCode =
  | 'FD_ERR_HANDSHAKE_METHOD'
  | 'FD_ERR_HANDSHAKE_HTTP_VERSION'
  | 'FD_ERR_HANDSHAKE_HOST'
  | 'FD_ERR_HANDSHAKE_UPGRADE'
  | 'FD_ERR_HANDSHAKE_CONNECTION'
  | 'FD_ERR_HANDSHAKE_KEY'
  | 'FD_ERR_HANDSHAKE_VERSION'
  | 'FD_ERR_HANDSHAKE_PROTOCOL'
  | 'FD_ERR_HANDSHAKE_EXTENSIONS'
  | 'FD_ERR_HANDSHAKE_BODY'
  | 'FD_ERR_HANDSHAKE_STATUS'
  | 'FD_ERR_HANDSHAKE_ACCEPT'
  | 'FD_ERR_HANDSHAKE_HEADER'
  /** RFC 8441: a CONNECT without `:protocol`, or with another protocol than "websocket". */
  | 'FD_ERR_HANDSHAKE_CONNECT_PROTOCOL'
  /** RFC 8441 §4: `:path`, `:scheme` or `:authority` missing or malformed. */
  | 'FD_ERR_HANDSHAKE_PSEUDO_HEADER';

/**
 * A failed opening handshake. On the server, `status` is the HTTP status to answer with and `headers`
 * the extra response headers (e.g. `Sec-WebSocket-Version: 13` with 426). On the client, `status` is
 * the status the server answered with (0 when the failure is not about the status line), and for a
 * refusal (`FD_ERR_HANDSHAKE_STATUS` over HTTP/1.1) `headers` are the refusal's response headers,
 * names in lower case, repeated ones joined with ", " (`headers['retry-after']` for a 503 or 429:
 * RFC 9110 §10.2.3); empty otherwise.
 */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
  readonly code: HandshakeErrorCode;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: HandshakeErrorCode, status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.status = status;
    this.headers = headers;
  }
}
