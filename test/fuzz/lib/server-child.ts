/**
 * The live server under fuzz, in its own process: a fullduplex `WebSocketServer` on 127.0.0.1 (port 0)
 * that echoes every message, with the fuzz limits, permessage-deflate for clients that offer it, and
 * no heartbeat (so it sends nothing unprompted).
 * It reports over IPC how each connection ended (keyed by the client's port), every `error` event, and
 * any `uncaughtException` or `unhandledRejection`: a hostile client must never cause one.
 */
import { WebSocketServer } from '../../../src/node/server.js';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { FUZZ_MAX_PAYLOAD } from './cases.js';
import type { ChildMessage, ParentMessage } from './server-process.js';

function send(message: ChildMessage): void {
  process.send?.(message);
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

process.on('uncaughtException', (error) => send({ type: 'crash', kind: 'uncaughtException', message: describe(error) }));
process.on('unhandledRejection', (reason) => send({ type: 'crash', kind: 'unhandledRejection', message: describe(reason) }));

// permessage-deflate is accepted when a client offers it (RFC 7692); echoes of 1 KiB or more are compressed.
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: FUZZ_MAX_PAYLOAD, heartbeat: false, perMessageDeflate: true });
wss.on('error', (error) => send({ type: 'crash', kind: 'server error event', message: describe(error) }));
wss.on('listening', () => {
  const address = wss.address();
  if (address !== null && typeof address === 'object') send({ type: 'listening', port: address.port });
});
wss.on('connection', (socket, request) => {
  const port = request.socket.remotePort ?? -1;
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on('error', (error) => {
    // A protocol violation is reported as ws reports it (RangeError/Error with ws's code), with the
    // core's ProtocolError as its cause.
    const cause = (error as { cause?: unknown }).cause;
    send({ type: 'error', port, closeCode: cause instanceof ProtocolError ? cause.closeCode : null, message: error.message });
  });
  socket.on('close', (code) => send({ type: 'closed', port, code }));
});

process.on('message', (message: ParentMessage) => {
  if (message.type === 'stats') send({ type: 'stats', clients: wss.clients.size });
  else if (message.type === 'stop') {
    for (const client of wss.clients) client.terminate();
    wss.close(() => process.exit(0));
  } else if (message.type === 'selftest-crash') {
    setImmediate(() => {
      throw new Error('fuzz harness self-test');
    });
  }
});
