/**
 * Connects taps to inspector pages. A page picks a random token, opens its feed socket
 * (`/inspect?tap=TOKEN`, never tapped itself) and then its chat connection (`/?tap=TOKEN`); every
 * event of that connection's tap goes to the feed as one JSON text message. Events that arrive while
 * no feed is open are kept (a bounded backlog) and replayed when one opens. The feed also takes
 * commands from the page: `{"cmd":"ping"}` has the server ping the tapped connection.
 *
 * Every open feed also gets the server's `stats()` (docs/operations.md) once when it opens and then
 * every second (`{"type":"stats",...}`), while at least one feed is open.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from '../../node/websocket.js';
import type { FeedEvent, StatsEvent, TapEvent } from '../../../inspector-page/src/feed.js';
import type { ServerStats } from '../../node/stats.js';
import { SocketTap, type TappedRequest } from './tap.js';

const BACKLOG = 2000;
/** How often the feeds get the server's stats. */
export const STATS_INTERVAL = 1000;

interface Entry {
  readonly feeds: Set<WebSocket>;
  readonly backlog: string[];
  /** The latest tapped connection of this token, while open. */
  connection: WebSocket | null;
  live: number;
}

/** The `tap` query parameter, if it is a plausible token. */
export function tapToken(url: string | undefined): string | null {
  const token = new URL(url ?? '/', 'http://x').searchParams.get('tap');
  return token !== null && /^[A-Za-z0-9_-]{8,64}$/.test(token) ? token : null;
}

export class InspectorHub {
  private readonly entries = new Map<string, Entry>();
  /** Every open feed, for the stats. */
  private readonly feeds = new Set<WebSocket>();
  private statsTimer: NodeJS.Timeout | null = null;

  /** `stats`: the stats of the server the page talks to (sent to the feeds every second). */
  constructor(private readonly stats: (() => ServerStats) | null = null) {}

  private statsLine(): string | null {
    if (this.stats === null) return null;
    return JSON.stringify({ type: 'stats', stats: this.stats() } satisfies StatsEvent);
  }

  private pushStats(): void {
    const line = this.statsLine();
    if (line === null) return;
    for (const feed of this.feeds) if (feed.readyState === feed.OPEN) feed.send(line);
  }

  private entry(token: string): Entry {
    let entry = this.entries.get(token);
    if (entry === undefined) {
      entry = { feeds: new Set(), backlog: [], connection: null, live: 0 };
      this.entries.set(token, entry);
    }
    return entry;
  }

  private forgetIfIdle(token: string, entry: Entry): void {
    if (entry.feeds.size === 0 && entry.live === 0) this.entries.delete(token);
  }

  private publish(entry: Entry, event: TapEvent | { type: string; [key: string]: unknown }): void {
    const line = JSON.stringify(event);
    if (entry.feeds.size === 0) {
      entry.backlog.push(line);
      if (entry.backlog.length > BACKLOG) entry.backlog.splice(0, entry.backlog.length - BACKLOG);
      return;
    }
    for (const feed of entry.feeds) feed.send(line);
  }

  /**
   * Tap an upgrade request's socket (before `handleUpgrade`), or a WebSocket stream of an HTTP/2
   * session (before `handleStream`), when it carries a token.
   */
  tap(request: TappedRequest, socket: Duplex, head: Buffer): { tap: SocketTap; token: string } | null {
    const token = tapToken(request.url);
    if (token === null) return null;
    const entry = this.entry(token);
    entry.live++;
    const tap = new SocketTap(socket, request, head, (event) => this.publish(entry, event));
    socket.once('close', () => {
      entry.live--;
      this.forgetIfIdle(token, entry);
    });
    return { tap, token };
  }

  /** The tapped connection is open: it can be pinged from the page. */
  opened(token: string, ws: WebSocket): void {
    const entry = this.entry(token);
    entry.connection = ws;
    ws.once('close', () => {
      if (entry.connection === ws) entry.connection = null;
    });
  }

  /** A page's feed socket opened. */
  feed(ws: WebSocket, request: IncomingMessage): void {
    const token = tapToken(request.url);
    if (token === null) {
      ws.close(1008, 'A ?tap= token is required');
      return;
    }
    const entry = this.entry(token);
    entry.feeds.add(ws);
    ws.send(JSON.stringify({ type: 'hello', token } satisfies FeedEvent));
    for (const line of entry.backlog.splice(0)) ws.send(line);
    this.feeds.add(ws);
    const stats = this.statsLine();
    if (stats !== null) {
      ws.send(stats);
      if (this.statsTimer === null) {
        this.statsTimer = setInterval(() => this.pushStats(), STATS_INTERVAL);
        this.statsTimer.unref();
      }
    }
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let command: unknown;
      try {
        command = JSON.parse(String(data));
      } catch {
        return;
      }
      if (typeof command === 'object' && command !== null && (command as { cmd?: unknown }).cmd === 'ping') {
        const target = entry.connection;
        if (target !== null && target.readyState === target.OPEN) target.ping(Buffer.from('inspector ping'));
      }
    });
    ws.once('close', () => {
      entry.feeds.delete(ws);
      this.forgetIfIdle(token, entry);
      this.feeds.delete(ws);
      if (this.feeds.size === 0 && this.statsTimer !== null) {
        clearInterval(this.statsTimer);
        this.statsTimer = null;
      }
    });
  }
}
