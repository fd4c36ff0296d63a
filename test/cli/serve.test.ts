/**
 * `fullduplex serve` as a real process, with the `ws` package as an independent peer: echo mode
 * (same opcode, the `chat` subprotocol, its log lines, graceful SIGTERM with 1001 and exit 0, a port
 * already in use with exit 1), the broadcast, chat and inspector modes, and the options --static,
 * --tls-cert/--tls-key, --max-payload, --compress/--no-compress and --log json.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { WebSocket as FullduplexWebSocket } from '../../src/node/websocket.js';
import { killAll, startCli, startEchoServer, type CliProcess } from './cli-process.js';
import { selfSignedCertificate } from '../helpers/tls.js';
import { RedisServer, redisSkipReason } from '../helpers/redis.js';
import { scaled } from '../helpers/time.js';

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

/** Start `serve --port 0 ARGS` and resolve once it listens (pretty log), with its WebSocket URL and port. */
async function startServe(...args: string[]): Promise<{ cli: CliProcess; port: number; url: string }> {
  const cli = startCli('serve', '--port', '0', ...args);
  const match = await cli.waitFor(/listening on (wss?:\/\/\S+:(\d+)\/)/);
  return { cli, port: Number(match[2]), url: match[1]! };
}

async function stop(cli: CliProcess): Promise<void> {
  cli.child.kill('SIGTERM');
  assert.equal((await cli.exit()).code, 0);
}

/** A raw HTTP GET with the path exactly as given (no normalisation of `..`, unlike fetch). */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1]);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  });
}

describe('fullduplex serve: modes', () => {
  it('--mode echo still echoes (and plain HTTP gets 426)', async () => {
    const { cli, url, port } = await startServe('--mode', 'echo');
    const { ws, next } = await open(url);
    ws.send('ping?');
    assert.deepEqual(await next(), { data: Buffer.from('ping?'), isBinary: false });
    const plain = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(plain.status, 426);
    assert.equal(plain.headers.get('upgrade'), 'websocket');
    await closeAndWait(ws, 1000, '');
    await stop(cli);
  });

  it('--mode broadcast sends every message to every client, the sender included, with its opcode', async () => {
    const { cli, url } = await startServe('--mode', 'broadcast');
    const first = await open(url);
    const second = await open(url);
    await cli.waitFor(/\[#2\] open/);
    first.ws.send('to everyone');
    second.ws.send(Buffer.from([1, 2, 3]));
    for (const client of [first, second]) {
      const got = [await client.next(), await client.next()];
      assert.deepEqual(
        got.sort((x, y) => Number(x.isBinary) - Number(y.isBinary)),
        [
          { data: Buffer.from('to everyone'), isBinary: false },
          { data: Buffer.from([1, 2, 3]), isBinary: true },
        ],
      );
    }
    await closeAndWait(first.ws, 1000, '');
    await closeAndWait(second.ws, 1000, '');
    await stop(cli);
  });

  it('--mode chat: a JSON envelope with the text verbatim, and join/leave notices', async () => {
    const { cli, url } = await startServe('--mode', 'chat');
    const ada = await open(`${url}?name=ada`);
    const welcome = JSON.parse(String((await ada.next()).data)) as Record<string, unknown>;
    assert.deepEqual(welcome, { type: 'welcome', name: 'ada', count: 1 });
    assert.equal((JSON.parse(String((await ada.next()).data)) as Record<string, unknown>)['type'], 'join');
    const other = await open(url);
    const otherWelcome = JSON.parse(String((await other.next()).data)) as { name: string };
    assert.match(otherWelcome.name, /^guest-\d+$/);
    const joined = JSON.parse(String((await ada.next()).data)) as Record<string, unknown>;
    assert.equal(joined['type'], 'join');
    assert.equal(joined['name'], otherWelcome.name);
    assert.equal(joined['count'], 2);
    await other.next(); // its own join notice

    const text = 'héllo "wörld" \\ {"not":"json"} \n 🦄';
    ada.ws.send(text);
    for (const client of [ada, other]) {
      const message = await client.next();
      assert.equal(message.isBinary, false);
      const envelope = JSON.parse(String(message.data)) as { type: string; from: string; text: string; time: string };
      assert.equal(envelope.type, 'chat');
      assert.equal(envelope.from, 'ada');
      assert.equal(envelope.text, text);
      assert.ok(!Number.isNaN(Date.parse(envelope.time)), envelope.time);
      assert.deepEqual(Object.keys(envelope).sort(), ['from', 'text', 'time', 'type']);
    }
    await closeAndWait(other.ws, 1000, '');
    const left = JSON.parse(String((await ada.next()).data)) as Record<string, unknown>;
    assert.equal(left['type'], 'leave');
    assert.equal(left['name'], otherWelcome.name);
    assert.equal(left['count'], 1);
    await closeAndWait(ada.ws, 1000, '');
    await stop(cli);
  });

  it('--mode chat --redis: two servers on one Redis share the room', { skip: redisSkipReason() }, async () => {
    const redis = await RedisServer.start();
    try {
      const one = await startServe('--mode', 'chat', '--redis', redis.url);
      const two = await startServe('--mode', 'chat', '--redis', redis.url);
      const ada = await open(`${one.url}?name=ada`);
      await ada.next(); // welcome
      await ada.next(); // own join
      const bob = await open(`${two.url}?name=bob`);
      await bob.next(); // welcome
      await bob.next(); // own join
      // Ada's server learns of Bob's join over Redis once both servers' subscriptions are in place:
      // keep saying hello until Bob hears it (publishes before that are not delivered, by design).
      const text = 'hello from the other server, ünïcode 🦄';
      let heard: { from: string; text: string } | null = null;
      const deadline = Date.now() + scaled(10_000);
      while (heard === null && Date.now() < deadline) {
        ada.ws.send(text);
        const message = await Promise.race([bob.next(), new Promise<null>((resolve) => setTimeout(() => resolve(null), 200))]);
        if (message === null) continue;
        const envelope = JSON.parse(String(message.data)) as { type: string; from: string; text: string };
        if (envelope.type === 'chat') heard = envelope;
      }
      assert.ok(heard !== null, 'a message from a client of the first server reached a client of the second');
      assert.equal(heard.from, 'ada');
      assert.equal(heard.text, text);
      await closeAndWait(ada.ws, 1000, '');
      await closeAndWait(bob.ws, 1000, '');
      await stop(one.cli);
      await stop(two.cli);
    } finally {
      await redis.stop();
    }
  });

  it('--redis is refused outside chat and inspector, and must be a redis:// URL (exit 2)', async () => {
    for (const args of [['--mode', 'echo', '--redis', 'redis://127.0.0.1:1'], ['--mode', 'chat', '--redis', 'http://x']]) {
      const result = await startCli('serve', '--port', '0', ...args).exit();
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, /--redis/);
    }
  });

  it('--mode inspector serves the page and a feed of the frames of a tapped connection', async () => {
    const { cli, port, url } = await startServe('--mode', 'inspector');
    await cli.waitFor(new RegExp(`Inspector: open http://127\\.0\\.0\\.1:${port}/ in a browser`));
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await page.text(), /<script type="module" src="\/js\/app\.js">/);
    const script = await fetch(`http://127.0.0.1:${port}/js/app.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/js/../../package.json`)).status, 404);
    // The page's import map points fullduplex/browser at /lib/browser/index.js; its imports resolve under /lib/.
    assert.match(await (await fetch(`http://127.0.0.1:${port}/`)).text(), /"fullduplex\/browser": "\/lib\/browser\/index\.js"/);
    const library = await fetch(`http://127.0.0.1:${port}/lib/browser/reconnecting-websocket.js`);
    assert.equal(library.status, 200);
    assert.match(library.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(await library.text(), /from ["']\.\.\/protocol\/reconnect-policy\.js["']/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/lib/protocol/reconnect-policy.js`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/lib/node/../../package.json`)).status, 404);

    const token = 'test-token-1234';
    const feed = await open(`${url}inspect?tap=${token}`);
    assert.equal((JSON.parse(String((await feed.next()).data)) as { type: string }).type, 'hello');
    const events: Array<Record<string, unknown>> = [];
    const nextEvent = async (): Promise<Record<string, unknown>> => {
      const event = JSON.parse(String((await feed.next()).data)) as Record<string, unknown>;
      events.push(event);
      return event;
    };
    const waitEvent = async (match: (event: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
      for (;;) {
        const event = await nextEvent();
        if (match(event)) return event;
      }
    };

    // A client without compression, so that lengths are the payloads' sizes.
    const client = await open(`${url}?tap=${token}&name=tester`, ['chat']);
    client.ws.on('ping', () => {});
    const handshake = (await waitEvent((event) => event['type'] === 'handshake')) as { request: { line: string; headers: string[][] }; response: { line: string; headers: string[][] } };
    assert.equal(handshake.request.line, `GET /?tap=${token}&name=tester HTTP/1.1`);
    assert.equal(handshake.response.line, 'HTTP/1.1 101 Switching Protocols');
    assert.ok(handshake.response.headers.some(([name, value]) => name === 'Sec-WebSocket-Protocol' && value === 'chat'));
    assert.ok(handshake.request.headers.some(([name]) => name?.toLowerCase() === 'sec-websocket-key'));

    client.ws.send('hi there', { compress: false });
    const up = await waitEvent((event) => event['type'] === 'frame' && event['dir'] === 'in' && event['opcode'] === 1);
    assert.equal(up['length'], 8);
    assert.equal(up['masked'], true);
    assert.equal(up['fin'], true);
    assert.equal(up['preview'], 'hi there');
    const down = await waitEvent((event) => event['type'] === 'frame' && event['dir'] === 'out' && String(event['preview']).includes('"type":"chat"'));
    assert.equal(down['masked'], false);
    assert.equal(down['length'], Buffer.byteLength(String(down['preview'])));

    // A fragmented message: a text frame without FIN, then a continuation with it.
    client.ws.send('frag', { fin: false, compress: false });
    client.ws.send('ment', { fin: true, compress: false });
    const first = await waitEvent((event) => event['type'] === 'frame' && event['dir'] === 'in' && event['preview'] === 'frag');
    assert.deepEqual([first['opcode'], first['opcodeName'], first['fin'], first['length']], [1, 'text', false, 4]);
    const rest = await nextEvent();
    assert.deepEqual([rest['type'], rest['dir'], rest['opcode'], rest['opcodeName'], rest['fin'], rest['preview']], ['frame', 'in', 0, 'continuation', true, 'ment']);

    feed.ws.send(JSON.stringify({ cmd: 'ping' }));
    const ping = await waitEvent((event) => event['type'] === 'frame' && event['opcode'] === 9);
    assert.equal(ping['dir'], 'out');
    assert.equal(ping['preview'], 'inspector ping');
    const pong = await waitEvent((event) => event['type'] === 'frame' && event['opcode'] === 10);
    assert.equal(pong['dir'], 'in');

    client.ws.close(1000, 'bye');
    const closeUp = await waitEvent((event) => event['type'] === 'frame' && event['opcode'] === 8 && event['dir'] === 'in');
    assert.equal(closeUp['closeCode'], 1000);
    assert.equal(closeUp['closeName'], 'Normal Closure');
    assert.equal(closeUp['closeReason'], 'bye');
    const closeDown = await waitEvent((event) => event['type'] === 'frame' && event['opcode'] === 8 && event['dir'] === 'out');
    assert.equal(closeDown['closeCode'], 1000);
    // The feed's own frames are never in it.
    assert.ok(events.every((event) => event['type'] !== 'frame' || !String(event['preview']).includes('"cmd"')));
    await once(client.ws, 'close');
    await closeAndWait(feed.ws, 1000, '');
    await stop(cli);
  });
  it('--mode inspector inflates compressed messages in both directions for the preview (context takeover)', async () => {
    const { cli, url } = await startServe('--mode', 'inspector', '--compress');
    const token = 'deflate-token-5678';
    const feed = await open(`${url}inspect?tap=${token}`);
    await feed.next(); // hello
    const client = await open(`${url}?tap=${token}&name=zip`);
    assert.match(client.ws.extensions, /permessage-deflate/);
    const nextEvent = async (): Promise<Record<string, unknown>> => JSON.parse(String((await feed.next()).data)) as Record<string, unknown>;
    const frames = new Map<number, Record<string, unknown>>();
    const decoded: Array<Record<string, unknown>> = [];
    const text = 'compress me, compress me, compress me';
    client.ws.send(text);
    client.ws.send(text); // the second one refers back to the first (context takeover)
    while (decoded.filter((event) => frames.get(event['seq'] as number)?.['dir'] === 'in').length < 2 || decoded.filter((event) => String(event['preview']).includes(`"text":"${text}"`)).length < 2) {
      const event = await nextEvent();
      if (event['type'] === 'frame') frames.set(event['seq'] as number, event);
      if (event['type'] === 'decoded') decoded.push(event);
    }
    const incoming = decoded.filter((event) => frames.get(event['seq'] as number)?.['dir'] === 'in');
    for (const event of incoming) {
      const frame = frames.get(event['seq'] as number)!;
      assert.equal(frame['compressed'], true);
      assert.equal(frame['rsv1'], true);
      assert.equal(frame['opcode'], 1);
      assert.equal(frame['previewKind'], 'hex'); // the row shows the compressed bytes until inflated
      assert.equal(event['preview'], text);
      assert.equal(event['length'], Buffer.byteLength(text));
    }
    const outgoing = decoded.filter((event) => frames.get(event['seq'] as number)?.['dir'] === 'out');
    assert.ok(outgoing.length >= 2);
    for (const event of outgoing) assert.equal(frames.get(event['seq'] as number)!['compressed'], true);
    await closeAndWait(client.ws, 1000, '');
    await closeAndWait(feed.ws, 1000, '');
    await stop(cli);
  });
});

describe('fullduplex serve: options', () => {
  it('--static DIR serves files with their content type, refuses traversal, and 404s the rest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fullduplex-static-'));
    try {
      mkdirSync(join(dir, 'public', 'sub'), { recursive: true });
      writeFileSync(join(dir, 'public', 'index.html'), '<h1>home</h1>');
      writeFileSync(join(dir, 'public', 'app.js'), 'console.log(1)');
      writeFileSync(join(dir, 'public', 'sub', 'data.json'), '{"a":1}');
      writeFileSync(join(dir, 'secret.txt'), 'top secret');
      symlinkSync(join(dir, 'secret.txt'), join(dir, 'public', 'link.txt'));
      const { cli, port, url } = await startServe('--mode', 'echo', '--static', join(dir, 'public'));
      const base = `http://127.0.0.1:${port}`;

      const home = await fetch(`${base}/`);
      assert.equal(home.status, 200);
      assert.equal(home.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(await home.text(), '<h1>home</h1>');
      const js = await fetch(`${base}/app.js?v=2`);
      assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
      const json = await fetch(`${base}/sub/data.json`);
      assert.equal(json.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(await json.text(), '{"a":1}');
      assert.equal((await fetch(`${base}/missing.txt`)).status, 404);
      assert.equal((await fetch(`${base}/sub/`)).status, 404); // no index.html there

      for (const path of ['/../secret.txt', '/sub/../../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/sub/..%5c..%5csecret.txt', '/link.txt']) {
        const answer = await rawGet(port, path);
        assert.ok(answer.status === 403 || answer.status === 404 || answer.status === 400, `${path}: ${answer.status}`);
        assert.doesNotMatch(answer.body, /top secret/, path);
      }
      assert.equal((await rawGet(port, '/%00')).status, 400);

      // The WebSocket endpoint is still there on the same port.
      const { ws, next } = await open(url);
      ws.send('still here');
      assert.deepEqual(await next(), { data: Buffer.from('still here'), isBinary: false });
      await closeAndWait(ws, 1000, '');
      await stop(cli);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--tls-cert and --tls-key serve wss://', async () => {
    const { keyPath, certPath, remove } = selfSignedCertificate();
    try {
      const { cli, url } = await startServe('--mode', 'echo', '--tls-cert', certPath, '--tls-key', keyPath);
      assert.match(url, /^wss:\/\/127\.0\.0\.1:\d+\/$/);
      const ws = new WebSocket(url, { ca: readFileSync(certPath) });
      await once(ws, 'open');
      const reply = once(ws, 'message') as Promise<[Buffer, boolean]>;
      ws.send('secure');
      const [data, isBinary] = await reply;
      assert.equal(String(data), 'secure');
      assert.equal(isBinary, false);
      await closeAndWait(ws, 1000, '');
      await stop(cli);

      const missing = await startCli('serve', '--mode', 'echo', '--port', '0', '--tls-cert', certPath, '--tls-key', `${keyPath}.missing`).exit();
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /cannot read the TLS certificate or key/);
    } finally {
      remove();
    }
  });

  it('--max-payload: a bigger message closes the connection with 1009', async () => {
    const { cli, url } = await startServe('--mode', 'echo', '--max-payload', '16');
    const { ws, next } = await open(url);
    ws.send('x'.repeat(16));
    assert.equal(String((await next()).data), 'x'.repeat(16));
    const closed = once(ws, 'close') as Promise<[number, Buffer]>;
    ws.send('x'.repeat(17));
    const [code] = await closed;
    assert.equal(code, 1009);
    await cli.waitFor(/\[#1\] close code=1009 \(Message Too Big\)/);
    await stop(cli);
  });

  it('--compress negotiates permessage-deflate and compresses even small messages; --no-compress refuses it', async () => {
    const { cli, url } = await startServe('--mode', 'echo', '--compress');
    const ws = new WebSocket(url, { perMessageDeflate: true });
    await once(ws, 'open');
    assert.match(ws.extensions, /^permessage-deflate/);
    // The raw frame the server sends has RSV1 set, even for two bytes.
    const frames: number[] = [];
    const socket = (ws as unknown as { _socket: Socket })._socket;
    socket.prependListener('data', (chunk: Buffer) => frames.push(chunk[0]!));
    const reply = once(ws, 'message') as Promise<[Buffer]>;
    ws.send('hi');
    assert.equal(String((await reply)[0]), 'hi');
    assert.equal((frames[0]! & 0x40) !== 0, true, 'RSV1 set on the echo');
    await closeAndWait(ws, 1000, '');
    await stop(cli);

    const plain = await startServe('--mode', 'echo', '--no-compress');
    const other = new WebSocket(plain.url, { perMessageDeflate: true });
    await once(other, 'open');
    assert.equal(other.extensions, '');
    await closeAndWait(other, 1000, '');
    await stop(plain.cli);
  });

  it('--log json prints one JSON object per line', async () => {
    const cli = startCli('serve', '--mode', 'chat', '--port', '0', '--log', 'json');
    const match = await cli.waitFor(/^\{.*"event":"listening".*$/m);
    const listening = JSON.parse(match[0]) as { url: string; mode: string; port: number; time: string };
    assert.equal(listening.mode, 'chat');
    assert.equal(listening.url, `ws://127.0.0.1:${listening.port}/`);
    const { ws } = await open(listening.url);
    await closeAndWait(ws, 1000, 'bye');
    await cli.waitFor(/"event":"close".*\n/);
    cli.child.kill('SIGTERM');
    const exit = await cli.exit();
    assert.equal(exit.code, 0);
    const lines = exit.stdout.trimEnd().split('\n');
    const events = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      events.map((event) => event['event']),
      ['listening', 'open', 'close', 'closing', 'closed'],
    );
    for (const event of events) assert.ok(!Number.isNaN(Date.parse(String(event['time']))));
    assert.deepEqual({ ...events[2], time: '' }, { time: '', event: 'close', id: 1, code: 1000, codeName: 'Normal Closure', reason: 'bye', wasClean: true });
  });

  it('rejects bad combinations and values with exit code 2', async () => {
    for (const args of [
      ['--mode', 'echo', '--tls-cert', 'cert.pem'],
      ['--mode', 'echo', '--tls-key', 'key.pem'],
      ['--mode', 'echo', '--max-payload', '0'],
      ['--mode', 'echo', '--max-payload', '1k'],
      ['--mode', 'echo', '--log', 'xml'],
      ['--mode', 'echo', '--compress', '--no-compress'],
      ['--mode', 'nope'],
    ]) {
      const exit = await startCli('serve', ...args).exit();
      assert.equal(exit.code, 2, args.join(' '));
      assert.match(exit.stderr, /Usage: fullduplex serve/);
    }
    const missing = await startCli('serve', '--mode', 'echo', '--port', '0', '--static', '/nonexistent/folder').exit();
    assert.equal(missing.code, 1);
  });
});
