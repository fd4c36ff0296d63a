/**
 * What `fullduplex serve` does with messages, per mode (echo has its own module, shared with
 * `connect`):
 *
 * - broadcast: every message goes to every open client (the sender included) through
 *   `WebSocketServer.broadcast`, framed once, with its opcode.
 * - chat: a room. Each text message goes to everyone as `{"type":"chat","from","text","time"}` (the
 *   text verbatim); a client that joins gets `{"type":"welcome","name","count"}` and everyone gets
 *   `{"type":"join","name","time","count"}`, and `{"type":"leave",...}` when it goes. Binary messages
 *   are echoed to their sender only. A client may pick its name with `?name=` (else `guest-N`).
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocketServer } from '../node/server.js';
import type { WebSocket } from '../node/websocket.js';

export function broadcastMessages(server: WebSocketServer, socket: WebSocket): void {
  socket.on('message', (data, isBinary) => {
    const payload = Array.isArray(data) ? Buffer.concat(data) : (data as Buffer);
    server.broadcast(payload, { binary: isBinary });
  });
}

/** A display name from `?name=`: printable, trimmed, at most 32 characters. */
export function chatName(request: IncomingMessage, id: number): string {
  const raw = new URL(request.url ?? '/', 'http://x').searchParams.get('name') ?? '';
  const name = raw.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 32);
  return name === '' ? `guest-${id}` : name;
}

export function chatRoom(server: WebSocketServer, socket: WebSocket, name: string): void {
  const now = (): string => new Date().toISOString();
  socket.send(JSON.stringify({ type: 'welcome', name, count: server.clients.size }));
  server.broadcast(JSON.stringify({ type: 'join', name, time: now(), count: server.clients.size }));
  socket.on('message', (data, isBinary) => {
    const payload = Array.isArray(data) ? Buffer.concat(data) : (data as Buffer);
    if (isBinary) {
      socket.send(payload, { binary: true });
      return;
    }
    server.broadcast(JSON.stringify({ type: 'chat', from: name, text: payload.toString('utf8'), time: now() }));
  });
  socket.once('close', () => {
    // The server forgets the connection on its own 'close' listener, added before this one.
    let count = 0;
    for (const other of server.clients) if (other !== socket) count++;
    server.broadcast(JSON.stringify({ type: 'leave', name, time: now(), count }));
  });
}
