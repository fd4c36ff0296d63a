/**
 * The events of `ResumingWebSocket` (src/browser/resuming-client.ts) that carry what the resume
 * subprotocol adds: `CustomEvent`s whose `detail` holds the fields, as `ReconnectingEvent` does.
 * Browser-safe: only `CustomEvent`, a global of browsers and Node 20+.
 */
import type { ResumeError, ResumeGapReason } from '../protocol/resume-wire.js';

/** A message of a topic, exactly once: where it sits in the topic, and whether it was replayed. */
export interface ResumeMessageDetail {
  readonly topic: string;
  /** Text as a string; binary as a Uint8Array (a view of the received message). */
  readonly data: string | Uint8Array;
  readonly epoch: string;
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
  readonly topic: string;
  readonly epoch: string;
  readonly offset: number;
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
  readonly topic: string;
  /** `epoch`: the history was replaced (everything before is gone); `trimmed`: the oldest were dropped. */
  readonly reason: ResumeGapReason;
  readonly epoch: string;
  readonly offset: number;
}

/** `gap`: a hole in a topic (reload what depends on it). */
export class ResumeGapEvent extends CustomEvent<ResumeGapDetail> {
  constructor(detail: ResumeGapDetail) {
    super('gap', { detail });
  }
}

/** `unsubscribed`: the server confirmed an `unsubscribe`. */
export class ResumeUnsubscribedEvent extends CustomEvent<{ readonly topic: string }> {
  constructor(detail: { readonly topic: string }) {
    super('unsubscribed', { detail });
  }
}

/** A request the server refused: the topic of a refused subscription (no longer wanted), or null. */
export interface ResumeRefusedDetail {
  readonly topic: string | null;
  readonly code: string;
  readonly message: string;
}

/** `refused`: the server answered a request with an error message. */
export class ResumeRefusedEvent extends CustomEvent<ResumeRefusedDetail> {
  constructor(detail: ResumeRefusedDetail) {
    super('refused', { detail });
  }
}

/** `acked`: every send with a seq up to `seq` was applied by the server. */
export class ResumeAckedEvent extends CustomEvent<{ readonly seq: number }> {
  constructor(detail: { readonly seq: number }) {
    super('acked', { detail });
  }
}

/**
 * `error`: `error` is the `ResumeError` of a protocol violation (the connection is closed and the next
 * one resumes) or of FD_ERR_RESUME_NOT_SELECTED (then `close` follows), or null for a connection or
 * attempt that failed as the platform `WebSocket` reports it (browsers tell no more).
 */
export class ResumeErrorEvent extends CustomEvent<{ readonly error: ResumeError | null }> {
  constructor(detail: { readonly error: ResumeError | null }) {
    super('error', { detail });
  }
  get error(): ResumeError | null {
    return this.detail.error;
  }
}
