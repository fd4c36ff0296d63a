/**
 * `fullduplex connect URL --echo` as a real process against our `WebSocketServer`: it echoes with the
 * same opcode, offers the -s subprotocols, exits 0 after a normal clean close (1000, 1001, 1005) and
 * 1 with the close code on stderr otherwise (error codes, 1006, refused, handshake refused).
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { computeAcceptKey } from '../../src/protocol/handshake.js';
import { WebSocketServer } from '../../src/node/server.js';
import type { WebSocket } from '../../src/node/websocket.js';
import { closedPort, killAll, startCli, startEchoServer } from './cli-process.js';

after(killAll);

const servers = new Set<WebSocketServer>();
afterEach(async () => {
  for (const server of servers) {
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  servers.clear();
});

/** Our server on 127.0.0.1, port 0; `connection` resolves with the next client's socket. */
async function startServer(options: { path?: string; shutdownTimeout?: number } = {}): Promise<{ server: WebSocketServer; url: string; connection: () => Promise<WebSocket> }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  servers.add(server);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const connection = async (): Promise<WebSocket> => ((await once(server, 'connection')) as [WebSocket])[0];
  return { server, url: `ws://127.0.0.1:${port}${options.path ?? '/'}`, connection };
}

interface Received {
  data: Buffer;
  isBinary: boolean;
}

function messages(socket: WebSocket): () => Promise<Received> {
  const queue: Received[] = [];
  const waiting: Array<(message: Received) => void> = [];
  socket.on('message', (data, isBinary) => {
    assert.ok(Buffer.isBuffer(data)); // binaryType "nodebuffer"
    const message = { data, isBinary };
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter(message);
    else queue.push(message);
  });
  return () => {
    const queued = queue.shift();
    return queued !== undefined ? Promise.resolve(queued) : new Promise((resolve) => waiting.push(resolve));
  };
}

describe('fullduplex connect --echo', () => {
  it('echoes text as text and binary as binary, and exits 0 after a clean 1000 close', async () => {
    const { url, connection } = await startServer();
    const cli = startCli('connect', `${url}?q=1`, '--echo');
    const socket = await connection();
    const next = messages(socket);
    await cli.waitFor(/connected to ws:\/\/127\.0\.0\.1:\d+\/\?q=1 protocol=\(none\)\n/);

    socket.send('héllo');
    socket.send(Buffer.from([0, 1, 254, 255]));
    socket.send('');
    socket.send(Buffer.alloc(0));
    socket.send(Buffer.from('looks like text'), { binary: true });
    assert.deepEqual(await next(), { data: Buffer.from('héllo'), isBinary: false });
    assert.deepEqual(await next(), { data: Buffer.from([0, 1, 254, 255]), isBinary: true });
    assert.deepEqual(await next(), { data: Buffer.alloc(0), isBinary: false });
    assert.deepEqual(await next(), { data: Buffer.alloc(0), isBinary: true });
    assert.deepEqual(await next(), { data: Buffer.from('looks like text'), isBinary: true });

    socket.close(1000, 'done');
    const exit = await cli.exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stdout, /closed code=1000 \(Normal Closure\) reason="done" wasClean=true\n$/);
    assert.equal(exit.stderr, '');
  });

  it('offers each -s subprotocol in order and reports the one chosen', async () => {
    const { server, url, connection } = await startServer();
    let offered: string[] = [];
    server.on('headers', (_lines, request) => {
      offered = String(request.headers['sec-websocket-protocol']).split(/\s*,\s*/);
    });
    const cli = startCli('connect', url, '--echo', '-s', 'chat', '--subprotocol', 'v2.chat');
    const socket = await connection();
    assert.deepEqual(offered, ['chat', 'v2.chat']);
    assert.equal(socket.protocol, 'chat'); // the server's default: the first offered
    await cli.waitFor(/connected to \S+ protocol=chat\n/);
    socket.close(1000);
    assert.equal((await cli.exit()).code, 0);
  });

  it('exits 0 when the server shuts down (1001 Going Away) or closes without a code (1005)', async () => {
    const first = await startServer();
    const cli = startCli('connect', first.url, '--echo');
    await first.connection();
    await cli.waitFor(/connected to/);
    first.server.close();
    const exit = await cli.exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stdout, /closed code=1001 \(Going Away\) reason="Server shutting down" wasClean=true\n/);

    const second = await startServer();
    const cli2 = startCli('connect', second.url, '--echo');
    const socket = await second.connection();
    socket.close();
    const exit2 = await cli2.exit();
    assert.equal(exit2.code, 0, exit2.stderr);
    assert.match(exit2.stdout, /closed code=1005 \(No Status Received\) reason="" wasClean=true\n/);
  });

  it('exits 1 and prints the code on a clean close with an error code', async () => {
    const { url, connection } = await startServer();
    const cli = startCli('connect', url, '--echo');
    const socket = await connection();
    socket.close(1011, 'oops');
    const exit = await cli.exit();
    assert.equal(exit.code, 1);
    assert.match(exit.stderr, /closed code=1011 \(Internal Error\) reason="oops" wasClean=true\n/);
  });

  it('exits 1 and prints 1006 when the connection drops without a close', async () => {
    const { url, connection } = await startServer();
    const cli = startCli('connect', url, '--echo');
    const socket = await connection();
    await cli.waitFor(/connected to/);
    socket.terminate();
    const exit = await cli.exit();
    assert.equal(exit.code, 1);
    assert.match(exit.stderr, /closed code=1006 \(Abnormal Closure\) reason="" wasClean=false\n/);
  });

  it('exits 1 and prints 1006 when the connection is refused', async () => {
    const port = await closedPort();
    const exit = await startCli('connect', `ws://127.0.0.1:${port}/`, '--echo').exit();
    assert.equal(exit.code, 1);
    assert.match(exit.stderr, /error: .*ECONNREFUSED/);
    assert.match(exit.stderr, /closed code=1006 \(Abnormal Closure\) reason="" wasClean=false\n/);
    assert.equal(exit.stdout, '');
  });

  it('exits 1 when the server refuses the handshake', async () => {
    const { url } = await startServer({ path: '/ws' });
    const exit = await startCli('connect', url.replace(/\/ws$/, '/elsewhere'), '--echo').exit();
    assert.equal(exit.code, 1);
    assert.match(exit.stderr, /error: Unexpected server response: 404/);
    assert.match(exit.stderr, /closed code=1006/);
  });

  it('on SIGINT closes with 1000 and exits 0 once the server answers', async () => {
    const { url, connection } = await startServer();
    const cli = startCli('connect', url, '--echo');
    const socket = await connection();
    await cli.waitFor(/connected to/);
    const closed = once(socket, 'close') as Promise<[number, Buffer]>;
    cli.child.kill('SIGINT');
    const [code, reason] = await closed;
    assert.equal(code, 1000);
    assert.equal(reason.toString(), 'Interrupted');
    const exit = await cli.exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stdout, /SIGINT: closing with 1000 Normal Closure\n/);
  });

  it('a second SIGINT drops a connection whose server does not answer the close, and exits 1', async () => {
    // A server that accepts the handshake and then ignores everything, the close frame included.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.once('data', (request) => {
        const key = /^sec-websocket-key:\s*(\S+)/im.exec(request.toString('latin1'))?.[1] ?? '';
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n\r\n`);
        socket.resume();
      });
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const { port } = silent.address() as AddressInfo;
      const cli = startCli('connect', `ws://127.0.0.1:${port}/`, '--echo');
      await cli.waitFor(/connected to/);
      cli.child.kill('SIGINT');
      await cli.waitFor(/SIGINT: closing with 1000 Normal Closure\n/);
      cli.child.kill('SIGINT');
      const exit = await cli.exit();
      assert.equal(exit.code, 1);
      assert.match(exit.stderr, /SIGINT again: dropping the connection\n/);
      assert.match(exit.stderr, /closed code=1006 \(Abnormal Closure\) reason="" wasClean=false\n/);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('against `fullduplex serve`: connects with chat, and both exit 0 when the server stops', async () => {
    const { cli: server, url } = await startEchoServer();
    const client = startCli('connect', url, '--echo', '-s', 'chat');
    await client.waitFor(/connected to \S+ protocol=chat\n/);
    await server.waitFor(/\[#1\] open .* protocol=chat\n/);
    server.child.kill('SIGTERM');
    const [serverExit, clientExit] = await Promise.all([server.exit(), client.exit()]);
    assert.equal(serverExit.code, 0, serverExit.stderr);
    assert.equal(clientExit.code, 0, clientExit.stderr);
    assert.match(clientExit.stdout, /closed code=1001 \(Going Away\) reason="Server shutting down" wasClean=true\n/);
    assert.match(serverExit.stdout, /\[#1\] close code=1001 \(Going Away\) reason="" wasClean=true\n/);
  });
});
