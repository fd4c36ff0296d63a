/**
 * The inspector's wire tap: watches the bytes of one upgraded socket in both directions and decodes
 * them into frame records with the library's own sans-I/O `FrameParser`, without touching the
 * connection's code path.
 *
 * - Incoming: a `data` listener added before `handleUpgrade` runs (so it sees every chunk before the
 *   connection does) copies each chunk (the connection unmasks chunks in place afterwards), plus the
 *   `head` bytes that arrived with the upgrade request.
 * - Outgoing: `socket.write` is wrapped on that one socket instance. The first bytes written are the
 *   HTTP 101 response (its headers are captured), then frames.
 *
 * Over HTTP/2 (RFC 8441) the tapped "socket" is the WebSocket's stream: its bytes are the frames alone,
 * and the handshake is the extended CONNECT's headers (pseudo-headers included) and the response
 * headers given to `stream.respond` (`:status 200`), which is wrapped the same way as `write`.
 *
 * Each direction has its own parser (role `server` for the client's masked frames, `client` for the
 * server's). If a parser ever throws, the tap stops for that connection: the real connection is never
 * affected by anything that happens here.
 *
 * Compressed messages (permessage-deflate, RSV1 on the first frame): the frame records show the wire
 * length, "compressed", and the compressed bytes as hex; once the message is complete, the tap
 * inflates it itself, with its own copy of the sender's sliding window (the last 32 KiB it inflated in
 * that direction, given to zlib as the dictionary, which covers context takeover and its absence
 * alike), and sends a `decoded` event with the message's text (or hex) for the first frame's row.
 * Messages over 1 MiB compressed are not inflated, and from then on that direction's later compressed
 * messages stay hex (the window is lost).
 *
 * The events' types, shared with the page, are in `inspector-page/src/feed.d.ts`.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { constants as zlib, inflateRawSync } from 'node:zlib';
import { closeCodeName } from '../../protocol/close-codes.js';
import { FrameParser, type FrameSink } from '../../protocol/frame-parser.js';
import type { DecodedEvent, Direction, FrameRecord, HeaderBlock, HttpVersion, TapEvent } from '../../../inspector-page/src/feed.js';

/** How many payload bytes a frame record carries for its preview. */
export const PREVIEW_BYTES = 512;

const OPCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'continuation',
  1: 'text',
  2: 'binary',
  8: 'close',
  9: 'ping',
  10: 'pong',
};

export function opcodeName(opcode: number): string {
  return OPCODE_NAMES[opcode] ?? `0x${opcode.toString(16)}`;
}

/** Text if the bytes are valid UTF-8 (and were meant as text), else hex. */
export function previewOf(bytes: Buffer, asText: boolean, total: number): { preview: string; previewKind: 'text' | 'hex' | 'empty'; truncated: boolean } {
  if (total === 0) return { preview: '', previewKind: 'empty', truncated: false };
  const truncated = total > bytes.length;
  if (asText) {
    // A cut may split a UTF-8 sequence: drop a broken tail (at most 3 bytes) rather than show U+FFFD.
    for (let cut = 0; cut <= (truncated ? 3 : 0); cut++) {
      const part = bytes.subarray(0, bytes.length - cut);
      const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
      try {
        return { preview: text.decode(part), previewKind: 'text', truncated };
      } catch {
        // try a shorter cut
      }
    }
  }
  return { preview: bytes.subarray(0, Math.min(bytes.length, 128)).toString('hex'), previewKind: 'hex', truncated: truncated || bytes.length > 128 };
}

/** The largest compressed message the tap inflates, and the most it inflates it to. */
const MAX_INFLATE_INPUT = 1024 * 1024;
const MAX_INFLATE_OUTPUT = 16 * 1024 * 1024;
const WINDOW = 32 * 1024;
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** One direction's decoder: a FrameParser whose sink builds records. */
class DirectionDecoder implements FrameSink {
  private readonly parser: FrameParser;
  private readonly dir: Direction;
  private readonly emit: (record: FrameRecord) => number;
  private readonly emitDecoded: (event: DecodedEvent) => void;
  /** The compressed message being received: its first frame's seq, and its bytes (null: too big). */
  private deflatedSeq = 0;
  private deflated: Buffer[] | null = null;
  private deflatedBytes = 0;
  /** The sender's sliding window, as far as the tap knows it (null: lost). */
  private window: Buffer | null = Buffer.alloc(0);
  private opcode = 0;
  private fin = false;
  private rsv = 0;
  private length = 0;
  private preview: Buffer[] = [];
  private previewBytes = 0;
  /** The opcode and compression of the message a continuation frame belongs to. */
  private messageOpcode = 0;
  private messageCompressed = false;

  constructor(dir: Direction, emit: (record: FrameRecord) => number, emitDecoded: (event: DecodedEvent) => void) {
    this.dir = dir;
    this.emit = emit;
    this.emitDecoded = emitDecoded;
    // Tolerant of every reserved bit: the real connection enforces the rules, the tap only reports.
    this.parser = new FrameParser({ role: dir === 'in' ? 'server' : 'client', allowedRsv: 0x70 }, this);
  }

  push(chunk: Buffer): void {
    this.parser.push(chunk);
  }

  onFrameHeader(opcode: number, fin: boolean, rsv: number, length: number): void {
    this.opcode = opcode;
    this.fin = fin;
    this.rsv = rsv;
    this.length = length;
    this.preview = [];
    this.previewBytes = 0;
    if (opcode === 1 || opcode === 2) {
      this.messageOpcode = opcode;
      this.messageCompressed = (rsv & 0x40) !== 0;
      this.deflated = this.messageCompressed && this.window !== null ? [] : null;
      this.deflatedBytes = 0;
    }
  }

  /** The compressed message is complete: inflate it with the window so far. */
  private inflate(): void {
    const parts = this.deflated;
    const window = this.window;
    this.deflated = null;
    if (parts === null || window === null) return;
    let data: Buffer;
    try {
      data = inflateRawSync(Buffer.concat([...parts, DEFLATE_TAIL]), {
        ...(window.length > 0 ? { dictionary: window } : {}),
        finishFlush: zlib.Z_SYNC_FLUSH,
        maxOutputLength: MAX_INFLATE_OUTPUT,
      });
    } catch {
      this.window = null;
      return;
    }
    this.window = data.length >= WINDOW ? Buffer.from(data.subarray(data.length - WINDOW)) : Buffer.concat([window, data]).subarray(-WINDOW);
    const preview = previewOf(data.subarray(0, PREVIEW_BYTES), this.messageOpcode === 1, data.length);
    this.emitDecoded({ type: 'decoded', seq: this.deflatedSeq, ...preview, length: data.length });
  }

  onFramePayload(data: Buffer, last: boolean): void {
    if (this.messageCompressed && this.opcode <= 2 && this.deflated !== null && data.length > 0) {
      this.deflatedBytes += data.length;
      if (this.deflatedBytes > MAX_INFLATE_INPUT) {
        this.deflated = null;
        this.window = null;
      } else {
        this.deflated.push(Buffer.from(data));
      }
    }
    if (this.previewBytes < PREVIEW_BYTES && data.length > 0) {
      const take = data.subarray(0, PREVIEW_BYTES - this.previewBytes);
      this.preview.push(Buffer.from(take));
      this.previewBytes += take.length;
    }
    if (!last) return;
    const bytes = Buffer.concat(this.preview, this.previewBytes);
    const opcode = this.opcode;
    const isData = opcode <= 2;
    const compressed = isData && this.messageCompressed;
    const record: FrameRecord = {
      type: 'frame',
      seq: 0,
      time: Date.now(),
      dir: this.dir,
      opcode,
      opcodeName: opcodeName(opcode),
      fin: this.fin,
      rsv1: (this.rsv & 0x40) !== 0,
      masked: this.dir === 'in',
      length: this.length,
      compressed,
      ...previewOf(bytes, isData && !compressed && this.messageOpcode === 1, this.length),
    };
    if (opcode === 8) {
      record.previewKind = 'close';
      if (bytes.length >= 2) {
        const code = bytes.readUInt16BE(0);
        record.closeCode = code;
        record.closeName = closeCodeName(code);
        record.closeReason = bytes.subarray(2).toString('utf8');
        record.preview = `${code} ${record.closeName}${record.closeReason === '' ? '' : ` "${record.closeReason}"`}`;
      } else {
        record.preview = '(no status code)';
      }
    } else if (opcode === 9 || opcode === 10) {
      Object.assign(record, previewOf(bytes, true, this.length));
    }
    const seq = this.emit(record);
    if (compressed && opcode !== 0) this.deflatedSeq = seq;
    if (compressed && this.fin) this.inflate();
  }
}

/** Find the end of an HTTP head (`\r\n\r\n`) in `bytes`; -1 when not there yet. */
function headEnd(bytes: Buffer): number {
  const at = bytes.indexOf('\r\n\r\n');
  return at === -1 ? -1 : at + 4;
}

function parseHead(text: string): HeaderBlock {
  const [line = '', ...rest] = text.split('\r\n').filter((l) => l !== '');
  const headers: Array<[string, string]> = [];
  for (const header of rest) {
    const colon = header.indexOf(':');
    if (colon > 0) headers.push([header.slice(0, colon).trim(), header.slice(colon + 1).trim()]);
  }
  return { line, headers };
}

/** What the tap reads of a request: an `IncomingMessage`, or an `Http2ServerRequest`. */
export interface TappedRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly httpVersion: string;
  readonly httpVersionMajor: number;
  readonly rawHeaders: readonly string[];
}

export function httpVersionOf(request: TappedRequest): HttpVersion {
  return request.httpVersionMajor === 2 ? '2' : '1.1';
}

export function requestHead(request: TappedRequest): HeaderBlock {
  const headers: Array<[string, string]> = [];
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) headers.push([request.rawHeaders[i]!, request.rawHeaders[i + 1]!]);
  // HTTP/2 has no request line (RFC 9113 §8.3.1): the line stands for the pseudo-headers listed below it.
  const version = httpVersionOf(request) === '2' ? 'HTTP/2' : `HTTP/${request.httpVersion}`;
  return { line: `${request.method ?? 'GET'} ${request.url ?? '/'} ${version}`, headers };
}

/** The headers a stream was answered with, as a block: `:status` first, as on the wire. */
export function http2ResponseHead(headers: OutgoingHttpHeaders | undefined): HeaderBlock {
  const status = String(headers?.[':status'] ?? 200);
  const list: Array<[string, string]> = [[':status', status]];
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name === ':status' || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) list.push([name, String(one)]);
  }
  return { line: `HTTP/2 ${status}`, headers: list };
}

type Write = Duplex['write'];

/**
 * Tap `socket` (call before `handleUpgrade`). `onEvent` receives the handshake (once the 101 response
 * is written), then one record per frame in either direction.
 */
export class SocketTap {
  private readonly socket: Duplex;
  private readonly onEvent: (event: TapEvent) => void;
  private readonly request: TappedRequest;
  private readonly http: HttpVersion;
  /** The stream's own `respond`, while wrapped (HTTP/2 only). */
  private originalRespond: ServerHttp2Stream['respond'] | null = null;
  private readonly incoming: DirectionDecoder;
  private readonly outgoing: DirectionDecoder;
  private readonly originalWrite: Write;
  private readonly onData: (chunk: Buffer) => void;
  /** Outgoing bytes until the end of the 101 response. */
  private responseHead: Buffer[] | null = [];
  private stopped = false;
  private seq = 0;

  constructor(socket: Duplex, request: TappedRequest, head: Buffer, onEvent: (event: TapEvent) => void) {
    this.socket = socket;
    this.request = request;
    this.http = httpVersionOf(request);
    this.onEvent = onEvent;
    const record = (frame: FrameRecord): number => {
      frame.seq = ++this.seq;
      this.onEvent(frame);
      return frame.seq;
    };
    const decoded = (event: DecodedEvent): void => this.onEvent(event);
    this.incoming = new DirectionDecoder('in', record, decoded);
    this.outgoing = new DirectionDecoder('out', record, decoded);

    this.onData = (chunk: Buffer): void => this.guard(() => this.incoming.push(Buffer.from(chunk)));
    socket.on('data', this.onData);
    if (head.length > 0) this.guard(() => this.incoming.push(Buffer.from(head)));

    const original = socket.write;
    this.originalWrite = original;
    const tap = this;
    socket.write = function (this: Duplex, chunk: unknown, ...rest: unknown[]): boolean {
      tap.observeOutgoing(chunk);
      return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as Write;

    if (this.http === '2') {
      // No HTTP response head among the bytes: the handshake's answer is the stream's `respond`.
      this.responseHead = null;
      const stream = socket as ServerHttp2Stream;
      const respond = stream.respond;
      this.originalRespond = respond;
      stream.respond = function (this: ServerHttp2Stream, headers?: OutgoingHttpHeaders, options?: Parameters<ServerHttp2Stream['respond']>[1]): void {
        tap.observeRespond(headers);
        respond.call(this, headers, options);
      };
    }
  }

  private observeRespond(headers: OutgoingHttpHeaders | undefined): void {
    this.guard(() => {
      this.onEvent({ type: 'handshake', http: this.http, request: requestHead(this.request), response: http2ResponseHead(headers) });
    });
  }

  private observeOutgoing(chunk: unknown): void {
    if (this.stopped) return;
    this.guard(() => {
      let bytes: Buffer;
      if (typeof chunk === 'string') bytes = Buffer.from(chunk, 'latin1');
      else if (Buffer.isBuffer(chunk)) bytes = Buffer.from(chunk);
      else if (chunk instanceof Uint8Array) bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      else return;
      if (bytes.length === 0) return;
      if (this.responseHead !== null) {
        this.responseHead.push(bytes);
        const all = Buffer.concat(this.responseHead);
        const end = headEnd(all);
        if (end === -1) {
          if (all.length > 65536) throw new Error('no end of the HTTP response head');
          return;
        }
        this.responseHead = null;
        this.onEvent({ type: 'handshake', http: this.http, request: requestHead(this.request), response: parseHead(all.subarray(0, end).toString('latin1')) });
        bytes = all.subarray(end);
        if (bytes.length === 0) return;
      }
      this.outgoing.push(bytes);
    });
  }

  private guard(run: () => void): void {
    if (this.stopped) return;
    try {
      run();
    } catch (error) {
      this.stop(`the tap could not decode the stream: ${(error as Error).message}`);
    }
  }

  /** Stop observing (the connection goes on untouched). */
  stop(reason = 'stopped'): void {
    if (this.stopped) return;
    this.stopped = true;
    this.socket.off('data', this.onData);
    this.socket.write = this.originalWrite;
    if (this.originalRespond !== null) (this.socket as ServerHttp2Stream).respond = this.originalRespond;
    this.onEvent({ type: 'tap-stopped', reason });
  }
}
