/**
 * The echo both commands share: every message goes back to its sender with the opcode it came with
 * (text as text, binary as binary). When the peer sends faster than it reads our echoes, reading stops
 * until they drain, so memory stays bounded and a fast sender is slowed down instead of disconnected.
 */
import { WebSocket } from '../node/websocket.js';

export function echoMessages(socket: WebSocket): void {
  let waitingForDrain = false;
  socket.on('message', (data, isBinary) => {
    const payload = Array.isArray(data) ? Buffer.concat(data) : data;
    const belowHighWaterMark = socket.send(payload, { binary: isBinary });
    if (!belowHighWaterMark && !waitingForDrain && socket.readyState === WebSocket.OPEN) {
      waitingForDrain = true;
      socket.pause();
      socket.once('drain', () => {
        waitingForDrain = false;
        socket.resume();
      });
    }
  });
}
