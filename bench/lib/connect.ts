/** A raw WebSocket client connection for load generators: TCP, the upgrade request, and nothing else. */
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface RawConnection {
  readonly socket: Socket;
  /** Bytes that arrived with the 101 response. */
  readonly head: Buffer;
}

export function openConnection(port: number, options: { extensions?: string; path?: string } = {}): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
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
      resolve({ socket, head: received.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(
        `GET ${options.path ?? '/'} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
          (options.extensions === undefined ? '' : `Sec-WebSocket-Extensions: ${options.extensions}\r\n`) +
          '\r\n',
      );
    });
  });
}
