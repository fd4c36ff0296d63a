/**
 * `fullduplex connect` through an HTTP CONNECT proxy (our test proxy): --proxy URL, the environment
 * (http_proxy, NO_PROXY=<-loopback> since the server is on 127.0.0.1), --no-proxy, a refusing proxy
 * (exit 1, the proxy's status on stderr), and usage errors.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '../../src/node/server.js';
import type { WebSocket } from '../../src/node/websocket.js';
import { ConnectProxy } from '../helpers/connect-proxy.js';
import { killAll, startCli } from './cli-process.js';

const VARIABLES = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY', 'REQUEST_METHOD'];
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
const clear = (): void => {
  for (const name of VARIABLES) delete process.env[name];
};
clear();

describe('fullduplex connect through a proxy', () => {
  let server: WebSocketServer;
  let url: string;
  let proxy: ConnectProxy;

  before(async () => {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(server, 'listening');
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    server.on('connection', (socket: WebSocket) => socket.on('message', (data) => socket.send(String(data))));
  });
  afterEach(async () => {
    clear();
    await proxy?.stop();
  });
  after(async () => {
    await killAll();
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
  });

  it('--proxy URL: through it, for 127.0.0.1 too', async () => {
    proxy = await ConnectProxy.start({ credentials: 'u:p' });
    const exit = await startCli('connect', url, '--proxy', proxy.urlWith('u:p'), '-x', 'via proxy').exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stdout, /via proxy/);
    assert.equal(proxy.tunnels, 1);
  });

  it('the environment is honoured; --no-proxy connects directly', async () => {
    proxy = await ConnectProxy.start();
    process.env['http_proxy'] = proxy.url;
    process.env['NO_PROXY'] = '<-loopback>';
    const viaEnv = await startCli('connect', url, '-x', 'env').exit();
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(proxy.tunnels, 1);
    const direct = await startCli('connect', url, '--no-proxy', '-x', 'direct').exit();
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(direct.stdout, /direct/);
    assert.equal(proxy.tunnels, 1);
  });

  it('a refusing proxy: exit 1, the proxy and its status on stderr, close 1006', async () => {
    proxy = await ConnectProxy.start({ behaviour: { kind: 'status', status: 403, reason: 'Forbidden' } });
    const exit = await startCli('connect', url, '--proxy', proxy.url, '-x', 'x').exit();
    assert.equal(exit.code, 1);
    assert.ok(exit.stderr.includes(`Proxy ${proxy.url}: CONNECT 127.0.0.1:`), exit.stderr);
    assert.match(exit.stderr, /answered 403 Forbidden/);
    assert.match(exit.stderr, /closed code=1006/);
  });

  it('usage errors: an unusable --proxy URL, --proxy with --no-proxy', async () => {
    const bad = await startCli('connect', url, '--proxy', 'ftp://127.0.0.1:1').exit();
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--proxy: Unsupported proxy scheme "ftp:"/);
    const both = await startCli('connect', url, '--proxy', 'http://127.0.0.1:1', '--no-proxy').exit();
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--proxy and --no-proxy contradict each other/);
  });
});
