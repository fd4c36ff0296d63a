/**
 * A hand-made RFC 8441 client for server tests: an HTTP/2 session (Node's `http2.connect`) and
 * WebSockets opened on it by extended CONNECT, writing masked frames built by hand and reading the
 * server's frames raw, so that tests see exactly what crosses the stream (END_STREAM, RST_STREAM codes).
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { readFrames, type RawFrame } from './frames.js';
import { frame } from './protocol.js';
import { once, DEFAULT_TIMEOUT } from './node.js';
import { waitFor } from './protocol.js';

export async function h2Session(url: string): Promise<ClientHttp2Session> {
  const session = http2.connect(url, { rejectUnauthorized: false });
  session.on('error', () => {});
  await once(session, 'remoteSettings');
  return session;
}

/** One WebSocket over one stream of `session`, from the client's side. */
export class H2Peer {
  readonly stream: ClientHttp2Stream;
  readonly frames: RawFrame[] = [];
  response: IncomingHttpHeaders | null = null;
  /** Bytes of the response body (for a refusal). */
  body = '';
  /** The server's END_STREAM came (not a reset). */
  ended = false;
  aborted = false;
  closed = false;
  private buffer = Buffer.alloc(0);

  constructor(session: ClientHttp2Session, path = '/', headers: OutgoingHttpHeaders = {}, options: { read?: boolean } = {}) {
    this.stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': path, 'sec-websocket-version': '13', ...headers });
    this.stream.on('error', () => {});
    this.stream.on('response', (response) => {
      this.response = response;
    });
    this.stream.on('data', (chunk: Buffer) => {
      if (this.response !== null && Number(this.response[':status']) !== 200) {
        this.body += chunk.toString();
        return;
      }
      this.buffer = Buffer.concat([this.buffer, chunk]);
      const { frames, used } = readFrames(this.buffer);
      this.frames.push(...frames);
      this.buffer = this.buffer.subarray(used);
    });
    // The server's END_STREAM is answered with ours, as a TCP client answers a FIN. (Node also ends the
    // readable side just before reporting a reset, 'aborted': wait a turn to tell them apart.)
    this.stream.on('aborted', () => {
      this.aborted = true;
    });
    this.stream.on('end', () => {
      setImmediate(() => {
        if (this.aborted || this.stream.closed || this.stream.destroyed) return;
        this.ended = true;
        this.stream.end();
      });
    });
    this.stream.on('close', () => {
      this.closed = true;
    });
    if (options.read === false) this.stream.pause();
  }

  async opened(): Promise<IncomingHttpHeaders> {
    await waitFor(() => this.response !== null || this.closed, DEFAULT_TIMEOUT, 'the response');
    if (this.response === null) throw new Error(`stream closed without a response (rstCode ${this.stream.rstCode})`);
    return this.response;
  }

  send(opcode: number, payload: Buffer | string, options: { fin?: boolean; rsv?: number } = {}): void {
    this.stream.write(frame(opcode, payload, options));
  }

  /** Text and binary frames' payloads as strings, in order. */
  get messages(): string[] {
    return this.frames.filter((f) => f.opcode === 1 || f.opcode === 2).map((f) => f.payload.toString());
  }

  async framesAtLeast(count: number): Promise<RawFrame[]> {
    await waitFor(() => this.frames.length >= count, DEFAULT_TIMEOUT, `${count} frames`);
    return this.frames;
  }

  /** The close frame's code and reason, once it came. */
  async closeFrame(): Promise<{ code: number; reason: string }> {
    await waitFor(() => this.frames.some((f) => f.opcode === 8), DEFAULT_TIMEOUT, 'a close frame');
    const close = this.frames.find((f) => f.opcode === 8)!;
    return { code: close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005, reason: close.payload.subarray(2).toString() };
  }

  async streamClosed(): Promise<number> {
    await waitFor(() => this.closed, DEFAULT_TIMEOUT, 'the stream to close');
    return this.stream.rstCode ?? -1;
  }
}

export function closePayload(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}
