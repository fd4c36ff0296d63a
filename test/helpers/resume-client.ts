/**
 * A resuming client for tests: our `ws`-shaped client offering `fullduplex.resume.v1`, with the sans-I/O
 * ResumeState (src/protocol/resume-state.ts) as its brain. It records every event per topic and checks
 * nothing itself: tests assert on what it recorded. `reconnect(url)` opens a new connection with the same
 * state (same session, same positions, same unacked sends), to the same server or another.
 */
import { WebSocket } from '../../src/node/index.js';
import { ResumeState, type ResumeEvent, type ResumeStateOptions, type ResumeSubscribeOptions } from '../../src/protocol/resume-state.js';
import { decodeServerFrame, RESUME_SUBPROTOCOL, ResumeKind } from '../../src/protocol/resume-wire.js';
import { scaled } from './time.js';

export interface Received {
  readonly topic: string;
  readonly offset: number;
  readonly epoch: string;
  readonly data: string | Uint8Array;
  readonly replayed: boolean;
}

export class ResumeTestClient {
  readonly state: ResumeState;
  ws: WebSocket | null = null;
  readonly events: ResumeEvent[] = [];
  readonly received: Received[] = [];
  /** The offsets of the data frames as they came on the wire (before the client drops duplicates). */
  readonly wire: number[] = [];
  /** Close codes of the connections that ended. */
  readonly closes: number[] = [];
  /** The frames the client's brain could not accept (a protocol error of the server). */
  readonly errors: Error[] = [];

  constructor(options: ResumeStateOptions = {}) {
    this.state = new ResumeState(options);
  }

  static async connect(url: string, options: ResumeStateOptions & { subscribe?: Record<string, ResumeSubscribeOptions> } = {}): Promise<ResumeTestClient> {
    const client = new ResumeTestClient(options);
    for (const [topic, subscribe] of Object.entries(options.subscribe ?? {})) client.state.subscribe(topic, subscribe);
    await client.open(url);
    return client;
  }

  /** Open a connection (the state's hello, subs and unacked sends go first). */
  async open(url: string, protocols: string[] = [RESUME_SUBPROTOCOL]): Promise<void> {
    const ws = new WebSocket(url, protocols);
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data, isBinary) => {
      if (isBinary && ((data as Buffer)[0]! & 0x7f) === ResumeKind.Data) {
        try {
          const frame = decodeServerFrame(data as Buffer);
          if (frame.kind === 'data') this.wire.push(frame.offset);
        } catch {
          // the state reports it
        }
      }
      const events = this.state.onMessage(isBinary ? new Uint8Array(data as Buffer) : (data as Buffer).toString('utf8'));
      for (const event of events) {
        this.events.push(event);
        if (event.type === 'message') this.received.push({ topic: event.topic, offset: event.position.offset, epoch: event.position.epoch, data: event.data, replayed: event.replayed });
        if (event.type === 'error') {
          this.errors.push(event.error);
          if (ws.readyState === WebSocket.OPEN) ws.close(event.error.closeCode ?? 1002);
        }
      }
    });
    ws.on('close', (code) => {
      this.closes.push(code);
      if (this.ws === ws) this.state.onClose();
    });
    ws.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => {
        if (ws.protocol === RESUME_SUBPROTOCOL) for (const frame of this.state.onOpen()) ws.send(frame);
        resolve();
      });
      ws.once('error', reject);
    });
  }

  subscribe(topic: string, options: ResumeSubscribeOptions = {}): void {
    for (const frame of this.state.subscribe(topic, options)) this.ws!.send(frame);
  }

  unsubscribe(topic: string): void {
    for (const frame of this.state.unsubscribe(topic)) this.ws!.send(frame);
  }

  send(data: string | Uint8Array): number {
    const { seq, frame } = this.state.send(data);
    if (frame !== null) this.ws!.send(frame);
    return seq;
  }

  /** Messages of `topic` in the order received. */
  of(topic: string): Received[] {
    return this.received.filter((message) => message.topic === topic);
  }

  eventsOf(type: ResumeEvent['type']): ResumeEvent[] {
    return this.events.filter((event) => event.type === type);
  }

  /** Close the connection and wait for its end (the state keeps positions and unacked sends). */
  async drop(code = 1000): Promise<void> {
    const ws = this.ws;
    if (ws === null || ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    if (code === 1006) ws.terminate();
    else ws.close(code);
    await closed;
  }
}

/** Wait until `condition()` holds (polling), at most `ms` scaled. */
export async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + scaled(ms);
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The offsets of `received`. */
export function offsets(received: readonly Received[]): number[] {
  return received.map((message) => message.offset);
}

/** 1, 2, ... n (or from..to). */
export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}
