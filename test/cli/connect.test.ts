/**
 * `fullduplex connect URL` as a real process against our `WebSocketServer`.
 *   --echo: echoes with the same opcode, offers the -s subprotocols, exits 0 after a normal clean
 *   close (1000, 1001, 1005) and 1 with the close code on stderr otherwise (error codes, 1006,
 *   refused, handshake refused).
 *   The handshake flags (-H, --origin, --compress/--no-compress, --insecure, --ca), -x, -w,
 *   --binary-as, --show-ping, --json, lines from a pipe, the prompt (--interactive on a pipe) and its
 *   /commands, colours, and usage errors.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { computeAcceptKey } from '../../src/protocol/handshake.js';
import { WebSocketServer, type ServerOptions } from '../../src/node/server.js';
import type { WebSocket } from '../../src/node/websocket.js';
import { runCli } from '../../src/cli/dispatch.js';
import { CONNECT_USAGE } from '../../src/cli/connect.js';
import { useColor } from '../../src/cli/connect-print.js';
import type { Output } from '../../src/cli/output.js';
import { CliProcess, closedPort, killAll, startCli, startEchoServer } from './cli-process.js';
import { linesOf, selfSignedCertificate, type Certificate } from './connect-helpers.js';

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
async function startServer(options: Partial<ServerOptions> = {}): Promise<{ server: WebSocketServer; url: string; connection: () => Promise<WebSocket>; request: () => Promise<IncomingMessage> }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options } as ServerOptions);
  servers.add(server);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const connection = async (): Promise<WebSocket> => ((await once(server, 'connection')) as [WebSocket])[0];
  const request = async (): Promise<IncomingMessage> => ((await once(server, 'connection')) as [WebSocket, IncomingMessage])[1];
  return { server, url: `ws://127.0.0.1:${port}${options.path ?? '/'}`, connection, request };
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

/** The next connection's socket and upgrade request. */
async function accepted(server: WebSocketServer): Promise<[WebSocket, IncomingMessage]> {
  return (await once(server, 'connection')) as [WebSocket, IncomingMessage];
}

/** Send every message back with its opcode (for the server side of a test). */
function echo(server: WebSocketServer): void {
  server.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data as Buffer, { binary: isBinary })));
}

/** The next close the server side of `socket` sees. */
function serverClose(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return (once(socket, 'close') as Promise<[number, Buffer]>).then(([code, reason]) => ({ code, reason: reason.toString('utf8') }));
}

/**
 * `fullduplex connect URL --interactive [flags]` against a new server (`serve` sets the server up before
 * the client connects), once the process has printed "connected to": the server's side of the
 * connection, and the process.
 */
async function interactiveSession(flags: readonly string[] = [], serve?: (server: WebSocketServer) => void): Promise<{ socket: WebSocket; cli: CliProcess }> {
  const { server, url } = await startServer();
  serve?.(server);
  const next = accepted(server);
  const cli = startCli('connect', url, '--interactive', ...flags);
  const [socket] = await next;
  await cli.waitFor(/connected to/);
  return { socket, cli };
}

const NO_ANSI = /\x1b\[/;

function hasScript(): boolean {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('fullduplex connect: handshake options', () => {
  it('-H adds each request header (repeatable, same name twice included)', async () => {
    const { server, url } = await startServer();
    const next = accepted(server);
    const cli = startCli('connect', url, '--echo', '-H', 'X-Token: abc 123', '-H', 'x-trace:one', '-H', 'X-Trace: two', '-H', 'Authorization: Bearer t0k');
    const [socket, request] = await next;
    assert.equal(request.headers['x-token'], 'abc 123');
    assert.equal(request.headers['x-trace'], 'one, two');
    assert.equal(request.headers['authorization'], 'Bearer t0k');
    assert.equal(request.headers['origin'], undefined);
    socket.close(1000);
    assert.equal((await cli.exit()).code, 0);
  });

  it('-s offers the subprotocols in order (also outside --echo)', async () => {
    const { server, url } = await startServer();
    echo(server);
    const next = accepted(server);
    const cli = startCli('connect', url, '-s', 'v2.chat', '-s', 'chat', '-x', 'hi');
    const [socket, request] = await next;
    assert.equal(request.headers['sec-websocket-protocol'], 'v2.chat, chat');
    assert.equal(socket.protocol, 'v2.chat');
    const exit = await cli.exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stderr, /connected to \S+ protocol=v2\.chat\n/);
  });

  it('--origin sends the Origin header', async () => {
    const { server, url } = await startServer();
    const next = accepted(server);
    const cli = startCli('connect', url, '--echo', '--origin', 'https://app.example.com');
    const [socket, request] = await next;
    assert.equal(request.headers['origin'], 'https://app.example.com');
    socket.close(1000);
    assert.equal((await cli.exit()).code, 0);
  });

  it('--compress (the default) offers permessage-deflate; --no-compress does not; the last one wins', async () => {
    const { server, url } = await startServer({ perMessageDeflate: true });
    const cases: Array<{ flags: string[]; offered: boolean }> = [
      { flags: [], offered: true },
      { flags: ['--compress'], offered: true },
      { flags: ['--no-compress'], offered: false },
      { flags: ['--compress', '--no-compress'], offered: false },
      { flags: ['--no-compress', '--compress'], offered: true },
    ];
    for (const { flags, offered } of cases) {
      const next = accepted(server);
      const cli = startCli('connect', url, '--echo', '--json', ...flags);
      const [socket, request] = await next;
      const header = request.headers['sec-websocket-extensions'];
      if (offered) assert.match(String(header), /^permessage-deflate/, flags.join(' '));
      else assert.equal(header, undefined, flags.join(' '));
      socket.send('x'.repeat(1000)); // compressed when negotiated, and echoed
      socket.close(1000);
      const exit = await cli.exit();
      assert.equal(exit.code, 0, exit.stderr);
      const open = JSON.parse(linesOf(exit.stdout)[0]!) as { event: string; extensions: string };
      assert.equal(open.event, 'open');
      if (offered) assert.match(open.extensions, /^permessage-deflate/);
      else assert.equal(open.extensions, '');
    }
  });
});

describe('fullduplex connect: wss:// with a self-signed certificate', () => {
  let certificate: Certificate;
  let https: HttpsServer;
  let wss: WebSocketServer;
  let url: string;

  before(async () => {
    certificate = selfSignedCertificate();
    https = createHttpsServer({ key: certificate.key, cert: certificate.cert });
    wss = new WebSocketServer({ server: https });
    echo(wss);
    https.listen(0, '127.0.0.1');
    await once(https, 'listening');
    url = `wss://127.0.0.1:${(https.address() as AddressInfo).port}/`;
  });
  after(async () => {
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    https.closeAllConnections();
    await new Promise<void>((resolve) => https.close(() => resolve()));
    certificate.remove();
  });

  it('without --insecure or --ca the certificate is refused: exit 1', async () => {
    const exit = await startCli('connect', url, '-x', 'hi').exit();
    assert.equal(exit.code, 1);
    assert.match(exit.stderr, /error: .*(self[- ]signed|certificate)/i);
    assert.match(exit.stderr, /closed code=1006/);
    assert.equal(exit.stdout, '');
  });

  it('--insecure connects anyway', async () => {
    const exit = await startCli('connect', url, '-x', 'over tls', '--insecure').exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stdout, 'over tls\n');
  });

  it('--ca FILE trusts that certificate', async () => {
    const exit = await startCli('connect', url, '-x', 'trusted', '--ca', certificate.certPath).exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stdout, 'trusted\n');
  });

  it('--ca with a file that cannot be read: exit 1', async () => {
    const exit = await startCli('connect', url, '-x', 'hi', '--ca', `${certificate.certPath}.missing`).exit();
    assert.equal(exit.code, 1);
    assert.match(exit.stderr, /cannot read --ca .*\.missing/);
  });
});

describe('fullduplex connect -x and -w', () => {
  it('-x sends each message after the reply to the one before, prints the replies, closes with 1000', async () => {
    const { server, url } = await startServer();
    const received: string[] = [];
    const replied: string[] = [];
    server.on('connection', (socket) => {
      socket.on('message', (data) => {
        const text = String(data);
        received.push(text);
        // The next message must not arrive before this reply has gone out.
        assert.deepEqual(replied, received.slice(0, -1));
        setTimeout(() => {
          replied.push(text);
          socket.send(`re:${text}`);
        }, 100);
      });
    });
    const next = accepted(server);
    const cli = startCli('connect', url, '-x', 'first', '-x', '{"second": 2}', '-x', 'third');
    const [socket] = await next;
    const closed = serverClose(socket);
    const exit = await cli.exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stdout, 're:first\nre:{"second": 2}\nre:third\n');
    assert.deepEqual(received, ['first', '{"second": 2}', 'third']);
    assert.deepEqual(await closed, { code: 1000, reason: '' });
    assert.match(exit.stderr, /connected to/);
    assert.match(exit.stderr, /closed code=1000 \(Normal Closure\)/);
  });

  it('-w after -x keeps listening that long, then closes with 1000', async () => {
    const { server, url } = await startServer();
    let repliedAt = 0;
    server.on('connection', (socket) => {
      socket.on('message', (data) => {
        repliedAt = Date.now();
        socket.send(String(data));
        setTimeout(() => socket.send('late'), 300);
      });
    });
    const next = accepted(server);
    const cli = startCli('connect', url, '-x', 'hi', '-w', '0.8');
    const [socket] = await next;
    const closed = serverClose(socket);
    assert.deepEqual(await closed, { code: 1000, reason: '' });
    // The client waits 800 ms after it got the reply, which is after the server sent it.
    assert.ok(Date.now() - repliedAt >= 750, `closed ${Date.now() - repliedAt} ms after the reply`);
    const exit = await cli.exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stdout, 'hi\nlate\n');
  });

  it('-w alone closes with 1000 that long after connecting (--echo)', async () => {
    const { server, url } = await startServer();
    const next = accepted(server);
    const cli = startCli('connect', url, '--echo', '-w', '0.3');
    const [socket] = await next;
    assert.deepEqual(await serverClose(socket), { code: 1000, reason: '' });
    assert.equal((await cli.exit()).code, 0);
  });

  it('-w with piped stdin waits that long after the end of stdin (for a slow reply)', async () => {
    const { server, url } = await startServer();
    server.on('connection', (socket) => socket.on('message', (data) => setTimeout(() => socket.send(`slow ${String(data)}`), 900)));
    const cli = startCli('connect', url, '-w', '2');
    cli.child.stdin.end('question\n');
    const exit = await cli.exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stdout, 'slow question\n');
  });
});

describe('fullduplex connect: printing', () => {
  const BYTES = Buffer.from([0x00, 0x41, 0x0a, 0xc3, 0xa9]);
  const binaryCases: Array<{ flags: string[]; stdout: string }> = [
    { flags: [], stdout: '00410ac3a9\n' },
    { flags: ['--binary-as', 'hex'], stdout: '00410ac3a9\n' },
    { flags: ['--binary-as', 'base64'], stdout: `${BYTES.toString('base64')}\n` },
    { flags: ['--binary-as', 'raw'], stdout: '\x00A\né' }, // the bytes, nothing added
  ];
  for (const { flags, stdout } of binaryCases) {
    it(`${flags.length === 0 ? 'binary messages print as hex by default' : flags.join(' ')}`, async () => {
      const { server, url } = await startServer();
      server.on('connection', (socket) => socket.on('message', () => socket.send(BYTES)));
      const exit = await startCli('connect', url, '-x', 'go', ...flags).exit();
      assert.equal(exit.code, 0, exit.stderr);
      assert.equal(exit.stdout, stdout);
    });
  }

  it('--binary-as at the prompt: "< " and the formatted bytes', async () => {
    const { socket, cli } = await interactiveSession(['--binary-as', 'base64']);
    socket.send(Buffer.from([1, 2, 3]));
    await cli.waitFor(/^< AQID\n/m);
    cli.child.stdin.end();
    assert.equal((await cli.exit()).code, 0);
  });

  it('--show-ping prints the pings and pongs received; without it they are not printed', async () => {
    for (const show of [true, false]) {
      const { server, url } = await startServer();
      server.on('connection', (socket) => {
        socket.ping('hb');
        socket.pong('pp');
        socket.send('marker');
      });
      const cli = startCli('connect', url, '--interactive', ...(show ? ['--show-ping'] : []));
      await cli.waitFor(/^< marker\n/m);
      if (show) {
        assert.match(cli.stdout, /^< ping hb\n< pong pp\n< marker\n/m);
      } else {
        assert.doesNotMatch(cli.stdout, /ping|pong/);
      }
      cli.child.stdin.end();
      const exit = await cli.exit();
      assert.equal(exit.code, 0, exit.stderr);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      servers.delete(server);
    }
  });

  it('--show-ping in a script prints them on stderr, keeping stdout for messages', async () => {
    const { server, url } = await startServer();
    server.on('connection', (socket) => socket.on('message', (data) => {
      socket.ping('hb');
      socket.send(String(data));
    }));
    const exit = await startCli('connect', url, '-x', 'hi', '--show-ping').exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stdout, 'hi\n');
    assert.match(exit.stderr, /ping received hb\n/);
  });

  it('--json prints one JSON object per line for every event', async () => {
    const { server, url } = await startServer();
    server.on('connection', (socket) => {
      socket.send('hello');
      socket.send(Buffer.from([1, 2, 3]));
      socket.ping('p');
      socket.close(1000, 'done');
    });
    const cli = startCli('connect', url, '--json');
    const exit = await cli.exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stderr, '');
    const events = linesOf(exit.stdout).map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(events, [
      { event: 'open', url, protocol: '', extensions: '' },
      { event: 'message', isBinary: false, text: 'hello' },
      { event: 'message', isBinary: true, data: 'AQID' },
      { event: 'ping', data: Buffer.from('p').toString('base64') },
      { event: 'close', code: 1000, reason: 'done', wasClean: true },
    ]);
  });

  it('--json reports a failed connection as error and close events, exit 1', async () => {
    const port = await closedPort();
    const exit = await startCli('connect', `ws://127.0.0.1:${port}/`, '--json', '-x', 'hi').exit();
    assert.equal(exit.code, 1);
    const events = linesOf(exit.stdout).map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(events.length, 2, exit.stdout);
    assert.equal(events[0]!['event'], 'error');
    assert.match(String(events[0]!['message']), /ECONNREFUSED/);
    assert.deepEqual(events[1], { event: 'close', code: 1006, reason: '', wasClean: false });
  });

  it('no colours when stdout is not a terminal', async () => {
    const { cli } = await interactiveSession(['--show-ping'], echo);
    cli.child.stdin.write('hello\n/bogus\n');
    await cli.waitFor(/^< hello\n/m);
    await cli.waitFor(/unknown command/, 'stderr');
    cli.child.stdin.end();
    const exit = await cli.exit();
    assert.equal(exit.code, 0);
    assert.doesNotMatch(exit.stdout, NO_ANSI);
    assert.doesNotMatch(exit.stderr, NO_ANSI);
  });

  it('on a real terminal (script(1)): the prompt, colours; none with NO_COLOR=1', { skip: !hasScript() && 'script(1) is needed for a pseudo-terminal' }, async () => {
    for (const noColor of [false, true]) {
      const { server, url } = await startServer();
      echo(server);
      const node = `${JSON.stringify(process.execPath)} --import tsx src/cli/main.ts connect ${url}`;
      const cli = new CliProcess(['script'], ['-qec', `${noColor ? 'env NO_COLOR=1' : 'env -u NO_COLOR'} ${node}`, '/dev/null']);
      await cli.waitFor(/connected to/);
      await cli.waitFor(/> /);
      cli.child.stdin.write('hello\r');
      await cli.waitFor(/<(\x1b\[0m)? hello/);
      cli.child.stdin.write('/close\r');
      const exit = await cli.exit();
      assert.equal(exit.code, 0, exit.stdout);
      if (noColor) assert.doesNotMatch(exit.stdout, /\x1b\[\d*m/);
      else assert.match(exit.stdout, /\x1b\[32m<\x1b\[0m hello/);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      servers.delete(server);
    }
  });

  it('colours only on a terminal without NO_COLOR', () => {
    assert.equal(useColor({ isTTY: true }, {}), true);
    assert.equal(useColor({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(useColor({ isTTY: true }, { NO_COLOR: '' }), true); // no-color.org: set and not empty
    assert.equal(useColor({ isTTY: false }, {}), false);
    assert.equal(useColor({}, {}), false);
  });
});

describe('fullduplex connect with stdin a pipe', () => {
  it('sends each line as one text message, prints the replies, closes with 1000 at the end, exit 0', async () => {
    const { server, url } = await startServer();
    echo(server);
    const next = accepted(server);
    const cli = startCli('connect', url);
    const [socket] = await next;
    const received: string[] = [];
    socket.on('message', (data, isBinary) => {
      assert.equal(isBinary, false);
      received.push(String(data));
    });
    const closed = serverClose(socket);
    cli.child.stdin.write('one\ntwo\r\n');
    cli.child.stdin.end('\n/not a command\nthree');
    const exit = await cli.exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.deepEqual(received, ['one', 'two', '', '/not a command', 'three']);
    assert.equal(exit.stdout, 'one\ntwo\n\n/not a command\nthree\n');
    assert.deepEqual(await closed, { code: 1000, reason: '' });
    assert.match(exit.stderr, /^connected to .*\nclosed code=1000 \(Normal Closure\) reason="" wasClean=true\n$/);
  });

  it('lines written before the connection opens are sent once it does', async () => {
    const { server, url } = await startServer();
    echo(server);
    const cli = startCli('connect', url);
    cli.child.stdin.end('early 1\nearly 2\n'); // before the child has even started
    const exit = await cli.exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stdout, 'early 1\nearly 2\n');
  });

  it('exits 1 when the server closes with an error code while stdin is still open', async () => {
    const { server, url } = await startServer();
    server.on('connection', (socket) => socket.close(4001, 'go away'));
    const cli = startCli('connect', url);
    const exit = await cli.exit();
    assert.equal(exit.code, 1);
    assert.match(exit.stderr, /closed code=4001 \(.*\) reason="go away" wasClean=true\n/);
  });
});

describe('fullduplex connect: the prompt (--interactive on a pipe)', () => {
  it('sends typed lines, shows "> sent" and "< received", and Ctrl-D (end of input) closes with 1000', async () => {
    const { socket, cli } = await interactiveSession([], echo);
    const closed = serverClose(socket);
    await cli.waitFor(/connected to \S+ protocol=\(none\)\n/);
    cli.child.stdin.write('hello there\n\n//slash\n');
    await cli.waitFor(/^< \/slash\n/m);
    assert.match(cli.stdout, /^> hello there\n/m);
    assert.match(cli.stdout, /^< hello there\n/m);
    assert.match(cli.stdout, /^> \/slash\n/m);
    cli.child.stdin.end();
    assert.deepEqual(await closed, { code: 1000, reason: '' });
    const exit = await cli.exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stdout, /closed code=1000 \(Normal Closure\) reason="" wasClean=true\n$/);
  });

  it('/ping [data] sends a ping (the pong shows with --show-ping); /pong sends a pong', async () => {
    const { socket, cli } = await interactiveSession(['--show-ping']);
    const ping = once(socket, 'ping') as Promise<[Buffer]>;
    cli.child.stdin.write('/ping are you there\n');
    assert.equal(String((await ping)[0]), 'are you there');
    await cli.waitFor(/^< pong are you there\n/m);
    const pong = once(socket, 'pong') as Promise<[Buffer]>;
    cli.child.stdin.write('/pong\n');
    assert.equal((await pong)[0].length, 0);
    socket.close(1000);
    assert.equal((await cli.exit()).code, 0);
  });

  it('/close 4000 bye closes with that code and reason (exit 1: not a normal code)', async () => {
    const { socket, cli } = await interactiveSession();
    const closed = serverClose(socket);
    cli.child.stdin.write('/close 4000 bye bye\n');
    assert.deepEqual(await closed, { code: 4000, reason: 'bye bye' });
    const exit = await cli.exit();
    assert.equal(exit.code, 1);
    assert.match(exit.stderr, /closed code=4000 /);
  });

  it('/close alone closes with 1000 (exit 0)', async () => {
    const { socket, cli } = await interactiveSession();
    const closed = serverClose(socket);
    cli.child.stdin.write('/close\n');
    assert.deepEqual(await closed, { code: 1000, reason: '' });
    assert.equal((await cli.exit()).code, 0);
  });

  it('/binary HEX sends binary; mistakes (/binary zz, /close abc, /close 1005, unknown commands) are reported and not sent', async () => {
    const { socket, cli } = await interactiveSession();
    const got = messages(socket);
    cli.child.stdin.write('/binary zz\n/close abc\n/close 1005\n/frob\n/help\n/binary 00 ff 10\n');
    assert.deepEqual(await got(), { data: Buffer.from([0x00, 0xff, 0x10]), isBinary: true });
    await cli.waitFor(/^> \/binary 00ff10\n/m);
    assert.match(cli.stderr, /\/binary: give the bytes in hexadecimal/);
    assert.match(cli.stderr, /\/close: the code must be a number \(got "abc"\)/);
    assert.match(cli.stderr, /\/close: .*valid error code/);
    assert.match(cli.stderr, /unknown command "\/frob"/);
    assert.match(cli.stdout, /\/ping \[DATA\][\s\S]*\/close \[CODE \[REASON\]\][\s\S]*\/binary HEX/);
    cli.child.stdin.write('after mistakes\n');
    assert.deepEqual(await got(), { data: Buffer.from('after mistakes'), isBinary: false });
    socket.close(1000);
    assert.equal((await cli.exit()).code, 0);
  });
});

async function runInProcess(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const output: Output = {
    log: (line) => {
      stdout += `${line}\n`;
    },
    error: (line) => {
      stderr += `${line}\n`;
    },
  };
  const code = await runCli(args, output);
  return { code, stdout, stderr };
}

describe('fullduplex connect: help and usage errors', () => {
  it('--help documents every flag, the modes and the exit codes', async () => {
    const exit = await startCli('connect', '--help').exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stdout, `${CONNECT_USAGE}\n`);
    for (const flag of ['-H, --header', '-s, --subprotocol', '--origin', '--compress', '--no-compress', '--insecure', '--ca FILE', '-x, --execute', '-w, --wait', '--binary-as hex|base64|raw', '--show-ping', '--echo', '--json', '--interactive', '-h, --help', '/ping', '/pong', '/close', '/binary', '/help', 'NO_COLOR', 'Exit codes:']) {
      assert.ok(exit.stdout.includes(flag), `the help mentions ${flag}`);
    }
  });

  const mistakes: Array<{ args: string[]; message: RegExp }> = [
    { args: ['connect'], message: /the URL to connect to is missing/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '-w', 'soon'], message: /-w must be a number of seconds/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '-w', '-1'], message: /^fullduplex connect: / },
    { args: ['connect', 'ws://127.0.0.1:1/', '--binary-as', 'octal'], message: /--binary-as must be one of: hex, base64, raw \(got "octal"\)/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '-H', 'no colon'], message: /-H must be "Name: value"/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '-H', 'Bad Name: x'], message: /-H must be "Name: value" with a valid header name/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '-H', 'X-A: a\nb'], message: /-H X-A: the value has characters/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '-H', 'Sec-WebSocket-Protocol: chat'], message: /the handshake sets this header/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '--echo', '-x', 'hi'], message: /--echo and -x cannot be used together/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '--interactive', '-x', 'hi'], message: /--interactive cannot be used with -x/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '--origin', ''], message: /--origin must not be empty/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '-x'], message: /^fullduplex connect: .*-x/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '--compress=no'], message: /^fullduplex connect: .*--compress/ },
    { args: ['connect', 'ws://127.0.0.1:1/', '--frobnicate'], message: /^fullduplex connect: .*--frobnicate/ },
    { args: ['connect', 'ftp://example.com/', '-x', 'hi'], message: /^fullduplex connect: .*protocol/ },
  ];
  for (const { args, message } of mistakes) {
    it(`"fullduplex ${args.join(' ').replace(/\n/g, '\\n')}" exits 2 with the usage on stderr`, async () => {
      const result = await runInProcess(...args);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, message);
      assert.match(result.stderr, /Usage: fullduplex connect/);
    });
  }

  it('a usage error exits 2 as a process too, without connecting', async () => {
    const exit = await startCli('connect', 'ws://127.0.0.1:1/', '--binary-as', 'octal').exit();
    assert.equal(exit.code, 2);
    assert.equal(exit.stdout, '');
    assert.match(exit.stderr, /Usage: fullduplex connect/);
  });
});

describe('fullduplex connect: stdout closed by its reader', () => {
  it('closes with 1000 and exits 0 when stdout goes away (as with `| head -1`)', async () => {
    const { server, url } = await startServer();
    const next = accepted(server);
    const cli = startCli('connect', url, '--binary-as', 'hex');
    const [socket] = await next;
    const closed = serverClose(socket);
    const timer = setInterval(() => {
      if (socket.readyState === socket.OPEN) socket.send(Buffer.alloc(512, 7));
    }, 5);
    try {
      await cli.waitFor(/0707\n/);
      cli.child.stdout.destroy();
      assert.deepEqual(await closed, { code: 1000, reason: '' });
      const exit = await cli.exit();
      assert.equal(exit.code, 0, exit.stderr);
      assert.match(exit.stderr, /closed code=1000 \(Normal Closure\)/);
    } finally {
      clearInterval(timer);
    }
  });
});
