/**
 * fullduplex/web's `ResumingWebSocket`: the browser class preset with fullduplex/web's own `WebSocket`,
 * so it runs on Node without a global WebSocket (Node 20) and without `options.WebSocket`, as
 * fullduplex/web's `ReconnectingWebSocket` does. Against the real server (`WebSocketServer({ history,
 * resume })`, MemoryHistory): a replay from 'start', live messages, a resume across a server-side drop
 * without duplicate or hole, an idempotent send applied once, and `connectOptions` reaching every
 * connection's handshake.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import * as web from '../../src/web/index.js';
import { ResumingWebSocket as BrowserResumingWebSocket } from '../../src/browser/index.js';
import { WebSocketServer } from '../../src/node/index.js';
import type { Position } from '../../src/node/history.js';
import { range, until } from '../helpers/resume-client.js';

async function server(): Promise<{ wss: WebSocketServer; url: string; requests: IncomingMessage[]; sends: string[] }> {
  const requests: IncomingMessage[] = [];
  const sends: string[] = [];
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeat: false, history: { topics: (topic) => topic.startsWith('h:') }, resume: { authorize: () => true } });
  wss.on('connection', (ws, request) => {
    requests.push(request);
    ws.on('message', (data) => void sends.push(String(data)));
  });
  await once(wss, 'listening');
  return { wss, url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`, requests, sends };
}

function publish(wss: WebSocketServer, topic: string, data: string): Promise<Position> {
  return new Promise((resolve, reject) => wss.publish(topic, data, {}, (error, position) => (error ? reject(error) : resolve(position!))));
}

describe("fullduplex/web's ResumingWebSocket", () => {
  it('is the browser class preset with fullduplex/web WebSocket (no options.WebSocket needed, also without a global WebSocket)', async () => {
    assert.ok(web.ResumingWebSocket.prototype instanceof BrowserResumingWebSocket);
    assert.equal(web.RESUME_SUBPROTOCOL, 'fullduplex.resume.v1');
    const { wss, url, requests, sends } = await server();
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    delete global.WebSocket; // as on Node 20: the preset must not need it
    let ws: web.ResumingWebSocket;
    try {
      ws = new web.ResumingWebSocket(url, { reconnect: { initialDelay: 20, maxDelay: 200, jitter: 0 }, connectOptions: { headers: { 'x-app': 'resume' } } });
    } finally {
      if (saved !== undefined) global.WebSocket = saved;
    }
    const got: Array<[string, string, number, boolean]> = [];
    const acked: number[] = [];
    const gaps: string[] = [];
    let closes = 0;
    ws.addEventListener('message', (event) => got.push([event.detail.topic, String(event.detail.data), event.detail.offset, event.detail.replayed]));
    ws.addEventListener('acked', (event) => acked.push(event.detail.seq));
    ws.addEventListener('gap', (event) => gaps.push(event.detail.reason));
    ws.addEventListener('close', () => closes++);
    try {
      await publish(wss, 'h:w', 'm1');
      await publish(wss, 'h:w', 'm2');
      ws.subscribe('h:w', { from: 'start' });
      await until(() => got.length === 2, 'the replay');
      await publish(wss, 'h:w', 'm3');
      await until(() => got.length === 3, 'live');
      assert.equal(ws.send('s1'), 1);
      await until(() => acked.includes(1), 'the ack');
      for (const client of wss.clients) client.terminate();
      await publish(wss, 'h:w', 'm4');
      ws.send('s2');
      await until(() => got.length === 4 && acked.includes(2), 'the resume', 20_000);
      await publish(wss, 'h:w', 'm5');
      await until(() => got.length === 5, 'live again');
      assert.deepEqual(got.map(([topic, data]) => `${topic} ${data}`), range(1, 5).map((i) => `h:w m${i}`));
      assert.deepEqual(got.map(([, , offset]) => offset), [1, 2, 3, 4, 5]);
      assert.deepEqual(got.map(([, , , replayed]) => replayed), [true, true, false, true, false]);
      assert.deepEqual(sends, ['s1', 's2']);
      assert.deepEqual(gaps, []);
      assert.ok(requests.length >= 2 && requests.every((request) => request.headers['x-app'] === 'resume'));
    } finally {
      ws.close();
      await until(() => closes === 1, 'the close');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });
});
