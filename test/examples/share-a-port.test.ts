/**
 * examples/share-a-port: the same WebSocket echo on the port of a node:http, an Express and a Fastify
 * server. Each program runs as a real process; the test asks its HTTP route with fetch and its
 * WebSocket endpoint with the fullduplex client, and checks that an upgrade to another path is
 * refused with a 404 (not left hanging) and that a plain request there gets the framework's 404.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from '../../src/index.js';
import { HandshakeError } from '../../src/protocol/errors.js';
import { once, openClient, openOutcome, within } from '../helpers/node.js';
import { scaled } from '../helpers/time.js';
import { startExample } from './example-process.js';

const programs = [
  { file: 'http.mjs', greeting: 'hello from node:http\n' },
  { file: 'express.mjs', greeting: 'hello from express\n' },
  { file: 'fastify.mjs', greeting: 'hello from fastify\n' },
];

/** The next message, as text or bytes. */
async function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  const [data, isBinary] = await once<[Buffer, boolean]>(ws, 'message');
  return { data, isBinary };
}

describe('examples/share-a-port', { timeout: scaled(60_000) }, () => {
  for (const { file, greeting } of programs) {
    it(`${file}: serves GET /hello and a WebSocket echo at /echo on one port; other paths get 404`, async () => {
      const example = await startExample(`examples/share-a-port/${file}`, { env: { PORT: '0' } });
      try {
        assert.equal(example.urls.length, 1, example.output());
        const base = example.urls[0] as string;
        assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);

        const hello = await within(fetch(`${base}/hello`), 'GET /hello');
        assert.equal(hello.status, 200);
        assert.equal(await hello.text(), greeting);
        const elsewhere = await within(fetch(`${base}/elsewhere`), 'GET /elsewhere');
        assert.equal(elsewhere.status, 404);
        await elsewhere.arrayBuffer();

        const wsBase = base.replace(/^http:/, 'ws:');
        const ws = await openClient(`${wsBase}/echo`, {});
        const text = nextMessage(ws);
        ws.send('héllo');
        assert.deepEqual(await text, { data: Buffer.from('héllo'), isBinary: false });
        const binary = nextMessage(ws);
        ws.send(Uint8Array.of(0, 1, 2, 255));
        assert.deepEqual(await binary, { data: Buffer.from([0, 1, 2, 255]), isBinary: true });
        ws.close(1000);
        const [code] = await once<[number]>(ws, 'close');
        assert.equal(code, 1000);

        // An upgrade to a path nobody serves: refused at once with 404, not left hanging.
        const lost = new WebSocket(`${wsBase}/nowhere`);
        const outcome = await openOutcome(lost);
        assert.equal(outcome.opened, false);
        if (!outcome.opened) {
          assert.ok(outcome.error instanceof HandshakeError, String(outcome.error));
          assert.equal(outcome.error.status, 404);
        }
      } catch (error) {
        await example.kill();
        throw error;
      }
      await example.stop();
    });
  }

  it('http.mjs: SIGTERM closes an open WebSocket with 1001 and the process exits cleanly', async () => {
    const example = await startExample('examples/share-a-port/http.mjs', { env: { PORT: '0' } });
    try {
      const ws = await openClient(`${(example.urls[0] as string).replace(/^http:/, 'ws:')}/echo`, {});
      const closed = once<[number]>(ws, 'close');
      await example.stop();
      const [code] = await closed;
      assert.equal(code, 1001);
    } catch (error) {
      await example.kill();
      throw error;
    }
  });
});
