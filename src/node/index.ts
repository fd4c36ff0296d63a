/** fullduplex for Node: the `ws`-shaped server and client. */
export { WebSocket, type WebSocketEvents, type ConnectionOptions, type SendOptions, type SlowConsumerPolicy, type ClientOptions, type PublishOptions, type PublishCallback } from './websocket.js';
export { WebSocketServer, HandshakeRejection, type ServerOptions, type WebSocketServerEvents, type VerifyClient, type VerifyClientInfo } from './server.js';
export type { SendStatus } from './websocket.js';
export type { LimitsOptions, ClientLimits, AddressLimits, KeyLimits, MessageLimits, MessageRatePolicy, LimitCode, LimitEvent, RateLimitEvent } from './limits-options.js';
export type { BinaryType, MessageData, SendData } from './data.js';
export type { WebSocketProtocolError, WsErrorCode } from './ws-errors.js';
export type { ReceivedMessage } from './message-iterator.js';
export type { HeartbeatOptions } from './heartbeat.js';
export type { ClientReconnectOptions, ReconnectQueueOptions, ReconnectionState, ReconnectingEvent, ReconnectEnd, DropReason } from './reconnect.js';
export type { PerMessageDeflateConfig } from './permessage-deflate.js';
export type { Backplane, BackplaneNode } from './backplane.js';
export { createWebSocketStream } from './stream.js';
export { ProxyError, type ProxyErrorCode } from './proxy-tunnel-types.js';
export type { ProxyOption, ProxySettings } from './proxy-environment.js';
export { clientAddress } from './client-address.js';
export { acceptProxyProtocol } from './proxy-protocol-server.js';
export type { ProxyProtocolOptions } from './proxy-protocol-reader.js';
export { ProxyProtocolError, type ProxyProtocolErrorCode, type ProxyHeader } from '../protocol/proxy-protocol.js';
export type { TrustProxy, ForwardedHeaderName } from '../protocol/forwarded.js';
export { MemoryHistory, type MemoryHistoryOptions } from './memory-history.js';
export type { HistoryStore, HistorySink, HistoryBounds, HistoryEntry, HistoryRead, HistoryGapReason, Position } from './history.js';
export type { HistoryOptions, HistoryTopicsOption, HistoryTopicChoice } from './history-topics.js';
export type { ResumeOptions } from './resume-session.js';
export { MemoryDedupe, type MemoryDedupeOptions, type SendDedupe } from './send-dedupe.js';
export {
  ResumingClient,
  type ResumingClientOptions,
  type ResumingClientEvents,
  type ResumeMessageInfo,
  type ResumeSubscribedInfo,
  type ResumeGapInfo,
  type ResumeRefusal,
  type ResumeSendData,
  type ResumeSendCallback,
  type ResumePosition,
  type ResumeGapReason,
  type ResumeSubscribeOptions,
} from './resuming-client.js';
export { ResumeError, RESUME_SUBPROTOCOL, type ResumeErrorCode } from '../protocol/resume-wire.js';
export { RejectCode, type ServerStats, type HandshakeRejectCount } from './stats.js';
export { prometheusText, PROMETHEUS_CONTENT_TYPE, type PrometheusOptions, type StatsProvider } from './prometheus.js';
export {
  channels,
  CHANNEL_PREFIX,
  type ChannelMessages,
  type ChannelName,
  type TypedChannel,
  type ConnectionOpenMessage,
  type ConnectionCloseMessage,
  type HandshakeRejectMessage,
  type MessageInMessage,
  type MessageOutMessage,
  type SlowConsumerMessage,
  type RateLimitMessage,
} from './diagnostics.js';
