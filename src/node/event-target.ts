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

const kOriginal = Symbol('fullduplex.listener');
const kHandler = Symbol('fullduplex.onHandler');

type Wrapped = ((...args: unknown[]) => void) & { [kOriginal]?: unknown; [kHandler]?: boolean };

/** Adapt an EventEmitter event's arguments to the browser-style event object. */
function toEvent(type: WsEventType, target: unknown, args: unknown[]): WsEvent {
  switch (type) {
    case 'message':
      return { type, target, data: args[0], isBinary: args[1] === true } as WsMessageEvent;
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

export function addEventListener<K extends WsEventType>(
  emitter: EventEmitter,
  type: K,
  listener: WsListener<K>,
  options: { once?: boolean } = {},
  isHandler = false,
): void {
  if (!['open', 'message', 'close', 'error'].includes(type)) return;
  // As in the DOM, the same listener is not added twice.
  for (const existing of emitter.rawListeners(type) as Wrapped[]) {
    if (existing[kOriginal] === listener && !existing[kHandler]) return;
  }
  const call = (...args: unknown[]): void => {
    const event = toEvent(type, emitter, args) as WsEventMap[K];
    if (typeof listener === 'function') listener.call(emitter, event);
    else listener.handleEvent(event);
  };
  const wrapped = call as Wrapped;
  wrapped[kOriginal] = listener;
  wrapped[kHandler] = isHandler;
  if (options.once === true) emitter.once(type, wrapped);
  else emitter.on(type, wrapped);
}

export function removeEventListener<K extends WsEventType>(emitter: EventEmitter, type: K, listener: WsListener<K>): void {
  for (const existing of emitter.listeners(type) as Wrapped[]) {
    if (existing[kOriginal] === listener && !existing[kHandler]) {
      emitter.removeListener(type, existing);
      return;
    }
  }
}

/** The current `onX` handler. */
export function getHandler<K extends WsEventType>(emitter: EventEmitter, type: K): ((event: WsEventMap[K]) => void) | null {
  for (const existing of emitter.rawListeners(type) as Wrapped[]) {
    if (existing[kHandler]) return existing[kOriginal] as (event: WsEventMap[K]) => void;
  }
  return null;
}

/** Replace the `onX` handler (null removes it). */
export function setHandler(emitter: EventEmitter, type: WsEventType, handler: unknown): void {
  for (const existing of emitter.rawListeners(type) as Wrapped[]) {
    if (existing[kHandler]) emitter.removeListener(type, existing);
  }
  if (typeof handler === 'function') addEventListener(emitter, type, handler as WsListener<typeof type>, {}, true);
}
