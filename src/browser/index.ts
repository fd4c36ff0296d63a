/**
 * fullduplex/browser: the reconnecting WHATWG-style WebSocket for browsers (plain ES modules, no Node
 * API), over the browser's own `WebSocket`. On Node, fullduplex/web exports the same class preset with
 * fullduplex/web's `WebSocket`.
 */
export {
  ReconnectingWebSocket,
  type BinaryType,
  type ReconnectingWebSocketEventMap,
  type ReconnectingWebSocketOptions,
  type SendData,
  type WebSocketConstructorLike,
  type WebSocketLike,
} from './reconnecting-websocket.js';
export { ReconnectedEvent, ReconnectingEvent, type CloseEventLike, type ReconnectedDetail, type ReconnectingDetail } from './events.js';
export type { ClosedConnection, ReconnectOptions } from '../protocol/reconnect-policy.js';
export type { QueueingReconnectOptions, ReconnectQueueOptions } from '../protocol/reconnect-queue.js';
export { ResumingWebSocket, type ResumingWebSocketEventMap, type ResumingWebSocketOptions, type ResumeSendData } from './resuming-client.js';
export {
  ResumeAckedEvent,
  ResumeErrorEvent,
  ResumeGapEvent,
  ResumeMessageEvent,
  ResumeRefusedEvent,
  ResumeSubscribedEvent,
  ResumeUnsubscribedEvent,
  type ResumeGapDetail,
  type ResumeMessageDetail,
  type ResumeRefusedDetail,
  type ResumeSubscribedDetail,
} from './resume-events.js';
export { ResumeError, RESUME_SUBPROTOCOL, type ResumeErrorCode, type ResumeGapReason, type ResumePosition } from '../protocol/resume-wire.js';
export type { ResumeStateOptions, ResumeSubscribeOptions } from '../protocol/resume-state.js';
