/**
 * examples/price-ticker as real processes: a redis-server this test starts, two server.mjs processes
 * (each with its own RedisBackplane), 1,000 Node clients split between them, all on the topic of ACME,
 * then publisher.mjs publishing ticks through Redis: every client gets every tick, once, in order.
 * Then SIGTERM: every client gets 1001 and both servers exit 0. Skips when redis-server is missing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WebSocket } from '../../src/node/index.js';
import { RedisServer, redisSkipReason } from '../helpers/redis.js';
import { ROOT, startExample, type RunningExample } from './example-process.js';
import { scaled } from '../helpers/time.js';

const CLIENTS = 1000;
const TICKS = 100;

interface Subscriber {
  ws: WebSocket;
  subscribed: boolean;
  seqs: number[];
  unexpected: string[];
  closeCode: number | null;
}

async function until(condition: () => boolean, what: string, detail: () => string): Promise<void> {
  const deadline = Date.now() + scaled(30_000);
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${detail()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function subscribe(url: string): Promise<Subscriber> {
  const ws = new WebSocket(url);
  const subscriber: Subscriber = { ws, subscribed: false, seqs: [], unexpected: [], closeCode: null };
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as { subscribed?: string; symbol?: string; seq?: number; price?: string };
    if (message.subscribed === 'ACME') subscriber.subscribed = true;
    else if (message.symbol === 'ACME' && typeof message.seq === 'number' && /^\d+\.\d\d$/.test(message.price ?? '')) subscriber.seqs.push(message.seq);
    else subscriber.unexpected.push(String(data));
  });
  ws.on('close', (code) => (subscriber.closeCode = code));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(subscriber));
    ws.once('error', reject);
  });
}

describe('examples/price-ticker', { skip: redisSkipReason(), timeout: scaled(120_000) }, () => {
  let redis: RedisServer | undefined;
  const servers: RunningExample[] = [];
  const subscribers: Subscriber[] = [];

  before(async () => {
    redis = await RedisServer.start();
    const env = { PORT: '0', REDIS_URL: `redis://127.0.0.1:${redis.port}` };
    servers.push(...(await Promise.all([startExample('examples/price-ticker', { env }), startExample('examples/price-ticker', { env })])));
  });

  after(async () => {
    for (const subscriber of subscribers) subscriber.ws.terminate();
    await Promise.allSettled(servers.map((server) => server.kill()));
    await redis?.dispose();
  });

  it(`${CLIENTS} clients on two server processes get all ${TICKS} ticks in order`, async (t) => {
    const started = Date.now();
    const lap = (what: string): void => t.diagnostic(`${what}: ${Date.now() - started} ms`);
    const urls = servers.map((server) => `${server.urls[0] as string}/ACME`);
    // Connect 100 at a time (a burst of 1,000 handshakes would only test the machine's backlog).
    for (let i = 0; i < CLIENTS; i += 100) {
      subscribers.push(...(await Promise.all(Array.from({ length: 100 }, (_, j) => subscribe(urls[(i + j) % urls.length] as string)))));
    }
    await until(() => subscribers.every((s) => s.subscribed), 'every client subscribed', () => `${subscribers.filter((s) => s.subscribed).length} of ${CLIENTS}`);
    lap(`${CLIENTS} clients subscribed`);

    const env = { ...process.env, REDIS_URL: `redis://127.0.0.1:${redis!.port}` };
    const published = await promisify(execFile)(process.execPath, ['publisher.mjs', 'ACME', String(TICKS), '5'], { cwd: join(ROOT, 'examples/price-ticker'), env, timeout: scaled(60_000) });
    assert.deepEqual(published, { stdout: 'published ACME ticks\n', stderr: '' });
    lap(`${TICKS} ticks published`);

    const expected = Array.from({ length: TICKS }, (_, i) => i + 1);
    await until(() => subscribers.every((s) => s.seqs.length >= TICKS), 'every tick at every client', () => `${subscribers.filter((s) => s.seqs.length >= TICKS).length} of ${CLIENTS} complete`);
    lap(`${CLIENTS * TICKS} deliveries`);
    for (const [i, subscriber] of subscribers.entries()) assert.deepEqual(subscriber.seqs, expected, `client ${i} (server ${i % 2})`);
    // Nothing more comes (no duplicates from the other server): a short quiet wait.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(subscribers.every((s) => s.seqs.length === TICKS));
    assert.deepEqual(subscribers.flatMap((s) => s.unexpected), []);

    await Promise.all(servers.map((server) => server.stop()));
    await until(() => subscribers.every((s) => s.closeCode !== null), 'every client closed', () => `${subscribers.filter((s) => s.closeCode !== null).length} of ${CLIENTS}`);
    assert.deepEqual(new Set(subscribers.map((s) => s.closeCode)), new Set([1001]));
    lap('both servers stopped');
  });
});
