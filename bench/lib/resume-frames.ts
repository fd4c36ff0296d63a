/**
 * The light client side of the resume subprotocol `fullduplex.resume.v1` for load generators
 * (docs/recovery.md "Wire format"): frames read straight from the socket's chunks, the data frames'
 * envelope `[kind][alias varint][offset varint][payload]` decoded with the library's own varint reader,
 * the `subscribed` control message parsed, and the offsets checked (each must be the last one + 1). Not
 * the ResumingClient: no reconnecting, no sends; just enough for thousands of clients in one process.
 */
import { randomBytes } from 'node:crypto';
import { clientFrame } from './client-frames.js';
import { decodeVarint, ResumeKind, RESUME_BINARY_FLAG, RESUME_SUBPROTOCOL, type SubscribedMessage } from '../../src/protocol/resume-wire.js';

export { RESUME_SUBPROTOCOL };

/**
 * Splits a server's (unmasked, unfragmented) frame stream into frames, fed chunks of any size; the
 * payload given to `onFrame` is valid only during the call. A partial frame at the end of a chunk is
 * copied (the chunk may be a read buffer shared by every connection).
 */
export class ServerFrameReader {
  private pending: Buffer | null = null;
  constructor(private readonly onFrame: (opcode: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    const data = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    let at = 0;
    while (data.length - at >= 2) {
      const len7 = data[at + 1]! & 0x7f;
      let header = 2;
      let length = len7;
      if (len7 === 126) {
        if (data.length - at < 4) break;
        length = data.readUInt16BE(at + 2);
        header = 4;
      } else if (len7 === 127) {
        if (data.length - at < 10) break;
        length = Number(data.readBigUInt64BE(at + 2));
        header = 10;
      }
      if (data.length - at < header + length) break;
      this.onFrame(data[at]! & 0x0f, data.subarray(at + header, at + header + length));
      at += header + length;
    }
    if (at < data.length) this.pending = Buffer.from(data.subarray(at));
  }
}

/** The first messages of a resume connection: `hello`, then one `sub` (live only, or after `from`). */
export function resumeOpening(topic: string, from?: { epoch: string | null; offset: number }): Buffer {
  const hello = JSON.stringify({ t: 'hello', v: 1, session: randomBytes(9).toString('base64url') });
  const sub = JSON.stringify({ t: 'sub', id: 1, topic, ...(from !== undefined && { from }) });
  return Buffer.concat([clientFrame(Buffer.from(hello), { binary: false }), clientFrame(Buffer.from(sub), { binary: false })]);
}

export interface ResumeSubscriberHooks {
  /** The `subscribed` message arrived. */
  onSubscribed?(message: SubscribedMessage): void;
  /** A data frame of the topic: its offset, and whether it is one of the `replay` first ones. */
  onData?(offset: number, replayed: boolean): void;
}

/** One resume connection subscribed to one topic: feed it the connection's chunks. */
export class ResumeSubscriber {
  subscribed: SubscribedMessage | null = null;
  /** The last offset received (starts at `subscribed.offset`). */
  last = 0;
  /** Data frames received. */
  received = 0;
  /** Data frames whose offset was not the last one + 1 (a gap or a duplicate: must stay 0). */
  disorder = 0;
  /** Anything else that should not happen: error messages, resets, a close frame, unknown frames. */
  readonly problems: string[] = [];
  private readonly reader = new ServerFrameReader((opcode, payload) => this.frame(opcode, payload));

  constructor(private readonly hooks: ResumeSubscriberHooks = {}) {}

  push(chunk: Buffer): void {
    this.reader.push(chunk);
  }

  private frame(opcode: number, payload: Buffer): void {
    if (opcode === 0x2 && (payload[0]! & ~RESUME_BINARY_FLAG) === ResumeKind.Data) {
      const alias = decodeVarint(payload, 1);
      const { value: offset } = decodeVarint(payload, alias.end);
      if (this.subscribed === null || alias.value !== this.subscribed.alias) {
        this.problem(`data frame of alias ${alias.value} before its subscribed`);
        return;
      }
      if (offset !== this.last + 1) this.disorder++;
      this.last = offset;
      this.received++;
      this.hooks.onData?.(offset, this.received <= this.subscribed.replay);
    } else if (opcode === 0x1) {
      const message = JSON.parse(payload.toString('utf8')) as { t: string };
      if (message.t === 'welcome') return;
      if (message.t === 'subscribed') {
        this.subscribed = message as SubscribedMessage;
        this.last = this.subscribed.offset;
        this.hooks.onSubscribed?.(this.subscribed);
        return;
      }
      this.problem(payload.toString('utf8'));
    } else if (opcode === 0x8) {
      this.problem(`closed: ${payload.length >= 2 ? payload.readUInt16BE(0) : 1005} ${payload.subarray(2).toString('utf8')}`);
    } else if (opcode !== 0x9 && opcode !== 0xa) {
      this.problem(`unexpected frame, opcode ${opcode}`);
    }
  }

  private problem(text: string): void {
    if (this.problems.length < 5) this.problems.push(text);
  }
}
