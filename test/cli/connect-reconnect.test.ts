/**
 * `fullduplex connect --reconnect` (issue 18): the CLI, a real process, comes back to a server that
 * restarted (1012) or closed normally, says so (a notice: stdout with --echo), echoes on the new
 * connection, and only its own close (SIGTERM: 1000, exit 0) ends it.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from '../../src/node/server.js';
import type { WebSocket } from '../../src/node/websocket.js';
import { CONNECT_USAGE } from '../../src/cli/connect.js';
import { closedPort, killAll, startCli } from './cli-process.js';

after(killAll);

async function echoOnce(server: WebSocketServer, text: string): Promise<WebSocket> {
  const [socket] = (await once(server, 'connection')) as [WebSocket];
  const reply = once(socket, 'message');
  socket.send(text);
  const [data] = (await reply) as [Buffer];
  assert.equal(String(data), text);
  return socket;
}

/** A server on a free loopback port. */
async function listeningServer(): Promise<{ server: WebSocketServer; port: number }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

/** Stop the CLI (if still running) and the server, dropping its connections. */
async function shutDown(cli: { kill(): void }, server: WebSocketServer): Promise<void> {
  cli.kill();
  for (const client of server.clients) client.terminate();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('fullduplex connect --reconnect', () => {
  it('comes back after the server restarts (1012), says so (a notice: stdout with --echo), and echoes on the new connection', async () => {
    const { server, port } = await listeningServer();
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
      await shutDown(cli, server);
    }
  });

  it('--json: one JSON object per line for reconnecting (attempt, delay, code, reason) and reconnected, between the two opens', async () => {
    const { server, port } = await listeningServer();
    const cli = startCli('connect', `ws://127.0.0.1:${port}`, '--echo', '--reconnect', '--json');
    try {
      const first = await echoOnce(server, 'before');
      const second = echoOnce(server, 'after');
      first.close(1012, 'restarting');
      const third = await second;
      await cli.waitFor(/"event":"reconnected"/);
      cli.child.kill('SIGTERM');
      await once(third, 'close');
      const exit = await cli.exit();
      assert.equal(exit.code, 0, exit.stderr);
      const events = exit.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.deepEqual(
        events.map((event) => event['event']),
        ['open', 'message', 'reconnecting', 'open', 'reconnected', 'message', 'close'],
      );
      const reconnecting = events[2]!;
      assert.equal(reconnecting['attempt'], 1);
      assert.equal(reconnecting['code'], 1012);
      assert.equal(reconnecting['reason'], 'restarting');
      assert.equal(typeof reconnecting['delay'], 'number');
      assert.ok(!('error' in reconnecting), 'a clean 1012 has no error');
      assert.deepEqual(events[4], { event: 'reconnected', attempt: 1 });
      assert.equal(exit.stderr, '', 'nothing but JSON, and only on stdout');
    } finally {
      await shutDown(cli, server);
    }
  });

  it('--json: a reconnecting event carries the error of a failed attempt (ECONNREFUSED: its message, no status)', async () => {
    // Nothing listens on the first port: ECONNREFUSED, then a reconnecting event naming it.
    const port = await closedPort();
    const cli = startCli('connect', `ws://127.0.0.1:${port}`, '--echo', '--reconnect', '--json');
    try {
      const [line] = await cli.waitFor(/\{"event":"reconnecting"[^\n]*\n/);
      const event = JSON.parse(line) as Record<string, unknown>;
      assert.equal(event['attempt'], 1);
      assert.equal(event['code'], 1006);
      assert.match(String(event['error']), /ECONNREFUSED/);
      assert.ok(!('status' in event));
    } finally {
      cli.kill();
    }
  });

  it('--json: a refused handshake (503) gives a reconnecting event with the status and the error', async () => {
    const http = createServer();
    http.on('upgrade', (_request, socket: Socket) => {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const { port } = http.address() as AddressInfo;
    const cli = startCli('connect', `ws://127.0.0.1:${port}`, '--echo', '--reconnect', '--json');
    try {
      const [line] = await cli.waitFor(/\{"event":"reconnecting"[^\n]*\n/);
      const event = JSON.parse(line) as Record<string, unknown>;
      assert.equal(event['code'], 1006);
      assert.equal(event['status'], 503);
      assert.match(String(event['error']), /503/);
    } finally {
      cli.kill();
      http.closeAllConnections();
      http.close();
    }
  });

  for (const { name, execute, dropOn, first, second, replies } of [
    { name: 'one -x', execute: ['hello'], dropOn: 'hello', first: ['hello'], second: ['hello'], replies: ['reply:hello'] },
    { name: 'two -x, the link lost before the second reply', execute: ['a', 'b'], dropOn: 'b', first: ['a', 'b'], second: ['b'], replies: ['reply:a', 'reply:b'] },
  ]) {
    it(`-x (${name}): the link lost before the reply: sent again once on the next connection, the reply printed once, nothing sent after it`, async () => {
      const { server, port } = await listeningServer();
      const received: string[][] = [];
      server.on('connection', (socket: WebSocket) => {
        const index = received.push([]) - 1;
        socket.on('message', (data) => {
          const text = String(data);
          received[index]!.push(text);
          // The first connection dies before it answers `dropOn`; later ones answer everything.
          if (index === 0 && text === dropOn) socket.terminate();
          else socket.send(`reply:${text}`);
        });
      });
      const cli = startCli('connect', `ws://127.0.0.1:${port}`, '--reconnect', ...execute.flatMap((message) => ['-x', message]));
      try {
        const exit = await cli.exit();
        assert.equal(exit.code, 0, exit.stderr);
        assert.equal(exit.stdout, `${replies.join('\n')}\n`);
        assert.match(exit.stderr, /connection lost \(1006\); reconnecting/);
        await delay(200); // nothing comes back after the exit (a check that it does not happen: not scaled)
        assert.deepEqual(received, [first, second]);
      } finally {
        await shutDown(cli, server);
      }
    });
  }

  it('-x with -w: a connection lost after the reply (during the wait) comes back, sends nothing, and closes when the wait ends', async () => {
    const { server, port } = await listeningServer();
    const received: string[][] = [];
    server.on('connection', (socket: WebSocket) => {
      const index = received.push([]) - 1;
      socket.on('message', (data) => {
        received[index]!.push(String(data));
        socket.send(`reply:${String(data)}`);
        if (index === 0) setTimeout(() => socket.terminate(), 50); // during the wait
      });
    });
    const cli = startCli('connect', `ws://127.0.0.1:${port}`, '--reconnect', '-x', 'hello', '-w', '2');
    try {
      const exit = await cli.exit();
      assert.equal(exit.code, 0, exit.stderr);
      assert.equal(exit.stdout, 'reply:hello\n');
      assert.deepEqual(received, [['hello'], []]);
    } finally {
      await shutDown(cli, server);
    }
  });

  it('is in the help', () => {
    assert.match(CONNECT_USAGE, /--reconnect {2,}Connect again, with backoff/);
    assert.match(CONNECT_USAGE, /With --reconnect, a message whose\s+reply had not come/);
    assert.match(CONNECT_USAGE, /\{"event":"reconnecting","attempt","delay","code","reason"/);
    assert.match(CONNECT_USAGE, /\{"event":"reconnected","attempt"\}/);
  });
});
