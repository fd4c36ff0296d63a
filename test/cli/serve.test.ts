/**
 * `fullduplex serve --mode echo` as a real process, with the `ws` package as an independent peer:
 * echoes with the same opcode, the `chat` subprotocol, its log lines, graceful SIGTERM (1001, exit 0),
 * and a port already in use (exit 1).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tcpConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import WebSocket from 'ws';
import { WebSocket as FullduplexWebSocket } from '../../src/node/websocket.js';
import { killAll, startCli, startEchoServer } from './cli-process.js';

after(killAll);

interface Received {
  data: Buffer;
  isBinary: boolean;
}

/** Open a `ws` client and collect what it receives. */
async function open(url: string, protocols: string[] = []): Promise<{ ws: WebSocket; received: Received[]; next: () => Promise<Received> }> {
  const ws = new WebSocket(url, protocols);
  const received: Received[] = [];
  const waiting: Array<(message: Received) => void> = [];
  ws.on('message', (data, isBinary) => {
    const message = { data: Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data), isBinary };
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter(message);
    else received.push(message);
  });
  await once(ws, 'open');
  const next = (): Promise<Received> => {
    const queued = received.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => waiting.push(resolve));
  };
  return { ws, received, next };
}

async function closeAndWait(ws: WebSocket, code: number, reason: string): Promise<[number, Buffer]> {
  const closed = once(ws, 'close') as Promise<[number, Buffer]>;
  ws.close(code, reason);
  return closed;
}

describe('fullduplex serve --mode echo', () => {
  it('prints where it listens (the real port for --port 0), on 127.0.0.1 by default', async () => {
    const { cli, port, url } = await startEchoServer();
    assert.ok(port > 0);
    assert.equal(url, `ws://127.0.0.1:${port}/`);
    cli.child.kill('SIGTERM');
    assert.equal((await cli.exit()).code, 0);
  });

  it('echoes text as text and binary as binary, and logs the connection', async () => {
    const { cli, url } = await startEchoServer();
    const { ws, next } = await open(`${url}room/1?x=y`);
    assert.equal(ws.protocol, '');

    ws.send('héllo wörld');
    ws.send(Buffer.from([0, 1, 2, 255]));
    ws.send('');
    ws.send(Buffer.alloc(0));
    const first = await next();
    assert.deepEqual(first, { data: Buffer.from('héllo wörld'), isBinary: false });
    assert.deepEqual(await next(), { data: Buffer.from([0, 1, 2, 255]), isBinary: true });
    assert.deepEqual(await next(), { data: Buffer.alloc(0), isBinary: false });
    assert.deepEqual(await next(), { data: Buffer.alloc(0), isBinary: true });

    const [code] = await closeAndWait(ws, 1000, 'bye');
    assert.equal(code, 1000);
    await cli.waitFor(/\[#1\] close .*/);
    assert.match(cli.stdout, /\[#1\] open remote=127\.0\.0\.1:\d+ path=\/room\/1\?x=y protocol=\(none\)\n/);
    assert.match(cli.stdout, /\[#1\] close code=1000 \(Normal Closure\) reason="bye" wasClean=true\n/);

    cli.child.kill('SIGTERM');
    const exit = await cli.exit();
    assert.equal(exit.code, 0);
    assert.equal(exit.stderr, '');
  });

  it('echoes fragmented and large messages whole, in order, slowing a fast sender instead of dropping it', async () => {
    const { cli, url } = await startEchoServer();
    const { ws, next } = await open(url);
    const big = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    ws.send(big.subarray(0, 10), { fin: false });
    ws.send(big.subarray(10), { fin: true });
    for (let i = 0; i < 200; i++) ws.send(`message ${i}`);
    const echoedBig = await next();
    assert.equal(echoedBig.isBinary, true);
    assert.ok(echoedBig.data.equals(big));
    for (let i = 0; i < 200; i++) assert.deepEqual(await next(), { data: Buffer.from(`message ${i}`), isBinary: false });
    await closeAndWait(ws, 1000, '');
    cli.child.kill('SIGTERM');
    assert.equal((await cli.exit()).code, 0);
  });

  it('selects the subprotocol "chat" when offered, and none otherwise', async () => {
    const { cli, url } = await startEchoServer();
    const offered = await open(url, ['superchat', 'chat']);
    assert.equal(offered.ws.protocol, 'chat');
    // `ws` refuses a server that picks none of the offered subprotocols ("Server sent no subprotocol",
    // stricter than RFC 6455 §4.1 and browsers): use our client, which accepts it.
    const others = new FullduplexWebSocket(url, ['superchat', 'v2.chat']);
    await once(others, 'open');
    assert.equal(others.protocol, '');
    await closeAndWait(offered.ws, 1000, '');
    const othersClosed = once(others, 'close');
    others.close(1000);
    await othersClosed;
    await cli.waitFor(/\[#2\] close/);
    assert.match(cli.stdout, /\[#1\] open remote=\S+ path=\/ protocol=chat\n/);
    assert.match(cli.stdout, /\[#2\] open remote=\S+ path=\/ protocol=\(none\)\n/);
    cli.child.kill('SIGTERM');
    assert.equal((await cli.exit()).code, 0);
  });

  it('on SIGTERM sends every client 1001 Going Away, logs their closes, and exits 0', async () => {
    const { cli, url } = await startEchoServer();
    const clients = [await open(url, ['chat']), await open(url)];
    const closes = clients.map(({ ws }) => once(ws, 'close') as Promise<[number, Buffer]>);
    cli.child.kill('SIGTERM');
    for (const closed of closes) {
      const [code, reason] = await closed;
      assert.equal(code, 1001);
      assert.equal(reason.toString(), 'Server shutting down');
    }
    const exit = await cli.exit();
    assert.equal(exit.code, 0);
    assert.equal(exit.signal, null);
    assert.match(exit.stdout, /SIGTERM: closing, 2 client\(s\) get 1001 Going Away\n/);
    // The peer's answer (ws repeats the reason).
    assert.match(exit.stdout, /\[#1\] close code=1001 \(Going Away\) reason="[^"]*" wasClean=true\n/);
    assert.match(exit.stdout, /\[#2\] close code=1001 \(Going Away\) reason="[^"]*" wasClean=true\n/);
    assert.match(exit.stdout, /server closed\n$/);
  });

  it('SIGINT (Ctrl-C) stops it the same way', async () => {
    const { cli, url } = await startEchoServer();
    const { ws } = await open(url);
    const closed = once(ws, 'close') as Promise<[number, Buffer]>;
    cli.child.kill('SIGINT');
    assert.equal((await closed)[0], 1001);
    assert.equal((await cli.exit()).code, 0);
  });

  it('a second signal drops clients that do not answer the 1001 and exits 1', async () => {
    const { cli, port } = await startEchoServer();
    // A client that completes the handshake and then ignores everything, the close frame included.
    const silent: Socket = tcpConnect(port, '127.0.0.1');
    silent.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    silent.resume(); // read (and drop) whatever comes, so that the end of the connection is seen
    const dropped = once(silent, 'close');
    await cli.waitFor(/\[#1\] open /);
    cli.child.kill('SIGTERM');
    await cli.waitFor(/SIGTERM: closing, 1 client\(s\) get 1001 Going Away\n/);
    cli.child.kill('SIGTERM');
    const exit = await cli.exit();
    assert.equal(exit.code, 1);
    assert.match(exit.stdout, /SIGTERM again: dropping 1 client\(s\)\n/);
    assert.match(exit.stdout, /\[#1\] close code=1006 \(Abnormal Closure\) reason="" wasClean=false\n/);
    await dropped;
  });

  it('exits 1 with a message when the port is taken', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    try {
      const { port } = blocker.address() as AddressInfo;
      const exit = await startCli('serve', '--mode', 'echo', '--port', String(port)).exit();
      assert.equal(exit.code, 1);
      assert.match(exit.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    } finally {
      blocker.close();
    }
  });

  it('listens on the address given with --host', async () => {
    const { cli, url } = await startEchoServer('--host', 'localhost');
    assert.match(url, /^ws:\/\/(127\.0\.0\.1|\[::1\]):\d+\/$/);
    const { ws, next } = await open(url);
    ws.send('hi');
    assert.deepEqual(await next(), { data: Buffer.from('hi'), isBinary: false });
    await closeAndWait(ws, 1000, '');
    cli.child.kill('SIGTERM');
    assert.equal((await cli.exit()).code, 0);
  });
});
