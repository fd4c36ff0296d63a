/**
 * Pub/sub topics of one server: which of its connections subscribe to what, and delivery of a published
 * message to them. A message is framed once and the same bytes are written to every subscriber (and
 * compressed once for the subscribers whose compression parameters allow it, see FramedMessage); each
 * subscriber's backpressure is its own (over `maxBufferedAmount` it gets the slow-consumer policy and
 * does not hold up the others). Delivery is synchronous into each connection's write queue, so two
 * messages published one after the other reach every subscriber in that order.
 *
 * Topic names are arbitrary strings, matched exactly (no wildcards).
 */
import { kBroadcast, type WebSocket } from './websocket.js';
import type { FramedMessage } from './framed-message.js';
export type { PublishOptions } from './websocket.js';

/** Write a framed message to one connection; false when it was not accepted (closed, slow consumer...). */
export function deliver(ws: WebSocket, message: FramedMessage, compress: boolean | undefined): boolean {
  return ws[kBroadcast](message, compress);
}

export class Topics {
  private readonly subscribers = new Map<string, Set<WebSocket>>();
  /** Called when a topic gets its first subscriber here, and when it loses its last. */
  onFirstSubscriber: ((topic: string) => void) | null = null;
  onLastUnsubscribed: ((topic: string) => void) | null = null;

  /** Add `ws` to `topic`; false if it was subscribed already. */
  subscribe(ws: WebSocket, topic: string): boolean {
    let set = this.subscribers.get(topic);
    if (set === undefined) {
      set = new Set();
      this.subscribers.set(topic, set);
      set.add(ws);
      this.onFirstSubscriber?.(topic);
      return true;
    }
    if (set.has(ws)) return false;
    set.add(ws);
    return true;
  }

  /** Remove `ws` from `topic`; false if it was not subscribed. */
  unsubscribe(ws: WebSocket, topic: string): boolean {
    const set = this.subscribers.get(topic);
    if (set === undefined || !set.delete(ws)) return false;
    if (set.size === 0) {
      this.subscribers.delete(topic);
      this.onLastUnsubscribed?.(topic);
    }
    return true;
  }

  /** Deliver to every subscriber of `topic` but `except`; returns how many accepted it. */
  publish(topic: string, message: FramedMessage, compress: boolean | undefined, except: WebSocket | null = null): number {
    const set = this.subscribers.get(topic);
    if (set === undefined) return 0;
    let sent = 0;
    for (const ws of set) if (ws !== except && deliver(ws, message, compress)) sent++;
    return sent;
  }

  subscriberCount(topic: string): number {
    return this.subscribers.get(topic)?.size ?? 0;
  }

  /** The topics that have at least one subscriber. */
  topics(): IterableIterator<string> {
    return this.subscribers.keys();
  }
}
