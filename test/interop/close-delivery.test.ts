/**
 * Nothing received is lost at close (issue 15): every message whose frames arrived before the close
 * frame is delivered, in order, before `close`, and EOF after a complete close frame is a clean close —
 * in both roles, with and without permessage-deflate, against our server and `ws`'s.
 *
 * The classic loss: with compression, a client's `send(); close()` is echoed by the server as one read
 * holding the compressed echo, the close frame and the server's FIN; the socket's end used to tear the
 * connection down while the inflater still held the echo (close 1006, message gone). Each scenario runs
 * REPETITIONS times (a few at once) and must lose nothing.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket as WsWebSocket, WebSocketServer as WsServer } from 'ws';
import { WebSocket, type ClientOptions } from '../../src/node/websocket.js';
import { WebSocketServer } from '../../src/node/server.js';
import type { MessageData } from '../../src/node/data.js';
import { once, portOf } from '../helpers/node.js';
import { BURST, BURST_TEXTS, clientRun, describeOutcome, repeatRuns, type Outcome } from '../helpers/close-delivery.js';

const REPETITIONS = 1000;
/** Connections in flight at once (the loss is about one connection's timing, not about load). */
const CONCURRENCY = 8;

type ServerKind = 'fullduplex' | 'ws';
type Compression = 'deflate' | 'none';

interface Echo {
  url: string;
  stop(): Promise<void>;
}

/** An echo server; with `sendThenClose`, it instead sends `BURST` messages and closes on connection. */
async function echoServer(kind: ServerKind, compression: Compression, mode: 'echo' | 'sendThenClose'): Promise<Echo> {
  // threshold 0: even a 2-byte message is compressed, so every message goes through zlib.
  const perMessageDeflate = compression === 'deflate' ? { threshold: 0 } : false;
  const onConnection = (socket: WebSocket | WsWebSocket): void => {
    if (mode === 'sendThenClose') {
      for (let i = 0; i < BURST; i++) socket.send(`m${i}`);
      socket.close(1000, 'bye');
      return;
    }
    (socket as WebSocket).on('message', (data: MessageData, isBinary: boolean) => {
      const payload = Array.isArray(data) ? Buffer.concat(data as Buffer[]) : (data as Buffer);
      socket.send(payload, { binary: isBinary });
    });
  };
  if (kind === 'fullduplex') {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate, heartbeat: false });
    await once(server, 'listening');
    server.on('connection', onConnection);
    return { url: `ws://127.0.0.1:${portOf(server)}`, stop: () => new Promise((resolve) => server.close(() => resolve())) };
  }
  const server = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate });
  await once(server, 'listening');
  server.on('connection', onConnection);
  return { url: `ws://127.0.0.1:${portOf(server)}`, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Run `repetition` REPETITIONS times, CONCURRENCY at once. */
function repeat(repetition: (index: number) => Promise<string | null>): Promise<string[]> {
  return repeatRuns(REPETITIONS, CONCURRENCY, repetition);
}

for (const compression of ['deflate', 'none'] as const) {
  const clientOptions: ClientOptions = { perMessageDeflate: compression === 'deflate' ? { threshold: 0 } : false };
  for (const serverKind of ['fullduplex', 'ws'] as const) {
    describe(`our client, ${serverKind} echo server, ${compression === 'deflate' ? 'permessage-deflate' : 'no compression'}: nothing lost at close`, () => {
      let echo: Echo;
      let sender: Echo;
      before(async () => {
        echo = await echoServer(serverKind, compression, 'echo');
        sender = await echoServer(serverKind, compression, 'sendThenClose');
      });
      after(async () => {
        await echo.stop();
        await sender.stop();
      });

      it(`send then close in one tick: the echo arrives before a clean close (${REPETITIONS} times)`, async () => {
        const failures = await repeat(async (i) =>
          describeOutcome(
            await clientRun(echo.url, clientOptions, (client) => {
              client.send(`hi${i}`);
              client.close();
            }),
            [`hi${i}`],
          ),
        );
        assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${REPETITIONS} lost`);
      });

      it(`a burst of ${BURST} messages then close: all echoed, in order, before a clean close (${REPETITIONS} times)`, async () => {
        const failures = await repeat(async () =>
          describeOutcome(
            await clientRun(echo.url, clientOptions, (client) => {
              for (const text of BURST_TEXTS) client.send(text);
              client.close(1000);
            }),
            BURST_TEXTS,
          ),
        );
        assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${REPETITIONS} lost`);
      });

      it(`the peer sends ${BURST} messages and closes at once: all delivered before a clean close (${REPETITIONS} times)`, async () => {
        const failures = await repeat(async () => describeOutcome(await clientRun(sender.url, clientOptions, () => {}), BURST_TEXTS));
        assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${REPETITIONS} lost`);
      });

      it(`binaryType 'fragments', a message split across frames, then close: delivered whole before a clean close (${REPETITIONS} times)`, async () => {
        const failures = await repeat(async (i) =>
          describeOutcome(
            await clientRun(
              echo.url,
              clientOptions,
              (client) => {
                client.send(Buffer.from(`part1-${i}|`), { fin: false });
                client.send(Buffer.from('part2|'), { fin: false });
                client.send(Buffer.from('part3'), { fin: true });
                client.close();
              },
              'fragments',
            ),
            [`binary:part1-${i}|part2|part3`],
          ),
        );
        assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${REPETITIONS} lost`);
      });
    });
  }

  describe(`our server, ${compression === 'deflate' ? 'permessage-deflate' : 'no compression'}: a client's messages are all delivered before close`, () => {
    let server: WebSocketServer;
    let url: string;
    const received = new Map<string, string[]>();
    const closed = new Map<string, (outcome: Outcome) => void>();
    before(async () => {
      server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: compression === 'deflate' ? { threshold: 0 } : false, heartbeat: false });
      await once(server, 'listening');
      url = `ws://127.0.0.1:${portOf(server)}`;
      server.on('connection', (socket, request) => {
        const id = new URL(request.url ?? '/', 'ws://x').searchParams.get('id')!;
        const texts: string[] = [];
        received.set(id, texts);
        socket.on('message', (data) => texts.push(String(data)));
        socket.on('close', (code) => closed.get(id)?.({ texts, code, wasClean: socket.closeResult?.wasClean ?? false }));
      });
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    for (const clientKind of ['ws', 'fullduplex'] as const) {
      it(`a ${clientKind} client's burst of ${BURST} then close: the server gets all ${BURST}, in order, then a clean close (${REPETITIONS} times)`, async () => {
        const failures = await repeat(async (i) => {
          const id = `${clientKind}-${compression}-${i}`;
          const serverSaw = new Promise<Outcome>((resolve) => closed.set(id, resolve));
          const target = `${url}/?id=${id}`;
          const options = { perMessageDeflate: compression === 'deflate' ? { threshold: 0 } : false };
          const client = clientKind === 'ws' ? new WsWebSocket(target, options) : new WebSocket(target, options);
          client.on('error', () => {});
          client.on('open', () => {
            for (const text of BURST_TEXTS) client.send(text);
            client.close();
          });
          const outcome = await serverSaw;
          closed.delete(id);
          received.delete(id);
          return describeOutcome(outcome, BURST_TEXTS);
        });
        assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${REPETITIONS} lost`);
      });
    }
  });
}
