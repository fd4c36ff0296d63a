/**
 * `fullduplex connect --reconnect` (issue 18): the CLI, a real process, comes back to a server that
 * restarted (1012) or closed normally, says so (a notice: stdout with --echo), echoes on the new
 * connection, and only its own close (SIGTERM: 1000, exit 0) ends it.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '../../src/node/server.js';
import type { WebSocket } from '../../src/node/websocket.js';
import { CONNECT_USAGE } from '../../src/cli/connect.js';
import { killAll, startCli } from './cli-process.js';

after(killAll);

async function echoOnce(server: WebSocketServer, text: string): Promise<WebSocket> {
  const [socket] = (await once(server, 'connection')) as [WebSocket];
  const reply = once(socket, 'message');
  socket.send(text);
  const [data] = (await reply) as [Buffer];
  assert.equal(String(data), text);
  return socket;
}

describe('fullduplex connect --reconnect', () => {
  it('comes back after the server restarts (1012), says so (a notice: stdout with --echo), and echoes on the new connection', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const cli = startCli('connect', `ws://127.0.0.1:${port}`, '--echo', '--reconnect');
    try {
      const first = await echoOnce(server, 'before');
      const second = echoOnce(server, 'after');
      first.close(1012, 'restarting');
      await cli.waitFor(/connection lost \(1012\); reconnecting in \d+ ms \(attempt 1\)/);
      const socket = await second;
      const closed = once(socket, 'close');
      socket.close(1000); // a normal close from the server: the client still comes back (only the CLI's own close ends it)
      await closed;
      await cli.waitFor(/connection lost \(1000\); reconnecting/);
      const third = (await once(server, 'connection'))[0] as WebSocket;
      cli.child.kill('SIGTERM'); // the CLI's own close: 1000, exit 0, no reconnect
      const [code] = (await once(third, 'close')) as [number];
      assert.equal(code, 1000);
      const exit = await cli.exit();
      assert.equal(exit.code, 0, exit.stderr);
    } finally {
      cli.kill();
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('is in the help', () => {
    assert.match(CONNECT_USAGE, /--reconnect {2,}Connect again, with backoff/);
  });
});
