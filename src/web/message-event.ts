/**
 * `MessageEvent` (HTML §9.3 "The MessageEvent interface"), the event a WebSocket fires for each
 * message. Node 22 and later have a Web IDL-correct global (undici's), used as it is. Node 20's
 * global (from its worker_threads) lacks `Symbol.toStringTag` (`[object Event]`) and
 * `initMessageEvent`; there this module's class takes its place. It extends Node 20's global, so
 * that `event instanceof MessageEvent` holds for the global name too, and defines every attribute on
 * its own prototype as Web IDL lays them out.
 */
import type { MessagePort } from 'node:worker_threads';
import { defineInterfaceShape, illegalInvocation } from './interface.js';
import { toDOMString, toUSVString } from './webidl.js';

/** HTML `MessageEventSource`: on Node, only a `MessagePort` can be one. */
export type MessageEventSource = MessagePort;

/** HTML `MessageEventInit`. */
export interface MessageEventInit<T = unknown> {
  /** As `EventInit.bubbles` (DOM Standard). Default false. */
  bubbles?: boolean;
  /** As `EventInit.cancelable`. Default false. */
  cancelable?: boolean;
  /** As `EventInit.composed`. Default false. */
  composed?: boolean;
  /** The event's `data`. Default null. */
  data?: T;
  /** The event's `origin`. Default "". */
  origin?: string;
  /** The event's `lastEventId`. Default "". */
  lastEventId?: string;
  /** The event's `source`: a `MessagePort` or null (the default). */
  source?: MessageEventSource | null;
  /** The event's `ports`. Default none. */
  ports?: Iterable<MessagePort>;
}

/** The event fired for each message (HTML §9.3). */
export interface MessageEvent<T = unknown> extends Event {
  /** The message: for a WebSocket, a string, a Blob or an ArrayBuffer. */
  readonly data: T;
  /** For a WebSocket, the serialization of its URL's origin. */
  readonly origin: string;
  /** For a WebSocket, "" (it is for server-sent events). */
  readonly lastEventId: string;
  /** For a WebSocket, null. */
  readonly source: MessageEventSource | null;
  /** For a WebSocket, empty (a frozen array). */
  readonly ports: readonly MessagePort[];
  /** The legacy initializer (HTML §9.3): sets the event's fields, when it has not been dispatched yet. */
  initMessageEvent(
    type: string,
    bubbles?: boolean,
    cancelable?: boolean,
    data?: unknown,
    origin?: string,
    lastEventId?: string,
    source?: MessageEventSource | null,
    ports?: Iterable<MessagePort>,
  ): void;
}

/** The type of the `MessageEvent` class: `new MessageEvent(type, init?)`. */
export interface MessageEventConstructor {
  /** The prototype of every `MessageEvent`. */
  readonly prototype: MessageEvent;
  /** Create a `MessageEvent` of the given type (HTML §9.3 constructor; defaults in {@link MessageEventInit}). */
  new <T = unknown>(type: string, eventInitDict?: MessageEventInit<T> | null): MessageEvent<T>;
}

type AnyEventConstructor = new (type: string, init?: { bubbles?: boolean; cancelable?: boolean; composed?: boolean }) => Event;
const globalMessageEvent = (globalThis as { MessageEvent?: AnyEventConstructor }).MessageEvent;

/** Whether the global `MessageEvent` is laid out as Web IDL says (Node 22+: undici's). */
function isWebIDLMessageEvent(candidate: AnyEventConstructor | undefined): candidate is AnyEventConstructor {
  if (typeof candidate !== 'function') return false;
  const prototype = candidate.prototype as object;
  return (
    Object.getOwnPropertyDescriptor(prototype, Symbol.toStringTag)?.value === 'MessageEvent' &&
    typeof Object.getOwnPropertyDescriptor(prototype, 'initMessageEvent')?.value === 'function'
  );
}

/** `MessagePort` where Node has it as a global (all supported releases). */
const MessagePortClass = (globalThis as { MessagePort?: abstract new () => MessagePort }).MessagePort;

function isMessagePort(value: unknown): value is MessagePort {
  return MessagePortClass !== undefined && value instanceof MessagePortClass;
}

/** HTML `MessageEventSource?`: null, or (on Node) a MessagePort; anything else is a TypeError. */
function toSource(value: unknown, what: string): MessageEventSource | null {
  if (value === undefined || value === null) return null;
  if (isMessagePort(value)) return value;
  throw new TypeError(`${what}: source must be a MessagePort or null.`);
}

/** Web IDL `sequence<MessagePort>` (§3.2.23), frozen as the `FrozenArray` the attribute returns. */
function toPorts(value: unknown, what: string): readonly MessagePort[] {
  if (value === undefined) return Object.freeze([]);
  if ((typeof value !== 'object' || value === null) && typeof value !== 'function') throw new TypeError(`${what}: ports is not iterable.`);
  const iterator = (value as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  if (typeof iterator !== 'function') throw new TypeError(`${what}: ports is not iterable.`);
  const ports: MessagePort[] = [];
  for (const port of value as Iterable<unknown>) {
    if (!isMessagePort(port)) throw new TypeError(`${what}: each of ports must be a MessagePort.`);
    ports.push(port);
  }
  return Object.freeze(ports);
}

/** DOM §2.2 `Event.NONE`. */
const EVENT_PHASE_NONE = 0;

/** The base class: Node 20's global, for `instanceof` with the global name; `Event` where there is none. */
const Base: AnyEventConstructor = typeof globalMessageEvent === 'function' ? globalMessageEvent : Event;

/**
 * Our implementation, used where the global one is not Web IDL-correct (Node 20). Exported for the
 * tests (not from fullduplex/web), which check it on every Node release.
 */
export class FullduplexMessageEvent extends Base implements MessageEvent {
  #data: unknown;
  #origin: string;
  #lastEventId: string;
  #source: MessageEventSource | null;
  #ports: readonly MessagePort[];

  constructor(type: string, eventInitDict?: MessageEventInit | null) {
    const what = "Failed to construct 'MessageEvent'";
    if (arguments.length === 0) throw new TypeError(`${what}: 1 argument required, but only 0 present.`);
    const typeString = toDOMString(type, what);
    const init = eventInitDict ?? {};
    if (typeof init !== 'object' && typeof init !== 'function') throw new TypeError(`${what}: the init dictionary must be an object.`);
    // Web IDL dictionary conversion (§3.2.19): the members in lexicographical order, inherited ones first.
    const { bubbles, cancelable, composed } = init;
    const data = init.data === undefined ? null : init.data;
    const lastEventId = init.lastEventId === undefined ? '' : toDOMString(init.lastEventId, what);
    const origin = init.origin === undefined ? '' : toUSVString(init.origin, what);
    const ports = toPorts(init.ports, what);
    const source = toSource(init.source, what);
    // Only EventInit goes to the base class: Node 20's constructor checks its own members differently.
    super(typeString, { bubbles: Boolean(bubbles), cancelable: Boolean(cancelable), composed: Boolean(composed) });
    this.#data = data;
    this.#origin = origin;
    this.#lastEventId = lastEventId;
    this.#source = source;
    this.#ports = ports;
  }

  static #check(event: unknown): FullduplexMessageEvent {
    if (typeof event !== 'object' || event === null || !(#data in event)) throw illegalInvocation();
    return event as FullduplexMessageEvent;
  }

  get data(): unknown {
    return FullduplexMessageEvent.#check(this).#data;
  }

  get origin(): string {
    return FullduplexMessageEvent.#check(this).#origin;
  }

  get lastEventId(): string {
    return FullduplexMessageEvent.#check(this).#lastEventId;
  }

  get source(): MessageEventSource | null {
    return FullduplexMessageEvent.#check(this).#source;
  }

  get ports(): readonly MessagePort[] {
    return FullduplexMessageEvent.#check(this).#ports;
  }

  /**
   * HTML §9.3: initializes the event as `initEvent()` does (DOM §2.2: nothing happens while it is
   * being dispatched), and sets its MessageEvent members. (undici's returns a new event instead and
   * leaves this one as it was.)
   */
  initMessageEvent(
    type: string,
    bubbles?: boolean,
    cancelable?: boolean,
    data?: unknown,
    origin?: string,
    lastEventId?: string,
    source?: MessageEventSource | null,
    ports?: Iterable<MessagePort>,
  ): void {
    const self = FullduplexMessageEvent.#check(this);
    const what = "Failed to execute 'initMessageEvent' on 'MessageEvent'";
    if (arguments.length === 0) throw new TypeError(`${what}: 1 argument required, but only 0 present.`);
    const typeString = toDOMString(type, what);
    const originString = origin === undefined ? '' : toUSVString(origin, what);
    const lastEventIdString = lastEventId === undefined ? '' : toDOMString(lastEventId, what);
    const sourceValue = toSource(source, what);
    const portList = toPorts(ports === undefined ? [] : ports, what);
    // DOM §2.2: "If this's dispatch flag is set, then return": the event phase is not NONE then.
    if (self.eventPhase !== EVENT_PHASE_NONE) return;
    self.initEvent(typeString, Boolean(bubbles), Boolean(cancelable));
    self.#data = data === undefined ? null : data;
    self.#origin = originString;
    self.#lastEventId = lastEventIdString;
    self.#source = sourceValue;
    self.#ports = portList;
  }
}

defineInterfaceShape(FullduplexMessageEvent, {
  name: 'MessageEvent',
  length: 1,
  attributes: ['data', 'origin', 'lastEventId', 'source', 'ports'],
  operations: { initMessageEvent: 1 },
});

/** `MessageEvent`: Node's global where it is Web IDL-correct (Node 22+), ours otherwise (Node 20). */
export const MessageEvent: MessageEventConstructor = (
  isWebIDLMessageEvent(globalMessageEvent) ? globalMessageEvent : FullduplexMessageEvent
) as unknown as MessageEventConstructor;
