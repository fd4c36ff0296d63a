/**
 * Topics with history on a `WebSocketServer` (docs/recovery.md "Server"): publishing through the history
 * store, delivering from the store's ordered feed, and the replay → live seam of resuming subscribers.
 *
 * Publishing. `publish` on a history topic appends to the store (with `options.idempotencyKey`, an append
 * the store has seen the key of is a no-op answering the first position: src/node/history.ts); the store gives the message its
 * position and feeds it to every server that has subscribers of the topic, this one too (HistorySink),
 * in offset order with no gap. Each delivery is framed at most twice here, whatever the number of
 * subscribers: once as a data frame of the resume subprotocol (`[kind][alias][offset][payload]`, written
 * into the buffer of the WebSocket frame itself) for every resume subscriber, and once as the bare
 * payload for every plain subscriber (`socket.subscribe`), as for topics without history.
 *
 * The seam. A resume subscriber (one `sub` of a `fullduplex.resume.v1` connection) follows its topic
 * with `sent`, the last offset the client has (in `epoch`). While it is not live, every delivery of the
 * feed is held for it (the same framed message the live subscribers get, at most MAX_HELD of them);
 * meanwhile it reads the store after `sent`, in batches, sending each entry once the connection has
 * room (the connection's `bufferedAmount` under its high-water mark: a replay of a million entries does
 * not sit in memory). Once a read found nothing after `sent` (the store's top reached, by a read made
 * after the subscriber was registered), it sends the held frames after `sent` — reading the store again
 * if there is a hole between — and goes live, in the same turn of the event loop: every delivery from
 * then on goes straight to it. A live subscriber still checks each offset against `sent`: at or below
 * is a duplicate (the feed catching up with what was replayed), skipped; above `sent + 1` is a hole (the
 * feed started after a message the read did not see yet, or the connection dropped a frame under the
 * 'drop' slow-consumer policy): it goes back to reading the store, so nothing is ever skipped silently.
 * So no gap and no duplicate, whatever runs meanwhile; what the store no longer has is reported
 * (`subscribed` with `gap`, or `reset`), never a silent hole.
 */
import type { IncomingMessage } from 'node:http';
import { ReadyState } from '../protocol/close-handshake.js';
import { dataFrameHeaderSize, writeDataFrameHeader, type ResumeFrom, type ServerControl } from '../protocol/resume-wire.js';
import { toPayload, type SendData } from './data.js';
import { FramedMessage } from './framed-message.js';
import type { HistoryBounds, HistoryEntry, HistoryGapReason, HistorySink, HistoryStore, Position } from './history.js';
import { checkBounds, checkIdempotencyKey } from './history-input.js';
import { MemoryHistory } from './memory-history.js';
import { deliver, type Topics } from './topics.js';
import type { PublishCallback, PublishOptions, WebSocket } from './websocket.js';

/** What `history.topics` says of one topic: its bounds, `true` for the default bounds, or no history. */
export type HistoryTopicChoice = HistoryBounds | boolean | null | undefined;

/**
 * Which topics keep history, and how much: a function of the topic name (it must answer the same for a
 * name every time), or a map / object of exact names to bounds (or `true`).
 */
export type HistoryTopicsOption =
  | ((topic: string) => HistoryTopicChoice)
  | ReadonlyMap<string, HistoryBounds | true>
  | Readonly<Record<string, HistoryBounds | true>>;

/** The `history` option of `WebSocketServer` (docs/recovery.md "Server"): which topics keep history, and where. */
export interface HistoryOptions {
  /** Where the history lives. Default: a new `MemoryHistory` (this process only). Closed with the server. */
  store?: HistoryStore;
  /** Which topics keep history (no default: history is opt-in per topic). */
  topics: HistoryTopicsOption;
}

/** `true` in `history.topics`: the last 1,000 messages, no age bound. */
export const DEFAULT_HISTORY_BOUNDS: HistoryBounds = Object.freeze({ maxMessages: 1000 });
/** How many entries a replay reads from the store at once. */
export const REPLAY_BATCH = 1000;
/** At most this many live frames are held for a subscriber that is replaying (then it reads them from the store). */
export const MAX_HELD = 4096;
const STALL_RETRY_MS = 10;
/** How many times a `from: 'start'` subscription reads again from the oldest kept message when it was trimmed meanwhile. */
const START_READS = 3;
/** When to look for messages a starting feed did not deliver (ms after its start). */
const FEED_START_CHECKS_MS = [1000, 5000];

/** What a subscription needs of its connection. */
export interface ResumeChannel {
  readonly ws: WebSocket;
  readonly request: IncomingMessage;
  /** A replay sends while the connection's `bufferedAmount` is at most this (the server's `highWaterMark`). */
  readonly highWaterMark: number;
  /** Send a control message. */
  control(message: ServerControl): void;
  /** Resolves true once `bufferedAmount` is at most the high-water mark (false: the connection is gone). */
  drained(): Promise<boolean> | boolean;
  /** Fail the connection (the store is unreachable: the client comes back later and resumes). */
  fail(code: number, reason: string): void;
}

interface Held {
  readonly epoch: string;
  readonly offset: number;
  readonly message: FramedMessage;
}

/** One topic of this server with history: its alias, subscribers and feed. */
class TopicState {
  readonly alias: number;
  readonly bounds: HistoryBounds;
  readonly resume = new Set<ResumeSubscription>();
  /** Users of the store's feed: plain subscribers (counted as one) and resume subscriptions. */
  users = 0;
  plain = false;
  /** Publishes of a plain subscriber (`socket.publish`, which skips the publisher) not yet stored, by number. */
  readonly excepting: number[] = [];
  /** Their positions, once known: who not to deliver to. */
  readonly excepts = new Map<number, { readonly epoch: string; readonly ws: WebSocket }>();
  /** Deliveries to plain subscribers waiting for those positions (order kept). */
  readonly heldPlain: Array<Held & { readonly waitFor: number }> = [];

  constructor(alias: number, bounds: HistoryBounds) {
    this.alias = alias;
    this.bounds = bounds;
  }

  get idle(): boolean {
    return this.users === 0 && this.excepting.length === 0 && this.heldPlain.length === 0;
  }
}

export class HistoryTopics implements HistorySink {
  readonly store: HistoryStore;
  readonly #choose: (topic: string) => HistoryTopicChoice;
  readonly #topics: Topics;
  readonly #states = new Map<string, TopicState>();
  readonly #onPublishError: (error: Error, topic: string) => void;
  #nextAlias = 1;
  #nextPublish = 1;

  constructor(options: HistoryOptions, topics: Topics, onPublishError: (error: Error, topic: string) => void) {
    if (options === null || typeof options !== 'object') throw new TypeError('The history option must be an object { topics, store? }');
    const store = options.store ?? new MemoryHistory();
    if (store === null || typeof store !== 'object' || typeof store.attach !== 'function' || typeof store.append !== 'function' || typeof store.read !== 'function') {
      throw new TypeError('The history.store option must be a HistoryStore (MemoryHistory, RedisHistory...)');
    }
    this.store = store;
    this.#choose = chooser(options.topics);
    this.#topics = topics;
    this.#onPublishError = onPublishError;
    store.attach(this);
  }

  /** The bounds of `topic` when it keeps history, else null. */
  boundsOf(topic: string): HistoryBounds | null {
    const state = this.#states.get(topic);
    if (state !== undefined) return state.bounds;
    const choice = this.#choose(topic);
    if (choice === true) return DEFAULT_HISTORY_BOUNDS;
    if (choice === false || choice === null || choice === undefined) return null;
    return checkBounds('history.topics', choice);
  }

  /** Resume subscribers of `topic` here. */
  resumeCount(topic: string): number {
    return this.#states.get(topic)?.resume.size ?? 0;
  }

  /** The first plain subscriber of a history topic arrived. */
  plainSubscribed(topic: string, bounds: HistoryBounds): void {
    const state = this.#state(topic, bounds);
    if (state.plain) return;
    state.plain = true;
    this.#retain(topic, state);
  }

  /** The last plain subscriber of a history topic left. */
  plainUnsubscribed(topic: string): void {
    const state = this.#states.get(topic);
    if (state === undefined || !state.plain) return;
    state.plain = false;
    this.#release(topic, state);
  }

  /**
   * Append to the store; every server then delivers from its feed. Returns how many local subscribers
   * it goes to (the subscribers now, but `except`). The callback gets the position.
   */
  publish(topic: string, bounds: HistoryBounds, data: Exclude<SendData, Blob>, options: PublishOptions, except: WebSocket | null, callback: PublishCallback | undefined): number {
    const idempotencyKey = options.idempotencyKey;
    checkIdempotencyKey('publish', idempotencyKey);
    const { payload, binary } = toPayload(data);
    const isBinary = options.binary ?? binary;
    // The store keeps the bytes: a copy, so that a caller reusing its buffer does not rewrite history.
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
    const state = this.#states.get(topic);
    const plainCount = this.#topics.subscriberCount(topic);
    let count = plainCount + (state?.resume.size ?? 0);
    let ticket = 0;
    if (except !== null && except.isSubscribed(topic)) {
      count--;
      // Hold the feed's plain deliveries of this topic until the store says which one is this message.
      if (state !== undefined) {
        ticket = this.#nextPublish++;
        state.excepting.push(ticket);
      }
    }
    let stored: Promise<Position>;
    try {
      stored = idempotencyKey === undefined ? this.store.append(topic, bytes, isBinary, bounds) : this.store.append(topic, bytes, isBinary, bounds, idempotencyKey);
    } catch (error) {
      stored = Promise.reject(error);
    }
    stored.then(
      (position) => {
        if (ticket !== 0) this.#settleExcept(topic, state!, ticket, position, except!);
        callback?.(null, position);
      },
      (error: unknown) => {
        if (ticket !== 0) this.#settleExcept(topic, state!, ticket, null, except!);
        const failure = error instanceof Error ? error : new Error(String(error));
        if (callback !== undefined) callback(failure);
        else this.#onPublishError(failure, topic);
      },
    );
    return count;
  }

  /** Register a resume subscription (it holds the feed's deliveries until it starts). */
  addResume(topic: string, bounds: HistoryBounds, subscription: ResumeSubscription): TopicState {
    const state = this.#state(topic, bounds);
    state.resume.add(subscription);
    this.#retain(topic, state);
    return state;
  }

  removeResume(topic: string, state: TopicState, subscription: ResumeSubscription): void {
    if (!state.resume.delete(subscription)) return;
    this.#release(topic, state);
  }

  // --- HistorySink -----------------------------------------------------------------------------------

  deliver(topic: string, epoch: string, entry: HistoryEntry): void {
    const state = this.#states.get(topic);
    if (state === undefined) return; // arrived after the last subscriber left
    const offset = entry.offset;
    let frame: FramedMessage | null = null;
    for (const subscription of state.resume) {
      if (subscription.live && epoch === subscription.epoch) {
        if (offset <= subscription.sent) continue; // replayed already
        if (offset === subscription.sent + 1) {
          frame ??= dataFrame(state.alias, entry);
          if (deliver(subscription.ws, frame, undefined)) {
            subscription.sent = offset;
            continue;
          }
          if (subscription.ws.readyState !== ReadyState.OPEN) continue;
          // Dropped ('drop' slow-consumer policy): it catches up from the store once the connection drained.
        }
      }
      frame ??= dataFrame(state.alias, entry);
      subscription.hold({ epoch, offset, message: frame });
    }
    if (state.plain) {
      const message = new FramedMessage(entry.payload, entry.binary);
      if (state.excepting.length === 0 && state.heldPlain.length === 0) this.#topics.publish(topic, message, undefined, null);
      else state.heldPlain.push({ epoch, offset, message, waitFor: this.#nextPublish - 1 });
    }
  }

  reset(topic: string, position: Position, reason: HistoryGapReason): void {
    const state = this.#states.get(topic);
    if (state === undefined) return;
    for (const subscription of state.resume) subscription.feedReset(position, reason);
  }

  // --- internals -------------------------------------------------------------------------------------

  #state(topic: string, bounds: HistoryBounds): TopicState {
    let state = this.#states.get(topic);
    if (state === undefined) {
      state = new TopicState(this.#nextAlias++, bounds);
      this.#states.set(topic, state);
    }
    return state;
  }

  #retain(topic: string, state: TopicState): void {
    if (state.users++ !== 0) return;
    this.store.subscribe(topic);
    // A store's feed may start a moment later than asked (RedisHistory: once Redis confirmed the
    // SUBSCRIBE); a message stored in between reaches a live subscriber with the next delivery (a hole
    // read from the store), or, if none follows, when these checks find it.
    for (const delay of FEED_START_CHECKS_MS) {
      const timer = setTimeout(() => {
        if (this.#states.get(topic) !== state || state.users === 0) return;
        for (const subscription of state.resume) subscription.probe();
      }, delay);
      timer.unref();
    }
  }

  #release(topic: string, state: TopicState): void {
    if (--state.users === 0) {
      this.store.unsubscribe(topic);
      state.heldPlain.length = 0;
    }
    this.#forgetIfIdle(topic, state);
  }

  #forgetIfIdle(topic: string, state: TopicState): void {
    if (state.idle && this.#states.get(topic) === state) this.#states.delete(topic);
  }

  /** A `socket.publish` with holding is stored (or failed): deliver what waited for it. */
  #settleExcept(topic: string, state: TopicState, ticket: number, position: Position | null, except: WebSocket): void {
    const index = state.excepting.indexOf(ticket);
    if (index !== -1) state.excepting.splice(index, 1);
    if (position !== null) state.excepts.set(position.offset, { epoch: position.epoch, ws: except });
    const held = state.heldPlain;
    let done = 0;
    while (done < held.length) {
      const item = held[done]!;
      if (state.excepting.length > 0 && state.excepting[0]! <= item.waitFor) break; // a publish issued before it may be this one
      const skip = state.excepts.get(item.offset);
      if (skip !== undefined) state.excepts.delete(item.offset);
      if (state.plain) this.#topics.publish(topic, item.message, undefined, skip !== undefined && skip.epoch === item.epoch ? skip.ws : null);
      done++;
    }
    if (done > 0) held.splice(0, done);
    if (state.excepting.length === 0 && held.length === 0) state.excepts.clear();
    this.#forgetIfIdle(topic, state);
  }
}

/** A data frame of the resume subprotocol, framed once: WebSocket header, kind, alias, offset, payload in one buffer. */
function dataFrame(alias: number, entry: HistoryEntry): FramedMessage {
  const { offset, binary } = entry;
  return FramedMessage.prefixed(dataFrameHeaderSize(alias, offset), (target, at) => void writeDataFrameHeader(target, at, alias, offset, binary), entry.payload);
}

function chooser(option: HistoryTopicsOption): (topic: string) => HistoryTopicChoice {
  if (typeof option === 'function') return option;
  if (option instanceof Map) return (topic) => option.get(topic);
  if (option !== null && typeof option === 'object' && !Array.isArray(option)) {
    const record = option as Readonly<Record<string, HistoryBounds | true>>;
    for (const value of Object.values(record)) if (value !== true) checkBounds('history.topics', value);
    return (topic) => (Object.hasOwn(record, topic) ? record[topic] : null);
  }
  throw new TypeError('The history.topics option must be a function (topic) => bounds | true | null, a Map or an object of topic names to bounds (or true)');
}

/**
 * One `sub` of a resume connection: the seam from history to live (see the top of this file). Created
 * once authorized; `start` answers `subscribed` and runs the replay; `close` ends it.
 */
export class ResumeSubscription {
  readonly ws: WebSocket;
  readonly topic: string;
  readonly #channel: ResumeChannel;
  readonly #history: HistoryTopics;
  readonly #batchSize: number;
  #state: TopicState | null = null;
  /** Live: deliveries go straight to the connection. */
  live = false;
  /** The epoch of `sent` (empty until known). */
  epoch = '';
  /** The last offset the client has. */
  sent = 0;
  closed = false;
  #held: Held[] = [];
  /** The latest delivery dropped from `held` when it overflowed (null: none). */
  #dropped: { epoch: string; offset: number } | null = null;
  /** The store's top as the latest read saw it (null: no read since the subscriber was registered). */
  #readTop: number | null = null;
  /** Entries read and not sent yet (waiting for the connection to drain). */
  #batch: readonly HistoryEntry[] = [];
  #batchIndex = 0;
  #running = false;
  #stalled = false;
  /** Bumped when the position changes under a read in flight (its answer is then stale). */
  #generation = 0;

  constructor(channel: ResumeChannel, history: HistoryTopics, topic: string, batchSize: number) {
    this.ws = channel.ws;
    this.#channel = channel;
    this.#history = history;
    this.topic = topic;
    this.#batchSize = batchSize;
  }

  /** Register with the topic (deliveries are held from now on), then answer `subscribed` and replay. */
  async start(id: number, bounds: HistoryBounds, from: ResumeFrom | undefined): Promise<void> {
    const store = this.#history.store;
    const state = this.#history.addResume(this.topic, bounds, this);
    this.#state = state;
    let replay = 0;
    let gap: HistoryGapReason | null = null;
    try {
      if (from === undefined) {
        const position = await store.position(this.topic);
        this.#setPosition(position.epoch, position.offset);
        this.#readTop = position.offset;
      } else {
        let read = await store.read(this.topic, from.epoch, from.offset, this.#batchSize);
        let after = from.offset;
        // "All that is kept" (`from: 'start'`): from the oldest message the store still has, whichever
        // bound (count or age) dropped the older ones (gap: they are gone). Trimmed again between the two
        // reads: again from the new oldest, a few times, then live from the top (the gap says so).
        for (let tries = 0; read.kind === 'gone' && read.reason === 'trimmed' && from.epoch === null && from.offset === 0 && tries < START_READS; tries++) {
          gap = 'trimmed';
          after = read.first - 1;
          if (after >= read.top) break; // nothing kept at all
          read = await store.read(this.topic, read.epoch, after, this.#batchSize);
        }
        if (read.kind === 'gone') {
          gap = read.reason;
          this.#setPosition(read.epoch, read.top);
          this.#readTop = read.top;
        } else {
          this.#setPosition(read.epoch, after);
          this.#readTop = read.top;
          this.#batch = read.entries;
          replay = read.top - after;
        }
      }
    } catch (error) {
      if (this.closed) return;
      this.close();
      this.#channel.fail(1013, `History unavailable: ${(error as Error).message}`);
      return;
    }
    if (this.closed) return;
    this.#channel.control({ t: 'subscribed', id, topic: this.topic, alias: state.alias, epoch: this.epoch, offset: this.sent, replay, gap });
    void this.#run();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.live = false;
    this.#held = [];
    this.#batch = [];
    if (this.#state !== null) this.#history.removeResume(this.topic, this.#state, this);
  }

  /** A delivery of the feed this subscription could not take live: keep it for the seam. */
  hold(item: Held): void {
    if (this.closed) return;
    if (this.live) {
      this.live = false; // a hole, another epoch, or a dropped frame: back to the store
      this.#readTop = null;
    }
    if (this.#held.length >= MAX_HELD) {
      const last = this.#held[this.#held.length - 1]!;
      this.#dropped = { epoch: last.epoch, offset: last.offset };
      this.#held = [];
    }
    this.#held.push(item);
    void this.#run();
  }

  /** Look in the store for a message after `sent` that the feed did not deliver (see FEED_START_CHECKS_MS). */
  probe(): void {
    if (this.closed || !this.live) return;
    const { epoch, sent } = this;
    this.#history.store.read(this.topic, epoch, sent, 1).then(
      (read) => {
        if (this.closed || !this.live || this.epoch !== epoch || this.sent !== sent) return; // moved on: the feed works
        if (read.kind === 'entries' && read.entries.length === 0) return;
        this.live = false;
        this.#readTop = null;
        void this.#run();
      },
      () => {}, // the store is unreachable: its feed catches up by itself when it is back
    );
  }

  /** The store's feed could not go on (new epoch, or a hole it could not fill). */
  feedReset(position: Position, reason: HistoryGapReason): void {
    if (this.closed || !this.live) return; // a replay finds out from its reads
    if (position.epoch === this.epoch && position.offset <= this.sent) return; // it has all before that
    this.#reset(position.epoch, position.offset, reason);
  }

  #setPosition(epoch: string, offset: number): void {
    this.epoch = epoch;
    this.sent = offset;
    this.#generation++;
  }

  #reset(epoch: string, offset: number, reason: HistoryGapReason): void {
    this.#setPosition(epoch, offset);
    this.#batch = [];
    this.#batchIndex = 0;
    this.#channel.control({ t: 'reset', alias: this.#state!.alias, epoch, offset, reason });
  }

  /** Replay until live (one run at a time). */
  async #run(): Promise<void> {
    if (this.#running || this.closed || this.live || this.epoch === '') return;
    this.#running = true;
    try {
      while (!this.closed && !this.live) {
        const drained = this.#channel.drained();
        if (!(drained === true || (await drained))) return;
        if (this.#stalled) {
          // Not taken with room to spare (the application is sending a fragmented message): try again soon.
          this.#stalled = false;
          await new Promise((resolve) => setTimeout(resolve, STALL_RETRY_MS));
        }
        if (this.closed) return;
        if (this.#sendBatch()) continue; // over the high-water mark: wait for room
        if (this.#readTop !== null && this.sent >= this.#readTop) {
          // The store had nothing after `sent` when last read: what came since is held.
          const outcome = this.#sendHeld();
          if (outcome === 'live') return;
          if (outcome === 'full') continue;
        }
        const generation = this.#generation;
        const epoch = this.epoch;
        const after = this.sent;
        const read = await this.#history.store.read(this.topic, epoch, after, this.#batchSize);
        if (this.closed) return;
        if (generation !== this.#generation) continue;
        if (read.kind === 'gone') {
          this.#reset(read.epoch, read.top, read.reason);
          this.#readTop = read.top;
          continue;
        }
        this.#readTop = read.top;
        this.#batch = read.entries;
        this.#batchIndex = 0;
      }
    } catch (error) {
      if (!this.closed) {
        this.close();
        this.#channel.fail(1013, `History unavailable: ${(error as Error).message}`);
      }
    } finally {
      this.#running = false;
    }
  }

  /** Send the read entries after `sent`; true when it stopped because the connection is full. */
  #sendBatch(): boolean {
    const batch = this.#batch;
    while (this.#batchIndex < batch.length) {
      const entry = batch[this.#batchIndex++]!;
      if (entry.offset <= this.sent) continue;
      if (entry.offset !== this.sent + 1) break; // cannot be (a read is contiguous): read again
      if (!this.#send(dataFrame(this.#state!.alias, entry), entry.offset)) return true;
      if (this.ws.bufferedAmount > this.#channel.highWaterMark) return true;
    }
    this.#batch = [];
    this.#batchIndex = 0;
    return false;
  }

  /** Send the held frames after `sent`: 'live' when that was all, 'full' to wait for room, 'hole' to read the store. */
  #sendHeld(): 'live' | 'full' | 'hole' {
    const held = this.#held;
    let index = 0;
    let outcome: 'live' | 'full' | 'hole' = 'live';
    while (index < held.length) {
      const item = held[index]!;
      if (item.epoch !== this.epoch || item.offset <= this.sent) {
        index++; // of a history left behind (the read that showed the new one came after), or sent already
        continue;
      }
      if (item.offset !== this.sent + 1) {
        outcome = 'hole';
        break;
      }
      if (!this.#send(item.message, item.offset)) {
        outcome = 'full';
        break;
      }
      index++;
      if (this.ws.bufferedAmount > this.#channel.highWaterMark) {
        outcome = 'full';
        break;
      }
    }
    if (index > 0) this.#held = held.slice(index);
    if (outcome !== 'live') return outcome;
    const dropped = this.#dropped;
    if (dropped !== null && dropped.epoch === this.epoch && dropped.offset > this.sent) return 'hole';
    this.#dropped = null;
    this.#held = [];
    this.live = true;
    return 'live';
  }

  /** Write one frame; false when not taken now (the caller waits for room, or the connection is gone). */
  #send(message: FramedMessage, offset: number): boolean {
    if (!deliver(this.ws, message, undefined)) {
      if (this.ws.readyState !== ReadyState.OPEN) this.close();
      else if (this.ws.bufferedAmount <= this.#channel.highWaterMark) this.#stalled = true;
      return false;
    }
    this.sent = offset;
    return true;
  }
}
