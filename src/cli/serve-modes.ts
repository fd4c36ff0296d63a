/**
 * What `fullduplex serve` does with messages, per mode (echo has its own module, shared with
 * `connect`):
 *
 * - broadcast: every message goes to every open client (the sender included) through
 *   `WebSocketServer.broadcast`, framed once, with its opcode.
 * - chat: a room (the topic "chat": with a backplane, shared by every server on it). Each text message goes to everyone as `{"type":"chat","from","text","time"}` (the
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

/** The chat room's topic (shared with other servers when the server has a backplane). */
export const CHAT_TOPIC = 'chat';

export function chatRoom(server: WebSocketServer, socket: WebSocket, name: string): void {
  const now = (): string => new Date().toISOString();
  socket.subscribe(CHAT_TOPIC);
  // Counts are of this server's room (with a backplane, other servers' members are not counted).
  socket.send(JSON.stringify({ type: 'welcome', name, count: server.subscriberCount(CHAT_TOPIC) }));
  server.publish(CHAT_TOPIC, JSON.stringify({ type: 'join', name, time: now(), count: server.subscriberCount(CHAT_TOPIC) }));
  socket.on('message', (data, isBinary) => {
    const payload = Array.isArray(data) ? Buffer.concat(data) : (data as Buffer);
    if (isBinary) {
      socket.send(payload, { binary: true });
      return;
    }
    server.publish(CHAT_TOPIC, JSON.stringify({ type: 'chat', from: name, text: payload.toString('utf8'), time: now() }));
  });
  socket.once('close', () => {
    // Closed connections are unsubscribed before their 'close' listeners run.
    server.publish(CHAT_TOPIC, JSON.stringify({ type: 'leave', name, time: now(), count: server.subscriberCount(CHAT_TOPIC) }));
  });
}
