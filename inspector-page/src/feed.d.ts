/**
 * The inspector feed: what the server sends the page over `/inspect?tap=TOKEN`, one JSON text message
 * per event (`src/cli/inspector/hub.ts` sends `hello`, `src/cli/inspector/tap.ts` makes the rest).
 *
 * Types only, shared by the server and the page. It is a declaration file so that both TypeScript
 * projects can import it although each has its own `rootDir` (`src/` for the package,
 * `inspector-page/src/` for the page): a `.d.ts` is not a source file to emit, so it may lie outside
 * one of them, and nothing is compiled or served for it (`import type` leaves no import behind).
 */

export type Direction = 'in' | 'out';

/** How the connection came: an HTTP/1.1 Upgrade, or an HTTP/2 stream (extended CONNECT, RFC 8441). */
export type HttpVersion = '1.1' | '2';

export interface HeaderBlock {
  /**
   * `GET /path HTTP/1.1` or `HTTP/1.1 101 Switching Protocols`; over HTTP/2, which has no start lines,
   * `CONNECT /path HTTP/2` and `HTTP/2 200` stand for the pseudo-headers listed in `headers`.
   */
  line: string;
  headers: Array<[string, string]>;
}

export interface FrameRecord {
  type: 'frame';
  /** Sequence number within the connection (for `decoded` updates). */
  seq: number;
  /** Milliseconds since the epoch, when the frame was complete. */
  time: number;
  dir: Direction;
  opcode: number;
  opcodeName: string;
  fin: boolean;
  rsv1: boolean;
  masked: boolean;
  /** Payload length on the wire. */
  length: number;
  /** A frame of a message whose first frame had RSV1: permessage-deflate compressed it (continuations too). */
  compressed: boolean;
  /** The payload's start: text, or hex (binary, compressed, or not UTF-8); a close frame's code and reason. */
  preview: string;
  previewKind: 'text' | 'hex' | 'empty' | 'close';
  truncated: boolean;
  closeCode?: number;
  closeName?: string;
  closeReason?: string;
}

/** A compressed message, inflated by the tap: the text (or hex) for its first frame's row. */
export interface DecodedEvent {
  type: 'decoded';
  seq: number;
  preview: string;
  previewKind: 'text' | 'hex' | 'empty';
  truncated: boolean;
  length: number;
}

/** What a connection's tap reports: the opening handshake, then its frames. */
export type TapEvent =
  | { type: 'handshake'; http: HttpVersion; request: HeaderBlock; response: HeaderBlock }
  | FrameRecord
  | DecodedEvent
  | { type: 'tap-stopped'; reason: string };

/**
 * The stats of the server the page talks to (`wss.stats()`, docs/operations.md), as JSON: sent when
 * the feed opens and then every second.
 */
export interface StatsSnapshot {
  time: number;
  uptime: number;
  connections: number;
  pendingHandshakes: number;
  handshakes: number;
  handshakesPerSecond: number;
  rejected: number;
  rejects: ReadonlyArray<{ status: number; code: string; count: number }>;
  closed: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  bufferedBytes: number;
  topics: number;
  subscriptions: number;
}

export interface StatsEvent {
  type: 'stats';
  stats: StatsSnapshot;
}

/** Every message on the feed: a greeting when the feed opens, the tap's events, the server's stats. */
export type FeedEvent = { type: 'hello'; token: string } | TapEvent | StatsEvent;
