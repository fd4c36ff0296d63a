/**
 * The PROXY protocol on real sockets: the standalone server with `proxyProtocol`, `acceptProxyProtocol`
 * on a user's http/https server, and `readProxyHeader` alone. Raw clients send good, malformed, late
 * and missing headers; a dropped connection never gets an HTTP answer, and the server keeps serving.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as http2Connect, createServer as createH2cServer } from 'node:http2';
import { H2Peer } from '../helpers/h2.js';
import { WebSocketServer, WebSocket, acceptProxyProtocol, clientAddress, ProxyProtocolError } from '../../src/node/index.js';
import { PROXY_V2_SIGNATURE } from '../../src/protocol/proxy-protocol.js';
import { readProxyHeader, resolveProxyProtocolOptions, proxyHeaderOf } from '../../src/node/proxy-protocol-reader.js';
import { startServer, stopServer, within, listen, delay } from '../helpers/node.js';
import { upgradeRequest } from '../helpers/net.js';
import { selfSignedCertificate } from '../helpers/tls.js';
import { scaled } from '../helpers/time.js';

const v1 = (source: string, port = 4711): string => `PROXY ${source.includes(':') ? 'TCP6' : 'TCP4'} ${source} ${source.includes(':') ? '::1' : '127.0.0.1'} ${port} 80\r\n`;

function v2ipv6(source: number[], tlvs: number[] = []): Buffer {
  const block = [...source, ...new Array<number>(15).fill(0), 1, 0x12, 0x34, 0, 80, ...tlvs];
  return Buffer.from([...PROXY_V2_SIGNATURE, 0x21, 0x21, block.length >> 8, block.length & 0xff, ...block]);
}

/** A raw connection from `localAddress` that collects what it receives. */
async function raw(port: number, localAddress = '127.0.0.1'): Promise<{ socket: Socket; received: () => string; closed: Promise<unknown> }> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  const closed = once(socket, 'close');
  await once(socket, 'connect');
  return { socket, received: () => text, closed };
}

async function upgraded(wss: WebSocketServer, port: number, chunks: Array<string | Buffer>, localAddress = '127.0.0.1'): Promise<{ address: string; peer: Awaited<ReturnType<typeof raw>> }> {
  const connection = once(wss, 'connection') as Promise<[WebSocket, IncomingMessage]>;
  const peer = await raw(port, localAddress);
  for (const chunk of chunks) {
    peer.socket.write(chunk);
    if (chunks.length > 1) await delay(20);
  }
  const [, request] = await within(connection, 'the connection');
  return { address: clientAddress(request), peer };
}

describe('the PROXY protocol on the standalone server', () => {
  const servers: WebSocketServer[] = [];
  after(async () => {
    for (const server of servers) await stopServer(server);
  });
  async function server(options: Parameters<typeof startServer>[0] = {}): Promise<{ wss: WebSocketServer; port: number; errors: ProxyProtocolError[] }> {
    const { server: wss, port } = await startServer({ proxyProtocol: true, ...options });
    servers.push(wss);
    const errors: ProxyProtocolError[] = [];
    wss.on('proxyProtocolError', (error) => errors.push(error));
    return { wss, port, errors };
  }

  it('takes the client address from a v1 header sent with the request in one write', async () => {
    const { wss, port } = await server();
    const { address, peer } = await upgraded(wss, port, [v1('203.0.113.7') + upgradeRequest()]);
    assert.equal(address, '203.0.113.7');
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => void (peer.received().startsWith('HTTP/1.1 101') ? resolve() : setTimeout(check, 5));
        check();
      }),
      'the 101',
    );
    peer.socket.destroy();
  });

  it('reads a header split over several writes, then the request in pieces', async () => {
    const { wss, port } = await server();
    const header = v2ipv6([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 9], [0x04, 0x00, 0x02, 0, 0]);
    const request = upgradeRequest();
    const { address, peer } = await upgraded(wss, port, [header.subarray(0, 5), header.subarray(5, 30), Buffer.concat([header.subarray(30), Buffer.from(request.slice(0, 10))]), request.slice(10)]);
    assert.equal(address, '2001:db8::9');
    peer.socket.destroy();
  });

  it('uses the real address for LOCAL (a health check) and UNKNOWN', async () => {
    const { wss, port } = await server();
    const local = Buffer.from([...PROXY_V2_SIGNATURE, 0x20, 0x00, 0, 0]);
    const a = await upgraded(wss, port, [Buffer.concat([local, Buffer.from(upgradeRequest())])], '127.0.0.12');
    assert.equal(a.address, '127.0.0.12');
    a.peer.socket.destroy();
    const b = await upgraded(wss, port, ['PROXY UNKNOWN\r\n' + upgradeRequest()], '127.0.0.13');
    assert.equal(b.address, '127.0.0.13');
    b.peer.socket.destroy();
  });

  it('trusts forwarding headers after the PROXY header only when its source is a trusted proxy', async () => {
    const { wss, port } = await server({ trustProxy: '10.0.0.0/8' });
    const trusted = await upgraded(wss, port, [v1('10.1.1.1') + upgradeRequest('/', { 'X-Forwarded-For': '198.51.100.4' })]);
    assert.equal(trusted.address, '198.51.100.4');
    trusted.peer.socket.destroy();
    const spoofed = await upgraded(wss, port, [v1('203.0.113.50') + upgradeRequest('/', { 'X-Forwarded-For': '198.51.100.4' })]);
    assert.equal(spoofed.address, '203.0.113.50');
    spoofed.peer.socket.destroy();
  });

  it('drops connections without a valid header, never answering them as HTTP, and keeps serving', async () => {
    const { wss, port, errors } = await server();
    let connections = 0;
    wss.on('connection', () => connections++);
    const cases: Array<[string, string | Buffer, string]> = [
      ['a plain upgrade request', upgradeRequest(), 'FD_ERR_PROXY_HEADER_INVALID'],
      ['a plain HTTP request', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'FD_ERR_PROXY_HEADER_INVALID'],
      ['a malformed v1 line', 'PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n' + upgradeRequest(), 'FD_ERR_PROXY_HEADER_INVALID'],
      ['a v1 line without CRLF', `PROXY UNKNOWN ${'x'.repeat(200)}`, 'FD_ERR_PROXY_HEADER_TOO_LARGE'],
      ['a v2 header with a bad version', Buffer.from([...PROXY_V2_SIGNATURE, 0x31, 0x11, 0, 12]), 'FD_ERR_PROXY_HEADER_INVALID'],
      ['a v2 header over the limit', Buffer.from([...PROXY_V2_SIGNATURE, 0x21, 0x11, 0xff, 0xff]), 'FD_ERR_PROXY_HEADER_TOO_LARGE'],
      ['TLS', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05]), 'FD_ERR_PROXY_HEADER_INVALID'],
      ['binary garbage', Buffer.from([0x00, 0xff, 0x0d, 0x0a]), 'FD_ERR_PROXY_HEADER_INVALID'],
    ];
    for (const [what, bytes, code] of cases) {
      const before = errors.length;
      const peer = await raw(port);
      peer.socket.write(bytes);
      await within(peer.closed, `${what}: the connection to be dropped`);
      assert.equal(peer.received(), '', `${what}: no HTTP answer`);
      assert.equal(errors.length, before + 1, what);
      assert.equal(errors.at(-1)!.code, code, `${what}: ${errors.at(-1)!.message}`);
    }
    assert.equal(connections, 0);
    const good = await upgraded(wss, port, [v1('192.0.2.200') + upgradeRequest()]);
    assert.equal(good.address, '192.0.2.200');
    good.peer.socket.destroy();
  });

  it('drops a connection that leaves mid-header, or sends its header too late', async () => {
    const { port, errors } = await server({ proxyProtocol: { timeout: 300 } });
    const leaving = await raw(port);
    leaving.socket.end('PROXY TCP4 1.2.3.4');
    await within(leaving.closed, 'the half-sent header to be dropped');
    await within(
      (async () => {
        while (!errors.some((error) => error.code === 'FD_ERR_PROXY_HEADER_INCOMPLETE')) await delay(10);
      })(),
      'the incomplete header error',
    );
    const slow = await raw(port);
    slow.socket.write('PROXY TCP4 ');
    await within(slow.closed, 'the slow header to be dropped', scaled(10_000));
    assert.ok(errors.some((error) => error.code === 'FD_ERR_PROXY_HEADER_TIMEOUT'), errors.map((error) => error.code).join());
    assert.equal(slow.received(), '');
  });

  it('closes without waiting for connections whose header has not arrived', async () => {
    const { server: wss, port } = await startServer({ proxyProtocol: { timeout: 600_000 }, handshakeTimeout: 600_000 });
    const errors: ProxyProtocolError[] = [];
    wss.on('proxyProtocolError', (error) => errors.push(error));
    const waiting = await raw(port);
    waiting.socket.write('PROXY TCP4 1.2');
    await delay(50);
    // If close waited for the header's timeout (10 minutes), this would time out.
    await within(new Promise<void>((resolve) => wss.close(() => resolve())), 'the server to close');
    await within(waiting.closed, 'the waiting connection to be dropped');
    assert.deepEqual(errors, [], 'a shutdown is not a PROXY protocol error');
  });

  it('refuses proxyProtocol without port, and bad options', () => {
    assert.throws(() => new WebSocketServer({ noServer: true, proxyProtocol: true }), /acceptProxyProtocol/);
    assert.throws(() => new WebSocketServer({ port: 0, proxyProtocol: { timeout: -1 } }), RangeError);
    assert.throws(() => new WebSocketServer({ port: 0, proxyProtocol: { maxHeaderBytes: 100 } }), RangeError);
  });
});

describe('acceptProxyProtocol on your own server', () => {
  it('reads the header before an http server parses the request ({ server } mode)', async () => {
    const http = createServer();
    const errors: ProxyProtocolError[] = [];
    acceptProxyProtocol(http, { timeout: scaled(5000) }, (error) => errors.push(error));
    const wss = new WebSocketServer({ server: http });
    const port = await listen(http);
    try {
      const { address, peer } = await upgraded(wss, port, [v1('198.51.100.9') + upgradeRequest()]);
      assert.equal(address, '198.51.100.9');
      peer.socket.destroy();
      const bad = await raw(port);
      bad.socket.write('GET / HTTP/1.1\r\n\r\n');
      await within(bad.closed, 'the request without header to be dropped');
      assert.equal(bad.received(), '');
      assert.equal(errors.length, 1);
    } finally {
      http.closeAllConnections();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.close();
    }
  });

  it('reads the header sent before TLS on an https server', async () => {
    const certificate = selfSignedCertificate();
    const https = createHttpsServer({ key: certificate.key, cert: certificate.cert });
    acceptProxyProtocol(https);
    const wss = new WebSocketServer({ server: https });
    const port = await listen(https);
    try {
      const connection = once(wss, 'connection') as Promise<[WebSocket, IncomingMessage]>;
      const tcp = connect({ port, host: '127.0.0.1' });
      await once(tcp, 'connect');
      tcp.write(v1('192.0.2.77'));
      const client = new WebSocket(`wss://127.0.0.1:${port}`, { createConnection: () => tlsConnect({ socket: tcp, rejectUnauthorized: false, servername: 'localhost' }) } as never);
      client.on('error', () => {});
      const [, request] = await within(connection, 'the wss connection');
      assert.equal(clientAddress(request), '192.0.2.77');
      client.terminate();
    } finally {
      https.closeAllConnections();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      https.close();
      certificate.remove();
    }
  });
});

describe('the PROXY protocol with HTTP/2 (RFC 8441 streams)', () => {
  it('gives every stream of an h2c session the header\'s source, then the trusted forwarding header', async () => {
    const h2 = createH2cServer({ settings: { enableConnectProtocol: true } });
    acceptProxyProtocol(h2);
    const wss = new WebSocketServer({ server: h2, trustProxy: '192.0.2.0/24' });
    const port = await listen(h2);
    const session = http2Connect(`http://127.0.0.1:${port}`, {
      createConnection: () => {
        const socket = connect({ port, host: '127.0.0.1' });
        socket.write(v1('192.0.2.88'));
        return socket;
      },
    });
    session.on('error', () => {});
    try {
      const first = once(wss, 'connection') as Promise<[WebSocket, IncomingMessage]>;
      const plain = new H2Peer(session, '/');
      const [, request] = await within(first, 'the first stream');
      assert.equal(clientAddress(request), '192.0.2.88');
      const second = once(wss, 'connection') as Promise<[WebSocket, IncomingMessage]>;
      const forwarded = new H2Peer(session, '/', { 'x-forwarded-for': '198.51.100.1' });
      const [, forwardedRequest] = await within(second, 'the second stream');
      assert.equal(wss.clientAddress(forwardedRequest), '198.51.100.1');
      plain.stream.close();
      forwarded.stream.close();
    } finally {
      session.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      h2.close();
    }
  });
});

describe('readProxyHeader', () => {
  it('hands on the socket with the bytes after the header, put back for the next reader', async () => {
    const results: Array<{ rest: string; read: string; source: string | undefined }> = [];
    const server = createNetServer((socket) => {
      readProxyHeader(
        socket,
        resolveProxyProtocolOptions(true),
        (handed, rest) => {
          // Read later: the socket holds the bytes (paused) until someone reads and resumes it.
          setTimeout(() => {
            assert.ok(handed.isPaused());
            let read = '';
            handed.on('data', (chunk: Buffer) => {
              read += chunk.toString();
              if (read.length >= 11) {
                const header = proxyHeaderOf(handed);
                results.push({ rest: rest.toString(), read, source: header?.command === 'proxy' ? header.source.address : undefined });
                handed.end();
              }
            });
            handed.resume();
          }, 50);
        },
        () => {},
      );
    });
    const port = await listen(server);
    try {
      const peer = await raw(port);
      peer.socket.write(v1('192.0.2.1') + 'hello');
      await delay(20);
      peer.socket.write(' world');
      await within(peer.closed, 'the reader to finish');
      assert.deepEqual(results, [{ rest: 'hello', read: 'hello world', source: '192.0.2.1' }]);
    } finally {
      server.close();
    }
  });
});
