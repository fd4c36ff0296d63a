/**
 * fullduplex/web: the WHATWG `WebSocket` (https://websockets.spec.whatwg.org/) on Node, so that code
 * written for browsers runs unchanged. A non-standard third constructor argument takes Node client
 * options (headers, TLS options, `origin`...): `new WebSocket(url, protocols, { headers })`. Also the
 * WHATWG `WebSocketStream` (promises and streams, with backpressure), and `toWebSocketStream` for the
 * same streams over a connection a `WebSocketServer` accepted.
 */
export {
  WebSocket,
  type BinaryType,
  type MessageEventData,
  type WebSocketEventMap,
  type WebSocketMessageEvent,
  type WebSocketOptions,
  type WebSocketSendData,
} from './websocket.js';
export { CloseEvent, type CloseEventInit, type CloseEventConstructor } from './close-event.js';
export {
  MessageEvent,
  type MessageEventConstructor,
  type MessageEventInit,
  type MessageEventSource,
} from './message-event.js';
export {
  WebSocketStream,
  toWebSocketStream,
  type WebSocketStreamOptions,
  type WebSocketStreamNodeOptions,
  type WebSocketOpenInfo,
  type WebSocketStreamCloseInfo,
  type WebSocketStreamMessage,
  type WebSocketStreamWriteData,
  type ReadableSideOptions,
} from './websocket-stream.js';
export { WebSocketError } from './websocket-error.js';
export type { WebSocketCloseInfo } from './close-info.js';
export { ReconnectingWebSocket, type ReconnectingWebSocketOptions } from './reconnecting-websocket.js';
export { ResumingWebSocket, type ResumingWebSocketOptions } from './resuming-websocket.js';
export {
  ReconnectedEvent,
  ReconnectingEvent,
  type CloseEventLike,
  type QueueingReconnectOptions,
  type ReconnectQueueOptions,
  type ReconnectedDetail,
  type ReconnectingDetail,
  type ReconnectingWebSocketEventMap,
  type ResumingWebSocketEventMap,
  ResumeAckedEvent,
  ResumeErrorEvent,
  ResumeGapEvent,
  ResumeMessageEvent,
  ResumeRefusedEvent,
  ResumeSubscribedEvent,
  ResumeUnsubscribedEvent,
  ResumeError,
  RESUME_SUBPROTOCOL,
  type ResumeErrorCode,
  type ResumeGapReason,
  type ResumePosition,
  type ResumeStateOptions,
  type ResumeSubscribeOptions,
} from '../browser/index.js';
