/**
 * The `node:diagnostics_channel` events (src/node/diagnostics.ts): subscribed by name, as a tracing tool
 * would (no import of fullduplex), on real servers and clients on 127.0.0.1: connection open and close
 * (code, reason, wasClean, duration), handshake refusals (status and code), message in and out (size
 * in bytes, binary, fin; a broadcast once per recipient), slow consumers (the action taken). The
 * channel list and docs/operations.md must agree.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { CHANNEL_PREFIX, channels, WebSocket, WebSocketServer, type ChannelMessages, type ChannelName } from '../../src/node/index.js';
import { rateLimitChannel } from '../../src/node/diagnostics.js';
import { RawPeer, handshakenPeer, nextEvent, startServer, stopServer, upgradeRequest } from '../helpers/net.js';
import { delay } from '../helpers/node.js';
import { scaled } from '../helpers/time.js';

/** Everything published on `names` while subscribed (by name, through node:diagnostics_channel). */
class Recorder {
  readonly events: Array<{ [N in ChannelName]: { name: N; message: ChannelMessages[N] } }[ChannelName]> = [];
  private readonly listeners = new Map<string, (message: unknown, name: string | symbol) => void>();

  constructor(names: readonly ChannelName[]) {
    for (const name of names) {
      const listener = (message: unknown): void => void this.events.push({ name, message } as (typeof this.events)[number]);
      this.listeners.set(name, listener);
      diagnosticsChannel.subscribe(name, listener);
    }
  }

  of<N extends ChannelName>(name: N): Array<ChannelMessages[N]> {
    return this.events.filter((event) => event.name === name).map((event) => event.message as ChannelMessages[N]);
  }

  stop(): void {
    for (const [name, listener] of this.listeners) diagnosticsChannel.unsubscribe(name, listener);
  }
}

async function until(test: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + scaled(5000);
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

const ALL = Object.values(channels).map((channel) => channel.name as ChannelName);

describe('diagnostics channels', () => {
  let recorder: Recorder | null = null;
  after(() => recorder?.stop());

  it('are named under the documented prefix, one object per name, and docs/operations.md lists exactly these', () => {
    assert.deepEqual([...ALL].sort(), [
      'fullduplex:connection:close',
      'fullduplex:connection:open',
      'fullduplex:handshake:reject',
      'fullduplex:message:in',
      'fullduplex:message:out',
      'fullduplex:rate-limit',
      'fullduplex:slow-consumer',
    ]);
    for (const name of ALL) assert.ok(name.startsWith(CHANNEL_PREFIX));
    // The limits publish on this object; a tool subscribing by name gets the same channel.
    assert.equal(rateLimitChannel, diagnosticsChannel.channel('fullduplex:rate-limit'));
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const documented = [...new Set([...doc.matchAll(/`(fullduplex:[a-z:-]+)`/g)].map((match) => match[1]!))].sort();
    assert.deepEqual(documented, [...ALL].sort());
  });

  it('connection open and close, and messages in and out, with sizes in bytes', async () => {
    recorder = new Recorder(ALL);
    const { wss, url } = await startServer({ heartbeat: false });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const client = new WebSocket(`${url}/room?x=1`, ['chat']);
    const [serverSide] = await connected;
    await nextEvent(client, 'open');

    const [open] = recorder.of('fullduplex:connection:open');
    assert.ok(open !== undefined);
    assert.equal(open.server, wss);
    assert.equal(open.socket, serverSide);
    assert.equal(open.request.url, '/room?x=1');
    assert.equal(open.protocol, 'chat');
    assert.equal(open.http, '1.1');

    const echoed = new Promise<void>((resolve) => {
      let n = 0;
      client.on('message', () => ++n === 3 && resolve());
    });
    serverSide.on('message', (data, isBinary) => serverSide.send(data as Buffer, { binary: isBinary }));
    client.send('héllo'); // 6 bytes of UTF-8
    client.send(Buffer.alloc(1000));
    client.send('frag', { fin: false });
    client.send('ment');
    await echoed;

    // Both ends publish (the client is a fullduplex WebSocket too): keep the server side's.
    const serverIn = recorder.of('fullduplex:message:in').filter((event) => event.socket === serverSide);
    assert.deepEqual(serverIn.map(({ size, binary }) => ({ size, binary })), [
      { size: 6, binary: false },
      { size: 1000, binary: true },
      { size: 8, binary: false },
    ]);
    const clientOut = recorder.of('fullduplex:message:out').filter((event) => event.socket === client);
    assert.deepEqual(clientOut.map(({ size, binary, fin }) => ({ size, binary, fin })), [
      { size: 6, binary: false, fin: true },
      { size: 1000, binary: true, fin: true },
      { size: 4, binary: false, fin: false },
      { size: 4, binary: false, fin: true },
    ]);
    const serverOut = recorder.of('fullduplex:message:out').filter((event) => event.socket === serverSide);
    assert.deepEqual(serverOut.map(({ size }) => size), [6, 1000, 8]);

    const closed = nextEvent(serverSide, 'close');
    client.close(4001, 'done here');
    await closed;
    const [close] = recorder.of('fullduplex:connection:close');
    assert.ok(close !== undefined);
    assert.equal(close.server, wss);
    assert.equal(close.socket, serverSide);
    assert.equal(close.code, 4001);
    assert.equal(close.reason, 'done here');
    assert.equal(close.wasClean, true);
    assert.ok(close.duration >= 0 && close.duration < scaled(60_000), `duration ${close.duration}`);
    recorder.stop();
    recorder = null;
    await stopServer(wss);
  });

  it('a connection dropped without a close frame closes with 1006, not clean', async () => {
    recorder = new Recorder(['fullduplex:connection:close']);
    const { wss, port } = await startServer({ heartbeat: false });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const peer = await handshakenPeer(port);
    const [serverSide] = await connected;
    const closed = nextEvent(serverSide, 'close');
    peer.destroy();
    await closed;
    const [close] = recorder.of('fullduplex:connection:close');
    assert.deepEqual({ code: close?.code, wasClean: close?.wasClean, reason: close?.reason }, { code: 1006, wasClean: false, reason: '' });
    recorder.stop();
    recorder = null;
    await stopServer(wss);
  });

  it('a WebSocket over HTTP/2 (RFC 8441, h2c) opens with http "2"; stats() counts its messages, not its bytes (its session\'s)', async () => {
    recorder = new Recorder(['fullduplex:connection:open', 'fullduplex:connection:close']);
    const h2 = http2.createServer({ settings: { enableConnectProtocol: true } });
    const wss = new WebSocketServer({ server: h2, heartbeat: false });
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data as Buffer)));
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const sessions = new Set<http2.ServerHttp2Session>();
    h2.on('session', (session) => sessions.add(session));
    const client = new WebSocket(`ws://127.0.0.1:${(h2.address() as AddressInfo).port}/h2`, { http2: 'h2c' });
    await nextEvent(client, 'open');
    client.send('over a stream');
    await nextEvent(client, 'message');
    const [open] = recorder.of('fullduplex:connection:open');
    assert.equal(open?.http, '2');
    assert.equal(open?.request.url, '/h2');
    const stats = wss.stats();
    assert.deepEqual({ messagesIn: stats.messagesIn, messagesOut: stats.messagesOut, bytesIn: stats.bytesIn, bytesOut: stats.bytesOut }, { messagesIn: 1, messagesOut: 1, bytesIn: 0, bytesOut: 0 });
    client.close(1000);
    await nextEvent(client, 'close');
    await until(() => recorder!.of('fullduplex:connection:close').length === 1, 'the close event');
    assert.equal(recorder.of('fullduplex:connection:close')[0]?.code, 1000);
    recorder.stop();
    recorder = null;
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    for (const session of sessions) session.destroy();
    await new Promise<void>((resolve) => h2.close(() => resolve()));
  });

  it('a broadcast is one message:out per connection that takes it', async () => {
    recorder = new Recorder(['fullduplex:message:out']);
    const { wss, url } = await startServer({ heartbeat: false });
    const sides: WebSocket[] = [];
    wss.on('connection', (ws) => sides.push(ws));
    const clients = [new WebSocket(url), new WebSocket(url)];
    await Promise.all(clients.map((client) => nextEvent(client, 'open')));
    await until(() => sides.length === 2, 'two connections');
    const received = Promise.all(clients.map((client) => nextEvent(client, 'message')));
    assert.equal(wss.broadcast(Buffer.alloc(33)), 2);
    await received;
    const out = recorder.of('fullduplex:message:out');
    assert.deepEqual(new Set(out.map((event) => event.socket)), new Set(sides));
    assert.deepEqual(out.map(({ size, binary, fin }) => ({ size, binary, fin })), [
      { size: 33, binary: true, fin: true },
      { size: 33, binary: true, fin: true },
    ]);
    recorder.stop();
    recorder = null;
    for (const client of clients) client.close();
    await stopServer(wss);
  });

  it('handshake refusals carry the server, the request, the status and the code', async () => {
    recorder = new Recorder(['fullduplex:handshake:reject']);
    const { wss, port } = await startServer({ heartbeat: false, allowedOrigins: ['https://good.example'] });
    const peer = await RawPeer.connect(port);
    peer.write(upgradeRequest('/x', { Origin: 'https://evil.example' }));
    assert.equal((await peer.response()).status, 403);
    peer.destroy();
    const [reject] = recorder.of('fullduplex:handshake:reject');
    assert.ok(reject !== undefined);
    assert.equal(reject.server, wss);
    assert.equal(reject.request?.url, '/x');
    assert.equal(reject.status, 403);
    assert.equal(reject.code, 'FD_ERR_HANDSHAKE_ORIGIN');
    assert.match(reject.message, /evil\.example/);
    recorder.stop();
    recorder = null;
    await stopServer(wss);
  });

  for (const policy of ['drop', 'close'] as const) {
    it(`a slow consumer with slowConsumer: '${policy}' says what was done`, async () => {
      recorder = new Recorder(['fullduplex:slow-consumer']);
      const limit = 64 * 1024;
      const { wss, port } = await startServer({ heartbeat: false, maxBufferedAmount: limit, slowConsumer: policy });
      const connected = nextEvent<[WebSocket]>(wss, 'connection');
      const peer = await handshakenPeer(port);
      const [serverSide] = await connected;
      peer.socket.pause();
      const chunk = Buffer.alloc(128 * 1024);
      for (let i = 0; i < 200 && recorder.of('fullduplex:slow-consumer').length === 0 && serverSide.readyState === WebSocket.OPEN; i++) {
        serverSide.send(chunk, () => {});
        await delay(5);
      }
      const [event] = recorder.of('fullduplex:slow-consumer');
      assert.ok(event !== undefined, 'a slow-consumer event');
      assert.equal(event.socket, serverSide);
      assert.equal(event.action, policy);
      assert.equal(event.limit, limit);
      assert.ok(event.bufferedAmount > limit);
      recorder.stop();
      recorder = null;
      peer.destroy();
      await stopServer(wss);
    });
  }

  it('publishes nothing once unsubscribed, and a server works the same with no subscriber', async () => {
    const seen: unknown[] = [];
    const listener = (message: unknown): void => void seen.push(message);
    for (const name of ALL) diagnosticsChannel.subscribe(name, listener);
    for (const name of ALL) diagnosticsChannel.unsubscribe(name, listener);
    for (const channel of Object.values(channels)) assert.equal(channel.hasSubscribers, false);
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeat: false });
    await nextEvent(wss, 'listening');
    const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data as Buffer)));
    await nextEvent(client, 'open');
    client.send('ping');
    await nextEvent(client, 'message');
    client.close();
    await nextEvent(client, 'close');
    assert.deepEqual(seen, []);
    assert.equal(wss.stats().messagesIn, 1);
    await stopServer(wss);
  });
});
