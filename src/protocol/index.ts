/**
 * fullduplex/protocol: the sans-I/O WebSocket protocol core (RFC 6455). Bytes in, events and bytes out;
 * no sockets, no timers, no streams.
 */
export { WEBSOCKET_GUID, WEBSOCKET_VERSION, Opcode, RSV1, RSV2, RSV3, MAX_CONTROL_PAYLOAD, MAX_CLOSE_REASON_BYTES, DEFAULT_MAX_PAYLOAD, isControlOpcode } from './constants.js';
export { ProtocolError, HandshakeError, type ProtocolErrorCode, type ProtocolErrorOptions, type HandshakeErrorCode } from './errors.js';
export { CloseCode, isValidCloseCode, closeCodeName } from './close-codes.js';
export { xorMask, unmask, maskInto } from './mask.js';
export { isValidUtf8, Utf8Validator } from './utf8.js';
export {
  parseTokenList,
  parseExtensions,
  formatExtensions,
  isToken,
  HeaderSyntaxError,
  type ExtensionOffer,
  type ExtensionParam,
} from './header-grammar.js';
export {
  computeAcceptKey,
  formatRejection,
  formatHeaderLines,
  statusText,
  type HeaderMap,
  type HeaderValue,
  type ResponseHeaders,
} from './handshake.js';
export {
  validateRequest,
  formatAcceptResponse,
  acceptResponseLines,
  formatResponseLines,
  isValidKey,
  validateWebSocketFields,
  type WebSocketFields,
  type HandshakeRequest,
  type ValidatedRequest,
  type ValidateOptions,
  type AcceptOptions,
} from './handshake-server.js';
export {
  validateExtendedConnect,
  isWebSocketConnect,
  connectAcceptLines,
  connectResponseHeaders,
  connectRejectionHeaders,
  WEBSOCKET_CONNECT_PROTOCOL,
  HTTP2_ACCEPT_STATUS_LINE,
  type ValidatedConnect,
  type ConnectAcceptOptions,
  type Http2ResponseHeaders,
} from './extended-connect.js';
export {
  createClientHandshake,
  validateResponse,
  checkProtocols,
  type ClientHandshake,
  type ClientHandshakeOptions,
  type HandshakeResponse,
  type AcceptedHandshake,
} from './handshake-client.js';
export { FrameParser, type FrameSink, type FrameParserOptions, type Role } from './frame-parser.js';
export { Receiver, type ReceiverHandler, type ReceiverOptions } from './receiver.js';
export { MessageBuffer } from './message-buffer.js';
export {
  MaskKeyPool,
  serializeFrame,
  serializeTextFrame,
  serializeMessage,
  writeFrameHeader,
  frameHeaderSize,
  encodeClosePayload,
  checkControlPayload,
  type ChunkSink,
} from './frame-serializer.js';
export { CloseHandshake, ReadyState, type CloseResult } from './close-handshake.js';
export { Connection, type ConnectionHandler, type ConnectionOptions, type SendOptions } from './connection.js';
export type { MessageDecoder, MessageEncoder, DecodeCallback, EncodeCallback } from './extension.js';
export { SharedFrame, type SharedFrameWaiter } from './shared-frame.js';
export {
  PERMESSAGE_DEFLATE,
  negotiateServer,
  invalidServerOffer,
  createClientOffer,
  acceptServerResponse,
  compressorWindowBits,
  type PerMessageDeflateOptions,
  type DeflateParams,
  type ServerNegotiation,
} from './permessage-deflate.js';
export {
  ReconnectPolicy,
  isFinalClose,
  isRetryableStatus,
  parseRetryAfter,
  reconnectSettings,
  type ReconnectOptions,
  type ClosedConnection,
  type ReconnectDecision,
} from './reconnect-policy.js';
export {
  RECONNECT_QUEUE_DEFAULTS,
  reconnectQueueBound,
  type QueueingReconnectOptions,
  type ReconnectQueueBound,
  type ReconnectQueueOptions,
} from './reconnect-queue.js';
export {
  RESUME_SUBPROTOCOL,
  RESUME_VERSION,
  RESUME_BINARY_FLAG,
  ResumeKind,
  ResumeError,
  MAX_VARINT,
  MAX_VARINT_BYTES,
  MAX_TOPIC_BYTES,
  MAX_TOKEN_LENGTH,
  MAX_ERROR_CODE_LENGTH,
  MAX_ERROR_MESSAGE_LENGTH,
  varintSize,
  writeVarint,
  decodeVarint,
  encodeText as encodeResumeText,
  decodeText as decodeResumeText,
  dataFrameHeaderSize,
  writeDataFrameHeader,
  dataFrameHeader,
  encodeDataFrame,
  encodeSendFrame,
  encodeAckFrame,
  decodeServerFrame,
  decodeClientFrame,
  isTopic,
  decodeClientControl,
  decodeServerControl,
  encodeClientControl,
  encodeServerControl,
  type ResumeErrorCode,
  type ResumeGapReason,
  type ResumePosition,
  type ResumeFrom,
  type HelloMessage,
  type SubMessage,
  type UnsubMessage,
  type ClientControl,
  type WelcomeMessage,
  type SubscribedMessage,
  type UnsubscribedMessage,
  type ResetMessage,
  type ErrorMessage as ResumeErrorMessage,
  type ServerControl,
  type ServerFrame,
  type SendFrame,
} from './resume-wire.js';
export {
  ResumeState,
  RESUME_STATE_DEFAULTS,
  type ResumeStateOptions,
  type ResumeSubscribeOptions,
  type ResumeEvent,
  type ResumeOutgoing,
} from './resume-state.js';
// The client's address (docs/limits.md "The client's address"): forwarding headers, the PROXY protocol, IP ranges.
export { parseForwarded, parseXForwardedFor, resolveClientAddress, compileTrust, MAX_FORWARDED_HOPS, type ForwardedNode, type ForwardedHeaderName, type TrustProxy, type TrustTest } from './forwarded.js';
export { parseProxyHeader, formatProxyV1, ProxyProtocolError, PROXY_V2_SIGNATURE, type ProxyHeader, type ProxyEndpoint, type ProxyFamily, type ProxyParseResult, type ProxyProtocolErrorCode } from './proxy-protocol.js';
export { parseIP, formatIP, canonicalIP, parseRanges, inRange, type IPRange } from './ip-address.js';
