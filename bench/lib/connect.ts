/** A raw WebSocket client connection for load generators: TCP, the upgrade request, and nothing else. */
import { connect, type Socket } from 'node:net';
import { connect as connectTls, createSecureContext, type SecureContext } from 'node:tls';
import { randomBytes } from 'node:crypto';

export interface RawConnection {
  readonly socket: Socket;
  /** Bytes that arrived with the 101 response (empty with `onChunk`, which gets them instead). */
  readonly head: Buffer;
}

export interface ConnectOptions {
  extensions?: string;
  /** Sec-WebSocket-Protocol to offer (e.g. fullduplex.resume.v1); the handshake fails unless the server selects it. */
  protocol?: string;
  path?: string;
  /** The source address (any of 127.0.0.0/8 works on Linux): spreads many short connections over more 4-tuples. */
  localAddress?: string;
  /**
   * Read into one buffer shared by every connection (node:net's `onread`) and hand each chunk that
   * follows the 101 response, bytes that came with it first, to this function instead of emitting
   * 'data': no Buffer allocation and no stream machinery per read, for generators that read from many
   * connections. The chunk is valid only during the call.
   */
  onChunk?: (chunk: Buffer) => void;
  /**
   * wss://: TLS first (the certificate checked against `ca`), offering `session` to resume (RFC 8446
   * §2.2; browsers keep the tickets the server sends and offer one on their next connection). The
   * connection's `socket` is then a TLSSocket (`isSessionReused()`); `onSession` gets every ticket the
   * server sends. Not with `onChunk` (a TLS socket has no `onread`).
   */
  tls?: { ca: string | Buffer; session?: Buffer; onSession?: (session: Buffer) => void };
}

/**
 * One TLS context per trusted certificate, as a browser has one: building a context (parsing the CA)
 * for every connection would cost the generator more than the handshake itself.
 */
const contexts = new Map<string | Buffer, SecureContext>();
function contextFor(ca: string | Buffer): SecureContext {
  let context = contexts.get(ca);
  if (context === undefined) contexts.set(ca, (context = createSecureContext({ ca })));
  return context;
}

/** The read buffer of every `onChunk` connection: reads are handled one at a time, synchronously. */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

export function openConnection(port: number, options: ConnectOptions = {}): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const { onChunk } = options;
    let upgraded = false;
    let received: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      // With `onChunk`, the chunk is in the shared buffer: copy what the handshake keeps.
      received = received.length === 0 ? (onChunk === undefined ? chunk : Buffer.from(chunk)) : Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      socket.off('error', reject);
      const status = received.subarray(0, 12).toString('latin1');
      if (!status.startsWith('HTTP/1.1 101')) {
        socket.destroy();
        reject(new Error(`handshake refused: ${received.subarray(0, end).toString('latin1')}`));
        return;
      }
      const selected = `\r\nsec-websocket-protocol: ${options.protocol?.toLowerCase()}\r\n`;
      if (options.protocol !== undefined && !received.subarray(0, end + 2).toString('latin1').toLowerCase().includes(selected)) {
        socket.destroy();
        reject(new Error(`the server did not select ${options.protocol}`));
        return;
      }
      upgraded = true;
      const head = received.subarray(end + 4);
      if (onChunk === undefined) {
        resolve({ socket, head });
        return;
      }
      resolve({ socket, head: Buffer.alloc(0) });
      if (head.length > 0) onChunk(head);
    };
    if (options.tls !== undefined && onChunk !== undefined) throw new Error('openConnection: tls and onChunk do not go together');
    const tls = options.tls;
    const socket: Socket = tls !== undefined ? connectTls({
      port,
      host: '127.0.0.1',
      secureContext: contextFor(tls.ca),
      ...(tls.session !== undefined && { session: tls.session }),
      ...(options.localAddress !== undefined && { localAddress: options.localAddress }),
    }) : connect({
      port,
      host: '127.0.0.1',
      noDelay: true,
      ...(options.localAddress !== undefined && { localAddress: options.localAddress }),
      ...(onChunk !== undefined && {
        onread: {
          buffer: SHARED_READ_BUFFER,
          callback: (bytes: number, buffer: Uint8Array): boolean => {
            const chunk = (buffer as Buffer).subarray(0, bytes);
            if (upgraded) onChunk(chunk);
            else onData(chunk);
            return true;
          },
        },
      }),
    });
    if (onChunk === undefined) socket.on('data', onData);
    socket.once('error', reject);
    if (tls !== undefined) {
      socket.setNoDelay(true);
      if (tls.onSession !== undefined) socket.on('session', tls.onSession);
    }
    socket.once(tls !== undefined ? 'secureConnect' : 'connect', () => {
      socket.write(
        `GET ${options.path ?? '/'} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
          (options.extensions === undefined ? '' : `Sec-WebSocket-Extensions: ${options.extensions}\r\n`) +
          (options.protocol === undefined ? '' : `Sec-WebSocket-Protocol: ${options.protocol}\r\n`) +
          '\r\n',
      );
    });
  });
}
