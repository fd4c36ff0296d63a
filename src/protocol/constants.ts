/** The GUID appended to `Sec-WebSocket-Key` before hashing (RFC 6455 §1.3). */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The only protocol version this implementation speaks (RFC 6455 §4.1). */
export const WEBSOCKET_VERSION = 13;

/** Frame opcodes (RFC 6455 §5.2, §11.8). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
/** A frame opcode value (one of {@link (Opcode:variable)}'s). */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Reserved bits in the first header byte (RFC 6455 §5.2). RSV1 carries "per-message compressed" (RFC 7692 §6). */
export const RSV1 = 0x40;
/** The second reserved bit (RFC 6455 §5.2); no extension here uses it. */
export const RSV2 = 0x20;
/** The third reserved bit (RFC 6455 §5.2); no extension here uses it. */
export const RSV3 = 0x10;

/** Control frames carry at most 125 bytes of payload (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** A close reason fits in a control frame after the 2-byte status code (RFC 6455 §5.5.1). */
export const MAX_CLOSE_REASON_BYTES = 123;

/** Default limit on one message: 64 MiB, as in `ws` and tungstenite. */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;

/** An empty buffer shared by everything that needs one. */
export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);

/** Whether `opcode` is a control frame's (0x8 and above: close, ping, pong; RFC 6455 §5.5). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}
