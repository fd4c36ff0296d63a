/**
 * The property layout of fullduplex/web's interfaces as Web IDL §3.7 defines it
 * (https://webidl.spec.whatwg.org/#es-interfaces), compared property by property with two oracles:
 * - undici's classes (Node's built-in WebSocket): `WebSocket`, `CloseEvent` (ours on Node < 23, the
 *   global after), the `MessageEvent` a WebSocket dispatches (ours on Node 20, the global on Node
 *   22+), `WebSocketStream` and `WebSocketError`;
 * - Chromium, whose bindings are generated from Web IDL: the same five interfaces (our own
 *   `MessageEvent` on every release), collected in one page by the same script that collects ours.
 * Each property is one differential row: a difference fails unless docs/web-api.md lists it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { runInThisContext } from 'node:vm';
import type { Browser } from 'playwright-core';
import * as undici from 'undici';
import { WebSocketServer } from '../../src/node/index.js';
import { WebSocket, CloseEvent, MessageEvent, WebSocketStream, WebSocketError } from '../../src/web/index.js';
import { FullduplexMessageEvent } from '../../src/web/message-event.js';
import { NativeWebSocket, NativeCloseEvent, NativeWebSocketStream, NativeWebSocketError } from '../helpers/web-oracle.js';
import { assertSameOrDocumented } from '../helpers/web-differences.js';
import { chromiumSkipReason, launchChromium } from '../helpers/browser.js';
import { scaled } from '../helpers/time.js';

type AnyClass = abstract new (...args: never[]) => unknown;

/** undici's MessageEvent: Node's global where it is undici's (22+), the dev dependency's on Node 20. */
const globalMessageEvent = (globalThis as { MessageEvent?: AnyClass }).MessageEvent;
const NativeMessageEvent: AnyClass =
  globalMessageEvent !== undefined && Object.getOwnPropertyDescriptor(globalMessageEvent.prototype, Symbol.toStringTag)?.value === 'MessageEvent'
    ? globalMessageEvent
    : (undici.MessageEvent as unknown as AnyClass);

/** A property descriptor as JSON: what Web IDL pins (kind, flags, functions' name and length). */
function describeProperty(holder: object, key: PropertyKey): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(holder, key);
  if (descriptor === undefined) return 'absent';
  const fn = (f: unknown): unknown => (typeof f === 'function' ? { name: f.name, length: f.length } : f === undefined ? null : typeof f);
  if ('value' in descriptor) {
    return {
      kind: 'data',
      value: typeof descriptor.value === 'function' ? fn(descriptor.value) : key === 'prototype' ? 'object' : descriptor.value,
      writable: descriptor.writable,
      enumerable: descriptor.enumerable,
      configurable: descriptor.configurable,
    };
  }
  return { kind: 'accessor', get: fn(descriptor.get), set: fn(descriptor.set), enumerable: descriptor.enumerable, configurable: descriptor.configurable };
}

/** Every own key of a prototype or an interface object, symbols by description. */
function keysOf(holder: object): string[] {
  return Reflect.ownKeys(holder).map((key) => (typeof key === 'symbol' ? key.toString() : key));
}

function keyFrom(name: string): PropertyKey {
  return name === 'Symbol(Symbol.toStringTag)' ? Symbol.toStringTag : name;
}

/** What calling a prototype's getter, setter or method on a plain object does (Web IDL: a TypeError). */
async function brandOutcome(holder: object, key: string): Promise<unknown> {
  const descriptor = Object.getOwnPropertyDescriptor(holder, key);
  if (descriptor === undefined) return 'absent';
  const calls: Record<string, () => unknown> = {};
  if (descriptor.get !== undefined) calls['get'] = () => descriptor.get!.call({});
  if (descriptor.set !== undefined) calls['set'] = () => descriptor.set!.call({}, null);
  if (typeof descriptor.value === 'function') calls['call'] = () => (descriptor.value as (...args: unknown[]) => unknown).call({}, 'x');
  const outcome: Record<string, string> = {};
  for (const [how, call] of Object.entries(calls)) {
    try {
      const result = call();
      // Web IDL §3.7.6: a promise-typed attribute rejects instead of throwing.
      outcome[how] = result instanceof Promise ? await result.then(() => 'resolved', (error: Error) => `rejected ${error.name}: ${error.message}`) : 'no exception';
    } catch (error) {
      outcome[how] = `${(error as Error).name}: ${(error as Error).message}`;
    }
  }
  return outcome;
}

/** The interfaces side by side: ours, and undici's. */
const INTERFACES: ReadonlyArray<{ name: string; ours: AnyClass; theirs: AnyClass }> = [
  { name: 'WebSocket', ours: WebSocket, theirs: NativeWebSocket as unknown as AnyClass },
  { name: 'CloseEvent', ours: CloseEvent as unknown as AnyClass, theirs: NativeCloseEvent as unknown as AnyClass },
  { name: 'MessageEvent', ours: MessageEvent as unknown as AnyClass, theirs: NativeMessageEvent },
  // Ours, which the line above only uses on Node 20, checked on every release.
  { name: 'FullduplexMessageEvent', ours: FullduplexMessageEvent, theirs: NativeMessageEvent },
  { name: 'WebSocketStream', ours: WebSocketStream, theirs: NativeWebSocketStream as unknown as AnyClass },
  { name: 'WebSocketError', ours: WebSocketError, theirs: NativeWebSocketError as unknown as AnyClass },
];

describe('interface shape (Web IDL §3.7) side by side with undici', () => {
  for (const { name, ours, theirs } of INTERFACES) {
    it(`${name}: the same own properties on the prototype and the interface object`, () => {
      assertSameOrDocumented(`shape-${name}-prototype-keys`, keysOf(ours.prototype).sort(), keysOf(theirs.prototype).sort());
      assertSameOrDocumented(`shape-${name}-static-keys`, keysOf(ours).sort(), keysOf(theirs).sort());
    });

    it(`${name}: every attribute, operation and constant has the descriptor Web IDL gives it`, () => {
      const keys = new Set([...keysOf(ours.prototype), ...keysOf(theirs.prototype)]);
      for (const key of keys) {
        assertSameOrDocumented(`shape-${name}-prototype-${key}`, describeProperty(ours.prototype, keyFrom(key)), describeProperty(theirs.prototype, keyFrom(key)));
      }
      for (const key of new Set([...keysOf(ours), ...keysOf(theirs)])) {
        assertSameOrDocumented(`shape-${name}-static-${key}`, describeProperty(ours, keyFrom(key)), describeProperty(theirs, keyFrom(key)));
      }
    });

    it(`${name}: getters, setters and operations called on another object throw a TypeError (brand check)`, async () => {
      for (const key of new Set([...keysOf(ours.prototype), ...keysOf(theirs.prototype)])) {
        if (key === 'constructor' || key.startsWith('Symbol(')) continue;
        const descriptor = Object.getOwnPropertyDescriptor(ours.prototype, key);
        if (descriptor !== undefined && 'value' in descriptor && typeof descriptor.value !== 'function') continue; // constants
        assertSameOrDocumented(`brand-${name}-${key}`, await brandOutcome(ours.prototype, key), await brandOutcome(theirs.prototype, key));
      }
    });
  }

  it('the values Web IDL pins, whatever undici does: lengths, class strings, enumerable attributes', () => {
    assert.equal(WebSocket.length, 1);
    assert.equal(CloseEvent.length, 1);
    assert.equal(MessageEvent.length, 1);
    assert.equal(WebSocket.prototype.close.length, 0);
    assert.equal(WebSocket.prototype.send.length, 1);
    for (const [Class, name] of [[WebSocket, 'WebSocket'], [CloseEvent, 'CloseEvent'], [MessageEvent, 'MessageEvent']] as const) {
      assert.deepEqual(Object.getOwnPropertyDescriptor(Class.prototype, Symbol.toStringTag), { value: name, writable: false, enumerable: false, configurable: true });
      assert.equal(Class.name, name);
    }
    assert.equal(WebSocketStream.length, 1);
    assert.equal(WebSocketStream.prototype.close.length, 0);
    assert.equal(WebSocketError.length, 0);
    for (const [Class, name] of [[WebSocketStream, 'WebSocketStream'], [WebSocketError, 'WebSocketError']] as const) {
      assert.deepEqual(Object.getOwnPropertyDescriptor(Class.prototype, Symbol.toStringTag), { value: name, writable: false, enumerable: false, configurable: true });
      assert.equal(Class.name, name);
    }
    assert.deepEqual(Object.keys(WebSocketStream.prototype).sort(), ['close', 'closed', 'opened', 'url']);
    assert.deepEqual(Object.keys(WebSocketError.prototype).sort(), ['closeCode', 'reason']);
    const attributes = ['url', 'readyState', 'bufferedAmount', 'extensions', 'protocol', 'binaryType', 'onopen', 'onmessage', 'onerror', 'onclose'];
    const enumerable = [];
    for (const key in WebSocket.prototype) enumerable.push(key);
    for (const key of [...attributes, 'send', 'close', 'CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) assert.ok(enumerable.includes(key), key);
    for (const readonly of ['url', 'readyState', 'bufferedAmount', 'extensions', 'protocol']) {
      assert.equal(Object.getOwnPropertyDescriptor(WebSocket.prototype, readonly)!.set, undefined, readonly);
    }
  });

  it('an instance prints as [object WebSocket], with or without the options bag', async () => {
    const sockets = [new WebSocket('ws://127.0.0.1:6000/'), new WebSocket('ws://127.0.0.1:6000/', [], {}), new WebSocket('ws://127.0.0.1:6000/', 'x', { headers: {} })];
    for (const ws of sockets) assert.equal(Object.prototype.toString.call(ws), '[object WebSocket]');
    // Port 6000 is a bad port: each fails on its own, without touching the network.
    await Promise.all(sockets.map((ws) => once(ws, 'close')));
    assert.equal(Object.prototype.toString.call(new CloseEvent('close')), '[object CloseEvent]');
    assert.equal(Object.prototype.toString.call(new MessageEvent('message')), '[object MessageEvent]');
    assert.equal(Object.prototype.toString.call(new WebSocketError('x')), '[object WebSocketError]');
    const controller = new AbortController();
    controller.abort();
    const stream = new WebSocketStream('ws://127.0.0.1:6000/', { signal: controller.signal });
    assert.equal(Object.prototype.toString.call(stream), '[object WebSocketStream]');
    await assert.rejects(stream.closed);
  });

  it('WebSocketStream and WebSocketError: the brand check comes before the arguments are converted, and instances pass it', async () => {
    const poisoned = {
      get closeCode(): never {
        throw new Error('closeInfo read');
      },
    };
    // Web IDL §3.7.7 step 2: `this` is checked first; the close info is never read.
    assert.throws(() => WebSocketStream.prototype.close.call({}, poisoned), { name: 'TypeError', message: 'Illegal invocation' });
    assert.throws(() => WebSocketStream.prototype.close.call(WebSocketError.prototype as never), { name: 'TypeError', message: 'Illegal invocation' });
    assert.throws(() => Reflect.get(WebSocketStream.prototype, 'url'), { name: 'TypeError', message: 'Illegal invocation' });
    assert.throws(() => WebSocketStream.prototype.close.call(undefined), { name: 'TypeError', message: 'Illegal invocation' });
    assert.throws(() => Reflect.get(WebSocketError.prototype, 'closeCode'), { name: 'TypeError', message: 'Illegal invocation' });
    // A DOMException named "WebSocketError" is not one.
    const reasonGetter = Object.getOwnPropertyDescriptor(WebSocketError.prototype, 'reason')!.get!;
    assert.throws(() => reasonGetter.call(new DOMException('x', 'WebSocketError')), { name: 'TypeError', message: 'Illegal invocation' });
    // Promise-typed attributes reject instead (Web IDL §3.7.6).
    await assert.rejects(Reflect.get(WebSocketStream.prototype, 'opened') as Promise<unknown>, { name: 'TypeError', message: "Failed to read the 'opened' property from 'WebSocketStream': Illegal invocation" });
    await assert.rejects(Reflect.get(WebSocketStream.prototype, 'closed') as Promise<unknown>, { name: 'TypeError', message: "Failed to read the 'closed' property from 'WebSocketStream': Illegal invocation" });
    const error = new WebSocketError('gone', { closeCode: 4000, reason: 'bye' });
    assert.deepEqual([error.closeCode, error.reason, error.name, error.message], [4000, 'bye', 'WebSocketError', 'gone']);
    // A subclass instance implements the interface too.
    class Sub extends WebSocketError {}
    assert.equal(new Sub('', { reason: 'r' }).closeCode, 1000);
    const controller = new AbortController();
    controller.abort();
    const stream = new WebSocketStream('ws://127.0.0.1:6000/x', { signal: controller.signal });
    assert.equal(stream.url, 'ws://127.0.0.1:6000/x');
    assert.throws(() => stream.close({ closeCode: 1001 }), (thrown: unknown) => thrown instanceof DOMException && thrown.name === 'InvalidAccessError');
    stream.close();
    await assert.rejects(stream.opened);
  });
});

/**
 * What Chromium's bindings are checked for, collected by one script run in the page and in Node
 * alike: for each interface, every own property of the interface object and of its prototype
 * (kind, enumerable, configurable, writable, getter and setter presence, functions' name and length;
 * Web IDL §3.7.1, §3.7.3, §3.7.5–§3.7.7), the two prototype chains, the class string, and what each
 * getter, setter and operation does when called on a plain object (the brand check).
 * Plain JavaScript, not compiled: Chromium runs the same text.
 */
const COLLECT_SHAPES = String.raw`async (interfaces) => {
  const wellKnown = new Map([[Function.prototype, 'Function.prototype'], [Object.prototype, 'Object.prototype']]);
  const fn = (f) => (typeof f === 'function' ? { name: f.name, length: f.length } : f === undefined ? null : typeof f);
  const describe = (holder, key) => {
    const d = Object.getOwnPropertyDescriptor(holder, key);
    if (d === undefined) return 'absent';
    if ('value' in d) {
      const value = typeof d.value === 'function' ? fn(d.value) : typeof d.value === 'object' && d.value !== null ? typeof d.value : d.value;
      return { kind: 'data', value, writable: d.writable, enumerable: d.enumerable, configurable: d.configurable };
    }
    return { kind: 'accessor', get: fn(d.get), set: fn(d.set), enumerable: d.enumerable, configurable: d.configurable };
  };
  const properties = (holder) => {
    const out = {};
    for (const key of Reflect.ownKeys(holder)) out[typeof key === 'symbol' ? key.toString() : key] = describe(holder, key);
    return out;
  };
  const chain = (object) => {
    const out = [];
    for (let p = Object.getPrototypeOf(object); p !== null; p = Object.getPrototypeOf(p)) {
      if (wellKnown.has(p)) out.push(wellKnown.get(p));
      else if (typeof p === 'function') out.push(p.name);
      else out.push(Object.prototype.hasOwnProperty.call(p, 'constructor') ? p.constructor.name + '.prototype' : '(unnamed)');
    }
    return out;
  };
  const attempt = async (call) => {
    try {
      const result = call();
      if (!(result instanceof Promise)) return 'no exception';
      return await result.then(() => 'resolved', (error) => 'rejected ' + error.name + ': ' + error.message);
    } catch (error) {
      return error.name + ': ' + error.message;
    }
  };
  const brand = async (prototype) => {
    const out = {};
    for (const key of Object.getOwnPropertyNames(prototype)) {
      if (key === 'constructor') continue;
      const d = Object.getOwnPropertyDescriptor(prototype, key);
      const calls = {};
      if (d.get !== undefined) calls.get = await attempt(() => d.get.call({}));
      if (d.set !== undefined) calls.set = await attempt(() => d.set.call({}, null));
      if (typeof d.value === 'function') calls.call = await attempt(() => d.value.call({}, 'x'));
      if (Object.keys(calls).length > 0) out[key] = calls;
    }
    return out;
  };
  const shapes = {};
  for (const [name, I] of Object.entries(interfaces)) {
    shapes[name] = {
      static: properties(I),
      prototype: properties(I.prototype),
      chain: chain(I),
      prototypeChain: chain(I.prototype),
      toStringTag: I.prototype[Symbol.toStringTag] ?? null,
      brand: await brand(I.prototype),
    };
  }
  return shapes;
}`;

interface Shape {
  static: Record<string, unknown>;
  prototype: Record<string, unknown>;
  chain: string[];
  prototypeChain: string[];
  toStringTag: string | null;
  brand: Record<string, unknown>;
}

/**
 * Ours, as compared with Chromium: the exported classes, and for `MessageEvent` our own class on
 * every release (the export is Node's global on Node 22+, checked against undici above).
 */
const OURS_FOR_CHROMIUM: Readonly<Record<string, AnyClass>> = {
  WebSocket,
  CloseEvent: CloseEvent as unknown as AnyClass,
  MessageEvent: FullduplexMessageEvent,
  WebSocketStream,
  WebSocketError,
};

describe('interface shape side by side with Chromium (bindings generated from Web IDL)', { skip: chromiumSkipReason(), timeout: scaled(120_000) }, () => {
  let browser: Browser;
  let theirs: Record<string, Shape>;
  let ours: Record<string, Shape>;
  before(async () => {
    browser = (await launchChromium())!;
    const page = await browser.newPage();
    // One page load: the five interfaces are globals of a Window.
    theirs = (await page.evaluate(`(${COLLECT_SHAPES})({ WebSocket, CloseEvent, MessageEvent, WebSocketStream, WebSocketError })`)) as Record<string, Shape>;
    const collect = runInThisContext(COLLECT_SHAPES) as (interfaces: Record<string, AnyClass>) => Promise<Record<string, Shape>>;
    ours = await collect(OURS_FOR_CHROMIUM);
  });
  after(async () => {
    await browser?.close();
  });

  for (const name of Object.keys(OURS_FOR_CHROMIUM)) {
    it(`${name}: every own property of the interface object and the prototype, as Chromium's`, () => {
      assert.ok(theirs[name] !== undefined, `Chromium has no ${name}`);
      const mine = ours[name]!;
      const chromium = theirs[name]!;
      for (const part of ['static', 'prototype'] as const) {
        for (const key of new Set([...Object.keys(mine[part]), ...Object.keys(chromium[part])])) {
          assertSameOrDocumented(`chromium-shape-${name}-${part}-${key}`, mine[part][key] ?? 'absent', chromium[part][key] ?? 'absent', 'Chromium');
        }
      }
    });

    it(`${name}: the prototype chains and the class string, as Chromium's`, () => {
      const mine = ours[name]!;
      const chromium = theirs[name]!;
      assertSameOrDocumented(`chromium-shape-${name}-chain`, mine.chain, chromium.chain, 'Chromium');
      assertSameOrDocumented(`chromium-shape-${name}-prototype-chain`, mine.prototypeChain, chromium.prototypeChain, 'Chromium');
      assertSameOrDocumented(`chromium-shape-${name}-toStringTag`, mine.toStringTag, chromium.toStringTag, 'Chromium');
    });

    it(`${name}: getters, setters and operations called on a plain object throw as Chromium's do`, () => {
      const mine = ours[name]!;
      const chromium = theirs[name]!;
      // Keys only one side has are rows of the test above.
      for (const key of Object.keys(mine.brand)) {
        if (chromium.brand[key] === undefined) continue;
        assertSameOrDocumented(`chromium-brand-${name}-${key}`, mine.brand[key], chromium.brand[key], 'Chromium');
      }
    });
  }
});

describe('the MessageEvent a WebSocket dispatches', { timeout: scaled(30_000) }, () => {
  let wss: WebSocketServer;
  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeat: false });
    await once(wss, 'listening');
  });
  after(() => new Promise<void>((resolve) => wss.close(() => resolve())));

  it('is the exported MessageEvent, an instance of the global MessageEvent too (Node 20 and 22+), printing [object MessageEvent]', async () => {
    wss.once('connection', (socket) => socket.send('hello'));
    const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
    const [event] = (await once(ws, 'message')) as [Event];
    ws.close();
    await once(ws, 'close');
    assert.ok(event instanceof MessageEvent);
    const globalClass = (globalThis as { MessageEvent?: AnyClass }).MessageEvent;
    if (globalClass !== undefined) assert.ok(event instanceof globalClass, 'instanceof the global MessageEvent');
    assert.ok(event instanceof Event);
    assert.equal(Object.prototype.toString.call(event), '[object MessageEvent]');
    assert.equal((event as MessageEvent).data, 'hello');
    assert.equal((event as MessageEvent).lastEventId, '');
    assert.equal((event as MessageEvent).source, null);
    assert.deepEqual((event as MessageEvent).ports, []);
    assert.ok(Object.isFrozen((event as MessageEvent).ports));
  });

  it('our MessageEvent: constructor defaults and conversions as HTML\'s MessageEventInit, side by side with undici', () => {
    const scenarios: Array<[string, () => unknown[]]> = [
      ['no init', () => ['message']],
      ['data and origin', () => ['message', { data: { a: 1 }, origin: 'ws://h', lastEventId: 7 }]],
      ['a non-MessagePort source', () => ['message', { source: {} }]],
      ['a non-MessagePort in ports', () => ['message', { ports: [1] }]],
      ['ports not iterable', () => ['message', { ports: 5 }]],
      ['null init', () => ['message', null]],
    ];
    const run = (Class: AnyClass, args: unknown[]): unknown => {
      try {
        const event = new (Class as unknown as new (...a: unknown[]) => MessageEvent)(...args);
        return { type: event.type, data: event.data ?? null, origin: event.origin, lastEventId: event.lastEventId, source: event.source, ports: event.ports.length };
      } catch (error) {
        return { threw: (error as Error).name };
      }
    };
    for (const [name, args] of scenarios) {
      assertSameOrDocumented(`message-event-init ${name}`, run(FullduplexMessageEvent, args()), run(NativeMessageEvent, args()));
    }
  });

  it('our MessageEvent (Node 20): initMessageEvent re-initializes an event not being dispatched (HTML §9.3), and does nothing during dispatch', () => {
    // On Node 22+ the exported MessageEvent is Node's (undici's), whose initMessageEvent returns a new
    // event instead; ours is checked on every release.
    const event = new FullduplexMessageEvent('message', { data: 1 });
    event.initMessageEvent('other', true, true, 2, 'ws://o', 'id');
    assert.deepEqual([event.type, event.bubbles, event.cancelable, event.data, event.origin, event.lastEventId], ['other', true, true, 2, 'ws://o', 'id']);
    const target = new EventTarget();
    target.addEventListener('other', () => event.initMessageEvent('third', false, false, 3));
    target.dispatchEvent(event);
    assert.deepEqual([event.type, event.data], ['other', 2]);
  });
});
