/**
 * `fullduplex serve` over HTTP/2 (RFC 8441), the CLI as a real process with a test certificate:
 * with --tls-cert one port speaks HTTP/2 (ALPN h2, SETTINGS_ENABLE_CONNECT_PROTOCOL) and HTTP/1.1 —
 * pages, static files and WebSockets over both, the inspector telling them apart; --no-http2 is
 * HTTP/1.1 only; --h2c is cleartext HTTP/2 only; the usage errors; a graceful stop with a WebSocket
 * over HTTP/2 open.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2, { type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import WsWebSocket from 'ws';
import { WebSocket, type ClientOptions } from '../../src/node/websocket.js';
import { killAll, startCli, type CliProcess } from './cli-process.js';
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js';

let certificate: Certificate;
before(() => {
  certificate = selfSignedCertificate();
});
after(async () => {
  await killAll();
  certificate.remove();
});

async function startServe(...args: string[]): Promise<{ cli: CliProcess; port: number; url: string }> {
  const cli = startCli('serve', '--port', '0', ...args);
  const match = await cli.waitFor(/listening on (wss?:\/\/\S+:(\d+)\/)/);
  return { cli, port: Number(match[2]), url: match[1]! };
}

function tlsArgs(): string[] {
  return ['--tls-cert', certificate.certPath, '--tls-key', certificate.keyPath];
}

async function stop(cli: CliProcess): Promise<void> {
  cli.child.kill('SIGTERM');
  assert.equal((await cli.exit()).code, 0);
}

/** Whether a client WebSocket travels on an HTTP/2 stream (its socket is a ClientHttp2Stream). */
function overHttp2(ws: WebSocket): boolean {
  const socket = ws.socket as { session?: unknown } | null;
  return socket !== null && socket.session !== undefined;
}

/** Our client, open, with a queue of what it receives. */
async function openClient(url: string, options: ClientOptions, protocols: string[] = []): Promise<{ ws: WebSocket; next: () => Promise<{ data: Buffer; isBinary: boolean }> }> {
  const ws = new WebSocket(url, protocols, options);
  const queue: Array<{ data: Buffer; isBinary: boolean }> = [];
  const waiting: Array<(message: { data: Buffer; isBinary: boolean }) => void> = [];
  ws.on('message', (data, isBinary) => {
    const message = { data: Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]), isBinary };
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter(message);
    else queue.push(message);
  });
  await once(ws, 'open');
  return {
    ws,
    next: () => {
      const queued = queue.shift();
      return queued !== undefined ? Promise.resolve(queued) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** An HTTP/2 GET (or HEAD) on a session: the status, headers and body. */
async function h2Get(session: ClientHttp2Session, path: string, method = 'GET'): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const stream = session.request({ ':method': method, ':path': path });
  stream.end();
  const [headers] = (await once(stream, 'response')) as [IncomingHttpHeaders];
  let body = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) body += chunk as string;
  return { status: Number(headers[':status']), headers, body };
}

async function h2Connect(port: number): Promise<ClientHttp2Session> {
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca: certificate.cert });
  session.on('error', () => {});
  await once(session, 'remoteSettings');
  return session;
}

describe('fullduplex serve --tls-cert: HTTP/2 and HTTP/1.1 on one port', () => {
  it('inspector mode: the page over HTTP/2, and WebSockets over HTTP/2 and HTTP/1.1, told apart by the inspector', async () => {
    const { cli, port, url } = await startServe('--mode', 'inspector', ...tlsArgs());
    assert.equal(url, `wss://127.0.0.1:${port}/`);
    await cli.waitFor(/Speaks HTTP\/2 and HTTP\/1\.1/);

    const session = await h2Connect(port);
    assert.equal((session.socket as TLSSocket).alpnProtocol, 'h2');
    assert.equal(session.remoteSettings.enableConnectProtocol, true);
    const page = await h2Get(session, '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /<script type="module" src="\/js\/app\.js">/);
    const script = await h2Get(session, '/js/app.js');
    assert.equal(script.status, 200);
    assert.match(String(script.headers['content-type']), /^text\/javascript/);
    assert.equal((await h2Get(session, '/style.css', 'HEAD')).status, 200);
    assert.equal((await h2Get(session, '/nothing-here')).status, 404);
    session.close();

    // The page's feed over HTTP/1.1 (the `ws` package has no HTTP/2), the tapped chat connection over HTTP/2.
    const token = 'h2-token-12345';
    const feed = new WsWebSocket(`${url}inspect?tap=${token}`, { ca: certificate.cert });
    const events: Array<Record<string, unknown>> = [];
    const waiters: Array<() => void> = [];
    feed.on('message', (data) => {
      events.push(JSON.parse(String(data)) as Record<string, unknown>);
      for (const waiter of waiters.splice(0)) waiter();
    });
    const waitEvent = async (match: (event: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
      for (;;) {
        const found = events.find(match);
        if (found !== undefined) {
          events.splice(events.indexOf(found), 1);
          return found;
        }
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    };
    await once(feed, 'open');
    await waitEvent((event) => event['type'] === 'hello');

    const h2 = await openClient(`${url}?tap=${token}&name=ada`, { http2: 'require', ca: certificate.cert, perMessageDeflate: false }, ['chat']);
    assert.ok(overHttp2(h2.ws), 'the client WebSocket is on an HTTP/2 stream');
    assert.equal(h2.ws.protocol, 'chat');
    const welcome = JSON.parse(String((await h2.next()).data)) as { type: string; name: string };
    assert.deepEqual([welcome.type, welcome.name], ['welcome', 'ada']);
    type Handshake = { http: string; request: { line: string; headers: string[][] }; response: { line: string; headers: string[][] } };
    const handshake = (await waitEvent((event) => event['type'] === 'handshake')) as unknown as Handshake;
    assert.equal(handshake.http, '2');
    assert.equal(handshake.request.line, `CONNECT /?tap=${token}&name=ada HTTP/2`);
    assert.ok(handshake.request.headers.some(([name, value]) => name === ':protocol' && value === 'websocket'), JSON.stringify(handshake.request.headers));
    assert.ok(handshake.request.headers.some(([name, value]) => name === ':method' && value === 'CONNECT'));
    assert.ok(!handshake.request.headers.some(([name]) => name?.toLowerCase() === 'sec-websocket-key'), 'RFC 8441 §5: no key');
    assert.equal(handshake.response.line, 'HTTP/2 200');
    assert.deepEqual(handshake.response.headers[0], [':status', '200']);
    assert.ok(handshake.response.headers.some(([name, value]) => name === 'sec-websocket-protocol' && value === 'chat'));
    assert.ok(!handshake.response.headers.some(([name]) => /^(sec-websocket-accept|upgrade|connection)$/i.test(name ?? '')));

    h2.ws.send('over h2');
    const up = await waitEvent((event) => event['type'] === 'frame' && event['dir'] === 'in' && event['opcode'] === 1);
    assert.deepEqual([up['preview'], up['masked'], up['length']], ['over h2', true, 7]);
    let chat: { type: string; from?: string; text?: string };
    do chat = JSON.parse(String((await h2.next()).data)) as typeof chat;
    while (chat.type === 'join');
    assert.deepEqual([chat.type, chat.from, chat.text], ['chat', 'ada', 'over h2']);
    await waitEvent((event) => event['type'] === 'frame' && event['dir'] === 'out' && String(event['preview']).includes('"text":"over h2"'));
    await cli.waitFor(/\[#1\] open remote=127\.0\.0\.1:\d+ path=\/\?tap=h2-token-12345&name=ada protocol=chat http=2\n/);

    // An HTTP/1.1 Upgrade on the same port, same token: the inspector says HTTP/1.1.
    const h1 = new WsWebSocket(`${url}?tap=${token}&name=bob`, { ca: certificate.cert });
    await once(h1, 'open');
    const handshake1 = (await waitEvent((event) => event['type'] === 'handshake')) as unknown as Handshake;
    assert.equal(handshake1.http, '1.1');
    assert.equal(handshake1.request.line, `GET /?tap=${token}&name=bob HTTP/1.1`);
    assert.equal(handshake1.response.line, 'HTTP/1.1 101 Switching Protocols');
    await cli.waitFor(/\[#2\] open remote=\S+ path=\/\?tap=\S+&name=bob protocol=\(none\)\n/);

    h1.close(1000);
    await once(h1, 'close');
    h2.ws.close(1000, 'bye');
    const [code] = (await once(h2.ws, 'close')) as [number];
    assert.equal(code, 1000);
    await waitEvent((event) => event['type'] === 'frame' && event['dir'] === 'in' && event['closeCode'] === 1000);
    feed.close();
    await once(feed, 'close');
    await stop(cli);
  });

  it('echo mode with --static: files over HTTP/2, echo over an HTTP/2 stream and over HTTP/1.1, 405 for a page request to the endpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fullduplex-h2-static-'));
    try {
      writeFileSync(join(dir, 'hello.txt'), 'hello over h2\n');
      const { cli, port, url } = await startServe('--mode', 'echo', '--static', dir, ...tlsArgs());
      const session = await h2Connect(port);
      const file = await h2Get(session, '/hello.txt');
      assert.deepEqual([file.status, file.body, file.headers['content-type']], [200, 'hello over h2\n', 'text/plain; charset=utf-8']);
      assert.equal((await h2Get(session, '/missing.txt')).status, 404);
      const head = await h2Get(session, '/hello.txt', 'HEAD');
      assert.deepEqual([head.status, head.body, head.headers['content-length']], [200, '', '14']);
      session.close();

      const h2 = await openClient(url, { http2: 'require', ca: certificate.cert });
      assert.ok(overHttp2(h2.ws));
      h2.ws.send('text');
      assert.deepEqual(await h2.next(), { data: Buffer.from('text'), isBinary: false });
      h2.ws.send(Buffer.from([0, 1, 2, 255]));
      assert.deepEqual(await h2.next(), { data: Buffer.from([0, 1, 2, 255]), isBinary: true });

      const h1 = await openClient(url, { ca: certificate.cert });
      assert.ok(!overHttp2(h1.ws));
      h1.ws.send('one point one');
      assert.deepEqual(await h1.next(), { data: Buffer.from('one point one'), isBinary: false });
      for (const ws of [h1.ws, h2.ws]) {
        ws.close(1000);
        await once(ws, 'close');
      }
      await stop(cli);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // Without --static, an HTTP/2 GET of the endpoint is told how to reach it (HTTP/2 forbids Upgrade).
    const { cli, port } = await startServe('--mode', 'broadcast', ...tlsArgs());
    const session = await h2Connect(port);
    const answer = await h2Get(session, '/');
    assert.equal(answer.status, 405);
    assert.equal(answer.headers['allow'], 'CONNECT');
    assert.match(answer.body, /extended CONNECT/);
    session.close();
    const viaHttp1 = await fetch(`http://127.0.0.1:${port}/`).catch((error: Error) => error);
    assert.ok(viaHttp1 instanceof Error, 'the port is TLS only');
    await stop(cli);
  });

  it('stops gracefully on SIGTERM with a WebSocket over HTTP/2 open: 1001 to it, exit 0', async () => {
    const { cli, url } = await startServe('--mode', 'chat', ...tlsArgs());
    const client = await openClient(url, { http2: 'require', ca: certificate.cert });
    await client.next(); // welcome
    const closed = once(client.ws, 'close') as Promise<[number, Buffer]>;
    cli.child.kill('SIGTERM');
    const [code] = await closed;
    assert.equal(code, 1001);
    const exit = await cli.exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stdout, /server closed/);
  });
});

describe('fullduplex serve --no-http2 and --h2c', () => {
  it('--no-http2: HTTP/1.1 only, so a client requiring HTTP/2 fails and one allowing it falls back', async () => {
    const { cli, url } = await startServe('--mode', 'echo', '--no-http2', ...tlsArgs());
    const strict = new WebSocket(url, { http2: 'require', ca: certificate.cert });
    const closed = new Promise<number>((resolve) => strict.once('close', resolve));
    const error = await new Promise<Error>((resolve) => strict.once('error', resolve));
    assert.match(error.message, /does not offer HTTP\/2 \(TLS ALPN "h2"\)/);
    assert.equal(await closed, 1006);

    const fallback = await openClient(url, { http2: true, ca: certificate.cert });
    assert.ok(!overHttp2(fallback.ws));
    fallback.ws.send('fell back');
    assert.deepEqual(await fallback.next(), { data: Buffer.from('fell back'), isBinary: false });
    fallback.ws.close(1000);
    await once(fallback.ws, 'close');
    await stop(cli);
  });

  it('--h2c: cleartext HTTP/2 with prior knowledge only (our client with http2: "h2c" echoes; an HTTP/1.1 client cannot connect)', async () => {
    const { cli, url, port } = await startServe('--mode', 'echo', '--h2c');
    assert.equal(url, `ws://127.0.0.1:${port}/`);
    await cli.waitFor(/Speaks HTTP\/2 only \(h2c/);
    const client = await openClient(url, { http2: 'h2c' });
    assert.ok(overHttp2(client.ws));
    client.ws.send('cleartext h2');
    assert.deepEqual(await client.next(), { data: Buffer.from('cleartext h2'), isBinary: false });
    await cli.waitFor(/\[#1\] open .* http=2\n/);

    const h1 = new WsWebSocket(url);
    const h1Error = new Promise<Error>((resolve) => h1.once('error', resolve));
    assert.equal(await new Promise<number>((resolve) => h1.once('close', resolve)), 1006);
    assert.match((await h1Error).message, /Parse Error/);

    client.ws.close(1000);
    await once(client.ws, 'close');
    await stop(cli);
  });

  it('usage errors exit 2: --h2c with --tls-cert, --h2c with --no-http2, --no-http2 without TLS', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--h2c', ...tlsArgs()], /--h2c is cleartext HTTP\/2/],
      [['--h2c', '--no-http2'], /--h2c and --no-http2 contradict/],
      [['--no-http2'], /--no-http2 is for --tls-cert/],
    ];
    for (const [args, message] of cases) {
      const result = await startCli('serve', '--mode', 'echo', '--port', '0', ...args).exit();
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, message);
      assert.match(result.stderr, /Usage: fullduplex serve/);
    }
    const help = await startCli('serve', '--help').exit();
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--no-http2/);
    assert.match(help.stdout, /HTTP\/2 only: HTTP\/1\.1\s+clients and browsers cannot connect/);
  });
});
