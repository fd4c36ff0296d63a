/**
 * A small fake server of the resume subprotocol `fullduplex.resume.v1` for the clients' tests: a
 * WebSocketServer of this repo that selects the subprotocol (or not, `select = false`), speaks the wire
 * with the codec (src/protocol/resume-wire.ts), keeps per topic an in-memory history (epoch, first kept
 * offset, messages) that `publish`, `trim` and `newEpoch` script, and answers by default as a real server
 * would: `welcome` to `hello`, `subscribed` plus the replay to `sub` (with `gap` when the history asked
 * for is gone), `unsubscribed` to `unsub`, and an ack to every send (applied once per (session, seq)).
 * Each `auto*` switch turns one answer off so that a test can script it (and break the protocol) by hand
 * through the `PeerConnection`. Listens on 127.0.0.1, port 0 (or the same port again after `restart`).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Wakeups } from './wait.js';
import { WebSocketServer, type WebSocket as ServerSocket } from '../../src/node/index.js';
import {
  RESUME_SUBPROTOCOL,
  RESUME_VERSION,
  ResumeError,
  decodeClientControl,
  decodeClientFrame,
  decodeText,
  encodeAckFrame,
  encodeDataFrame,
  encodeServerControl,
  encodeText,
  type ClientControl,
  type ResumeGapReason,
  type ServerControl,
} from '../../src/protocol/resume-wire.js';
import { scaled } from './time.js';

/** One topic's history on the peer. */
export interface PeerTopic {
  readonly name: string;
  readonly alias: number;
  epoch: string;
  /** The offset of `messages[0]` (1 until trimmed). */
  first: number;
  messages: Array<string | Uint8Array>;
}

/** A send the peer received: which connection, its seq, its text (binary: hex prefixed with "0x"). */
export interface PeerSend {
  readonly connection: number;
  readonly session: string;
  readonly seq: number;
  readonly data: string;
}

export class PeerConnection {
  readonly index: number;
  readonly ws: ServerSocket;
  /** The session of the `hello` (null before it). */
  session: string | null = null;
  /** What the client sent, in order: control messages as their JSON text, sends as "send <seq> <data>". */
  readonly log: string[] = [];
  /** The topics live on this connection (their `subscribed` was sent). */
  readonly live = new Set<string>();
  /** The client's close code and reason, once the connection closed. */
  closed: { code: number; reason: string } | null = null;

  constructor(index: number, ws: ServerSocket) {
    this.index = index;
    this.ws = ws;
  }

  control(message: ServerControl): void {
    this.ws.send(encodeServerControl(message));
  }

  /** A data frame of `topic` (its alias on the peer) at `offset`, as is (no check: tests break the protocol with it). */
  data(topic: PeerTopic, offset: number, data: string | Uint8Array): void {
    const binary = typeof data !== 'string';
    this.ws.send(encodeDataFrame(topic.alias, offset, binary ? data : encodeText(data), binary));
  }

  ack(seq: number): void {
    this.ws.send(encodeAckFrame(seq));
  }

  /** Anything, as a text (string) or binary frame. */
  raw(data: string | Uint8Array): void {
    this.ws.send(data);
  }

  /** Drop the connection without a closing handshake (as a crashed server or a cut link: 1006 for the client). */
  drop(): void {
    this.ws.terminate();
  }
}

export class ResumePeer {
  wss: WebSocketServer | null = null;
  port = 0;
  /** Select the subprotocol in the handshake (false: select none, as a server that does not speak it). */
  select = true;
  autoWelcome = true;
  autoSubscribe = true;
  autoAck = true;
  readonly connections: PeerConnection[] = [];
  readonly topics = new Map<string, PeerTopic>();
  /** Every send received, re-sends included. */
  readonly sends: PeerSend[] = [];
  /** The sends applied: each (session, seq) once, in the order first received. */
  readonly applied: PeerSend[] = [];
  readonly #appliedKeys = new Set<string>();
  #nextAlias = 7;
  readonly #wakeups = new Wakeups();

  static async start(): Promise<ResumePeer> {
    const peer = new ResumePeer();
    await peer.listen();
    return peer;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  async listen(): Promise<void> {
    const wss = new WebSocketServer({
      port: this.port,
      host: '127.0.0.1',
      heartbeat: false,
      handleProtocols: (offered) => (this.select && offered.has(RESUME_SUBPROTOCOL) ? RESUME_SUBPROTOCOL : false),
    });
    await once(wss, 'listening');
    this.port = (wss.address() as AddressInfo).port;
    wss.on('connection', (ws) => this.#accept(ws));
    this.wss = wss;
  }

  /** Stop listening and close every connection (1001 Going Away, as a server shutting down). */
  async stop(): Promise<void> {
    const wss = this.wss;
    this.wss = null;
    if (wss !== null) await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  /** Stop, then listen again on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    await this.listen();
  }

  /** The topic's history (created empty, epoch "e1", on first use). */
  topic(name: string): PeerTopic {
    let topic = this.topics.get(name);
    if (topic === undefined) {
      topic = { name, alias: this.#nextAlias++, epoch: 'e1', first: 1, messages: [] };
      this.topics.set(name, topic);
    }
    return topic;
  }

  /** The latest offset of `topic` (first - 1 when nothing is kept). */
  top(name: string): number {
    const topic = this.topic(name);
    return topic.first + topic.messages.length - 1;
  }

  /** Append to the history and send to every connection where the topic is live; returns the offset. */
  publish(name: string, data: string | Uint8Array): number {
    const topic = this.topic(name);
    topic.messages.push(data);
    const offset = this.top(name);
    for (const connection of this.connections) {
      if (connection.closed === null && connection.live.has(name)) connection.data(topic, offset, data);
    }
    return offset;
  }

  /** Keep only the last `keep` messages. */
  trim(name: string, keep: number): void {
    const topic = this.topic(name);
    const drop = Math.max(0, topic.messages.length - keep);
    topic.messages = topic.messages.slice(drop);
    topic.first += drop;
  }

  /** A new history (everything before is gone): offsets start again at 1; live subscribers get a `reset`. */
  newEpoch(name: string, epoch: string): void {
    const topic = this.topic(name);
    topic.epoch = epoch;
    topic.first = 1;
    topic.messages = [];
    for (const connection of this.connections) {
      if (connection.closed === null && connection.live.has(name)) connection.control({ t: 'reset', alias: topic.alias, epoch, offset: 0, reason: 'epoch' });
    }
  }

  /** The `n`th connection (0 for the first), once it is there. */
  async connection(n: number): Promise<PeerConnection> {
    await this.until(`connection ${n}`, () => this.connections.length > n);
    return this.connections[n]!;
  }

  /** Wait (with a scaled guard) until `ready()` holds; checked on every event of the peer and every 20 ms. */
  until(what: string, ready: () => boolean): Promise<void> {
    return this.#wakeups.until(what, ready, scaled(10_000));
  }

  #wake(): void {
    this.#wakeups.wake();
  }

  #accept(ws: ServerSocket): void {
    const connection = new PeerConnection(this.connections.length, ws);
    this.connections.push(connection);
    ws.on('error', () => {});
    ws.on('close', (code, reason) => {
      connection.closed = { code, reason: reason.toString() };
      this.#wake();
    });
    ws.on('message', (data, isBinary) => {
      try {
        if (isBinary) this.#onSend(connection, data as Buffer);
        else this.#onControl(connection, decodeClientControl((data as Buffer).toString()), (data as Buffer).toString());
      } catch (error) {
        if (!(error instanceof ResumeError)) throw error;
        connection.log.push(`error ${error.code}`);
        ws.close(error.closeCode, error.code);
      }
      this.#wake();
    });
    this.#wake();
  }

  #onControl(connection: PeerConnection, message: ClientControl, text: string): void {
    connection.log.push(text);
    switch (message.t) {
      case 'hello':
        connection.session = message.session;
        if (this.autoWelcome) connection.control({ t: 'welcome', v: RESUME_VERSION, session: message.session });
        return;
      case 'sub': {
        if (!this.autoSubscribe) return;
        const topic = this.topic(message.topic);
        const top = this.top(message.topic);
        let after: number;
        let gap: ResumeGapReason | null = null;
        if (message.from === undefined) after = top;
        else if (message.from.epoch !== null && message.from.epoch !== topic.epoch) {
          gap = 'epoch';
          after = topic.first - 1;
        } else if (message.from.offset < topic.first - 1) {
          gap = 'trimmed';
          after = topic.first - 1;
        } else after = Math.min(message.from.offset, top);
        const replay = topic.messages.slice(after - (topic.first - 1));
        connection.control({ t: 'subscribed', id: message.id, topic: topic.name, alias: topic.alias, epoch: topic.epoch, offset: after, replay: replay.length, gap });
        replay.forEach((data, i) => connection.data(topic, after + 1 + i, data));
        connection.live.add(topic.name);
        return;
      }
      case 'unsub':
        connection.live.delete(message.topic);
        connection.control({ t: 'unsubscribed', id: message.id, topic: message.topic });
        return;
    }
  }

  #onSend(connection: PeerConnection, bytes: Buffer): void {
    const frame = decodeClientFrame(bytes);
    const data = frame.binary ? `0x${Buffer.from(frame.payload).toString('hex')}` : decodeText(frame.payload);
    connection.log.push(`send ${frame.seq} ${data}`);
    const send: PeerSend = { connection: connection.index, session: connection.session ?? '', seq: frame.seq, data };
    this.sends.push(send);
    const key = `${send.session}:${send.seq}`;
    if (!this.#appliedKeys.has(key)) {
      this.#appliedKeys.add(key);
      this.applied.push(send);
    }
    if (this.autoAck) connection.ack(frame.seq);
  }
}
