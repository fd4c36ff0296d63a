/**
 * What the browser build's WebSocket-shaped classes (`ReconnectingWebSocket`, `ResumingWebSocket`) share
 * of `WebSocket`'s surface: `EventTarget` with `addEventListener`/`removeEventListener` typed by the
 * class's event map (as lib.dom types `WebSocket`'s), and the ready state constants (WHATWG WebSockets
 * §3.1) on the class and its instances.
 *
 *   export class ReconnectingWebSocket extends webSocketTarget<ReconnectingWebSocketEventMap>() { ... }
 *   defineReadyStates(ReconnectingWebSocket);
 *
 * The base class is `EventTarget` itself at run time (only the types differ); `defineReadyStates`
 * puts the constants on the class and its prototype.
 */
import { READY_STATES, type CLOSED, type CLOSING, type CONNECTING, type OPEN } from '../protocol/web-constants.js';

/** A listener of events of type `E`, called with the target as `this`. */
export type TypedListener<This, E> = ((this: This, event: E) => unknown) | { handleEvent(event: E): unknown } | null;
type AnyListener = Parameters<EventTarget['addEventListener']>[1] | null;
type AddOptions = Parameters<EventTarget['addEventListener']>[2];
type RemoveOptions = Parameters<EventTarget['removeEventListener']>[2];

/** The ready state constants (§3.1), on the class and its instances (`defineReadyStates` defines them). */
export interface ReadyStateConstants {
  readonly CONNECTING: typeof CONNECTING;
  readonly OPEN: typeof OPEN;
  readonly CLOSING: typeof CLOSING;
  readonly CLOSED: typeof CLOSED;
}

/** An `EventTarget` whose events are typed by `EventMap`, with the ready state constants. */
export interface WebSocketTarget<EventMap> extends EventTarget, ReadyStateConstants {
  addEventListener<K extends keyof EventMap>(type: K, listener: TypedListener<this, EventMap[K]>, options?: AddOptions): void;
  addEventListener(type: string, listener: AnyListener, options?: AddOptions): void;
  removeEventListener<K extends keyof EventMap>(type: K, listener: TypedListener<this, EventMap[K]>, options?: RemoveOptions): void;
  removeEventListener(type: string, listener: AnyListener, options?: RemoveOptions): void;
}

/** The base class: `EventTarget`, typed as a `WebSocketTarget<EventMap>` with the constants (call `defineReadyStates` on the subclass). */
export function webSocketTarget<EventMap>(): ReadyStateConstants & (new () => WebSocketTarget<EventMap>) {
  return EventTarget as unknown as ReadyStateConstants & (new () => WebSocketTarget<EventMap>);
}

/**
 * The ready state constants on `target` (as static class fields are: writable, enumerable,
 * configurable) and on its prototype (enumerable, read-only, as Web IDL constants are).
 */
export function defineReadyStates(target: abstract new (...args: never[]) => unknown): void {
  for (const [name, value] of READY_STATES) {
    Object.defineProperty(target, name, { value, writable: true, enumerable: true, configurable: true });
    Object.defineProperty(target.prototype, name, { value, enumerable: true });
  }
}
