/**
 * The events of `ResumingWebSocket` (src/browser/resuming-client.ts) that carry what the resume
 * subprotocol adds: `CustomEvent`s whose `detail` holds the fields, as `ReconnectingEvent` does.
 * Browser-safe: only `CustomEvent`, a global of browsers and Node 20+.
 */
import type { ResumeError, ResumeGapReason } from '../protocol/resume-wire.js';

/** A message of a topic, exactly once: where it sits in the topic, and whether it was replayed. */
export interface ResumeMessageDetail {
  /** The topic the message belongs to. */
  readonly topic: string;
  /** Text as a string; binary as a Uint8Array (a view of the received message). */
  readonly data: string | Uint8Array;
  /** The epoch of the topic's history (opaque; a new epoch means the history was replaced). */
  readonly epoch: string;
  /** The message's offset in the epoch (1 for the first message): with `epoch`, the position to resume after. */
  readonly offset: number;
  /** It came from history (the server's replay after `subscribed`), not live. */
  readonly replayed: boolean;
}

/** `message`: one message of a subscribed topic. */
export class ResumeMessageEvent extends CustomEvent<ResumeMessageDetail> {
  constructor(detail: ResumeMessageDetail) {
    super('message', { detail });
  }
}

/** The server took a subscription: messages continue after (`epoch`, `offset`); `replay` come from history. */
export interface ResumeSubscribedDetail {
  /** The topic subscribed to. */
  readonly topic: string;
  /** The epoch of the topic's history (opaque; a new epoch means the history was replaced). */
  readonly epoch: string;
  /** The offset the stream continues after (0: before the first message). */
  readonly offset: number;
  /** How many messages the server replays from history before live ones. */
  readonly replay: number;
  /** Not null when messages were lost since the position asked for (a `gap` event says it too). */
  readonly gap: ResumeGapReason | null;
}

/** `subscribed`: on every connection, for every wanted topic. */
export class ResumeSubscribedEvent extends CustomEvent<ResumeSubscribedDetail> {
  constructor(detail: ResumeSubscribedDetail) {
    super('subscribed', { detail });
  }
}

/** Messages of a topic were lost: why, and the position the stream continues after. */
export interface ResumeGapDetail {
  /** The topic with the hole. */
  readonly topic: string;
  /** `epoch`: the history was replaced (everything before is gone); `trimmed`: the oldest were dropped. */
  readonly reason: ResumeGapReason;
  /** The epoch of the topic's history (opaque; a new epoch means the history was replaced). */
  readonly epoch: string;
  /** The offset the stream continues after. */
  readonly offset: number;
}

/** `gap`: a hole in a topic (reload what depends on it). */
export class ResumeGapEvent extends CustomEvent<ResumeGapDetail> {
  constructor(detail: ResumeGapDetail) {
    super('gap', { detail });
  }
}

/** `unsubscribed`: the server confirmed an `unsubscribe`. */
export class ResumeUnsubscribedEvent extends CustomEvent<{
  /** The topic unsubscribed from. */
  readonly topic: string;
}> {
  constructor(detail: { readonly topic: string }) {
    super('unsubscribed', { detail });
  }
}

/** A request the server refused: the topic of a refused subscription (no longer wanted), or null. */
export interface ResumeRefusedDetail {
  /** The topic of a refused subscription (no longer wanted), or null for another request. */
  readonly topic: string | null;
  /** The server's error code (e.g. `FD_ERR_RESUME_FORBIDDEN` when `authorize` refused the topic). */
  readonly code: string;
  /** The server's explanation. */
  readonly message: string;
}

/** `refused`: the server answered a request with an error message. */
export class ResumeRefusedEvent extends CustomEvent<ResumeRefusedDetail> {
  constructor(detail: ResumeRefusedDetail) {
    super('refused', { detail });
  }
}

/** `acked`: every send with a seq up to `seq` was applied by the server. */
export class ResumeAckedEvent extends CustomEvent<{
  /** The highest seq applied (cumulative). */
  readonly seq: number;
}> {
  constructor(detail: { readonly seq: number }) {
    super('acked', { detail });
  }
}

/**
 * `error`: `error` is the `ResumeError` of a protocol violation (the connection is closed and the next
 * one resumes) or of FD_ERR_RESUME_NOT_SELECTED (then `close` follows), or null for a connection or
 * attempt that failed as the platform `WebSocket` reports it (browsers tell no more).
 */
export class ResumeErrorEvent extends CustomEvent<{
  /** The {@link ResumeError}, or null for a failed connection or attempt. */
  readonly error: ResumeError | null;
}> {
  constructor(detail: { readonly error: ResumeError | null }) {
    super('error', { detail });
  }
  /** The same as `detail.error`: the {@link ResumeError}, or null for a failed connection or attempt. */
  get error(): ResumeError | null {
    return this.detail.error;
  }
}
