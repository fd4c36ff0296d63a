/**
 * The server's side of the wire: parse what a server sent (RFC 6455 §5.2), check it is itself legal
 * (unmasked §5.1, no reserved bits or opcodes, control frames whole and short §5.5, a close frame
 * with a sendable code and UTF-8 reason §5.5.1/§7.4 — never 1005, 1006 or 1015 — and last), and
 * compare it with what the server owed the client for the events of its stream.
 */
import { constants, inflateRawSync } from 'node:zlib';
import { readFrames } from '../../helpers/frames.js';
import type { WireEvent } from './events.js';
import { isSendableCloseCode, isUtf8Text } from './model.js';

/** Codes an endpoint may fail a connection with (RFC 6455 §7.4.1): protocol, data, policy, size, extension, internal. */
export const FAILURE_CODES: ReadonlySet<number> = new Set([1002, 1003, 1007, 1008, 1009, 1010, 1011]);

export function isLegalFailureCode(code: number): boolean {
  return FAILURE_CODES.has(code);
}

export type OutputEvent =
  | { type: 'message'; isBinary: boolean; data: Buffer }
  | { type: 'ping' | 'pong'; data: Buffer }
  /** `code` null: a close frame without a body. */
  | { type: 'close'; code: number | null; reason: Buffer };

export interface ParsedOutput {
  events: OutputEvent[];
  /** Violations of the RFC by the server's own frames. */
  problems: string[];
  /** Bytes at the end that do not make a whole frame. */
  trailing: number;
}

const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * Parse a server's frames and reassemble its messages. With `deflate` (negotiated with
 * server_no_context_takeover), RSV1 marks a compressed message, inflated on its own (RFC 7692 §7.2.2).
 */
export function parseServerOutput(bytes: Buffer, deflate = false): ParsedOutput {
  const events: OutputEvent[] = [];
  const problems: string[] = [];
  let message: { isBinary: boolean; compressed: boolean; pieces: Buffer[] } | null = null;
  let closed = false;
  const { frames, used } = readFrames(bytes);
  for (const { fin, rsv, opcode, masked, payload } of frames) {
    if (masked) problems.push('masked frame from the server (§5.1)');
    const length = payload.length;
    if (closed) problems.push(`frame (opcode ${opcode}) after the close frame (§5.5.1)`);
    const firstOfMessage = opcode === 0x1 || opcode === 0x2;
    if (rsv !== 0 && !(deflate && rsv === 4 && firstOfMessage)) problems.push(`RSV bits ${rsv} set by the server on opcode ${opcode} (§5.2, RFC 7692 §6)`);
    if (opcode >= 0x8) {
      if (!fin) problems.push('fragmented control frame (§5.5)');
      if (length > 125) problems.push('control frame over 125 bytes (§5.5)');
      if (opcode === 0x9 || opcode === 0xa) {
        events.push({ type: opcode === 0x9 ? 'ping' : 'pong', data: payload });
      } else if (opcode === 0x8) {
        closed = true;
        if (payload.length === 1) problems.push('close frame with a 1-byte body (§5.5.1)');
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
        const reason = payload.subarray(2);
        if (code !== null && !isSendableCloseCode(code)) problems.push(`close code ${code} sent on the wire (§7.4.1)`);
        if (!isUtf8Text(reason)) problems.push('close reason is not UTF-8 (§5.5.1)');
        events.push({ type: 'close', code, reason });
      } else {
        problems.push(`reserved control opcode ${opcode} (§5.2)`);
      }
      continue;
    }
    if (opcode === 0x0) {
      if (message === null) {
        problems.push('continuation frame without a message (§5.4)');
        continue;
      }
    } else if (opcode === 0x1 || opcode === 0x2) {
      if (message !== null) problems.push('new message inside a fragmented one (§5.4)');
      message = { isBinary: opcode === 0x2, compressed: rsv === 4, pieces: [] };
    } else {
      problems.push(`reserved data opcode ${opcode} (§5.2)`);
      continue;
    }
    message.pieces.push(payload);
    if (fin) {
      let data = Buffer.concat(message.pieces);
      if (message.compressed) {
        try {
          data = inflateRawSync(Buffer.concat([data, DEFLATE_TAIL]), { finishFlush: constants.Z_SYNC_FLUSH });
        } catch (error) {
          problems.push(`a compressed message from the server does not inflate: ${(error as Error).message}`);
        }
      }
      if (!message.isBinary && !isUtf8Text(data)) problems.push('text message from the server is not UTF-8 (§8.1)');
      events.push({ type: 'message', isBinary: message.isBinary, data });
      message = null;
    }
  }
  return { events, problems, trailing: bytes.length - used };
}

/**
 * What a server owes the client for the events of its stream: a pong per ping with the same data
 * (§5.5.2, answered automatically), the echo of each message if the application echoes, and the
 * closing: the peer's code echoed (no body if it sent none, §5.5.1), or on failure a close frame with
 * the failure's code (§7.1.7), or nothing while the connection is open.
 */
export function owedOutput(events: readonly WireEvent[], echo: boolean): OutputEvent[] {
  const owed: OutputEvent[] = [];
  for (const event of events) {
    switch (event.type) {
      case 'ping':
        owed.push({ type: 'pong', data: event.data });
        break;
      case 'message':
        if (echo) owed.push({ type: 'message', isBinary: event.isBinary, data: event.data });
        break;
      case 'close':
        owed.push({ type: 'close', code: event.code === 1005 ? null : event.code, reason: Buffer.alloc(0) });
        break;
      case 'error':
        owed.push({ type: 'close', code: event.closeCode, reason: Buffer.alloc(0) });
        break;
      case 'pong':
        break;
    }
  }
  return owed;
}

function describe(event: OutputEvent | undefined): string {
  if (event === undefined) return 'nothing';
  if (event.type === 'close') return `close frame ${event.code ?? '(no code)'}`;
  if (event.type === 'message') return `${event.isBinary ? 'binary' : 'text'} message of ${event.data.length} bytes`;
  return `${event.type} of ${event.data.length} bytes`;
}

export interface CompareOptions {
  /**
   * Pongs must match exactly, else be a subsequence of the owed ones: a server may coalesce the
   * answers to pings while its peer is not reading (§5.5.3: only the most recent needs an answer).
   */
  exactPongs: boolean;
  /**
   * The echoes sent may stop short of the owed ones (a prefix): when the server compresses them
   * (asynchronously) and the connection fails or the client leaves meanwhile, what is still being
   * compressed is dropped, as failing the connection allows (§7.1.7).
   */
  echoesMayStopShort: boolean;
}

/**
 * Compare what the server sent with what it owed. Messages must match exactly and in order; the close
 * frame's code must match and come last (its reason is free on failure); pongs as `options` say.
 */
export function compareOutput(owed: readonly OutputEvent[], sent: readonly OutputEvent[], options: CompareOptions): string[] {
  const { exactPongs, echoesMayStopShort } = options;
  const problems: string[] = [];
  const of = (list: readonly OutputEvent[], type: OutputEvent['type']): OutputEvent[] => list.filter((e) => e.type === type);

  const owedMessages = of(owed, 'message');
  const sentMessages = of(sent, 'message');
  const checked = echoesMayStopShort ? sentMessages.length : Math.max(owedMessages.length, sentMessages.length);
  for (let i = 0; i < checked; i++) {
    const o = owedMessages[i];
    const s = sentMessages[i];
    if (o?.type === 'message' && s?.type === 'message' && o.isBinary === s.isBinary && o.data.equals(s.data)) continue;
    problems.push(`echo #${i}: owed ${describe(o)}, sent ${describe(s)}`);
    break;
  }

  const pongs = (list: readonly OutputEvent[]): Buffer[] => list.flatMap((e) => (e.type === 'pong' ? [e.data] : []));
  const owedPongs = pongs(owed);
  const sentPongs = pongs(sent);
  if (exactPongs) {
    const same = owedPongs.length === sentPongs.length && owedPongs.every((data, i) => data.equals(sentPongs[i]!));
    if (!same) problems.push(`pongs: owed ${owedPongs.length}, sent ${sentPongs.length} (or with other data)`);
  } else {
    let j = 0;
    for (const data of sentPongs) {
      while (j < owedPongs.length && !owedPongs[j]!.equals(data)) j++;
      if (j === owedPongs.length) {
        problems.push('a pong the server sent answers no ping, or comes out of order');
        break;
      }
      j++;
    }
  }
  if (of(sent, 'ping').length > 0) problems.push('the server sent a ping (heartbeat is off)');

  const owedClose = owed.find((e) => e.type === 'close');
  const sentClose = sent.find((e) => e.type === 'close');
  if (owedClose?.type !== sentClose?.type || (owedClose?.type === 'close' && sentClose?.type === 'close' && owedClose.code !== sentClose.code)) {
    problems.push(`closing: owed ${describe(owedClose)}, sent ${describe(sentClose)}`);
  }
  if (sentClose !== undefined && sent.at(-1) !== sentClose) problems.push('the close frame is not the last frame');
  return problems;
}

/**
 * RFC 6455 §5.5.2 owes a pong for every ping received before a close frame; §5.5.3 lets an endpoint
 * answer only the most recent one. So coalesced or not, the last ping's answer must be sent.
 */
export function lastPongProblem(owed: readonly OutputEvent[], sent: readonly OutputEvent[]): string | null {
  const lastOwed = owed.filter((e) => e.type === 'pong').at(-1);
  const lastSent = sent.filter((e) => e.type === 'pong').at(-1);
  if (lastOwed?.type !== 'pong' || (lastSent?.type === 'pong' && lastSent.data.equals(lastOwed.data))) return null;
  return `the most recent ping (${lastOwed.data.length} bytes) got no pong`;
}
