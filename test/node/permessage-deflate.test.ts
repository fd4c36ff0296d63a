import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { constants, createDeflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { WebSocket, type PerMessageDeflateConfig } from '../../src/node/index.js';
import { PerMessageDeflate } from '../../src/node/permessage-deflate.js';
import { Limiter } from '../../src/node/limiter.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import type { DeflateParams } from '../../src/protocol/permessage-deflate.js';
import { Opcode, RSV1 } from '../../src/protocol/constants.js';
import { frame } from '../helpers/protocol.js';
import { handshakenPeer, nextEvent, parseServerFrames, startServer, stopServer } from '../helpers/net.js';
import { scaled } from '../helpers/time.js';

const TAKEOVER: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
const NO_TAKEOVER: DeflateParams = { ...TAKEOVER, serverNoContextTakeover: true, clientNoContextTakeover: true };

function encode(codec: PerMessageDeflate, data: Buffer, fin = true): Promise<Buffer> {
  return new Promise((resolve, reject) => codec.encode([data], fin, (error, out) => (error ? reject(error) : resolve(Buffer.concat(out!)))));
}
function decode(codec: PerMessageDeflate, data: Buffer, fin = true, limit = 1 << 30): Promise<Buffer> {
  return new Promise((resolve, reject) => codec.decode([data], fin, limit, (error, out) => (error ? reject(error) : resolve(Buffer.concat(out!)))));
}

/** A compressed message is a sync-flushed stream, not a finished one. */
const SYNC = { finishFlush: constants.Z_SYNC_FLUSH };

const JSON_TEXT = JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 1.5, tags: ['alpha', 'beta'] })));

describe('PerMessageDeflate codec', () => {
  it('round-trips messages between a server and a client codec, with context takeover', async () => {
    const server = new PerMessageDeflate(TAKEOVER, 'server');
    const client = new PerMessageDeflate(TAKEOVER, 'client');
    const sizes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const compressed = await encode(server, Buffer.from(JSON_TEXT));
      sizes.push(compressed.length);
      assert.equal((await decode(client, compressed)).toString(), JSON_TEXT);
    }
    // The second copy refers back to the first: much smaller.
    assert.ok(sizes[1]! < sizes[0]! / 4, `sizes ${sizes.join(', ')}`);
    assert.equal(server.streams, 1);
    assert.equal(client.streams, 1);
    server.close();
    client.close();
    assert.equal(server.streams + client.streams, 0);
  });

  it('with no context takeover, each message stands alone and the zlib streams are released after it', async () => {
    const server = new PerMessageDeflate(NO_TAKEOVER, 'server');
    const a = await encode(server, Buffer.from(JSON_TEXT));
    assert.equal(server.streams, 0);
    const b = await encode(server, Buffer.from(JSON_TEXT));
    assert.deepEqual(a, b);
    assert.equal(inflateRawSync(Buffer.concat([b, Buffer.from([0, 0, 0xff, 0xff])]), SYNC).toString(), JSON_TEXT);
    const client = new PerMessageDeflate(NO_TAKEOVER, 'client');
    assert.equal((await decode(client, a)).toString(), JSON_TEXT);
    assert.equal(client.streams, 0);
  });

  it('removes the 00 00 ff ff tail on send and encodes an empty message as 0x00', async () => {
    const codec = new PerMessageDeflate(NO_TAKEOVER, 'server');
    const compressed = await encode(codec, Buffer.from('hello hello hello'));
    assert.notDeepEqual(compressed.subarray(-4), Buffer.from([0, 0, 0xff, 0xff]));
    assert.deepEqual(await encode(codec, Buffer.alloc(0)), Buffer.from([0x00]));
  });

  it('compresses a fragmented message as one stream', async () => {
    const server = new PerMessageDeflate(TAKEOVER, 'server');
    const client = new PerMessageDeflate(TAKEOVER, 'client');
    const first = await encode(server, Buffer.from('first half, '), false);
    const second = await encode(server, Buffer.from('second half'), true);
    const out = Buffer.concat([await decode(client, first, false), await decode(client, second, true)]);
    assert.equal(out.toString(), 'first half, second half');
    server.close();
    client.close();
  });

  for (let bits = 8; bits <= 15; bits++) {
    it(`window bits ${bits}: what we compress decompresses with a ${bits}-bit window`, async () => {
      const params = { ...NO_TAKEOVER, serverMaxWindowBits: bits, clientMaxWindowBits: bits };
      const server = new PerMessageDeflate(params, 'server');
      const data = Buffer.concat([randomBytes(200), Buffer.from(JSON_TEXT), randomBytes(200), Buffer.from(JSON_TEXT)]);
      const compressed = await encode(server, data);
      const inflated = inflateRawSync(Buffer.concat([compressed, Buffer.from([0, 0, 0xff, 0xff])]), { ...SYNC, windowBits: bits });
      assert.deepEqual(inflated, data);
      const client = new PerMessageDeflate(params, 'client');
      assert.deepEqual(await decode(client, deflateRawSync(data, { windowBits: Math.max(9, bits), finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4)), data);
    });
  }

  it('stops decompressing at the size limit (1009)', async () => {
    const codec = new PerMessageDeflate(TAKEOVER, 'client');
    const bomb = deflateRawSync(Buffer.alloc(10 * 1024 * 1024));
    await assert.rejects(decode(codec, bomb, true, 1024 * 1024), (error: unknown) => error instanceof ProtocolError && error.closeCode === 1009);
    assert.equal(codec.streams, 0);
  });

  it('a message ending its DEFLATE stream with a BFINAL block: the next message gets a fresh stream (RFC 7692 §7.2.3.4)', async () => {
    const final = deflateRawSync(Buffer.from('Hello')); // BFINAL set: the stream ends with this message
    const fresh = deflateRawSync(Buffer.from('Hello'), SYNC).subarray(0, -4);
    for (const params of [TAKEOVER, NO_TAKEOVER]) {
      const server = new PerMessageDeflate(params, 'server');
      assert.equal((await decode(server, final)).toString(), 'Hello');
      assert.equal((await decode(server, fresh)).toString(), 'Hello');
      assert.equal((await decode(server, final)).toString(), 'Hello');
      // The ended stream was not shared through the pool: another connection decodes normally.
      const other = new PerMessageDeflate(params, 'server');
      assert.equal((await decode(other, fresh)).toString(), 'Hello');
      server.close();
      other.close();
    }
  });

  it('closing while a decode is in flight: no exception, the callback still runs once (found by the fuzzer)', async () => {
    for (const params of [TAKEOVER, NO_TAKEOVER]) {
      const codec = new PerMessageDeflate(params, 'server');
      let calls = 0;
      codec.decode([deflateRawSync(Buffer.from(JSON_TEXT), SYNC).subarray(0, -4)], true, 1 << 20, () => calls++);
      await new Promise((resolve) => setImmediate(resolve)); // the job is with zlib now
      codec.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(calls <= 1);
      assert.equal(codec.streams, 0);
    }
  });

  it('reports corrupt data as 1007', async () => {
    const codec = new PerMessageDeflate(TAKEOVER, 'server');
    await assert.rejects(decode(codec, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x12])), (error: unknown) => error instanceof ProtocolError && error.closeCode === 1007);
  });
});

describe('Limiter', () => {
  it('runs at most `concurrency` jobs at once, in order', async () => {
    const limiter = new Limiter(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) =>
          new Promise<void>((resolve) =>
            limiter.add({
              runLimited(done) {
                running++;
                peak = Math.max(peak, running);
                order.push(i);
                setTimeout(() => {
                  running--;
                  done();
                  resolve();
                }, 2);
              },
            }),
          ),
      ),
    );
    assert.equal(peak, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(limiter.pending, 0);
  });

  it('100,000 queued jobs that finish synchronously (closed connections) run in order without deep recursion', async () => {
    const limiter = new Limiter(1);
    let release: () => void = () => {};
    limiter.add({ runLimited: (done) => (release = done) }); // holds the only slot
    const order: number[] = [];
    for (let i = 0; i < 100_000; i++) limiter.add({ runLimited: (done) => (order.push(i), done()) });
    assert.equal(limiter.pending, 100_000);
    release(); // used to recurse once per job: RangeError (Maximum call stack size exceeded)
    assert.equal(order.length, 100_000);
    assert.equal(order[99_999], 99_999);
    assert.equal(limiter.active, 0);
  });
});

/** An echo server of ours with compression, and a client (ours or ws's) connected to it. */
async function echoWith(config: PerMessageDeflateConfig, client: 'ours' | 'ws', clientOptions: Record<string, unknown> = {}) {
  const { wss, url } = await startServer({ perMessageDeflate: config, heartbeat: false });
  wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
  const connected = nextEvent<[WebSocket]>(wss, 'connection');
  const socket = client === 'ours' ? new WebSocket(url, clientOptions) : new WsClient(url, clientOptions);
  await nextEvent(socket as never, 'open');
  const [serverSide] = await connected;
  const roundTrip = async (data: Buffer | string, options: { fin?: boolean } = {}): Promise<Buffer> => {
    const reply = nextEvent<[Buffer]>(socket as never, 'message');
    (socket as WebSocket).send(data, options);
    const [echo] = await reply;
    return Buffer.from(echo);
  };
  return { wss, socket: socket as WebSocket | WsClient, serverSide, roundTrip };
}

describe('permessage-deflate with real peers', () => {
  for (const client of ['ours', 'ws'] as const) {
    it(`our server <-> ${client} client: compressible text and random binary, both directions`, async () => {
      const { wss, socket, roundTrip } = await echoWith({}, client);
      assert.equal(socket.extensions, 'permessage-deflate');
      assert.equal((await roundTrip(JSON_TEXT)).toString(), JSON_TEXT);
      const binary = randomBytes(100_000);
      assert.deepEqual(await roundTrip(binary), binary);
      assert.equal((await roundTrip('tiny')).toString(), 'tiny');
      socket.terminate();
      await stopServer(wss);
    });
  }

  it('ws server <-> our client, with fragmented compressed messages', async () => {
    const server = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
    server.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
    await nextEvent(server as never, 'listening');
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    await nextEvent(client, 'open');
    assert.equal(client.extensions, 'permessage-deflate');
    const reply = nextEvent<[Buffer]>(client, 'message');
    client.send(JSON_TEXT.slice(0, 3000), { fin: false });
    client.send(JSON_TEXT.slice(3000, 9000), { fin: false });
    client.send(JSON_TEXT.slice(9000));
    assert.equal(String((await reply)[0]), JSON_TEXT);
    client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });

  for (const [label, config] of [
    ['no context takeover on either side', { serverNoContextTakeover: true, clientNoContextTakeover: true }],
    ['context takeover', {}],
  ] as const) {
    it(`ws client against our server: ${label}`, async () => {
      const { wss, socket, roundTrip } = await echoWith(config, 'ws');
      for (let i = 0; i < 5; i++) assert.equal((await roundTrip(JSON_TEXT)).toString(), JSON_TEXT);
      socket.terminate();
      await stopServer(wss);
    });
  }

  for (let bits = 9; bits <= 15; bits++) {
    it(`window bits ${bits} both ways with ws`, async () => {
      const { wss, socket, serverSide, roundTrip } = await echoWith({ serverMaxWindowBits: bits, clientMaxWindowBits: bits }, 'ws', {
        perMessageDeflate: { clientMaxWindowBits: bits, serverMaxWindowBits: bits },
      });
      assert.equal(serverSide.extensions, 'permessage-deflate');
      assert.equal(serverSide.extensionsHeader, `permessage-deflate; server_max_window_bits=${bits}; client_max_window_bits=${bits}`);
      const data = Buffer.concat([Buffer.from(JSON_TEXT), randomBytes(3000), Buffer.from(JSON_TEXT)]);
      assert.deepEqual(await roundTrip(data), data);
      socket.terminate();
      await stopServer(wss);
    });
  }

  it('below the threshold messages go uncompressed; above it RSV1 is set on the first frame only', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: { threshold: 1024 }, heartbeat: false });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const peer = await handshakenPeer(port, '/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' });
    const [server] = await connected;
    server.send('x'.repeat(100));
    server.send('y'.repeat(5000));
    server.send('z'.repeat(5000), { compress: false });
    await peer.waitFor((r) => parseServerFrames(r).length >= 3);
    const frames = parseServerFrames(peer.received);
    assert.deepEqual(
      frames.map((f) => f.rsv),
      [0, 4, 0],
      'only the large message is compressed (RSV1), and not when compress: false',
    );
    assert.equal(inflateRawSync(Buffer.concat([frames[1]!.payload, Buffer.from([0, 0, 0xff, 0xff])]), SYNC).toString(), 'y'.repeat(5000));
    peer.destroy();
    await stopServer(wss);
  });

  it('a corrupt compressed message fails the connection with 1007', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: true, heartbeat: false });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const peer = await handshakenPeer(port, '/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' });
    const [server] = await connected;
    const closed = nextEvent<[number]>(server, 'close');
    peer.write(frame(Opcode.Text, Buffer.from([0xff, 0xee, 0xdd, 0xcc, 0xbb]), { rsv: RSV1 }));
    assert.equal((await closed)[0], 1007);
    peer.destroy();
    await stopServer(wss);
  });

  it('RSV1 on a continuation frame fails the connection with 1002', async () => {
    const { wss, port } = await startServer({ perMessageDeflate: true, heartbeat: false });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const peer = await handshakenPeer(port, '/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' });
    const [server] = await connected;
    const closed = nextEvent<[number]>(server, 'close');
    const part = deflateRawSync(Buffer.from('hello'), { finishFlush: constants.Z_SYNC_FLUSH });
    peer.write(Buffer.concat([frame(Opcode.Text, part, { rsv: RSV1, fin: false }), frame(Opcode.Continuation, Buffer.alloc(0), { rsv: RSV1 })]));
    assert.equal((await closed)[0], 1002);
    peer.destroy();
    await stopServer(wss);
  });

  it('a 1 MiB frame that inflates to 1 GiB costs about maxPayload of memory, then 1009', { timeout: scaled(120_000) }, async (t) => {
    // The bomb: 1 GiB of zeros, deflated as a stream (never held in memory here).
    const deflater = createDeflateRaw({ level: 9 });
    const pieces: Buffer[] = [];
    deflater.on('data', (chunk: Buffer) => pieces.push(chunk));
    const zeros = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 1024; i++) if (!deflater.write(zeros)) await new Promise((resolve) => deflater.once('drain', resolve));
    await new Promise<void>((resolve) => deflater.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    deflater.close();
    const bomb = Buffer.concat(pieces).subarray(0, -4);
    t.diagnostic(`bomb: ${bomb.length} bytes of deflate for 1 GiB`);
    assert.ok(bomb.length < 1.2 * 1024 * 1024);

    const maxPayload = 64 * 1024 * 1024;
    const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', 'test/node/fixtures/deflate-server.ts', String(maxPayload)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (output += chunk));
    try {
      while (!/port (\d+)/.test(output)) await new Promise((resolve) => setTimeout(resolve, 20));
      const port = Number(/port (\d+)/.exec(output)![1]);
      const peer = await handshakenPeer(port, '/', { 'Sec-WebSocket-Extensions': 'permessage-deflate' });
      peer.write(frame(Opcode.Binary, bomb, { rsv: RSV1 }));
      await peer.waitClosed(scaled(60_000));
      while (!output.includes('"code"')) await new Promise((resolve) => setTimeout(resolve, 20));
      const usage = JSON.parse(output.split('\n').find((line) => line.includes('"code"'))!) as { code: number; peakBefore: number; peakAfter: number };
      assert.equal(usage.code, 1009);
      const growth = usage.peakAfter - usage.peakBefore;
      t.diagnostic(`server peak RSS grew by ${(growth / 1048576).toFixed(1)} MiB (maxPayload ${maxPayload / 1048576} MiB) while refusing the bomb`);
      assert.ok(growth < maxPayload + 32 * 1024 * 1024, `peak RSS grew by ${growth} bytes`);
    } finally {
      child.kill();
    }
  });
});
