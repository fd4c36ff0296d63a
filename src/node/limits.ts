/**
 * Per-client limits and connection lifetimes of a `WebSocketServer` (the `limits` option; docs/limits.md
 * "## Per-client limits" and "## Connection lifetime"). None of `ws`, Bun, uWS or undici has them.
 *
 * - Per address (`clientAddress(request)`, IPv6 grouped by prefix) before the user's hooks, and per key
 *   (`perKey.key(request)`) after them: connections at once (503 + Retry-After) and handshakes per
 *   second (429 + Retry-After), in bounded tables (src/node/limits-table.ts).
 * - The message rate of each connection: token buckets of messages and bytes, and a policy (pause the
 *   socket, drop, or close 1008) — `MessageRate`, one small object per connection, consulted by
 *   `WebSocket.onMessage` (one null check there when this is off).
 * - `maxLifetime`: every connection closes with 1012 (or 1013) after its lifetime ± jitter; one timer
 *   for all of them (src/node/limits-timer.ts), as for the ends of rate pauses.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { clientAddress } from './client-address.js';
import { addressKey } from './limits-address.js';
import { ClientTable, type ClientEntry, type TableRefusal } from './limits-table.js';
import { DeadlineQueue, monotonic, turnClock, type Clock, type Deadline } from './limits-timer.js';
import { normalizeLimits, type LimitEvent, type LimitsOptions, type NormalizedLimits, type NormalizedMessageLimits, type RateLimitEvent } from './limits-options.js';
import { TokenBucket } from './rate-bucket.js';
import { kMessageRate, kRateLimited, kRateResumed, type WebSocket } from './websocket.js';

export * from './limits-options.js';

/** A handshake refused by a limit: the server answers it with `status` and these headers. */
export interface LimitRefusal {
  code: TableRefusal['code'];
  status: number;
  message: string;
  headers: { 'Retry-After': string };
}

/** The connection slots a handshake holds, on its socket or stream: released when it closes. */
const kSlots = Symbol('fullduplex.limitSlots');
type SlottedChannel = Duplex & { [kSlots]?: ClientEntry[] };

/** The `close` listener of every counted channel (one function, not one per connection). */
function releaseSlots(this: SlottedChannel): void {
  const slots = this[kSlots];
  if (slots === undefined) return;
  this[kSlots] = undefined;
  for (const entry of slots) entry.release();
}

/** What a connection's lifetime and rate limit know of it. */
interface Tracked {
  address: string;
  key: string | undefined;
  request: IncomingMessage;
}

/** `maxLifetime` ± `jitter` (a fraction), from `random()` in [0, 1). */
export function lifetimeOf(maxLifetime: number, jitter: number, random: () => number = Math.random): number {
  return maxLifetime * (1 + jitter * (2 * random() - 1));
}

export class ClientLimiter {
  readonly limits: NormalizedLimits;
  readonly byAddress: ClientTable | null;
  readonly byKey: ClientTable | null;
  private readonly emitLimit: (event: LimitEvent) => void;
  /** The rates' clock (read once per turn of the event loop), and the deadlines' (exact). */
  private readonly now: Clock;
  private readonly exactNow: Clock;
  private readonly random: () => number;
  /** The lifetimes and the ends of rate pauses: one timer for all. */
  private readonly deadlines: DeadlineQueue;
  private readonly tracked = new Map<WebSocket, ConnectionLimits>();
  /** The `perKey` key of each request admitted with one (read again when its connection opens). */
  private readonly keys = new WeakMap<IncomingMessage, string>();

  constructor(options: LimitsOptions, emitLimit: (event: LimitEvent) => void, clock: { now?: Clock; random?: () => number } = {}) {
    this.limits = normalizeLimits(options);
    this.emitLimit = emitLimit;
    this.now = clock.now ?? turnClock;
    this.exactNow = clock.now ?? monotonic;
    this.random = clock.random ?? Math.random;
    this.deadlines = new DeadlineQueue(this.exactNow);
    const { perAddress, perKey, maxTrackedClients, retryAfter } = this.limits;
    this.byAddress = perAddress === null ? null : new ClientTable(perAddress, maxTrackedClients, retryAfter);
    this.byKey = perKey === null ? null : new ClientTable(perKey, maxTrackedClients, retryAfter);
  }

  /** Whether connections need `adopted`/`forget` (a message rate or a lifetime). */
  get tracksConnections(): boolean {
    return this.limits.messages !== null || this.limits.maxLifetime !== null;
  }

  /** The address key of a request (IPv6 grouped as `perAddress.ipv6Prefix` says, /64 without it). */
  addressOf(request: IncomingMessage): string {
    return addressKey(clientAddress(request), this.limits.perAddress?.ipv6Prefix ?? 64);
  }

  /** Before the hooks: the per-address limits. null to go on. */
  admitAddress(request: IncomingMessage, channel: Duplex): LimitRefusal | null {
    const table = this.byAddress;
    if (table === null) return null;
    const address = this.addressOf(request);
    return this.take(table, address, address, undefined, request, channel);
  }

  /**
   * After the hooks accepted: the per-key limits. null to go on. The key function's exception is
   * rethrown (the caller refuses with 500 first).
   */
  admitKey(request: IncomingMessage, channel: Duplex): LimitRefusal | null {
    const table = this.byKey;
    if (table === null) return null;
    const key = this.limits.perKey!.key(request);
    if (key === null || key === undefined) return null;
    if (typeof key !== 'string') throw new TypeError(`limits.perKey.key must return a string, null or undefined; got ${typeof key}`);
    this.keys.set(request, key);
    return this.take(table, key, this.addressOf(request), key, request, channel);
  }

  private take(table: ClientTable, tableKey: string, address: string, key: string | undefined, request: IncomingMessage, channel: Duplex): LimitRefusal | null {
    const slotted = channel as SlottedChannel;
    if (slotted.closed === true) return null; // gone already: nothing to count, nothing would release it
    const result = table.admit(tableKey, this.now());
    if (!('connections' in result)) {
      this.emitLimit({ code: result.code, action: 'refuse', address, ...(key !== undefined && { key }), status: result.status, retryAfter: result.retryAfter, request });
      return { code: result.code, status: result.status, message: result.message, headers: { 'Retry-After': String(result.retryAfter) } };
    }
    const slots = slotted[kSlots];
    if (slots === undefined) {
      slotted[kSlots] = [result];
      channel.once('close', releaseSlots);
    } else {
      slots.push(result);
    }
    return null;
  }

  /** A connection of the server opened: its message rate and its lifetime, when configured. */
  adopted(ws: WebSocket, request: IncomingMessage): void {
    const { messages, maxLifetime } = this.limits;
    if (messages === null && maxLifetime === null) return;
    const tracked: Tracked = { address: this.addressOf(request), key: this.keys.get(request), request };
    const connection = new ConnectionLimits(ws, tracked, this, messages);
    this.tracked.set(ws, connection);
    if (messages !== null) ws[kMessageRate] = connection;
    if (maxLifetime !== null) this.deadlines.schedule(connection.lifetime, this.exactNow() + lifetimeOf(maxLifetime, this.limits.lifetimeJitter, this.random));
  }

  /** A connection of the server closed: its deadlines go. */
  forget(ws: WebSocket): void {
    const connection = this.tracked.get(ws);
    if (connection === undefined) return;
    this.tracked.delete(ws);
    this.deadlines.remove(connection.lifetime);
    this.deadlines.remove(connection.pauseEnd);
  }

  /** @internal Schedule `deadline` in `ms` from now. */
  scheduleIn(deadline: Deadline, ms: number): void {
    this.deadlines.schedule(deadline, this.exactNow() + ms);
  }

  /** @internal */
  clock(): number {
    return this.now();
  }

  /** @internal A connection limit acted: tell the server's listeners. */
  report(tracked: Tracked, ws: WebSocket, event: Omit<LimitEvent, 'address' | 'request' | 'socket' | 'key'>): void {
    this.emitLimit({ ...event, address: tracked.address, ...(tracked.key !== undefined && { key: tracked.key }), request: tracked.request, socket: ws });
  }

  /** Connections with a lifetime or a pause scheduled (for tests). */
  get scheduled(): number {
    return this.deadlines.size;
  }
}

/**
 * The limits of one connection: its message and byte buckets (when the message rate is limited), the
 * end of its rate pause, and its lifetime.
 */
export class ConnectionLimits {
  private readonly ws: WebSocket;
  private readonly tracked: Tracked;
  private readonly owner: ClientLimiter;
  private readonly policy: NormalizedMessageLimits['policy'];
  private readonly messages: TokenBucket | null;
  private readonly bytes: TokenBucket | null;
  /** Reading is stopped until `pauseEnd` (policy 'pause'). */
  paused = false;
  /** Policy 'close' acted: every later message of this connection is discarded. */
  private failed = false;
  readonly lifetime: Deadline;
  readonly pauseEnd: Deadline;

  constructor(ws: WebSocket, tracked: Tracked, owner: ClientLimiter, limits: NormalizedMessageLimits | null) {
    this.ws = ws;
    this.tracked = tracked;
    this.owner = owner;
    this.policy = limits?.policy ?? 'pause';
    const now = owner.clock();
    this.messages = limits === null || limits.messagesPerSecond === Infinity ? null : new TokenBucket(limits.messagesPerSecond, limits.messageBurst, now);
    this.bytes = limits === null || limits.bytesPerSecond === Infinity ? null : new TokenBucket(limits.bytesPerSecond, limits.byteBurst, now);
    this.lifetime = { at: 0, index: -1, fire: () => this.expire() };
    this.pauseEnd = { at: 0, index: -1, fire: () => this.resume() };
  }

  /**
   * A message arrived: whether to deliver it. 'pause' delivers every message it has read (it slows
   * the reading instead): the buckets go into debt and reading stops until they are out of it.
   */
  admit(data: Buffer | Buffer[], isBinary: boolean): boolean {
    if (this.failed) return false;
    const size = Array.isArray(data) ? byteLength(data) : data.length;
    const now = this.owner.clock();
    const messages = this.messages;
    const bytes = this.bytes;
    if (this.policy === 'pause') {
      const messageDebt = messages === null ? 0 : messages.take(1, now) < 1 ? messages.msUntil(1, now) : 0;
      const byteDebt = bytes === null ? 0 : bytes.take(size, now) < 0 ? bytes.msUntil(0, now) : 0;
      if ((messageDebt > 0 || byteDebt > 0) && !this.paused) this.pause(messageDebt >= byteDebt ? 'messages' : 'bytes', Math.max(messageDebt, byteDebt), size, isBinary);
      return true;
    }
    // 'drop' and 'close': a message goes through only if both buckets hold it.
    let over: 'messages' | 'bytes' | null = null;
    if (messages !== null && messages.refill(now) < 1) over = 'messages';
    else if (bytes !== null && !bytes.tryTake(size, now)) over = 'bytes';
    else messages?.take(1, now);
    if (over === null) return true;
    const flat = this.policy === 'drop' ? (Array.isArray(data) ? Buffer.concat(data) : data) : undefined;
    const event: RateLimitEvent = { code: 'FD_ERR_MESSAGE_RATE', limit: over, action: this.policy, size, isBinary, ...(flat !== undefined && { data: flat }) };
    if (this.policy === 'close') this.failed = true;
    this.ws[kRateLimited](event);
    this.owner.report(this.tracked, this.ws, { code: 'FD_ERR_MESSAGE_RATE', action: this.policy, ...(this.policy === 'close' && { closeCode: 1008 }), rate: event });
    return false;
  }

  private pause(limit: 'messages' | 'bytes', ms: number, size: number, isBinary: boolean): void {
    this.paused = true;
    this.owner.scheduleIn(this.pauseEnd, ms);
    const event: RateLimitEvent = { code: 'FD_ERR_MESSAGE_RATE', limit, action: 'pause', size, isBinary, pauseMs: ms };
    this.ws[kRateLimited](event);
    this.owner.report(this.tracked, this.ws, { code: 'FD_ERR_MESSAGE_RATE', action: 'pause', rate: event });
  }

  /** The pause's end: read again if the buckets are out of debt (messages read meanwhile may have added some). */
  private resume(): void {
    const now = this.owner.clock();
    const wait = Math.max(this.messages?.msUntil(1, now) ?? 0, this.bytes?.msUntil(0, now) ?? 0);
    if (wait > 0) {
      this.owner.scheduleIn(this.pauseEnd, wait);
      return;
    }
    this.paused = false;
    this.ws[kRateResumed]();
  }

  private expire(): void {
    const code = this.owner.limits.lifetimeCloseCode;
    this.owner.report(this.tracked, this.ws, { code: 'FD_ERR_MAX_LIFETIME', action: 'close', closeCode: code });
    try {
      this.ws.close(code, 'Connection lifetime reached');
    } catch {
      this.ws.terminate();
    }
  }
}

function byteLength(chunks: Buffer[]): number {
  let size = 0;
  for (const chunk of chunks) size += chunk.length;
  return size;
}
