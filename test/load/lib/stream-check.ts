/**
 * Checks one stream of messages (one kind, one connection) as it arrives: each message is the next
 * sequence number (no gap, duplicate or reordering), belongs to this connection, has the size and
 * opcode its number implies, and goes into a running CRC-32 to compare with the sender's at the end.
 */
import { checksum, isBinarySeq, payloadSize, readHeader } from './payload.js';

const MAX_REPORTED = 5;

export interface StreamTally {
  count: number;
  lastSeq: number;
  crc: number;
  bytes: number;
}

export class StreamCheck implements StreamTally {
  count = 0;
  lastSeq = 0;
  crc = 0;
  bytes = 0;
  /** The first few problems, described. */
  readonly problems: string[] = [];
  problemCount = 0;
  readonly kind: number;
  readonly id: number;

  constructor(kind: number, id: number) {
    this.kind = kind;
    this.id = id;
  }

  accept(payload: Buffer, isBinary: boolean): void {
    const expected = this.lastSeq + 1;
    const header = readHeader(payload);
    if (header === null) {
      this.problem(`message ${expected}: no valid header`);
    } else {
      const { kind, id, seq } = header;
      if (kind !== this.kind) this.problem(`message ${seq}: kind ${String.fromCharCode(kind)}, expected ${String.fromCharCode(this.kind)}`);
      if (id !== this.id) this.problem(`message ${seq}: for connection ${id}`);
      if (seq !== expected) this.problem(seq <= this.lastSeq ? `duplicate or reordered: ${seq} after ${this.lastSeq}` : `gap: ${seq} after ${this.lastSeq}`);
      if (payload.length !== payloadSize(kind, id, seq)) this.problem(`message ${seq}: ${payload.length} bytes, expected ${payloadSize(kind, id, seq)}`);
      if (isBinary !== isBinarySeq(seq)) this.problem(`message ${seq}: ${isBinary ? 'binary' : 'text'}, expected ${isBinary ? 'text' : 'binary'}`);
      this.lastSeq = seq;
    }
    this.count++;
    this.bytes += payload.length;
    this.crc = checksum(payload, this.crc);
  }

  /** Null if this stream holds exactly messages 1..count with checksum `crc`; otherwise what differs. */
  compare(count: number, crc: number): string | null {
    if (this.count !== count || this.lastSeq !== count) return `received ${this.count} messages (last ${this.lastSeq}), sender says ${count}`;
    if (this.crc !== crc) return `checksum ${this.crc.toString(16)}, sender's ${crc.toString(16)}`;
    return null;
  }

  get ok(): boolean {
    return this.problemCount === 0;
  }

  tally(): StreamTally {
    return { count: this.count, lastSeq: this.lastSeq, crc: this.crc, bytes: this.bytes };
  }

  private problem(text: string): void {
    this.problemCount++;
    if (this.problems.length < MAX_REPORTED) this.problems.push(`connection ${this.id}: ${text}`);
  }
}
