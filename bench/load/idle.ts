/**
 * The idle-connections load (its own process): open N WebSocket connections, in batches, and hold
 * them open doing nothing. Prints one JSON line once all are open, then waits to be killed.
 *
 * With `exchange`, each connection first sends one compressed 16 KiB message and waits for its echo,
 * so the server has inflated and deflated once on every connection before they go idle (it shows
 * whether the zlib streams are released between messages).
 */
import { openConnection } from '../lib/connect.js';
import { clientFrame, jsonLikeText, MessageCounter } from '../lib/client-frames.js';

export interface IdleLoad {
  port: number;
  connections: number;
  /** Offer permessage-deflate: `browser` as Chromium does, `no-context-takeover` with both parameters. */
  compress?: 'browser' | 'no-context-takeover';
  /** Send one compressed message and read its echo before idling (needs `no-context-takeover`). */
  exchange?: boolean;
}

const OFFERS = {
  browser: 'permessage-deflate; client_max_window_bits',
  'no-context-takeover': 'permessage-deflate; client_no_context_takeover; server_no_context_takeover',
};

const config = JSON.parse(process.argv[2] ?? '{}') as IdleLoad;
const frame = config.exchange === true ? clientFrame(jsonLikeText(16 * 1024), { binary: false, compress: true }) : null;
const sockets = [];
const BATCH = 200;
for (let opened = 0; opened < config.connections; opened += BATCH) {
  const batch = await Promise.all(
    Array.from({ length: Math.min(BATCH, config.connections - opened) }, async () => {
      const connection = await openConnection(config.port, config.compress === undefined ? {} : { extensions: OFFERS[config.compress] });
      if (frame !== null) {
        const counter = new MessageCounter();
        counter.push(connection.head);
        connection.socket.write(frame);
        await new Promise<void>((resolve) => {
          if (counter.messages > 0) return resolve();
          const onData = (chunk: Buffer): void => {
            if (counter.push(chunk) === 0) return;
            connection.socket.off('data', onData);
            resolve();
          };
          connection.socket.on('data', onData);
        });
      }
      return connection;
    }),
  );
  for (const { socket } of batch) {
    socket.on('error', () => {});
    // Answer the server's heartbeat pings (masked pong with an empty payload), as a live client would.
    socket.on('data', (chunk: Buffer) => {
      if ((chunk[0]! & 0x0f) === 0x9) socket.write(Buffer.from([0x8a, 0x80, 1, 2, 3, 4]));
    });
    sockets.push(socket);
  }
}
process.stdout.write(`${JSON.stringify({ opened: sockets.length })}\n`);
setInterval(() => {}, 1 << 30);
