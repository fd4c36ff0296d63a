/**
 * The client's address behind a real HAProxy (Debian `haproxy`, 2.6): our standalone servers as its
 * backends, reached through `server ... send-proxy` (PROXY v1), `send-proxy-v2` (v2) and
 * `option forwardfor` (X-Forwarded-For). Our client connects from 127.0.0.7 (`localAddress`), so the
 * address the server reports can be told apart from HAProxy's own (127.0.0.1, the backend socket's peer).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { Server as NetServer } from 'node:net';
import { WebSocket, WebSocketServer, clientAddress, type ClientOptions, type ProxyProtocolError } from '../../src/node/index.js';
import { HAProxy, haproxySkipReason } from '../helpers/haproxy.js';
import { once, within, startServer, stopServer } from '../helpers/node.js';

const CLIENT = '127.0.0.7';

/** One of our servers as a backend: records what each connection's request said. */
interface Backend {
  wss: WebSocketServer;
  port: number;
  errors: ProxyProtocolError[];
  /** TCP connections the server accepted (HAProxy's health checks included). */
  accepted: () => number;
}

async function backend(options: Parameters<typeof startServer>[0]): Promise<Backend> {
  const { server: wss, port } = await startServer(options);
  const errors: ProxyProtocolError[] = [];
  wss.on('proxyProtocolError', (error) => errors.push(error));
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary })));
  // The standalone server's own http.Server (private): counted at accept, before the PROXY header.
  let accepted = 0;
  (wss as unknown as { httpServer: NetServer }).httpServer.on('connection', () => accepted++);
  return { wss, port, errors, accepted: () => accepted };
}

/** Connect through HAProxy's `port` from 127.0.0.7, echo once, and return what the backend saw. */
async function through(target: Backend, port: number, headers: Record<string, string> = {}): Promise<{ address: string; method: string; socketPeer: string | undefined; forwarded: string | undefined }> {
  const connection = once(target.wss, 'connection') as Promise<[WebSocket, IncomingMessage]>;
  const client = new WebSocket(`ws://127.0.0.1:${port}/`, { localAddress: CLIENT, headers } as ClientOptions);
  try {
    await within(once(client, 'open'), 'the client to open through HAProxy');
    const [, request] = await within(connection, 'the backend connection');
    const echoed = once(client, 'message');
    client.send('ping');
    assert.equal(String((await within(echoed, 'the echo'))[0]), 'ping');
    return { address: clientAddress(request), method: target.wss.clientAddress(request), socketPeer: request.socket.remoteAddress, forwarded: request.headers['x-forwarded-for'] as string | undefined };
  } finally {
    client.terminate();
  }
}

describe('the client address behind HAProxy', { skip: haproxySkipReason() }, () => {
  let proxy: HAProxy;
  let v1: Backend;
  let v2: Backend;
  let forwarded: Backend;

  before(async () => {
    v1 = await backend({ proxyProtocol: true });
    v2 = await backend({ proxyProtocol: true });
    forwarded = await backend({ trustProxy: ['127.0.0.1'] });
    proxy = await HAProxy.start(
      (ports) => `
frontend fe_v1
  mode tcp
  option tcplog
  bind 127.0.0.1:${ports[0]}
  default_backend be_v1

backend be_v1
  mode tcp
  server s1 127.0.0.1:${v1.port} send-proxy check inter 200

frontend fe_v2
  mode tcp
  option tcplog
  bind 127.0.0.1:${ports[1]}
  default_backend be_v2

backend be_v2
  mode tcp
  server s1 127.0.0.1:${v2.port} send-proxy-v2 check inter 200

frontend fe_xff
  bind 127.0.0.1:${ports[2]}
  default_backend be_xff

backend be_xff
  server s1 127.0.0.1:${forwarded.port}
`,
      { ports: 3 },
    );
  });

  after(async () => {
    await proxy?.stop();
    for (const server of [v1, v2, forwarded]) if (server !== undefined) await stopServer(server.wss);
  });

  it('HAProxy\'s health checks (TCP checks with the PROXY header) pass without a dropped connection', async () => {
    // inter 200: wait until each backend has taken a few checks.
    await within(
      (async () => {
        while (v1.accepted() < 3 || v2.accepted() < 3) await new Promise((resolve) => setTimeout(resolve, 50));
      })(),
      'three health checks on each backend',
    );
    assert.deepEqual([...v1.errors, ...v2.errors].map((error) => error.message), []);
    assert.doesNotMatch(proxy.log, /is DOWN/);
  });

  it('PROXY v1 (send-proxy): the server sees the client, not HAProxy', async () => {
    const seen = await through(v1, proxy.ports[0]!);
    assert.equal(seen.address, CLIENT, proxy.log);
    assert.equal(seen.method, CLIENT);
    assert.notEqual(seen.socketPeer, CLIENT);
    assert.deepEqual(v1.errors, []);
  });

  it('PROXY v2 (send-proxy-v2): the server sees the client, not HAProxy', async () => {
    const seen = await through(v2, proxy.ports[1]!);
    assert.equal(seen.address, CLIENT, proxy.log);
    assert.notEqual(seen.socketPeer, CLIENT);
    assert.deepEqual(v2.errors, []);
  });

  it('X-Forwarded-For (option forwardfor) from the trusted HAProxy, with the client\'s forged entry ignored', async () => {
    const seen = await through(forwarded, proxy.ports[2]!, { 'X-Forwarded-For': '203.0.113.66' });
    assert.equal(seen.socketPeer, '127.0.0.1');
    assert.match(seen.forwarded ?? '', /203\.0\.113\.66.*127\.0\.0\.7/, 'HAProxy kept the forged entry and added the real one');
    assert.equal(seen.address, CLIENT, proxy.log);
  });

  it('X-Forwarded-For sent straight to the server by a client that is not the proxy is ignored', async () => {
    const seen = await through(forwarded, forwarded.port, { 'X-Forwarded-For': '203.0.113.66' });
    assert.equal(seen.socketPeer, CLIENT);
    assert.equal(seen.address, CLIENT);
  });
});
