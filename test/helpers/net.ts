/** Helpers for tests that play a hostile or broken peer over a raw TCP socket. */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import type { WebSocketServer, ServerOptions } from '../../src/node/index.js';
import { startServer as startNodeServer } from './node.js';
import { scaled } from './time.js';
import { readFrames } from './frames.js';

/** How long the raw peer waits for data, a close or a response before failing (a hang guard). */
const WAIT = scaled(5000);

/** A standalone WebSocketServer on 127.0.0.1 and a free port (as `wss`). */
export async function startServer(options: Omit<ServerOptions, 'port' | 'server' | 'noServer' | 'host'> = {}): Promise<{ wss: WebSocketServer; port: number; url: string }> {
  const { server, port, url } = await startNodeServer(options);
  return { wss: server, port, url };
}

export { stopServer, once as nextEvent } from './node.js';

/** A raw TCP connection that collects everything it receives. */
export class RawPeer {
  readonly socket: Socket;
  received = Buffer.alloc(0);
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = connect({ port, host: '127.0.0.1' });
    await once(socket, 'connect');
    return new RawPeer(socket);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Wait until the received bytes satisfy `test`. */
  async waitFor(test: (received: Buffer) => boolean, ms = WAIT, what = 'data'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test(this.received)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.received.toString('latin1').slice(0, 300))}`);
      if (this.closed && !test(this.received)) throw new Error(`connection closed while waiting for ${what}; got ${JSON.stringify(this.received.toString('latin1').slice(0, 300))}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async waitClosed(ms = WAIT): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the connection to close');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** The HTTP response head (status line and headers) once complete. */
  async response(ms = WAIT): Promise<{ status: number; headers: Map<string, string>; body: Buffer }> {
    await this.waitFor((r) => r.includes('\r\n\r\n'), ms, 'an HTTP response');
    const end = this.received.indexOf('\r\n\r\n');
    const lines = this.received.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    return { status, headers, body: this.received.subarray(end + 4) };
  }

  /** Drop what was received up to the end of the HTTP response head. */
  consumeResponse(): void {
    const end = this.received.indexOf('\r\n\r\n');
    this.received = this.received.subarray(end + 4);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A valid client handshake request, with overrides (`null` removes a header). */
export function upgradeRequest(path = '/', overrides: Record<string, string | null> = {}, requestLine?: string): string {
  const headers: Record<string, string | null> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...overrides,
  };
  let text = `${requestLine ?? `GET ${path} HTTP/1.1`}\r\n`;
  for (const [name, value] of Object.entries(headers)) if (value !== null) text += `${name}: ${value}\r\n`;
  return text + '\r\n';
}

/** A raw peer that completed the handshake (the 101 response is consumed). */
export async function handshakenPeer(port: number, path = '/', overrides: Record<string, string | null> = {}): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  peer.write(upgradeRequest(path, overrides));
  const { status } = await peer.response();
  if (status !== 101) throw new Error(`handshake refused with ${status}`);
  peer.consumeResponse();
  return peer;
}

/** A TCP server that answers each connection with a fixed script (for broken-server tests). */
export async function scriptedServer(onConnection: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onConnection);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

/** Parse the complete server frames (unmasked) in received bytes: fin, rsv (0-7), opcode, payload. */
export function parseServerFrames(bytes: Buffer): Array<{ fin: boolean; rsv: number; opcode: number; payload: Buffer }> {
  return readFrames(bytes).frames;
}
