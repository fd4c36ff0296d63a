/**
 * The connecting queue's key (RFC 6455 §4.1): the resolved IP address and port for a direct
 * connection (a name is resolved once, through the client's `lookup`, and the request then connects to
 * those addresses), the host name and port through an agent or a `createConnection` (the IP is
 * unknown: "each host name refers to a distinct remote host"), the path of a Unix socket.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import { Agent, type RequestOptions } from 'node:http';
import { connect as netConnect } from 'node:net';
import { findEndpointKey } from '../../src/node/connecting-endpoint.js';
import { WebSocket, type ClientOptions } from '../../src/node/index.js';
import { connectingQueue } from '../../src/node/connecting-queue.js';
import { scaled } from '../helpers/time.js';

type Lookup = NonNullable<RequestOptions['lookup']>;

/** A `lookup` that answers from a table, counting its calls. */
function tableLookup(table: Record<string, LookupAddress[]>): { lookup: Lookup; calls: string[] } {
  const calls: string[] = [];
  const lookup = ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    calls.push(hostname);
    const addresses = table[hostname];
    process.nextTick(() => {
      if (addresses === undefined) callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
      else if (options.all === true) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  }) as unknown as Lookup;
  return { lookup, calls };
}

function keyOf(settings: RequestOptions, direct = true): Promise<{ error: Error | null; key: string }> {
  return new Promise((resolve) => findEndpointKey(settings, direct, (error, key) => resolve({ error, key })));
}

describe('findEndpointKey', () => {
  it('an IP literal is its own key, without a lookup (IPv6 in brackets)', async () => {
    const { lookup, calls } = tableLookup({});
    assert.deepEqual(await keyOf({ hostname: '127.0.0.1', port: 80, lookup }), { error: null, key: 'ip:127.0.0.1:80' });
    assert.deepEqual(await keyOf({ hostname: '::1', port: 443, lookup }), { error: null, key: 'ip:[::1]:443' });
    assert.deepEqual(calls, []);
  });

  it('a name is resolved through the lookup option: the first address is the key, and the request replays the answer', async () => {
    const { lookup, calls } = tableLookup({
      'app.test': [
        { address: '::1', family: 6 },
        { address: '127.0.0.1', family: 4 },
      ],
    });
    const settings: RequestOptions = { hostname: 'app.test', port: 8080, lookup };
    assert.deepEqual(await keyOf(settings), { error: null, key: 'ip:[::1]:8080' });
    assert.deepEqual(calls, ['app.test']);
    // net.connect calls the request's lookup: it gets the same addresses, without a second query.
    const replay = settings.lookup as unknown as (h: string, o: object, cb: (...args: unknown[]) => void) => void;
    const all = await new Promise<unknown[]>((resolve) => replay('app.test', { all: true }, (...args) => resolve(args)));
    assert.deepEqual(all, [null, [{ address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }]]);
    const v4 = await new Promise<unknown[]>((resolve) => replay('app.test', { family: 4 }, (...args) => resolve(args)));
    assert.deepEqual(v4, [null, '127.0.0.1', 4]);
    assert.deepEqual(calls, ['app.test']);
  });

  it('a lookup that answers with one address (not a list) works too', async () => {
    const lookup = ((_h: string, _o: unknown, callback: (...args: unknown[]) => void) => callback(null, '10.0.0.7', 4)) as unknown as Lookup;
    assert.deepEqual(await keyOf({ hostname: 'one.test', port: 1, lookup }), { error: null, key: 'ip:10.0.0.7:1' });
  });

  it('through an agent or createConnection the IP is unknown: the host name (lower case) and port, no lookup', async () => {
    const { lookup, calls } = tableLookup({ 'proxy.test': [{ address: '127.0.0.1', family: 4 }] });
    assert.deepEqual(await keyOf({ hostname: 'Proxy.Test', port: 443, lookup }, false), { error: null, key: 'name:proxy.test:443' });
    assert.deepEqual(calls, []);
  });

  it('a Unix socket is keyed by its path', async () => {
    assert.deepEqual(await keyOf({ socketPath: '/run/app.sock', path: '/chat' }), { error: null, key: 'unix:/run/app.sock' });
  });

  it("a lookup's error, or its throw, or an empty answer, is the error", async () => {
    const { lookup } = tableLookup({});
    const failed = await keyOf({ hostname: 'nowhere.test', port: 1, lookup });
    assert.match(String(failed.error), /ENOTFOUND nowhere\.test/);
    const throwing = (() => {
      throw new TypeError('bad lookup');
    }) as unknown as Lookup;
    assert.match(String((await keyOf({ hostname: 'x.test', port: 1, lookup: throwing })).error), /bad lookup/);
    const empty = ((_h: string, _o: unknown, callback: (...args: unknown[]) => void) => callback(null, [])) as unknown as Lookup;
    assert.match(String((await keyOf({ hostname: 'empty.test', port: 1, lookup: empty })).error), /ENOTFOUND empty\.test/);
  });
});

describe('client with queueConnecting: names and addresses', () => {
  it('two names of one IP address wait for each other; the name is resolved once and still sent as Host', { timeout: scaled(20_000) }, async () => {
    const heads: string[] = [];
    const held: Array<{ socket: Socket; head: string }> = [];
    const server = createServer((socket) => {
      socket.on('error', () => {});
      let head = '';
      socket.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n') || heads.includes(head)) return;
        heads.push(head);
        held.push({ socket, head });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const { lookup, calls } = tableLookup({ 'a.test': [{ address: '127.0.0.1', family: 4 }], 'b.test': [{ address: '127.0.0.1', family: 4 }] });
    const options: ClientOptions = { queueConnecting: true, perMessageDeflate: false, lookup };
    try {
      const a = new WebSocket(`ws://a.test:${port}/`, options);
      const b = new WebSocket(`ws://b.test:${port}/`, options);
      const opened = Promise.all([once(a, 'open'), once(b, 'open')]);
      const deadline = Date.now() + scaled(5000);
      while (held.length < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, 150)); // b must not arrive while a connects
      assert.equal(held.length, 1, 'b.test is the same IP address: it waits for a.test');
      assert.match(held[0]!.head, new RegExp(`\\r\\nHost: a\\.test:${port}\\r\\n`));
      const answer = ({ socket, head }: { socket: Socket; head: string }): void => {
        const key = /sec-websocket-key:\s*(\S+)/i.exec(head)![1]!;
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      };
      answer(held[0]!);
      while (held.length < 2 && Date.now() < deadline + scaled(5000)) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.match(held[1]!.head, new RegExp(`\\r\\nHost: b\\.test:${port}\\r\\n`));
      answer(held[1]!);
      await opened;
      assert.deepEqual(calls.sort(), ['a.test', 'b.test'], 'one lookup per connection, as without the queue');
      a.terminate();
      b.terminate();
      assert.equal(connectingQueue.size, 0);
    } finally {
      for (const { socket } of held) socket.destroy();
      server.close();
    }
  });

  it('through an agent (a proxy, say) each name is its own endpoint: two names wait only behind themselves', { timeout: scaled(20_000) }, async () => {
    const arrivals: string[] = [];
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      let head = '';
      socket.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1');
        const host = /\r\nHost: ([^:\r]+)/.exec(head)?.[1];
        if (head.includes('\r\n\r\n') && host !== undefined && !arrivals.includes(`${host}#${sockets.indexOf(socket)}`)) arrivals.push(`${host}#${sockets.indexOf(socket)}`);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    // Like a proxy: every name goes to this server, and the client never learns an IP address.
    class ProxyLikeAgent extends Agent {
      override createConnection(): Socket {
        return netConnect({ host: '127.0.0.1', port });
      }
    }
    const agent = new ProxyLikeAgent();
    const options: ClientOptions = { queueConnecting: true, perMessageDeflate: false, agent, handshakeTimeout: scaled(10_000) };
    const clients = [
      new WebSocket(`ws://a.test:${port}/`, options),
      new WebSocket(`ws://b.test:${port}/`, options),
      new WebSocket(`ws://a.test:${port}/`, options),
    ];
    for (const client of clients) client.on('error', () => {});
    try {
      const deadline = Date.now() + scaled(5000);
      while (arrivals.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, 150)); // the second a.test must not arrive
      assert.deepEqual(arrivals.map((arrival) => arrival.split('#')[0]).sort(), ['a.test', 'b.test']);
      assert.equal(connectingQueue.pending(`name:a.test:${port}`), 2);
      assert.equal(connectingQueue.pending(`name:b.test:${port}`), 1);
    } finally {
      for (const client of clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      server.close();
      agent.destroy();
    }
    assert.equal(connectingQueue.size, 0);
  });
});
