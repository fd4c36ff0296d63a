/**
 * The client's address on a real server: forwarding headers are believed only from trusted proxies
 * (raw clients on distinct loopback addresses play the proxy and the spoofing client).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { WebSocketServer, clientAddress } from '../../src/node/index.js';
import { startServer, stopServer, within, listen } from '../helpers/node.js';
import { upgradeRequest } from '../helpers/net.js';

/** Open a raw connection from `localAddress`, send the upgrade request, resolve with the response's status line. */
async function rawUpgrade(port: number, localAddress: string, headers: Record<string, string | null>, extraLines = ''): Promise<{ socket: Socket; status: string }> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  await once(socket, 'connect');
  const request = upgradeRequest('/', headers);
  socket.write(request.slice(0, -2) + extraLines + '\r\n');
  let received = '';
  const status = await within(
    new Promise<string>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (received.includes('\r\n')) resolve(received.slice(0, received.indexOf('\r\n')));
      });
      socket.on('close', () => reject(new Error(`closed; got ${JSON.stringify(received)}`)));
    }),
    'the upgrade response',
  );
  return { socket, status };
}

/** Connect with the given headers and return what the server's `connection` listener saw. */
async function seen(wss: WebSocketServer, port: number, localAddress: string, headers: Record<string, string | null>, extraLines = ''): Promise<{ named: string; method: string; remote: string | undefined }> {
  const connection = once(wss, 'connection') as Promise<[unknown, IncomingMessage]>;
  const { socket, status } = await rawUpgrade(port, localAddress, headers, extraLines);
  assert.equal(status, 'HTTP/1.1 101 Switching Protocols');
  const [, request] = await within(connection, 'the connection event');
  const result = { named: clientAddress(request), method: wss.clientAddress(request), remote: request.socket.remoteAddress };
  socket.destroy();
  return result;
}

describe('the client address', () => {
  const servers: WebSocketServer[] = [];
  after(async () => {
    for (const server of servers) await stopServer(server);
  });
  async function server(options: Parameters<typeof startServer>[0]): Promise<{ wss: WebSocketServer; port: number }> {
    const { server: wss, port } = await startServer(options);
    servers.push(wss);
    return { wss, port };
  }

  it('is the socket peer by default, whatever forwarding headers a client sends', async () => {
    const { wss, port } = await server({});
    const result = await seen(wss, port, '127.0.0.7', { 'X-Forwarded-For': '203.0.113.1', Forwarded: 'for=203.0.113.2' });
    assert.deepEqual(result, { named: '127.0.0.7', method: '127.0.0.7', remote: '127.0.0.7' });
  });

  it('walks X-Forwarded-For from a trusted proxy, skipping trusted hops; the forged entries on the left are never reached', async () => {
    const { wss, port } = await server({ trustProxy: ['127.0.0.5', '10.0.0.0/8'] });
    const result = await seen(wss, port, '127.0.0.5', { 'X-Forwarded-For': '198.51.100.1, 127.0.0.1, 203.0.113.9, 10.1.2.3' });
    assert.equal(result.named, '203.0.113.9');
    assert.equal(result.method, '203.0.113.9');
    assert.equal(result.remote, '127.0.0.5');
  });

  it('ignores the headers of a peer that is not a trusted proxy (spoofing)', async () => {
    const { wss, port } = await server({ trustProxy: '127.0.0.5' });
    const result = await seen(wss, port, '127.0.0.8', { 'X-Forwarded-For': '127.0.0.5, 203.0.113.9' });
    assert.equal(result.named, '127.0.0.8');
  });

  it('reads only the header it was told to: Forwarded (quoted IPv6), never X-Forwarded-For then', async () => {
    const { wss, port } = await server({ trustProxy: 'loopback', forwardedHeader: 'forwarded' });
    const result = await seen(wss, port, '127.0.0.9', { 'X-Forwarded-For': '203.0.113.66', Forwarded: 'for="[2001:DB8::17]:4711";proto=http, for=127.0.0.3' });
    assert.equal(result.named, '2001:db8::17');
    const { wss: xffServer, port: xffPort } = await server({ trustProxy: 'loopback' });
    assert.equal((await seen(xffServer, xffPort, '127.0.0.9', { Forwarded: 'for=203.0.113.5' })).named, '127.0.0.9');
  });

  it('reads each header line on its own: a broken line from the client cannot hide the line the proxy added', async () => {
    const { wss, port } = await server({ trustProxy: 'loopback', forwardedHeader: 'forwarded' });
    const result = await seen(wss, port, '127.0.0.9', { Forwarded: 'for="1.2.3.4' }, 'Forwarded: for=198.51.100.23\r\n');
    assert.equal(result.named, '198.51.100.23');
  });

  it('counts hops with a number', async () => {
    const { wss, port } = await server({ trustProxy: 2 });
    const result = await seen(wss, port, '127.0.0.9', { 'X-Forwarded-For': '1.1.1.1, 2.2.2.2, 3.3.3.3' });
    assert.equal(result.named, '2.2.2.2');
  });

  it('works with handleUpgrade (noServer), and is the socket peer for requests no server has taken', async () => {
    const wss = new WebSocketServer({ noServer: true, trustProxy: 'loopback' });
    const http = createServer();
    const requests: IncomingMessage[] = [];
    http.on('upgrade', (request: IncomingMessage, socket, head) => {
      requests.push(request);
      assert.equal(clientAddress(request), '127.0.0.4'); // not yet taken by the server: the peer
      wss.handleUpgrade(request, socket, head, (ws) => {
        wss.emit('connection', ws, request);
      });
    });
    const port = await listen(http);
    try {
      const connection = once(wss, 'connection') as Promise<[unknown, IncomingMessage]>;
      const { socket } = await rawUpgrade(port, '127.0.0.4', { 'X-Forwarded-For': '203.0.113.77' });
      const [, request] = await within(connection, 'the connection');
      assert.equal(clientAddress(request), '203.0.113.77');
      socket.destroy();
    } finally {
      http.closeAllConnections();
      http.close();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });

  it('refuses bad settings when the server is made', () => {
    assert.throws(() => new WebSocketServer({ noServer: true, trustProxy: ['not-an-address'] }), /trustProxy entry "not-an-address"/);
    assert.throws(() => new WebSocketServer({ noServer: true, trustProxy: -2 }), RangeError);
    assert.throws(() => new WebSocketServer({ noServer: true, trustProxy: true as unknown as false }), /would trust every hop/);
    assert.throws(() => new WebSocketServer({ noServer: true, trustProxy: 'loopback', forwardedHeader: 'x-real-ip' as 'forwarded' }), /forwardedHeader/);
  });
});
