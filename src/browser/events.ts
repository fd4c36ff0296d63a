/**
 * The events of `ReconnectingWebSocket` that a plain `WebSocket` does not have, and its `close` event.
 * Browser-safe: only what browsers and Node (20+) both have as globals (`Event`, `CustomEvent`).
 */

/** What `reconnecting` tells: the attempt about to be made, after how long, and the close that caused it. */
export interface ReconnectingDetail {
  /** 1 for the first attempt after a connection was lost, counting up while attempts fail. */
  readonly attempt: number;
  /** The wait before the attempt, in ms (from the backoff policy: jitter, 1013, `maxDelay`). */
  readonly delay: number;
  /** The close code of the lost connection or the failed attempt (1006 when there was no close frame). */
  readonly code: number;
  /** The close reason of the lost connection or the failed attempt ("" when none). */
  readonly reason: string;
}

/** `reconnecting`: a connection (or an attempt) ended and another attempt is scheduled. */
export class ReconnectingEvent extends CustomEvent<ReconnectingDetail> {
  constructor(detail: ReconnectingDetail) {
    super('reconnecting', { detail });
  }
}

/** What `reconnected` tells: how many attempts it took, and how long the client was disconnected. */
export interface ReconnectedDetail {
  /** The attempt that succeeded (1 when the first try worked). */
  readonly attempt: number;
  /** From the loss of the previous connection to this open, in ms. */
  readonly downtime: number;
}

/** `reconnected`: a connection other than the first opened (it follows that connection's `open`). */
export class ReconnectedEvent extends CustomEvent<ReconnectedDetail> {
  constructor(detail: ReconnectedDetail) {
    super('reconnected', { detail });
  }
}

/** The `close` event's fields, as the WHATWG `CloseEvent` has them (§4 of the WebSockets Standard). */
export interface CloseEventLike extends Event {
  /** The close code (RFC 6455 §7.1.5: 1005 when the close frame had none, 1006 when there was no close frame). */
  readonly code: number;
  /** The close reason ("" when none). */
  readonly reason: string;
  /** Whether the closing handshake completed. */
  readonly wasClean: boolean;
}

interface CloseEventInitLike {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** Node 20 and 22 have no global `CloseEvent`: the same fields on a plain `Event`. */
class FallbackCloseEvent extends Event implements CloseEventLike {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(type: string, init: CloseEventInitLike) {
    super(type);
    this.code = init.code;
    this.reason = init.reason;
    this.wasClean = init.wasClean;
  }
}

type CloseEventConstructorLike = new (type: string, init: CloseEventInitLike) => CloseEventLike;

/** A `close` event: the platform's `CloseEvent` where there is one (browsers, Node 23+), else the fallback. */
export function closeEvent(init: CloseEventInitLike): CloseEventLike {
  const native = (globalThis as { CloseEvent?: CloseEventConstructorLike }).CloseEvent;
  return new (native ?? FallbackCloseEvent)('close', init);
}
