/**
 * Errors raised by the protocol core. Every error carries a stable `code` (for programs) and a human
 * message (for people); frame-level errors also carry the close code the connection fails with.
 */

/**
 * Stable identifiers of protocol errors, in the style of `ws`'s `WS_ERR_*`, each with the close code the
 * connection fails with (RFC 6455 §7.4.1): 1002 for `FD_ERR_INVALID_OPCODE`, `_UNEXPECTED_RSV`,
 * `_EXPECTED_MASK`, `_UNEXPECTED_MASK`, `_CONTROL_FRAGMENTED`, `_CONTROL_TOO_LONG`, `_INVALID_LENGTH`,
 * `_UNEXPECTED_CONTINUATION`, `_EXPECTED_CONTINUATION`, `_INVALID_CLOSE_PAYLOAD`, `_INVALID_CLOSE_CODE`;
 * 1007 for `FD_ERR_INVALID_UTF8` and `_EXTENSION` (invalid compressed data); 1009 for
 * `FD_ERR_MESSAGE_TOO_BIG` (`maxPayload`), `_TOO_MANY_FRAGMENTS` (`maxFragments`) and
 * `_UNSUPPORTED_LENGTH` (a length over 2^53 - 1). `FD_ERR_FRAME_AFTER_CLOSE` is reserved (not raised).
 */
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
  /** Always `'ProtocolError'`. */
  override readonly name = 'ProtocolError';
  /** The stable code ({@link ProtocolErrorCode}). */
  readonly code: ProtocolErrorCode;
  /** The close code the connection fails with (1002, 1007 or 1009). */
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

/**
 * Stable identifiers of handshake failures. On the server, the HTTP status answered: 405 for
 * `FD_ERR_HANDSHAKE_METHOD` (not GET), 426 for `_VERSION` over HTTP/1.1 (with `Sec-WebSocket-Version: 13`;
 * 400 over HTTP/2), 501 for `_CONNECT_PROTOCOL` naming another protocol, 400 for the other malformed
 * requests. On the client (status 0, except `_STATUS`: the server's status): `_STATUS` (not 101),
 * `_UPGRADE`, `_CONNECTION`, `_ACCEPT` (RFC 6455 §4.1 checks of the response), `_PROTOCOL`, `_EXTENSIONS`.
 */
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
  /** Always `'HandshakeError'`. */
  override readonly name = 'HandshakeError';
  /** The stable code ({@link HandshakeErrorCode}). */
  readonly code: HandshakeErrorCode;
  /** Server: the HTTP status to answer with. Client: the status the server answered (0 when not about it). */
  readonly status: number;
  /** Server: extra response headers. Client: a refusal's response headers (lower-case names), else empty. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: HandshakeErrorCode, status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.status = status;
    this.headers = headers;
  }
}
