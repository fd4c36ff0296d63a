/**
 * The property layout of fullduplex/web's interfaces as Web IDL §3.7 defines it
 * (https://webidl.spec.whatwg.org/#es-interfaces), compared property by property with undici's
 * classes (Node's built-in WebSocket): `WebSocket`, `CloseEvent` (ours on Node < 23, the global
 * after) and the `MessageEvent` a WebSocket dispatches (ours on Node 20, the global on Node 22+).
 * Each property is one differential row: a difference fails unless docs/web-api.md lists it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as undici from 'undici';
import { WebSocketServer } from '../../src/node/index.js';
import { WebSocket, CloseEvent, MessageEvent } from '../../src/web/index.js';
import { FullduplexMessageEvent } from '../../src/web/message-event.js';
import { NativeWebSocket, NativeCloseEvent } from '../helpers/web-oracle.js';
import { assertSameOrDocumented } from '../helpers/web-differences.js';
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
function brandOutcome(holder: object, key: string): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(holder, key);
  if (descriptor === undefined) return 'absent';
  const calls: Record<string, () => unknown> = {};
  if (descriptor.get !== undefined) calls['get'] = () => descriptor.get!.call({});
  if (descriptor.set !== undefined) calls['set'] = () => descriptor.set!.call({}, null);
  if (typeof descriptor.value === 'function') calls['call'] = () => (descriptor.value as (...args: unknown[]) => unknown).call({}, 'x');
  const outcome: Record<string, string> = {};
  for (const [how, call] of Object.entries(calls)) {
    try {
      call();
      outcome[how] = 'no exception';
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

    it(`${name}: getters, setters and operations called on another object throw a TypeError (brand check)`, () => {
      for (const key of new Set([...keysOf(ours.prototype), ...keysOf(theirs.prototype)])) {
        if (key === 'constructor' || key.startsWith('Symbol(')) continue;
        const descriptor = Object.getOwnPropertyDescriptor(ours.prototype, key);
        if (descriptor !== undefined && 'value' in descriptor && typeof descriptor.value !== 'function') continue; // constants
        assertSameOrDocumented(`brand-${name}-${key}`, brandOutcome(ours.prototype, key), brandOutcome(theirs.prototype, key));
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
  });
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
