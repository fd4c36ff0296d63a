import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket, type WebSocketServer } from '../../src/node/index.js';
import { Opcode } from '../../src/protocol/constants.js';
import { handshakenPeer, nextEvent, parseServerFrames, startServer, stopServer } from '../helpers/net.js';
import { onBoth, pairOf, type AnySocket, type Library } from '../helpers/libraries.js';
import { waitFor } from '../helpers/protocol.js';
import { openAsBlob } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A server and one connected client; `server` is the server side of that connection. */
async function pair(serverOptions = {}, clientOptions = {}): Promise<{ wss: WebSocketServer; client: WebSocket; server: WebSocket }> {
  const { wss, url } = await startServer(serverOptions);
  const connected = nextEvent<[WebSocket]>(wss, 'connection');
  const client = new WebSocket(url, clientOptions);
  const [server] = await connected;
  if (client.readyState !== WebSocket.OPEN) await nextEvent(client, 'open');
  return { wss, client, server };
}

async function shutdown(wss: WebSocketServer, ...sockets: WebSocket[]): Promise<void> {
  for (const ws of sockets) ws.terminate();
  await stopServer(wss);
}

describe('WebSocket: sending', () => {
  it('sends every kind of data: string, Buffer, ArrayBuffer, TypedArray, DataView, Blob, number, fragments', async () => {
    const { wss, client, server } = await pair();
    const received: Array<[string, boolean]> = [];
    server.on('message', (data, isBinary) => received.push([(data as Buffer).toString('hex'), isBinary]));
    client.send('hi');
    client.send(Buffer.from([1, 2]));
    client.send(new Uint8Array([3, 4]).buffer);
    client.send(new Uint16Array([0x0605]));
    client.send(new DataView(new Uint8Array([7, 8, 9]).buffer, 1, 2));
    client.send(new Blob([Buffer.from([10, 11])]));
    client.send('after blob'); // stays after the Blob, which is read asynchronously
    client.send(42);
    client.send([Buffer.from([12]), Buffer.from([13])]);
    client.send('bytes as text', { binary: false });
    client.send(Buffer.from('text'), { binary: false });
    while (received.length < 11) await nextEvent(server, 'message');
    assert.deepEqual(received, [
      [Buffer.from('hi').toString('hex'), false],
      ['0102', true],
      ['0304', true],
      ['0506', true],
      ['0809', true],
      ['0a0b', true],
      [Buffer.from('after blob').toString('hex'), false],
      [Buffer.from('42').toString('hex'), false],
      ['0c0d', true],
      [Buffer.from('bytes as text').toString('hex'), false],
      [Buffer.from('text').toString('hex'), false],
    ]);
    await shutdown(wss, client);
  });

  it('calls send callbacks once written; after close with an error, counting bufferedAmount', async () => {
    const { wss, client } = await pair();
    const done: Array<Error | null | undefined> = [];
    client.send('one', (error) => done.push(error));
    client.send('two', {}, (error) => done.push(error));
    while (done.length < 2) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(done, [null, null]);
    assert.equal(client.bufferedAmount, 0);
    client.close();
    const late = await new Promise<Error | null | undefined>((resolve) => client.send('late', resolve));
    assert.match(String(late), /CLOSING/);
    assert.equal(client.bufferedAmount, 4);
    await nextEvent(client, 'close');
    await stopServer(wss);
  });

  it('sends fragments with fin: false', async () => {
    const { wss, client, server } = await pair();
    client.send('frag', { fin: false });
    client.send('men', { fin: false });
    client.send('ted');
    const [data, isBinary] = await nextEvent<[Buffer, boolean]>(server, 'message');
    assert.equal(data.toString(), 'fragmented');
    assert.equal(isBinary, false);
    await shutdown(wss, client);
  });

  it('ping: numbers are sent as text, never as uninitialised memory; over 125 bytes throws', async () => {
    const { wss, client, server } = await pair();
    client.ping(1e6);
    const [payload] = await nextEvent<[Buffer]>(server, 'ping');
    assert.equal(payload.toString(), '1000000');
    const [pong] = await nextEvent<[Buffer]>(client, 'pong');
    assert.equal(pong.toString(), '1000000');
    assert.throws(() => client.ping(Buffer.alloc(126)), RangeError);
    client.pong('unsolicited');
    assert.equal((await nextEvent<[Buffer]>(server, 'pong'))[0].toString(), 'unsolicited');
    await shutdown(wss, client);
  });

  it('close() validates code and reason as ws does', async () => {
    const { wss, client } = await pair();
    assert.throws(() => client.close(1005), TypeError);
    assert.throws(() => client.close(999), TypeError);
    assert.throws(() => client.close(1000, 'x'.repeat(124)), RangeError);
    assert.equal(client.readyState, WebSocket.OPEN);
    await shutdown(wss, client);
  });

  it('a close reason given as a TypedArray is sent as its bytes', async () => {
    const { wss, client, server } = await pair();
    const closed = nextEvent<[number, Buffer]>(server, 'close');
    client.close(4001, new Uint8Array([0x68, 0x69]) as Buffer);
    const [code, reason] = await closed;
    assert.equal(code, 4001);
    assert.equal(reason.toString(), 'hi');
    await stopServer(wss);
  });

  it('terminate() closes at once with 1006 on both sides', async () => {
    const { wss, client, server } = await pair();
    const serverClosed = nextEvent<[number]>(server, 'close');
    const clientClosed = nextEvent<[number]>(client, 'close');
    client.terminate();
    assert.equal((await clientClosed)[0], 1006);
    assert.equal((await serverClosed)[0], 1006);
    await stopServer(wss);
  });
});

describe('WebSocket: receiving', () => {
  it('binaryType: nodebuffer, arraybuffer, fragments, blob (text stays a Buffer)', async () => {
    const { wss, client, server } = await pair();
    const results: unknown[] = [];
    client.on('message', (data) => results.push(data));
    for (const type of ['nodebuffer', 'arraybuffer', 'fragments', 'blob'] as const) {
      client.binaryType = type;
      server.send(Buffer.from([1, 2, 3]));
      await nextEvent(client, 'message');
    }
    client.binaryType = 'bogus' as never;
    assert.equal(client.binaryType, 'blob');
    server.send('text');
    await nextEvent(client, 'message');
    assert.ok(Buffer.isBuffer(results[0]));
    assert.ok(results[1] instanceof ArrayBuffer && (results[1] as ArrayBuffer).byteLength === 3);
    assert.ok(Array.isArray(results[2]));
    assert.ok(results[3] instanceof Blob);
    assert.deepEqual([...new Uint8Array(await (results[3] as Blob).arrayBuffer())], [1, 2, 3]);
    assert.ok(Buffer.isBuffer(results[4]));
    await shutdown(wss, client);
  });

  it('for await yields messages in order until the connection closes', async () => {
    const { wss, client, server } = await pair();
    for (let i = 0; i < 50; i++) server.send(`m${i}`);
    server.close(1000);
    const seen: string[] = [];
    for await (const { data, isBinary } of client) {
      assert.equal(isBinary, false);
      seen.push(String(data));
    }
    assert.equal(seen.length, 50);
    assert.equal(seen[49], 'm49');
    await stopServer(wss);
  });

  it('for await throws when the connection fails, and break leaves it open', async () => {
    const { wss, client, server } = await pair({ maxPayload: 10 });
    const iterator = server[Symbol.asyncIterator]();
    client.send('small');
    assert.equal(String((await iterator.next()).value?.data), 'small');
    await iterator.return?.();
    assert.equal(server.readyState, WebSocket.OPEN);
    const failing = (async () => {
      for await (const message of server) void message;
    })();
    client.send('this is too long for the limit');
    await assert.rejects(failing, /exceeds/);
    await stopServer(wss);
  });

  it('a listener that throws is reported through error; other connections carry on', async () => {
    const { wss, url } = await startServer();
    const servers: WebSocket[] = [];
    wss.on('connection', (ws) => {
      servers.push(ws);
      ws.on('message', (data) => {
        if (String(data) === 'boom') throw new Error('listener failed');
        ws.send(data);
      });
    });
    const a = new WebSocket(url);
    const b = new WebSocket(url);
    await Promise.all([nextEvent(a, 'open'), nextEvent(b, 'open')]);
    while (servers.length < 2) await new Promise((resolve) => setImmediate(resolve));
    const reported = nextEvent<[Error]>(servers[0]!, 'error');
    a.send('boom');
    assert.match((await reported)[0].message, /listener failed/);
    a.send('still here');
    b.send('unaffected');
    assert.equal(String((await nextEvent<[Buffer]>(a, 'message'))[0]), 'still here');
    assert.equal(String((await nextEvent<[Buffer]>(b, 'message'))[0]), 'unaffected');
    a.terminate();
    b.terminate();
    await stopServer(wss);
  });

  it('pause() stops message delivery until resume()', async () => {
    const { wss, client, server } = await pair();
    client.pause();
    assert.equal(client.isPaused, true);
    let got = 0;
    client.on('message', () => got++);
    server.send('while paused');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(got, 0);
    client.resume();
    await nextEvent(client, 'message');
    assert.equal(got, 1);
    await shutdown(wss, client);
  });
});

describe('WebSocket: slow consumers and backpressure', () => {
  it("policy 'close': a peer that stops reading is failed with 1008 and memory stays bounded", async () => {
    const limit = 1024 * 1024;
    const { wss, port } = await startServer({ maxBufferedAmount: limit, closeTimeout: 200 });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const peer = await handshakenPeer(port);
    peer.socket.pause(); // reads nothing from now on
    const [server] = await connected;
    const closed = nextEvent<[number]>(server, 'close');
    const chunk = Buffer.alloc(64 * 1024);
    let maxBuffered = 0;
    let refused = 0;
    for (let i = 0; i < 400 && server.readyState === WebSocket.OPEN; i++) {
      if (!server.send(chunk)) refused++;
      maxBuffered = Math.max(maxBuffered, server.bufferedAmount);
      if (i % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(maxBuffered <= limit + chunk.length, `buffered ${maxBuffered}`);
    assert.ok(refused > 0);
    assert.equal(server.readyState, WebSocket.CLOSING);
    const [code] = await closed;
    assert.equal(code, 1008);
    peer.destroy();
    await stopServer(wss);
  });

  it("policy 'drop': messages over the limit are refused with an error and the connection stays open", async () => {
    const { wss, port } = await startServer({ maxBufferedAmount: 256 * 1024, slowConsumer: 'drop' });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const peer = await handshakenPeer(port);
    peer.socket.pause();
    const [server] = await connected;
    const errors: Error[] = [];
    for (let i = 0; i < 100; i++) server.send(Buffer.alloc(64 * 1024), (error) => error && errors.push(error));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(errors.length > 0);
    assert.match(errors[0]!.message, /Slow consumer/);
    assert.equal(server.readyState, WebSocket.OPEN);
    assert.ok(server.bufferedAmount <= 256 * 1024 + 64 * 1024);
    peer.destroy();
    await stopServer(wss);
  });

  it('send() returns false above highWaterMark and drain follows when the peer reads', async () => {
    const { wss, client, server } = await pair({ highWaterMark: 64 * 1024 });
    let accepted = true;
    let sent = 0;
    while (accepted) {
      accepted = server.send(Buffer.alloc(16 * 1024));
      sent++;
    }
    assert.ok(sent >= 4);
    let received = 0;
    client.on('message', () => received++);
    await nextEvent(server, 'drain');
    assert.ok(server.bufferedAmount <= 32 * 1024);
    while (received < sent) await nextEvent(client, 'message');
    await shutdown(wss, client);
  });
});

describe('WebSocket: closing', () => {
  it('the server closes TCP first after the handshake; the client waits for it', async () => {
    const { wss, port } = await startServer();
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const peer = await handshakenPeer(port);
    const [server] = await connected;
    server.close(1000, 'done');
    await peer.waitFor((r) => parseServerFrames(r).some((f) => f.opcode === Opcode.Close));
    assert.equal(peer.closed, false, 'the server waits for our close frame before closing TCP');
    const closed = nextEvent<[number]>(server, 'close');
    // Our (masked) close frame answers; the server then closes TCP.
    peer.write(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
    await peer.waitClosed();
    assert.equal((await closed)[0], 1000);
    assert.equal(server.closeResult?.wasClean, true);
    await stopServer(wss);
  });
});

describe('WebSocket: the browser-style listener API (as in ws)', () => {
  it('onmessage/onclose handlers and addEventListener get event objects', async () => {
    const { wss, client, server } = await pair();
    const seen: string[] = [];
    const listener = (event: { data: unknown }): void => {
      seen.push(`listener:${String(event.data)}`);
    };
    client.addEventListener('message', listener);
    client.addEventListener('message', listener); // added once only
    client.onmessage = (event) => seen.push(`first:${String(event.data)}`);
    client.onmessage = (event) => seen.push(`handler:${String(event.data)}`); // replaces the first
    server.send('one');
    await nextEvent(client, 'message');
    client.removeEventListener('message', listener);
    server.send('two');
    await nextEvent(client, 'message');
    assert.deepEqual(seen, ['listener:one', 'handler:one', 'handler:two']);
    assert.equal(typeof client.onmessage, 'function');
    client.onmessage = null;
    assert.equal(client.onmessage, null);

    const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
      client.onclose = (event) => resolve(event);
    });
    server.close(4000, 'bye');
    const event = await closed;
    assert.equal(event.code, 4000);
    assert.equal(event.reason, 'bye');
    assert.equal(event.wasClean, true);
    await stopServer(wss);
  });
});

/**
 * Make each call on a client of `library` (logging "sent" or what it throws), then log what the
 * server received, in order: messages as `text:`/`binary:` hex, pings as `ping:` hex.
 */
async function callsAndReceived(library: Library, calls: ReadonlyArray<[string, (socket: AnySocket, log: string[]) => void]>): Promise<string[]> {
  const pair = await pairOf(library);
  const log: string[] = [];
  try {
    const received: string[] = [];
    pair.server.on('message', (data: Buffer, isBinary: boolean) => received.push(`${isBinary ? 'binary' : 'text'}:${data.toString('hex')}`));
    pair.server.on('ping', (data: Buffer) => received.push(`ping:${data.toString('hex')}`));
    let sent = 0;
    for (const [name, call] of calls) {
      try {
        call(pair.client, log);
        sent++;
        log.push(`${name}: sent`);
      } catch (error) {
        log.push(`${name}: throws ${(error as Error).constructor.name}`);
      }
    }
    await waitFor(() => received.length >= sent, undefined, `the server to receive ${sent} messages and pings`);
    log.push(...received);
  } finally {
    await pair.close();
  }
  return log;
}

describe('WebSocket: send() without data, differential against ws', () => {
  /** Each call, in order, on a client; what the server receives (or what the call throws). */
  const calls: Array<[string, (socket: AnySocket, log: string[]) => void]> = [
    ['send()', (socket) => socket.send()],
    ['send(undefined)', (socket) => socket.send(undefined)],
    ['send(null)', (socket) => socket.send(null)],
    ['send(false)', (socket) => socket.send(false)],
    ["send('')", (socket) => socket.send('')],
    ['send(undefined, { binary: false })', (socket) => socket.send(undefined, { binary: false })],
    ['send(null, callback)', (socket, log) => socket.send(null, (error?: Error | null) => log.push(`callback error: ${error ?? 'none'}`))],
    ['send(true)', (socket) => socket.send(true)],
  ];

  it('no data, undefined, null (and false) send an empty binary message; an empty string an empty text; true throws TypeError', async () => {
    const results = await onBoth((library) => callsAndReceived(library, calls));
    assert.deepEqual(results.ws, [
      'send(): sent',
      'send(undefined): sent',
      'send(null): sent',
      'send(false): sent',
      "send(''): sent",
      'send(undefined, { binary: false }): sent',
      'send(null, callback): sent',
      'send(true): throws TypeError',
      'callback error: none',
      'binary:',
      'binary:',
      'binary:',
      'binary:',
      'text:',
      'text:',
      'binary:',
    ]);
    assert.deepEqual(results.fullduplex, results.ws);
  });
});

describe('WebSocket: values send(), ping() and pong() take, differential against ws', () => {
  const calls: Array<[string, (socket: AnySocket) => void]> = [
    ['send(42)', (socket) => socket.send(42)],
    ['send([1, 2, 255])', (socket) => socket.send([1, 2, 255])],
    ["send({ valueOf: () => 'ab' })", (socket) => socket.send({ valueOf: () => 'ab' })],
    ['send({})', (socket) => socket.send({})],
    ['send(Symbol())', (socket) => socket.send(Symbol('x'))],
    ['ping(false)', (socket) => (socket as unknown as { ping(data: unknown): void }).ping(false)],
    ['ping(0)', (socket) => (socket as unknown as { ping(data: unknown): void }).ping(0)],
    ["ping('')", (socket) => (socket as unknown as { ping(data: unknown): void }).ping('')],
    ['ping([7, 8])', (socket) => (socket as unknown as { ping(data: unknown): void }).ping([7, 8])],
    ['ping(true)', (socket) => (socket as unknown as { ping(data: unknown): void }).ping(true)],
    ['pong({})', (socket) => (socket as unknown as { pong(data: unknown): void }).pong({})],
  ];

  it('numbers as text, arrays and valueOf() objects as bytes, falsy control payloads empty; the rest TypeError', async () => {
    const results = await onBoth((library) => callsAndReceived(library, calls));
    assert.deepEqual(results.ws, [
      'send(42): sent',
      'send([1, 2, 255]): sent',
      "send({ valueOf: () => 'ab' }): sent",
      'send({}): throws TypeError',
      'send(Symbol()): throws TypeError',
      'ping(false): sent',
      'ping(0): sent',
      "ping(''): sent",
      'ping([7, 8]): sent',
      'ping(true): throws TypeError',
      'pong({}): throws TypeError',
      'text:3432',
      'binary:0102ff',
      'binary:6162',
      'ping:',
      'ping:30',
      'ping:',
      'ping:0708',
    ]);
    assert.deepEqual(results.fullduplex, results.ws);
  });
});

describe('WebSocket: a Blob that cannot be read, differential against ws', () => {
  /** Send `blob` then a string; log the callbacks, the error event, and how both ends close. */
  async function unreadableBlob(library: Library, blob: Blob): Promise<string[]> {
    const pair = await pairOf(library);
    const log: string[] = [];
    try {
      const received: unknown[] = [];
      pair.server.on('message', (data: unknown) => received.push(data));
      const errors: unknown[] = [];
      const errored = new Promise<void>((resolve) => {
        pair.client.on('error', (error: unknown) => {
          errors.push(error);
          log.push(`error event (readyState ${pair.client.readyState})`);
          resolve();
        });
      });
      const clientClosed = nextEvent<[number]>(pair.client, 'close');
      const serverClosed = nextEvent<[number]>(pair.server, 'close');
      const callbackErrors: unknown[] = [];
      pair.client.send(blob, (error?: Error | null) => {
        callbackErrors.push(error);
        log.push('blob callback');
      });
      pair.client.send('after the blob', (error?: Error | null) => {
        callbackErrors.push(error);
        log.push('next callback');
      });
      await errored;
      const [[clientCode], [serverCode]] = await Promise.all([clientClosed, serverClosed]);
      log.push(`callbacks got the error event's error: ${callbackErrors.every((error) => error !== undefined && error === errors[0])}`);
      log.push(`error: ${(errors[0] as Error).name}`);
      log.push(`close: client ${clientCode}, server ${serverCode}; messages received: ${received.length}`);
    } finally {
      await pair.close();
    }
    return log;
  }

  it('arrayBuffer() rejects: the callbacks and the error event get that error, and the connection closes (1006)', async () => {
    class UnreadableBlob extends Blob {
      override arrayBuffer(): Promise<ArrayBuffer> {
        return Promise.reject(new TypeError('cannot read this blob'));
      }
    }
    const results = await onBoth((library) => unreadableBlob(library, new UnreadableBlob(['abc'])));
    assert.deepEqual(results.ws, [
      'blob callback',
      'next callback',
      'error event (readyState 2)',
      "callbacks got the error event's error: true",
      'error: TypeError',
      'close: client 1006, server 1006; messages received: 0',
    ]);
    assert.deepEqual(results.fullduplex, results.ws);
  });

  it('a look-alike Blob (ws decides by shape and Symbol.toStringTag) whose arrayBuffer() rejects: the same', async () => {
    const fake = (): Blob =>
      ({
        size: 3,
        type: '',
        arrayBuffer: () => Promise.reject(new RangeError('gone')),
        stream: () => new ReadableStream(),
        [Symbol.toStringTag]: 'Blob',
      }) as unknown as Blob;
    const results = await onBoth((library) => unreadableBlob(library, fake()));
    assert.equal(results.ws.at(-2), 'error: RangeError');
    assert.deepEqual(results.fullduplex, results.ws);
  });

  it('a Blob of a file deleted before it is read: NotReadableError, and the connection closes', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'fullduplex-blob-'));
    try {
      const results = await onBoth(async (library) => {
        const path = join(directory, `${library}.bin`);
        await writeFile(path, 'abc');
        const blob = await openAsBlob(path);
        await rm(path);
        return unreadableBlob(library, blob);
      });
      assert.equal(results.ws.at(-2), 'error: NotReadableError');
      assert.deepEqual(results.fullduplex, results.ws);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
