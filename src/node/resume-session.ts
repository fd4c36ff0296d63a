/**
 * The server side of one `fullduplex.resume.v1` connection (src/protocol/resume-wire.ts, docs/recovery.md):
 * it takes every message of the connection (the application's `message` listeners get only the client's
 * sends), answers the control messages, runs a ResumeSubscription (src/node/history-topics.ts) per `sub`,
 * and applies the client's sends once each per (session, seq) with cumulative acks.
 *
 *  - The first message must be `hello` (anything else: close 1002); a malformed frame or control message
 *    closes with the close code of its ResumeError (1002, 1003 or 1007).
 *  - `sub`: refused with an `error` message (the client then no longer wants the topic) when the topic
 *    keeps no history (FD_ERR_RESUME_NO_HISTORY), when `authorize` says no (FD_ERR_RESUME_FORBIDDEN), or
 *    past `maxSubscriptions` (FD_ERR_RESUME_TOO_MANY). A `sub` for a topic subscribed already replaces
 *    the subscription (from its new `from`).
 *  - Sends: `[0x10][seq][payload]`. The seqs of a connection must go up by one from its first (else 1002).
 *    Each is claimed in the dedupe memory (src/node/send-dedupe.ts), in order, claim-after-apply: a new
 *    one is given to the `message` listeners as `(data, isBinary, { session, seq, idempotencyKey })`; a
 *    send committed before is not (only acked); one another connection is running (its lease) waits for
 *    it to be committed, or for the lease to run out. Once the listeners ran and the promises they
 *    returned settled (fulfilled or rejected: the handler was applied either way; a rejection or throw
 *    is reported as an exception from a `message` listener is: the socket's `error` event, or rethrown
 *    when nobody listens), the settled prefix is committed (even if the connection closed meanwhile),
 *    then acked, cumulatively. Acks are coalesced: at most one per turn of the event loop.
 *  - A store that cannot be reached (reading history, recording a send): close 1013 Try Again Later;
 *    the client reconnects and resumes from what it has.
 */
import type { IncomingMessage } from 'node:http';
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { CloseCode } from '../protocol/close-codes.js';
import { MAX_CLOSE_REASON_BYTES } from '../protocol/constants.js';
import { ReadyState } from '../protocol/close-handshake.js';
import {
  decodeClientControl,
  decodeClientFrame,
  encodeAckFrame,
  encodeServerControl,
  ResumeError,
  RESUME_VERSION,
  MAX_ERROR_MESSAGE_LENGTH,
  type ClientControl,
  type ServerControl,
  type SubMessage,
} from '../protocol/resume-wire.js';
import { toMessageData } from './data.js';
import { positiveIntegerOption } from './history-input.js';
import { REPLAY_BATCH, ResumeSubscription, type HistoryTopics, type ResumeChannel } from './history-topics.js';
import { MemoryDedupe, SEND_DEDUPE_DEFAULTS, type ResumeSendInfo, type SendClaim, type SendDedupe } from './send-dedupe.js';
import type { WebSocket } from './websocket.js';
import { kIntercept } from './websocket.js';

/**
 * The `resume` option of `WebSocketServer`: speak `fullduplex.resume.v1` with the clients that offer it (needs `history`). A refused `sub` gets an `error` message: `FD_ERR_RESUME_FORBIDDEN` (`authorize` said no), `FD_ERR_RESUME_NO_HISTORY` (a topic without history), `FD_ERR_RESUME_TOO_MANY` (past `maxSubscriptions`).
 */
export interface ResumeOptions {
  /**
   * Whether `socket` may subscribe to `topic` (a topic with history). Required: there is no default
   * that lets every client read every topic; write `authorize: () => true` for public topics.
   * A throw or rejection refuses (and is reported like an exception of a `message` listener).
   */
  authorize: (socket: WebSocket, topic: string, request: IncomingMessage) => boolean | Promise<boolean>;
  /**
   * Where the sends applied are remembered. Default: the history store's `claimSend`/`commitSend` when it
   * has them (RedisHistory: across servers), else a `MemoryDedupe` of this process with the options below.
   */
  dedupe?: SendDedupe;
  /**
   * How long a send being applied keeps a re-send of it (on another connection or server) from running
   * concurrently, in ms; also how long a re-send waits when the server applying it died. Default 5,000.
   */
  sendLeaseMs?: number;
  /** How long after a session's last send its dedupe record is kept, in ms. Default 600,000 (10 minutes). */
  sessionTtlMs?: number;
  /** At most this many sessions in the memory dedupe (the least recently active go first). Default 100,000. */
  maxSessions?: number;
  /** At most this many topics per connection. Default 1,000. */
  maxSubscriptions?: number;
  /** At most this many sends of a connection waiting for their handler (then close 1008). Default 1,000. */
  maxPendingSends?: number;
}

export const RESUME_DEFAULTS = Object.freeze({ maxSubscriptions: 1000, maxPendingSends: 1000, ...SEND_DEDUPE_DEFAULTS });

/** The resume options, checked, with the server-wide parts. */
export class ResumeService {
  readonly history: HistoryTopics;
  readonly authorize: ResumeOptions['authorize'];
  readonly dedupe: SendDedupe;
  readonly maxSubscriptions: number;
  readonly maxPendingSends: number;
  readonly highWaterMark: number;

  constructor(options: ResumeOptions, history: HistoryTopics | null, highWaterMark: number) {
    if (options === null || typeof options !== 'object') throw new TypeError('The resume option must be an object { authorize, ... }');
    if (history === null) throw new TypeError('The resume option needs the history option (resume serves topics with history)');
    if (typeof options.authorize !== 'function') {
      throw new TypeError('The resume.authorize option must be a function (socket, topic, request) => boolean | Promise<boolean>; use () => true to let every client subscribe to every topic with history');
    }
    this.history = history;
    this.authorize = options.authorize;
    this.maxSubscriptions = positiveIntegerOption('WebSocketServer', options.maxSubscriptions, RESUME_DEFAULTS.maxSubscriptions, 'resume.maxSubscriptions');
    this.maxPendingSends = positiveIntegerOption('WebSocketServer', options.maxPendingSends, RESUME_DEFAULTS.maxPendingSends, 'resume.maxPendingSends');
    const sessionTtlMs = positiveIntegerOption('WebSocketServer', options.sessionTtlMs, RESUME_DEFAULTS.sessionTtlMs, 'resume.sessionTtlMs');
    const maxSessions = positiveIntegerOption('WebSocketServer', options.maxSessions, RESUME_DEFAULTS.maxSessions, 'resume.maxSessions');
    const leaseMs = positiveIntegerOption('WebSocketServer', options.sendLeaseMs, RESUME_DEFAULTS.sendLeaseMs, 'resume.sendLeaseMs');
    if (options.dedupe !== undefined) {
      if (options.dedupe === null || typeof options.dedupe.claim !== 'function' || typeof options.dedupe.commit !== 'function') {
        throw new TypeError('The resume.dedupe option must have claim(session, seq, owner) and commit(session, seq)');
      }
      this.dedupe = options.dedupe;
    } else {
      const store = history.store;
      this.dedupe =
        typeof store.claimSend === 'function' && typeof store.commitSend === 'function'
          ? { claim: (session, seq, owner) => store.claimSend!(session, seq, owner, leaseMs, sessionTtlMs), commit: (session, seq) => store.commitSend!(session, seq, sessionTtlMs) }
          : new MemoryDedupe({ sessionTtlMs, maxSessions, leaseMs });
    }
    this.highWaterMark = highWaterMark;
  }
}

interface PendingSend {
  readonly seq: number;
  readonly payload: Buffer;
  readonly binary: boolean;
}

/** One connection that speaks the resume subprotocol. */
export class ResumeConnection implements ResumeChannel {
  readonly ws: WebSocket;
  readonly request: IncomingMessage;
  readonly highWaterMark: number;
  readonly #service: ResumeService;
  #session: string | null = null;
  #failed = false;
  readonly #subscriptions = new Map<string, ResumeSubscription | Authorizing>();
  // Sends: the seq expected next (0: none yet), those waiting to be claimed, those applied and not acked.
  #nextSeq = 0;
  /** This connection's name in the dedupe leases. */
  readonly #owner = randomBytes(9).toString('base64url');
  readonly #queue: PendingSend[] = [];
  #claiming = false;
  readonly #unacked: Array<{ readonly seq: number; done: boolean }> = [];
  #acked = 0;
  /** The highest seq committed (or being committed) to the dedupe memory. */
  #committed = 0;
  /** Commits run one after the other (a later one never overtakes an earlier one). */
  #commits: Promise<void> = Promise.resolve();
  #ackScheduled = false;
  #drainWaiters: Array<(open: boolean) => void> = [];

  constructor(ws: WebSocket, request: IncomingMessage, service: ResumeService) {
    this.ws = ws;
    this.request = request;
    this.#service = service;
    this.highWaterMark = service.highWaterMark;
    ws[kIntercept] = (data, isBinary) => this.#onMessage(Array.isArray(data) ? Buffer.concat(data) : data, isBinary);
    ws.on('drain', () => this.#wake(true));
    ws.once('close', () => this.#closed());
  }

  /** Topics of this connection (subscribed or being authorized). */
  get topicCount(): number {
    return this.#subscriptions.size;
  }

  control(message: ServerControl): void {
    if (this.ws.readyState !== ReadyState.OPEN) return;
    this.ws.send(encodeServerControl(message), this.#mustArrive);
  }

  /**
   * The callback of the sends that must not be lost: control messages and acks. Under the 'drop'
   * slow-consumer policy a send over `maxBufferedAmount` is dropped (data frames are read back from the
   * store, but a lost `subscribed` leaves the client without its alias, a lost `reset` lets it take the
   * frames of a new epoch for duplicates, a lost ack leaves its sends waiting): fail the connection
   * instead, 1013 Try Again Later, and the client resumes from what it has.
   */
  readonly #mustArrive = (error?: Error | null): void => {
    if (error !== null && error !== undefined && this.ws.readyState === ReadyState.OPEN) this.fail(CloseCode.TryAgainLater, 'A control message could not be sent (slow consumer): resume');
  };

  drained(): Promise<boolean> | boolean {
    if (this.ws.readyState !== ReadyState.OPEN) return false;
    if (this.ws.bufferedAmount <= this.highWaterMark) return true;
    return new Promise<boolean>((resolve) => {
      this.#drainWaiters.push(resolve);
      // 'drain' is armed by the write that went over the mark; look again now and then all the same.
      const poll = setInterval(() => {
        if (this.ws.readyState !== ReadyState.OPEN || this.ws.bufferedAmount <= this.highWaterMark) {
          clearInterval(poll);
          this.#wake(this.ws.readyState === ReadyState.OPEN);
        }
      }, 250);
      poll.unref();
    });
  }

  fail(code: number, reason: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#queue.length = 0;
    for (const subscription of this.#subscriptions.values()) if (subscription instanceof ResumeSubscription) subscription.close();
    this.#subscriptions.clear();
    if (this.ws.readyState === ReadyState.OPEN) this.ws.close(code, closeReason(reason));
  }

  #wake(open: boolean): void {
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve(open && this.ws.readyState === ReadyState.OPEN);
  }

  #closed(): void {
    this.#failed = true;
    this.#queue.length = 0;
    for (const subscription of this.#subscriptions.values()) if (subscription instanceof ResumeSubscription) subscription.close();
    this.#subscriptions.clear();
    this.#wake(false);
  }

  #onMessage(bytes: Buffer, isBinary: boolean): void {
    if (this.#failed) return;
    try {
      if (!isBinary) {
        const message = decodeClientControl(bytes.toString('utf8'));
        this.#onControl(message);
        return;
      }
      const frame = decodeClientFrame(bytes);
      if (this.#session === null) {
        this.fail(CloseCode.ProtocolError, 'The first message must be "hello"');
        return;
      }
      const payload = frame.payload as Buffer;
      if (!frame.binary && !isUtf8(payload)) throw new ResumeError('FD_ERR_RESUME_BAD_TEXT', 'A send flagged text is not valid UTF-8');
      if (this.#nextSeq !== 0 && frame.seq !== this.#nextSeq) {
        this.fail(CloseCode.ProtocolError, `Send seq ${frame.seq} where ${this.#nextSeq} was due: a connection's seqs go up by one`);
        return;
      }
      this.#nextSeq = frame.seq + 1;
      this.#onSend({ seq: frame.seq, payload, binary: frame.binary });
    } catch (error) {
      if (!(error instanceof ResumeError)) throw error;
      this.fail(error.closeCode ?? CloseCode.ProtocolError, error.message);
    }
  }

  #onControl(message: ClientControl): void {
    if (this.#session === null) {
      if (message.t !== 'hello') {
        this.fail(CloseCode.ProtocolError, `The first message must be "hello", not "${message.t}"`);
        return;
      }
      this.#session = message.session;
      this.control({ t: 'welcome', v: RESUME_VERSION, session: message.session });
      return;
    }
    switch (message.t) {
      case 'hello':
        this.fail(CloseCode.ProtocolError, 'A second "hello"');
        return;
      case 'sub':
        this.#onSub(message);
        return;
      case 'unsub': {
        const subscription = this.#subscriptions.get(message.topic);
        if (subscription instanceof ResumeSubscription) subscription.close();
        this.#subscriptions.delete(message.topic);
        this.control({ t: 'unsubscribed', id: message.id, topic: message.topic });
        return;
      }
    }
  }

  #refuse(id: number, code: string, message: string): void {
    this.control({ t: 'error', id, code, message: message.slice(0, MAX_ERROR_MESSAGE_LENGTH) });
  }

  #onSub(message: SubMessage): void {
    const { id, topic } = message;
    const service = this.#service;
    const bounds = service.history.boundsOf(topic);
    if (bounds === null) {
      this.#refuse(id, 'FD_ERR_RESUME_NO_HISTORY', `Topic ${JSON.stringify(topic).slice(0, 200)} keeps no history on this server`);
      return;
    }
    const previous = this.#subscriptions.get(topic);
    if (previous === undefined && this.#subscriptions.size >= service.maxSubscriptions) {
      this.#refuse(id, 'FD_ERR_RESUME_TOO_MANY', `At most ${service.maxSubscriptions} topics per connection`);
      return;
    }
    if (previous instanceof ResumeSubscription) previous.close(); // replaced by this sub
    const attempt: Authorizing = { authorizing: true };
    this.#subscriptions.set(topic, attempt);
    const decide = (allowed: boolean): void => {
      if (this.#failed || this.#subscriptions.get(topic) !== attempt) return; // unsubscribed, replaced or closed meanwhile
      if (!allowed) {
        this.#subscriptions.delete(topic);
        this.#refuse(id, 'FD_ERR_RESUME_FORBIDDEN', `Not allowed to subscribe to ${JSON.stringify(topic).slice(0, 200)}`);
        return;
      }
      const subscription = new ResumeSubscription(this, service.history, topic, REPLAY_BATCH);
      this.#subscriptions.set(topic, subscription);
      void subscription.start(id, bounds, message.from);
    };
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = service.authorize(this.ws, topic, this.request);
    } catch (error) {
      this.#report(error);
      decide(false);
      return;
    }
    if (verdict instanceof Promise) {
      verdict.then(
        (allowed) => decide(allowed === true),
        (error: unknown) => {
          this.#report(error);
          decide(false);
        },
      );
    } else {
      decide(verdict === true);
    }
  }

  // --- sends -----------------------------------------------------------------------------------------

  #onSend(send: PendingSend): void {
    if (this.#queue.length + this.#unacked.length >= this.#service.maxPendingSends) {
      this.fail(CloseCode.PolicyViolation, `More than ${this.#service.maxPendingSends} sends wait for their handler`);
      return;
    }
    this.#queue.push(send);
    if (!this.#claiming) this.#claimNext();
  }

  /** Claim the queued sends in order (synchronously as long as the dedupe answers synchronously). */
  #claimNext(): void {
    while (this.#queue.length > 0 && !this.#failed) {
      const send = this.#queue[0]!;
      const session = this.#session!;
      let claimed: SendClaim | Promise<SendClaim>;
      try {
        claimed = this.#service.dedupe.claim(session, send.seq, this.#owner);
      } catch (error) {
        this.fail(CloseCode.TryAgainLater, `Cannot record sends: ${(error as Error).message}`);
        return;
      }
      if (claimed instanceof Promise) {
        this.#claiming = true;
        claimed.then(
          (claim) => {
            this.#claiming = false;
            if (this.#failed) return;
            if (claim === 'running') {
              this.#retryClaim();
              return;
            }
            this.#queue.shift();
            this.#apply(send, claim === 'new');
            this.#claimNext();
          },
          (error: unknown) => {
            this.#claiming = false;
            this.fail(CloseCode.TryAgainLater, `Cannot record sends: ${(error as Error).message}`);
          },
        );
        return;
      }
      if (claimed === 'running') {
        this.#retryClaim();
        return;
      }
      this.#queue.shift();
      this.#apply(send, claimed === 'new');
    }
  }

  /** Another connection holds the lease of the next send: ask again soon (it commits, or its lease runs out). */
  #retryClaim(): void {
    this.#claiming = true;
    const timer = setTimeout(() => {
      this.#claiming = false;
      this.#claimNext();
    }, CLAIM_RETRY_MS);
    timer.unref();
  }

  #apply(send: PendingSend, isNew: boolean): void {
    const record = { seq: send.seq, done: false };
    this.#unacked.push(record);
    const session = this.#session!;
    const finish = (): void => {
      record.done = true;
      this.#scheduleAck();
    };
    if (!isNew) {
      finish(); // committed before: applied
      return;
    }
    const settled = this.#emitMessage(send.payload, send.binary, { session, seq: send.seq, idempotencyKey: `${session}:${send.seq}` });
    if (settled === null) {
      finish();
      return;
    }
    void settled.then(finish);
  }

  /** Give a send to the `message` listeners; a promise when some returned one (settles when all did). */
  #emitMessage(payload: Buffer, binary: boolean, info: ResumeSendInfo): Promise<void> | null {
    const ws = this.ws;
    const data = binary ? toMessageData(payload, ws.binaryType) : payload;
    let pending: Array<PromiseLike<unknown>> | null = null;
    for (const listener of ws.rawListeners('message') as Array<(...args: unknown[]) => unknown>) {
      try {
        const result = listener.call(ws, data, binary, info);
        if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') (pending ??= []).push(result as PromiseLike<unknown>);
      } catch (error) {
        this.#report(error);
      }
    }
    if (pending === null) return null;
    return Promise.allSettled(pending).then((results) => {
      for (const result of results) if (result.status === 'rejected') this.#report(result.reason);
    });
  }

  #scheduleAck(): void {
    if (this.#ackScheduled) return;
    this.#ackScheduled = true;
    setImmediate(() => {
      this.#ackScheduled = false;
      const unacked = this.#unacked;
      let done = 0;
      while (done < unacked.length && unacked[done]!.done) done++;
      if (done === 0) return;
      const seq = unacked[done - 1]!.seq;
      unacked.splice(0, done);
      if (seq > this.#committed) {
        // Claim-after-apply: recorded applied now that the handlers settled, even if the connection is
        // gone (its handlers ran); the ack follows the record.
        this.#committed = seq;
        this.#commits = this.#commits.then(() => this.#commit(seq));
      }
      void this.#commits.then(() => {
        if (seq <= this.#acked || this.#failed || this.ws.readyState !== ReadyState.OPEN) return;
        this.#acked = seq;
        this.ws.send(encodeAckFrame(seq), this.#mustArrive);
      });
    });
  }

  /** Record the sends up to `seq` applied; when that fails, close 1013 unacked (the client re-sends them). */
  async #commit(seq: number): Promise<void> {
    try {
      await this.#service.dedupe.commit(this.#session!, seq);
    } catch (error) {
      // Not recorded: a re-send would be applied again (the lease only delays that). Acking now would
      // hide nothing from the client (an acked send is never re-sent), but an ack lost with the link
      // would: close, and let the re-send be redelivered (the handler's idempotency key absorbs it).
      this.fail(CloseCode.TryAgainLater, `Cannot record sends: ${(error as Error).message}`);
    }
  }

  /** An exception of application code (a `message` listener, `authorize`): as `ws` reports a listener's. */
  #report(error: unknown): void {
    const failure = error instanceof Error ? error : new Error(String(error));
    if (this.ws.listenerCount('error') > 0) {
      try {
        this.ws.emit('error', failure);
        return;
      } catch (thrown) {
        process.nextTick(() => {
          throw thrown;
        });
        return;
      }
    }
    process.nextTick(() => {
      throw failure;
    });
  }
}

/** How often a send whose lease another connection holds is claimed again, in ms. */
const CLAIM_RETRY_MS = 50;

/** A `sub` whose `authorize` has not answered yet. */
interface Authorizing {
  readonly authorizing: true;
}

/** A close reason of at most 123 UTF-8 bytes (RFC 6455 §5.5: 125 bytes of payload with the code). */
function closeReason(reason: string): string {
  let text = reason.length > MAX_CLOSE_REASON_BYTES ? reason.slice(0, MAX_CLOSE_REASON_BYTES) : reason;
  while (Buffer.byteLength(text) > MAX_CLOSE_REASON_BYTES) text = text.slice(0, -1);
  return text;
}

