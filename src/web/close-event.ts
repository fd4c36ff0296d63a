/**
 * `CloseEvent` (WHATWG WebSockets Standard §6 "The CloseEvent interface"). Node 23 and later have it
 * as a global; Node 20 and 22 do not, so this module defines it on Node's own `Event` and uses the
 * global when there is one (an event created with either passes `instanceof` for the one exported).
 */
import { defineInterfaceShape, illegalInvocation } from './interface.js';
import { toDOMString, toUnsignedShort, toUSVString } from './webidl.js';

/** `CloseEventInit` (WebSockets Standard §6): `wasClean` false, `code` 0 and `reason` "" by default. */
export interface CloseEventInit {
  /** As `EventInit.bubbles` (DOM Standard). Default false. */
  bubbles?: boolean;
  /** As `EventInit.cancelable`. Default false. */
  cancelable?: boolean;
  /** As `EventInit.composed`. Default false. */
  composed?: boolean;
  /** The event's `wasClean`. Default false. */
  wasClean?: boolean;
  /** The event's `code` (an unsigned short). Default 0. */
  code?: number;
  /** The event's `reason`. Default "". */
  reason?: string;
}

/** The event fired when a WebSocket connection closes (WebSockets Standard §6). */
export interface CloseEvent extends Event {
  /** Whether the connection closed cleanly (both close frames exchanged, then TCP closed). */
  readonly wasClean: boolean;
  /** The close code: the peer's, 1005 if its close frame had none, 1006 if the connection failed. */
  readonly code: number;
  /** The peer's close reason ("" when it gave none or the connection failed). */
  readonly reason: string;
}

/** The type of the `CloseEvent` class: `new CloseEvent(type, init?)`. */
export interface CloseEventConstructor {
  /** The prototype of every `CloseEvent`. */
  readonly prototype: CloseEvent;
  /**
   * Create a `CloseEvent` of the given type (§6 constructor; the init dictionary's defaults are in {@link CloseEventInit}).
   */
  new (type: string, eventInitDict?: CloseEventInit | null): CloseEvent;
}

/** Our implementation, for Node versions without a global `CloseEvent`. */
class FullduplexCloseEvent extends Event implements CloseEvent {
  readonly #wasClean: boolean;
  readonly #code: number;
  readonly #reason: string;

  constructor(type: string, eventInitDict?: CloseEventInit | null) {
    if (arguments.length === 0) throw new TypeError("Failed to construct 'CloseEvent': 1 argument required, but only 0 present.");
    const init = eventInitDict ?? {};
    if (typeof init !== 'object') throw new TypeError("Failed to construct 'CloseEvent': the init dictionary must be an object.");
    super(toDOMString(type, 'CloseEvent type'), init);
    // Web IDL dictionary members with defaults (WebSockets Standard §6, CloseEventInit).
    this.#wasClean = init.wasClean === undefined ? false : Boolean(init.wasClean);
    this.#code = init.code === undefined ? 0 : toUnsignedShort(init.code, 'CloseEvent code');
    this.#reason = init.reason === undefined ? '' : toUSVString(init.reason, 'CloseEvent reason');
  }

  /** Web IDL §3.7.6: a getter called on anything but a CloseEvent throws a TypeError. */
  static #check(event: unknown): FullduplexCloseEvent {
    if (typeof event !== 'object' || event === null || !(#code in event)) throw illegalInvocation();
    return event as FullduplexCloseEvent;
  }

  get wasClean(): boolean {
    return FullduplexCloseEvent.#check(this).#wasClean;
  }

  get code(): number {
    return FullduplexCloseEvent.#check(this).#code;
  }

  get reason(): string {
    return FullduplexCloseEvent.#check(this).#reason;
  }
}

// Web IDL §3.7: enumerable attributes, `length` 1 (the init dictionary is optional), the class string.
defineInterfaceShape(FullduplexCloseEvent, { name: 'CloseEvent', length: 1, attributes: ['wasClean', 'code', 'reason'] });

const globalCloseEvent = (globalThis as { CloseEvent?: CloseEventConstructor }).CloseEvent;

/** `CloseEvent`: the global one where Node has it, ours otherwise. */
export const CloseEvent: CloseEventConstructor = typeof globalCloseEvent === 'function' ? globalCloseEvent : FullduplexCloseEvent;
