/**
 * `wss.stats()`: what a server has done and holds now, for operators (docs/operations.md "wss.stats()").
 *
 * Counting is split by cost:
 *  - per message, one increment on a field of the server's `ServerCounters` (`messagesIn` where a
 *    connection hands a message to its listeners, `messagesOut` where it accepts one for sending): no
 *    allocation, no clock;
 *  - per handshake, a counter and one clock read (the handshakes-per-second window); per refusal, a
 *    map entry by status and code;
 *  - on demand, in `stats()`: bytes (Node's own `bytesRead`/`bytesWritten` of the open connections'
 *    sockets, plus what the closed ones had, added when they close: nothing on the data path at all),
 *    buffered bytes (the open connections' `bufferedAmount`), and the topics.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from './websocket.js';

/** @internal A connection's server counters (null on client connections): see `WebSocket[kCounters]`. */
export const kCounters = Symbol('fullduplex.counters');
/** @internal When a server's connection opened (`performance.now()`), for `connection:close`'s duration. */
export const kOpenedAt = Symbol('fullduplex.openedAt');

/**
 * Why a handshake was refused: the codes `stats().rejects`, `fullduplex:handshake:reject` and the
 * Prometheus `code` label use. Validation failures use the `HandshakeError` code (FD_ERR_HANDSHAKE_KEY,
 * FD_ERR_HANDSHAKE_VERSION...); a `HandshakeRejection` carries its own (`code`, by default
 * FD_ERR_HANDSHAKE_REFUSED).
 */
export const RejectCode = Object.freeze({
  /** 503: `close()` was called. */
  ServerClosing: 'FD_ERR_SERVER_CLOSING',
  /** 404: not the `path` option. */
  Path: 'FD_ERR_HANDSHAKE_PATH',
  /** 403: not in `allowedOrigins`. */
  Origin: 'FD_ERR_HANDSHAKE_ORIGIN',
  /** 503: `maxConnections` open or pending. */
  MaxConnections: 'FD_ERR_MAX_CONNECTIONS',
  /** 408: the hooks did not finish within `handshakeTimeout`. */
  Timeout: 'FD_ERR_HANDSHAKE_TIMEOUT',
  /** `verifyClient` or `authenticate` refused (their status; 401 by default for verifyClient). */
  Refused: 'FD_ERR_HANDSHAKE_REFUSED',
  /** 500: `authenticate` threw (or rejected with) something that is not a refusal. */
  HookFailed: 'FD_ERR_HANDSHAKE_HOOK_FAILED',
  /** 500: `handleProtocols` threw, or chose a subprotocol the client did not offer. */
  Subprotocol: 'FD_ERR_HANDSHAKE_SUBPROTOCOL',
  /** 500: the response could not be made (a `headers` listener added an invalid line). */
  Response: 'FD_ERR_HANDSHAKE_RESPONSE',
  /** Status 0: the client went away before the handshake was answered. */
  Abandoned: 'FD_ERR_HANDSHAKE_ABANDONED',
  /** Standalone mode: Node's HTTP parser refused the request (400, 408, 413 or 431). */
  HttpParse: 'FD_ERR_HTTP_PARSE',
} as const);

/** Refused handshakes of one status and code. */
export interface HandshakeRejectCount {
  /** The HTTP status answered (0: the socket was dropped without an answer). */
  readonly status: number;
  /** Why: a {@link RejectCode} value, or the code of a `HandshakeRejection`. */
  readonly code: string;
  /** How many handshakes were refused with this status and code since the server was created. */
  readonly count: number;
}

/** What `WebSocketServer.stats()` returns. Counters count from the server's creation. */
export interface ServerStats {
  /** When the stats were taken, in ms since the epoch. */
  readonly time: number;
  /** Seconds since the server was created. */
  readonly uptime: number;
  /** Open connections (gauge). */
  readonly connections: number;
  /** Handshakes waiting on `verifyClient`/`authenticate` (gauge). */
  readonly pendingHandshakes: number;
  /** Handshakes completed: a 101 (or HTTP/2 200) sent and a connection made (counter). */
  readonly handshakes: number;
  /** Completed handshakes per second over the last 10 seconds (gauge). */
  readonly handshakesPerSecond: number;
  /** Refused (or abandoned) handshakes, in all (counter). */
  readonly rejected: number;
  /** Refused handshakes by status and code, most frequent first (counters). */
  readonly rejects: readonly HandshakeRejectCount[];
  /** Connections closed (counter). */
  readonly closed: number;
  /** Whole messages received, control frames not included (counter). */
  readonly messagesIn: number;
  /** Messages accepted for sending: `send`s (a fragmented message once) and each connection's copy of a broadcast or publish (counter). */
  readonly messagesOut: number;
  /**
   * Bytes read from the connections' sockets, as Node counts them (`socket.bytesRead`: the upgrade
   * request and the frames, compressed as they travel; over TLS, the decrypted bytes). HTTP/2 streams
   * (RFC 8441) are not counted: they share their session's socket (counter).
   */
  readonly bytesIn: number;
  /** Bytes written to the connections' sockets (`socket.bytesWritten`), as for `bytesIn` (counter). */
  readonly bytesOut: number;
  /** Bytes accepted by `send` and not yet handed to the operating system, summed over open connections (gauge). */
  readonly bufferedBytes: number;
  /** Topics with at least one subscriber on this server (`socket.subscribe`) (gauge). */
  readonly topics: number;
  /** Subscriptions on this server, summed over the topics (gauge). */
  readonly subscriptions: number;
}

/**
 * A rate over a sliding window of whole seconds: one bucket per second (the current one and the
 * `windowSeconds` before it), zeroed as time moves on. `record` is a clock read and an increment.
 */
export class EventRate {
  private readonly buckets: Float64Array;
  private second = -Infinity;
  private readonly start: number;

  constructor(
    private readonly windowSeconds = 10,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1) throw new RangeError(`windowSeconds must be an integer >= 1; got ${String(windowSeconds)}`);
    this.buckets = new Float64Array(windowSeconds + 1);
    this.start = now();
  }

  record(): void {
    const second = Math.floor(this.now() / 1000);
    if (second !== this.second) this.advance(second);
    this.buckets[second % this.buckets.length]!++;
  }

  /** Events per second over the window (over the time since creation while that is shorter, and at least 1 s). */
  perSecond(): number {
    const now = this.now();
    const second = Math.floor(now / 1000);
    if (second !== this.second) this.advance(second);
    let sum = 0;
    for (const count of this.buckets) sum += count;
    const span = Math.min(this.windowSeconds + (now / 1000 - second), (now - this.start) / 1000);
    return sum / Math.max(1, span);
  }

  private advance(second: number): void {
    const length = this.buckets.length;
    if (second - this.second >= length) this.buckets.fill(0);
    else for (let s = this.second + 1; s <= second; s++) this.buckets[s % length] = 0;
    this.second = second;
  }
}

/** One server's counters. The fields are plain numbers, incremented where things happen. */
export class ServerCounters {
  messagesIn = 0;
  messagesOut = 0;
  handshakes = 0;
  rejected = 0;
  closed = 0;
  /** What the sockets of closed connections had read and written. */
  closedBytesIn = 0;
  closedBytesOut = 0;
  readonly createdAt = performance.now();
  readonly handshakeRate = new EventRate();
  private readonly rejects = new Map<string, { status: number; code: string; count: number }>();

  handshake(): void {
    this.handshakes++;
    this.handshakeRate.record();
  }

  reject(status: number, code: string): void {
    this.rejected++;
    const key = `${status} ${code}`;
    const entry = this.rejects.get(key);
    if (entry !== undefined) entry.count++;
    else this.rejects.set(key, { status, code, count: 1 });
  }

  /** A connection closed: keep what its socket carried. */
  connectionClosed(ws: WebSocket): void {
    this.closed++;
    const socket = ws.socket;
    if (socket !== null) {
      this.closedBytesIn += bytesRead(socket);
      this.closedBytesOut += bytesWritten(socket);
    }
  }

  rejectCounts(): HandshakeRejectCount[] {
    return [...this.rejects.values()].map((entry) => ({ ...entry })).sort((a, b) => b.count - a.count || a.status - b.status || (a.code < b.code ? -1 : 1));
  }
}

function bytesRead(socket: Duplex): number {
  const count = (socket as { bytesRead?: unknown }).bytesRead;
  return typeof count === 'number' ? count : 0;
}

function bytesWritten(socket: Duplex): number {
  const count = (socket as { bytesWritten?: unknown }).bytesWritten;
  return typeof count === 'number' ? count : 0;
}

/** What `stats()` reads of a server. */
export interface StatsSource {
  readonly counters: ServerCounters;
  readonly open: Iterable<WebSocket>;
  readonly openCount: number;
  readonly pendingCount: number;
  /** Subscriber counts of the topics that have some. */
  readonly subscriberCounts: Iterable<number>;
}

export function collectStats(source: StatsSource): ServerStats {
  const counters = source.counters;
  let bytesIn = counters.closedBytesIn;
  let bytesOut = counters.closedBytesOut;
  let bufferedBytes = 0;
  for (const ws of source.open) {
    const socket = ws.socket;
    if (socket !== null) {
      bytesIn += bytesRead(socket);
      bytesOut += bytesWritten(socket);
    }
    bufferedBytes += ws.bufferedAmount;
  }
  let topics = 0;
  let subscriptions = 0;
  for (const count of source.subscriberCounts) {
    topics++;
    subscriptions += count;
  }
  return {
    time: Date.now(),
    uptime: (performance.now() - counters.createdAt) / 1000,
    connections: source.openCount,
    pendingHandshakes: source.pendingCount,
    handshakes: counters.handshakes,
    handshakesPerSecond: counters.handshakeRate.perSecond(),
    rejected: counters.rejected,
    rejects: counters.rejectCounts(),
    closed: counters.closed,
    messagesIn: counters.messagesIn,
    messagesOut: counters.messagesOut,
    bytesIn,
    bytesOut,
    bufferedBytes,
    topics,
    subscriptions,
  };
}
