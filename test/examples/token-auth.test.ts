/**
 * examples/token-auth as a real process: a valid token (header or query) connects and the handler knows
 * the user; a missing or wrong token gets 401 with `WWW-Authenticate` and never a connection — with
 * fullduplex's client and with `ws` as the client.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import WsWebSocket from 'ws';
import { WebSocket, type HandshakeError } from '../../src/index.js';
import { startExample, type RunningExample } from './example-process.js';
import { scaled } from '../helpers/time.js';

type Outcome = { opened: true; first: string; reply: string } | { opened: false; status: number; challenge: string | undefined };

/** fullduplex's client: the greeting and the reply to "hi", or the refusal from its HandshakeError. */
async function withFullduplex(url: string, headers: Record<string, string>): Promise<Outcome> {
  const ws = new WebSocket(url, { headers });
  const messages: string[] = [];
  ws.on('message', (data) => messages.push(String(data)));
  const closed = new Promise((resolve) => ws.once('close', resolve)); // right after the refusal's 'error'
  const [first] = (await Promise.race([once(ws, 'open').then(() => ['open']), once(ws, 'error')])) as [unknown];
  if (first !== 'open') {
    const error = first as HandshakeError;
    await closed;
    return { opened: false, status: error.status, challenge: error.headers['www-authenticate'] };
  }
  return converse(ws, messages);
}

/** `ws` as the client: the same, the refusal from its `unexpected-response` event. */
async function withWs(url: string, headers: Record<string, string>): Promise<Outcome> {
  const ws = new WsWebSocket(url, { headers });
  const messages: string[] = [];
  ws.on('message', (data) => messages.push(String(data)));
  const refused = new Promise<Outcome>((resolve) => {
    ws.on('unexpected-response', (request, response: IncomingMessage) => {
      response.resume();
      request.destroy();
      const challenge = response.headers['www-authenticate'];
      resolve({ opened: false, status: response.statusCode ?? 0, challenge: typeof challenge === 'string' ? challenge : undefined });
    });
  });
  ws.on('error', () => {}); // the destroyed request after a refusal
  const first = await Promise.race([once(ws, 'open').then(() => null), refused]);
  if (first !== null) return first;
  return converse(ws, messages);
}

async function converse(ws: WebSocket | WsWebSocket, messages: string[]): Promise<Outcome> {
  const deadline = Date.now() + scaled(10_000);
  ws.send('hi');
  while (messages.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  ws.close();
  await once(ws, 'close');
  return { opened: true, first: messages[0] ?? '(none)', reply: messages[1] ?? '(none)' };
}

const CLIENTS = { fullduplex: withFullduplex, ws: withWs } as const;

describe('examples/token-auth', { timeout: scaled(60_000) }, () => {
  let server: RunningExample;
  before(async () => {
    server = await startExample('examples/token-auth', { env: { PORT: '0' } });
  });
  after(() => server.stop());

  for (const [name, connect] of Object.entries(CLIENTS)) {
    it(`${name}: a valid bearer token connects, and the handler knows the user`, async () => {
      const url = server.urls[0] as string;
      assert.deepEqual(await connect(url, { Authorization: 'Bearer token-of-alice' }), { opened: true, first: 'hello alice', reply: 'alice said: hi' });
      assert.deepEqual(await connect(`${url}/?token=token-of-bob`, {}), { opened: true, first: 'hello bob', reply: 'bob said: hi' });
    });

    it(`${name}: a missing or wrong token gets 401 with WWW-Authenticate, and no connection`, async () => {
      const url = server.urls[0] as string;
      const connectedBefore = server.output().match(/^connected: /gm)?.length ?? 0;
      assert.deepEqual(await connect(url, {}), { opened: false, status: 401, challenge: 'Bearer realm="example"' });
      const invalid = { opened: false, status: 401, challenge: 'Bearer realm="example", error="invalid_token"' };
      assert.deepEqual(await connect(url, { Authorization: 'Bearer token-of-mallory' }), invalid);
      assert.deepEqual(await connect(`${url}/?token=`, {}), invalid);
      // The server logs each connection: connect a valid client afterwards, wait for its line (stdout
      // keeps the server's order, so a refused one that got through would have logged before it), and
      // check that it is the only new one.
      await connect(url, { Authorization: 'Bearer token-of-alice' });
      const connected = (): number => server.output().match(/^connected: /gm)?.length ?? 0;
      const deadline = Date.now() + scaled(10_000);
      while (connected() <= connectedBefore && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(connected(), connectedBefore + 1, server.output());
    });
  }
});
