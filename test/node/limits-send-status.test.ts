/**
 * `sendWithStatus`: what became of a message ('sent', 'queued', 'dropped', 'closed'), for every case
 * where `send` answers with its boolean, which stays as `ws` users expect (true exactly for 'sent').
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handshakenPeer, startServer, stopServer } from '../helpers/net.js';
import { connectedPair, once } from '../helpers/node.js';
import { WebSocket, type SendStatus } from '../../src/node/websocket.js';

test("'sent' under the high-water mark, 'queued' over it (then drain): send's boolean says the same", async () => {
  const pair = await connectedPair({ server: { highWaterMark: 1000 } });
  try {
    const ws = pair.serverSocket;
    const rows: Array<[string, SendStatus, boolean]> = [];
    rows.push(['small', ws.sendWithStatus('hi'), ws.send('hi')]);
    rows.push(['over the mark', ws.sendWithStatus(Buffer.alloc(2000)), ws.send(Buffer.alloc(10))]);
    assert.deepEqual(rows, [
      ['small', 'sent', true],
      ['over the mark', 'queued', false],
    ]);
    await once(ws, 'drain');
    assert.equal(ws.sendWithStatus('after drain'), 'sent');
  } finally {
    await pair.close();
  }
});

async function slowConsumer(policy: 'drop' | 'close'): Promise<{ ws: WebSocket; stop(): Promise<void> }> {
  const { wss, port } = await startServer({ slowConsumer: policy, maxBufferedAmount: 1000 });
  const connection = once<[WebSocket]>(wss, 'connection');
  const peer = await handshakenPeer(port);
  peer.socket.pause(); // never reads
  const [ws] = await connection;
  return {
    ws,
    async stop() {
      peer.destroy();
      await stopServer(wss);
    },
  };
}

test("slow consumer 'drop': 'dropped' (send: false), the callback gets FD_ERR_SLOW_CONSUMER, the connection stays open", async () => {
  const { ws, stop } = await slowConsumer('drop');
  try {
    assert.equal(ws.sendWithStatus(Buffer.alloc(4096)), 'sent', 'one message may go over the limit (it applies to what waits)');
    let failure: (Error & { code?: string }) | null | undefined;
    assert.equal(ws.sendWithStatus('more', (error) => (failure = error)), 'dropped');
    assert.equal(ws.send('more'), false);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(failure?.code, 'FD_ERR_SLOW_CONSUMER');
    assert.equal(ws.readyState, ws.OPEN);
  } finally {
    await stop();
  }
});

test("slow consumer 'close': 'closed' (send: false), the connection is failed (1008); later sends are 'closed' too", async () => {
  const { ws, stop } = await slowConsumer('close');
  try {
    assert.equal(ws.sendWithStatus(Buffer.alloc(4096)), 'sent');
    assert.equal(ws.sendWithStatus('more'), 'closed');
    assert.equal(ws.readyState, ws.CLOSING, 'failed with 1008 (the close frame waits behind what the peer does not read)');
    assert.equal(ws.sendWithStatus('after'), 'closed');
    assert.equal(ws.send('after'), false);
  } finally {
    await stop();
  }
});

test("a reconnecting client: 'queued' while it connects (kept for the connection), 'dropped' with queue: false", async () => {
  const { wss, url } = await startServer();
  const queued = new WebSocket(url, { reconnect: true });
  const refused = new WebSocket(url, { reconnect: { queue: false } });
  try {
    assert.equal(queued.sendWithStatus('kept'), 'queued');
    assert.equal(refused.sendWithStatus('not kept'), 'dropped');
    await once(queued, 'open');
  } finally {
    queued.close();
    refused.close();
    await stopServer(wss);
  }
});

test('while connecting without reconnect, sendWithStatus throws as send does', async () => {
  const { wss, url } = await startServer();
  const ws = new WebSocket(url);
  try {
    assert.throws(() => ws.send('x'), /readyState 0/);
    assert.throws(() => ws.sendWithStatus('x'), /readyState 0/);
    await once(ws, 'open');
  } finally {
    ws.terminate();
    await stopServer(wss);
  }
});
