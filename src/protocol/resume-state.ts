/**
 * The client side of `fullduplex.resume.v1` (src/protocol/resume-wire.ts), sans-I/O: what a resuming
 * client (Node, on the reconnecting client; browser, on ReconnectingWebSocket) keeps across connections
 * and what it says on each. The caller owns the socket: it calls `onOpen()` when a connection with the
 * subprotocol opened and sends the frames it returns, `onMessage(data)` for every message received,
 * `onClose()` when the connection ended; `subscribe`, `unsubscribe` and `send` return what to send now.
 *
 * Kept across connections:
 *  - per wanted topic, the last position seen (epoch, offset): every (re)open subscribes again from it,
 *    so the server replays exactly what was missed;
 *  - the session id and the sends not acked yet: every (re)open re-sends them with the same seq after
 *    the hello and the subs, so the server applies each once (its dedupe key is (session, seq)).
 *
 * What reaches the application (`ResumeEvent`): a message with its position, exactly once per offset
 * (duplicates — offsets at or below the last seen — are dropped); `gap` for every hole the server
 * reports (never a silent one); a hole the server does not report (an offset past last + 1, a
 * `subscribed` that skips ahead without `gap`) is a protocol error (FD_ERR_RESUME_UNREPORTED_GAP, close
 * 1002): the connection must be closed (`error.closeCode`), and the next one resumes from the last
 * position seen. After such an error, messages are ignored until the next `onOpen()`.
 *
 * No Node API (the browser build imports this file).
 */
import {
  ResumeError,
  decodeServerControl,
  decodeServerFrame,
  decodeText,
  encodeClientControl,
  encodeSendFrame,
  encodeText,
  isTopic,
  MAX_TOPIC_BYTES,
  MAX_TOKEN_LENGTH,
  RESUME_VERSION,
  type ResumeFrom,
  type ResumeGapReason,
  type ResumePosition,
  type ServerControl,
} from './resume-wire.js';

/** Options of `ResumeState` (all optional). */
export interface ResumeStateOptions {
  /** The session id (the idempotency scope of sends). Default: 16 random bytes, base64url. */
  readonly session?: string;
  /** At most this many sends waiting for their ack; one more throws FD_ERR_RESUME_UNACKED_FULL. Default 1,000. */
  readonly maxUnacked?: number;
  /** At most this many payload bytes (UTF-8 for text) waiting for acks. Default 1 MiB. */
  readonly maxUnackedBytes?: number;
}

/** The defaults of {@link ResumeStateOptions}: `maxUnacked` 1,000 sends, `maxUnackedBytes` 1 MiB. */
export const RESUME_STATE_DEFAULTS = Object.freeze({ maxUnacked: 1_000, maxUnackedBytes: 1024 * 1024 });

/** Where a new subscription starts. */
export interface ResumeSubscribeOptions {
  /**
   * A position seen before (resume after it: everything since is replayed, or a gap is reported),
   * `'start'` (everything the topic still keeps), or absent: live from now on.
   */
  readonly from?: ResumePosition | 'start';
}

/** What the application is told. */
export type ResumeEvent =
  /** A message of `topic`, exactly once; `replayed` when it came from history (before the stream went live). */
  | { readonly type: 'message'; readonly topic: string; readonly data: string | Uint8Array; readonly position: ResumePosition; readonly replayed: boolean }
  /** The server took the subscription: `replay` messages from history follow; `gap` repeats a hole a `gap` event reports. */
  | { readonly type: 'subscribed'; readonly topic: string; readonly replay: number; readonly gap: ResumeGapReason | null; readonly position: ResumePosition }
  /** Messages of `topic` were lost (`reason`); the stream goes on after `position`. */
  | { readonly type: 'gap'; readonly topic: string; readonly reason: ResumeGapReason; readonly position: ResumePosition }
  | { readonly type: 'unsubscribed'; readonly topic: string }
  /** Every send with seq ≤ `seq` was applied by the server. */
  | { readonly type: 'acked'; readonly seq: number }
  /** The server broke the protocol: close the connection with `error.closeCode`; the next one resumes. */
  | { readonly type: 'error'; readonly error: ResumeError }
  /**
   * The server answered a request (`topic`: the sub or unsub it answers; null: none) with an error
   * message: its code and message. A refused subscription is no longer wanted (it would be refused
   * again on every reconnect).
   */
  | { readonly type: 'refused'; readonly code: string; readonly message: string; readonly topic: string | null };

/** A frame to send: a string goes as a text frame, bytes as a binary frame. */
export type ResumeOutgoing = string | Uint8Array;

interface TopicState {
  readonly topic: string;
  /** The last position seen (or given in `subscribe`); null: none yet. */
  last: ResumePosition | null;
  /** With no `last`: start from everything kept (`'start'`) or live. */
  start: 'start' | 'live';
  /** The id of this topic's `sub` on the current connection (0: not sent yet). */
  subId: number;
  /** What that `sub` asked for (null: live). */
  sentFrom: ResumeFrom | null;
  /** Its `subscribed` came: data frames of the topic are this subscription's. */
  active: boolean;
  /** How many of the coming frames are replayed. */
  replayLeft: number;
}

interface Unacked {
  readonly seq: number;
  readonly frame: Uint8Array;
  readonly size: number;
}

type Request = { readonly kind: 'sub' | 'unsub'; readonly topic: string };

const NONE: readonly ResumeEvent[] = Object.freeze([]);

/**
 * The client side of `fullduplex.resume.v1`, sans-I/O: what a resuming client keeps across connections
 * (per topic the last position seen; the session and the unacked sends) and what it says on each. The
 * caller owns the socket: `onOpen()`, `onMessage(data)`, `onClose()`; `subscribe`, `unsubscribe` and
 * `send` return what to send now. Messages reach the application once per offset; every hole the server
 * reports is a `gap`; an unreported one is a {@link ResumeError} (FD_ERR_RESUME_UNREPORTED_GAP, close 1002).
 */
export class ResumeState {
  /** The session id (the `session` option, or 16 random bytes in base64url): with a send's seq, its idempotency key. */
  readonly session: string;
  private readonly maxUnacked: number;
  private readonly maxUnackedBytes: number;
  private readonly topics = new Map<string, TopicState>();

  // Outgoing sends: seqs 1, 2, 3 ...; the unacked ones in seq order (a queue: `unacked[head]` is the oldest).
  private lastSeq = 0;
  private unacked: Unacked[] = [];
  private head = 0;
  private unackedBytes = 0;

  // Per connection.
  private open = false;
  private failed = false;
  private welcomed = false;
  private nextId = 1;
  private sentUpTo = 0;
  private readonly requests = new Map<number, Request>();
  private readonly aliases = new Map<number, string>();

  constructor(options: ResumeStateOptions = {}) {
    const session = options.session ?? randomSession();
    if (!(typeof session === 'string' && session.length >= 1 && session.length <= MAX_TOKEN_LENGTH && /^[\x21-\x7e]+$/.test(session))) {
      throw new TypeError(`The session option must be 1 to ${MAX_TOKEN_LENGTH} visible ASCII characters; got ${JSON.stringify(session)}`);
    }
    this.session = session;
    this.maxUnacked = bound(options.maxUnacked, RESUME_STATE_DEFAULTS.maxUnacked, 'maxUnacked');
    this.maxUnackedBytes = bound(options.maxUnackedBytes, RESUME_STATE_DEFAULTS.maxUnackedBytes, 'maxUnackedBytes');
  }

  /** The last position seen of `topic` (null: none yet, or not subscribed). */
  position(topic: string): ResumePosition | null {
    return this.topics.get(topic)?.last ?? null;
  }

  /** The topics wanted. */
  subscriptions(): string[] {
    return [...this.topics.keys()];
  }

  /** How many sends wait for their ack. */
  get unackedCount(): number {
    return this.unacked.length - this.head;
  }

  /**
   * A connection opened (with the subprotocol selected): the frames to send, in order — hello, a sub for
   * every wanted topic from its last position, then every unacked send with its seq.
   */
  onOpen(): ResumeOutgoing[] {
    this.open = true;
    this.failed = false;
    this.welcomed = false;
    this.requests.clear();
    this.aliases.clear();
    const frames: ResumeOutgoing[] = [encodeClientControl({ t: 'hello', v: RESUME_VERSION, session: this.session })];
    for (const state of this.topics.values()) frames.push(this.subFrame(state));
    for (let i = this.head; i < this.unacked.length; i++) frames.push(this.unacked[i]!.frame);
    this.sentUpTo = this.lastSeq;
    return frames;
  }

  /** The connection ended: nothing is sent until the next `onOpen()`. */
  onClose(): void {
    this.open = false;
    for (const state of this.topics.values()) {
      state.active = false;
      state.subId = 0;
    }
  }

  /** Want `topic` (no-op if wanted already): the frames to send now (none while closed). */
  subscribe(topic: string, options: ResumeSubscribeOptions = {}): ResumeOutgoing[] {
    if (typeof topic !== 'string' || !isTopic(topic)) {
      throw new TypeError(`A topic must be a non-empty well-formed string of at most ${MAX_TOPIC_BYTES} UTF-8 bytes; got ${JSON.stringify(topic)?.slice(0, 80)}`);
    }
    if (this.topics.has(topic)) return [];
    const from = options.from;
    let last: ResumePosition | null = null;
    if (from !== undefined && from !== 'start') {
      if (typeof from !== 'object' || from === null || typeof from.epoch !== 'string' || !(Number.isSafeInteger(from.offset) && from.offset >= 0)) {
        throw new TypeError('The from option must be a position { epoch, offset } (as a message event gives) or "start"');
      }
      last = { epoch: from.epoch, offset: from.offset };
    }
    const state: TopicState = { topic, last, start: from === 'start' ? 'start' : 'live', subId: 0, sentFrom: null, active: false, replayLeft: 0 };
    this.topics.set(topic, state);
    return this.open ? [this.subFrame(state)] : [];
  }

  /** Stop wanting `topic` and forget its position: the frames to send now (none while closed). */
  unsubscribe(topic: string): ResumeOutgoing[] {
    if (!this.topics.delete(topic) || !this.open) return [];
    const id = this.nextId++;
    this.requests.set(id, { kind: 'unsub', topic });
    return [encodeClientControl({ t: 'unsub', id, topic })];
  }

  /**
   * Send an application message at most once: it gets the next seq and is kept until acked. `frame` is
   * what to send now (null while closed: the next `onOpen()` sends it). Throws FD_ERR_RESUME_UNACKED_FULL
   * (nothing taken) when `maxUnacked` or `maxUnackedBytes` would be exceeded.
   */
  send(data: string | Uint8Array): { seq: number; frame: Uint8Array | null } {
    const binary = typeof data !== 'string';
    const payload = binary ? data : encodeText(data);
    const count = this.unacked.length - this.head;
    if (count >= this.maxUnacked || this.unackedBytes + payload.length > this.maxUnackedBytes) {
      throw new ResumeError(
        'FD_ERR_RESUME_UNACKED_FULL',
        `Too many sends wait for their ack (${count} messages, ${this.unackedBytes} bytes; maxUnacked ${this.maxUnacked}, maxUnackedBytes ${this.maxUnackedBytes}): this one (${payload.length} bytes) was not taken`,
      );
    }
    const seq = ++this.lastSeq;
    const frame = encodeSendFrame(seq, payload, binary);
    this.unacked.push({ seq, frame, size: payload.length });
    this.unackedBytes += payload.length;
    if (!this.open) return { seq, frame: null };
    this.sentUpTo = seq;
    return { seq, frame };
  }

  /** A message received on the connection: what to tell the application. */
  onMessage(data: string | Uint8Array | ArrayBuffer): readonly ResumeEvent[] {
    if (this.failed || !this.open) return [];
    try {
      if (typeof data === 'string') return this.onControl(decodeServerControl(data));
      const frame = decodeServerFrame(data instanceof Uint8Array ? data : new Uint8Array(data));
      if (!this.welcomed) throw unexpected('A binary frame before "welcome"');
      return frame.kind === 'data' ? this.onData(frame.alias, frame.offset, frame.binary, frame.payload) : this.onAck(frame.seq);
    } catch (error) {
      if (!(error instanceof ResumeError)) throw error;
      this.failed = true;
      return [{ type: 'error', error }];
    }
  }

  private subFrame(state: TopicState): string {
    const id = this.nextId++;
    state.subId = id;
    state.active = false;
    state.replayLeft = 0;
    state.sentFrom = state.last !== null ? { epoch: state.last.epoch, offset: state.last.offset } : state.start === 'start' ? { epoch: null, offset: 0 } : null;
    this.requests.set(id, { kind: 'sub', topic: state.topic });
    return encodeClientControl(state.sentFrom === null ? { t: 'sub', id, topic: state.topic } : { t: 'sub', id, topic: state.topic, from: state.sentFrom });
  }

  private onData(alias: number, offset: number, binary: boolean, payload: Uint8Array): readonly ResumeEvent[] {
    const topic = this.aliases.get(alias);
    if (topic === undefined) throw unexpected(`A data frame for alias ${alias}, which no "subscribed" named`);
    const state = this.topics.get(topic);
    // A subscription the application left (or replaced) while its frames were under way: not wanted.
    if (state === undefined || !state.active) return NONE;
    const replayed = state.replayLeft > 0;
    if (replayed) state.replayLeft--;
    const last = state.last!;
    if (offset <= last.offset) return NONE; // a duplicate
    if (offset !== last.offset + 1) {
      throw new ResumeError('FD_ERR_RESUME_UNREPORTED_GAP', `Topic ${JSON.stringify(topic)}: offset ${offset} after ${last.offset} (epoch ${last.epoch}) with no reset: messages ${last.offset + 1} to ${offset - 1} are missing`);
    }
    const position: ResumePosition = { epoch: last.epoch, offset };
    const data = binary ? payload : decodeText(payload);
    state.last = position;
    return [{ type: 'message', topic, data, position, replayed }];
  }

  private onAck(seq: number): readonly ResumeEvent[] {
    if (seq > this.sentUpTo) throw unexpected(`An ack of seq ${seq}, but this connection carried sends up to ${this.sentUpTo}`);
    if (this.head === this.unacked.length || seq < this.unacked[this.head]!.seq) return NONE; // acked before
    while (this.head < this.unacked.length && this.unacked[this.head]!.seq <= seq) {
      this.unackedBytes -= this.unacked[this.head]!.size;
      this.head++;
    }
    if (this.head === this.unacked.length) {
      this.unacked = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.unacked.length) {
      this.unacked = this.unacked.slice(this.head);
      this.head = 0;
    }
    return [{ type: 'acked', seq }];
  }

  private onControl(message: ServerControl): readonly ResumeEvent[] {
    if (message.t === 'welcome') {
      if (this.welcomed) throw unexpected('A second "welcome"');
      if (message.session !== this.session) throw unexpected(`"welcome" names session ${message.session}, not ${this.session}`);
      this.welcomed = true;
      return NONE;
    }
    if (!this.welcomed) throw unexpected(`A "${message.t}" message before "welcome"`);
    switch (message.t) {
      case 'subscribed': {
        const request = this.requests.get(message.id);
        if (request === undefined || request.kind !== 'sub' || request.topic !== message.topic) {
          throw unexpected(`"subscribed" answers id ${message.id} (topic ${JSON.stringify(message.topic)}), which is no sub of this connection`);
        }
        this.requests.delete(message.id);
        const known = this.aliases.get(message.alias);
        if (known !== undefined && known !== message.topic) throw unexpected(`Alias ${message.alias} named topic ${JSON.stringify(known)} before, now ${JSON.stringify(message.topic)}`);
        this.aliases.set(message.alias, message.topic);
        const state = this.topics.get(message.topic);
        if (state === undefined || state.subId !== message.id) return NONE; // left or replaced meanwhile
        return this.onSubscribed(state, message.epoch, message.offset, message.replay, message.gap);
      }
      case 'reset': {
        const topic = this.aliases.get(message.alias);
        if (topic === undefined) throw unexpected(`A "reset" for alias ${message.alias}, which no "subscribed" named`);
        const state = this.topics.get(topic);
        if (state === undefined || !state.active) return NONE;
        const last = state.last!;
        // Never go back within an epoch: what was seen stays seen (no duplicate).
        const position = message.epoch === last.epoch && message.offset < last.offset ? last : { epoch: message.epoch, offset: message.offset };
        state.last = position;
        state.replayLeft = 0;
        return [{ type: 'gap', topic, reason: message.reason, position }];
      }
      case 'unsubscribed': {
        const request = this.requests.get(message.id);
        if (request === undefined || request.kind !== 'unsub' || request.topic !== message.topic) {
          throw unexpected(`"unsubscribed" answers id ${message.id} (topic ${JSON.stringify(message.topic)}), which is no unsub of this connection`);
        }
        this.requests.delete(message.id);
        // Wanted again meanwhile (a newer sub is under way): that subscription is what counts.
        return this.topics.has(message.topic) ? NONE : [{ type: 'unsubscribed', topic: message.topic }];
      }
      case 'error': {
        const request = message.id === undefined ? undefined : this.requests.get(message.id);
        let topic: string | null = null;
        if (request !== undefined) {
          this.requests.delete(message.id!);
          topic = request.topic;
          // A refused subscription is no longer wanted (it would be refused again on every reconnect).
          if (request.kind === 'sub' && this.topics.get(topic)?.subId === message.id) this.topics.delete(topic);
        }
        return [{ type: 'refused', code: message.code, message: message.message, topic }];
      }
    }
  }

  private onSubscribed(state: TopicState, epoch: string, offset: number, replay: number, gap: ResumeGapReason | null): readonly ResumeEvent[] {
    const from = state.sentFrom;
    let position: ResumePosition = { epoch, offset };
    if (gap === null && from !== null) {
      // Nothing may be missing between `from` and where the stream continues.
      if ((from.epoch !== null && from.epoch !== epoch) || offset > from.offset) {
        throw new ResumeError(
          'FD_ERR_RESUME_UNREPORTED_GAP',
          `Topic ${JSON.stringify(state.topic)}: asked to resume after ${from.offset} (epoch ${from.epoch ?? 'current'}), the stream continues after ${offset} (epoch ${epoch}) with no gap reported`,
        );
      }
      // The server may start before `from` (frames up to it are duplicates, dropped).
      if (offset < from.offset) position = { epoch, offset: from.offset };
    }
    state.last = position;
    state.active = true;
    state.replayLeft = replay;
    const events: ResumeEvent[] = [{ type: 'subscribed', topic: state.topic, replay, gap, position }];
    if (gap !== null) events.push({ type: 'gap', topic: state.topic, reason: gap, position });
    return events;
  }
}

function unexpected(message: string): ResumeError {
  return new ResumeError('FD_ERR_RESUME_UNEXPECTED', message);
}

function bound(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(typeof value === 'number' && value >= 0 && (Number.isInteger(value) || value === Infinity))) {
    throw new RangeError(`The ${name} option must be an integer >= 0 (or Infinity); got ${String(value)}`);
  }
  return value;
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** 16 random bytes (Web Crypto: browsers and Node ≥ 19 alike), base64url without padding: 22 characters. */
function randomSession(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let text = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let c = 0; c < chars; c++) text += BASE64URL[(n >> (18 - 6 * c)) & 63];
  }
  return text;
}
