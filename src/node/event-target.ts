/**
 * The browser-style listener API that `ws` offers on its Node class, for code that uses
 * `ws.onmessage = (event) => ...` or `addEventListener`: events are small objects (`type`, `target`,
 * and `data` / `code`, `reason`, `wasClean` / `error`, `message`) built only when such listeners exist.
 * (The standard EventTarget-based class is `fullduplex/web`.)
 */
import type { EventEmitter } from 'node:events';

export interface WsEvent {
  readonly type: string;
  readonly target: unknown;
}
export interface WsMessageEvent extends WsEvent {
  /** A string for a text message (as in `ws`); binary data as `binaryType` says. */
  readonly data: unknown;
  readonly isBinary: boolean;
}
export interface WsCloseEvent extends WsEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}
export interface WsErrorEvent extends WsEvent {
  readonly error: unknown;
  readonly message: string;
}

export interface WsEventMap {
  open: WsEvent;
  message: WsMessageEvent;
  close: WsCloseEvent;
  error: WsErrorEvent;
}
export type WsEventType = keyof WsEventMap;

export type WsListener<K extends WsEventType> = ((event: WsEventMap[K]) => void) | { handleEvent(event: WsEventMap[K]): void };

const EVENT_TYPES: ReadonlySet<string> = new Set(['open', 'message', 'close', 'error']);
const kOriginal = Symbol('fullduplex.listener');
const kHandler = Symbol('fullduplex.onHandler');

type Wrapped = ((...args: unknown[]) => void) & { [kOriginal]?: unknown; [kHandler]?: boolean };

/** Adapt an EventEmitter event's arguments to the browser-style event object. */
function toEvent(type: WsEventType, target: unknown, args: unknown[]): WsEvent {
  switch (type) {
    case 'message': {
      // As in `ws`: a text message's data is a string for these listeners (the `message` event
      // itself hands over a Buffer); binary data stays as `binaryType` made it.
      const isBinary = args[1] === true;
      return { type, target, data: isBinary ? args[0] : String(args[0]), isBinary } as WsMessageEvent;
    }
    case 'close': {
      const result = (target as { closeResult?: { wasClean: boolean } | null }).closeResult;
      return { type, target, code: args[0] as number, reason: String(args[1] ?? ''), wasClean: result?.wasClean ?? false } as WsCloseEvent;
    }
    case 'error': {
      const error = args[0];
      return { type, target, error, message: error instanceof Error ? error.message : String(error) } as WsErrorEvent;
    }
    default:
      return { type, target };
  }
}

/**
 * Add a listener, as `ws`'s `addEventListener` does (ws/lib/event-target.js): only for `open`,
 * `message`, `close` and `error`; a listener already added this way (with or without `once`) is not
 * added again; `once` is read as a truthy value. An `onX` handler is a separate registration: the same
 * function may be both the handler and a listener, and is then called twice.
 */
export function addEventListener<K extends WsEventType>(
  emitter: EventEmitter,
  type: K,
  listener: WsListener<K>,
  options: { once?: boolean } = {},
  isHandler = false,
): void {
  if (!EVENT_TYPES.has(type)) return;
  if (!isHandler) {
    // `listeners()` (not `rawListeners()`) sees through `once` wrappers, so a listener added with
    // `{ once: true }` is found too.
    for (const existing of emitter.listeners(type) as Wrapped[]) {
      if (existing[kOriginal] === listener && !existing[kHandler]) return;
    }
  }
  const call = (...args: unknown[]): void => {
    const event = toEvent(type, emitter, args) as WsEventMap[K];
    if (typeof listener === 'object' && listener !== null && typeof listener.handleEvent === 'function') listener.handleEvent(event);
    else (listener as (event: WsEventMap[K]) => void).call(emitter, event);
  };
  const wrapped = call as Wrapped;
  wrapped[kOriginal] = listener;
  wrapped[kHandler] = isHandler;
  if (options?.once) emitter.once(type, wrapped);
  else emitter.on(type, wrapped);
}

/**
 * Remove the first listener added with `addEventListener` for this function or object, as `ws` does:
 * never the `onX` handler (set that to null instead), and a `once` listener too.
 */
export function removeEventListener<K extends WsEventType>(emitter: EventEmitter, type: K, listener: WsListener<K>): void {
  for (const existing of emitter.listeners(type) as Wrapped[]) {
    if (existing[kOriginal] === listener && !existing[kHandler]) {
      emitter.removeListener(type, existing);
      return;
    }
  }
}

/** The current `onX` handler, or null. */
export function getHandler<K extends WsEventType>(emitter: EventEmitter, type: K): ((event: WsEventMap[K]) => void) | null {
  for (const existing of emitter.listeners(type) as Wrapped[]) {
    if (existing[kHandler]) return existing[kOriginal] as (event: WsEventMap[K]) => void;
  }
  return null;
}

/**
 * Replace the `onX` handler, as `ws` does: the old handler is removed; a function becomes the new one
 * (added last, after the listeners already there); anything else (null, a number...) leaves none.
 */
export function setHandler(emitter: EventEmitter, type: WsEventType, handler: unknown): void {
  for (const existing of emitter.listeners(type) as Wrapped[]) {
    if (existing[kHandler]) {
      emitter.removeListener(type, existing);
      break;
    }
  }
  if (typeof handler === 'function') addEventListener(emitter, type, handler as WsListener<typeof type>, {}, true);
}
