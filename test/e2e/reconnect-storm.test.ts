/**
 * Issue 18's load test: 1,000 clients with `reconnect` on, connected to a server in a child process;
 * the server is killed (SIGKILL: no close frame, the kernel closes the sockets) and restarted on the
 * same port. Every client must come back, and the delays they drew must be spread over the backoff
 * window by the full jitter (so that a restarted server is not hit by all of them at once). Asserts
 * on the drawn delays (the distribution), never on wall-clock timing; the times at which the
 * restarted server saw them come back are reported as a diagnostic only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { WebSocket } from '../../src/node/websocket.js';
import type { ReconnectingEvent } from '../../src/node/reconnect.js';
import { freePort, TestProcess } from '../helpers/process.js';
import { delay } from '../helpers/node.js';
import { scaled } from '../helpers/time.js';

const CLIENTS = 1_000;
/** The window of the first delay after the drop: full jitter draws it uniformly from [0, WINDOW]. */
const WINDOW = 2_000;
const SERVER = fileURLToPath(new URL('./fixtures/reconnect-storm-server.ts', import.meta.url));

function startServer(port: number): TestProcess {
  return new TestProcess(process.execPath, ['--import', 'tsx', SERVER, String(port)], 4_000);
}

async function untilOutput(server: TestProcess, pattern: RegExp, what: string, timeoutMs: number): Promise<void> {
  await server.waitUntil(async () => pattern.test(server.output), Date.now() + timeoutMs, 20, {
    exited: () => new Error(`the storm server exited before ${what}: ${server.output}`),
    late: () => new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${server.output}`),
  });
}

async function until(predicate: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(20);
  }
}

test(`${CLIENTS} reconnecting clients of a SIGKILLed server all come back to its restart, spread by full jitter`, { timeout: scaled(60_000) }, async (t) => {
  const port = await freePort();
  let server = startServer(port);
  await untilOutput(server, /listening/, 'the server to listen', scaled(15_000));

  const clients: WebSocket[] = [];
  /** Per client: the first `reconnecting` after the kill, and when it was back (`reconnected`). */
  const first: Array<ReconnectingEvent | undefined> = [];
  const backAt: number[] = [];
  const attempts: number[] = [];
  let opened = 0;
  let closed = 0;
  for (let i = 0; i < CLIENTS; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { reconnect: { initialDelay: WINDOW, maxDelay: 4 * WINDOW }, perMessageDeflate: false });
    ws.on('error', () => {});
    ws.once('open', () => opened++);
    ws.on('reconnecting', (event) => {
      first[i] ??= event;
    });
    ws.on('reconnected', (attempt) => {
      backAt[i] = Date.now();
      attempts[i] = attempt;
    });
    ws.on('close', () => closed++);
    clients.push(ws);
    if (i % 100 === 99) await until(() => opened === i + 1, `${i + 1} clients to open`, scaled(15_000));
  }
  assert.equal(opened, CLIENTS);

  try {
    const exited = new Promise<void>((resolve) => server.child.once('exit', () => resolve()));
    server.child.kill('SIGKILL');
    await exited;
    server = startServer(port);
    await untilOutput(server, /listening/, 'the restarted server to listen', scaled(15_000));
    const listeningAt = Date.now();
    await until(() => backAt.filter((at) => at !== undefined).length === CLIENTS, `all ${CLIENTS} clients to reconnect`, scaled(30_000));
    await untilOutput(server, new RegExp(`connections ${CLIENTS}\\b`), `the server to count ${CLIENTS} connections`, scaled(10_000));

    // Every client came back, as the same object, without a close.
    assert.equal(closed, 0);
    assert.ok(clients.every((ws) => ws.readyState === WebSocket.OPEN && ws.reconnection?.reconnects === 1));

    // The first delay after the drop is attempt 1, drawn from [0, WINDOW] by full jitter: each quarter of
    // the window holds a fair share (25% expected; 15–35% allowed, over 7 standard deviations away).
    const delays = first.map((event, i) => {
      assert.ok(event !== undefined, `client ${i} had a reconnecting event`);
      assert.equal(event.attempt, 1);
      assert.equal(event.code, 1006);
      return event.delay;
    });
    assert.ok(delays.every((d) => d >= 0 && d <= WINDOW), 'every first delay lies in the window');
    const quarters = [0, 0, 0, 0];
    for (const d of delays) quarters[Math.min(3, Math.floor((d / WINDOW) * 4))]!++;
    for (const [q, count] of quarters.entries()) {
      assert.ok(count >= 0.15 * CLIENTS && count <= 0.35 * CLIENTS, `quarter ${q + 1} of the window holds ${count} of ${CLIENTS} first delays (${quarters.join('/')})`);
    }

    // Reported, not asserted (wall-clock): how the comebacks spread after the restart.
    const after = backAt.map((at) => at - listeningAt).sort((a, b) => a - b);
    const pick = (p: number): number => after[Math.min(after.length - 1, Math.floor(p * after.length))]!;
    const byAttempt = new Map<number, number>();
    for (const attempt of attempts) byAttempt.set(attempt, (byAttempt.get(attempt) ?? 0) + 1);
    t.diagnostic(`first delays per quarter of ${WINDOW} ms: ${quarters.join('/')}; min ${Math.min(...delays)} ms, max ${Math.max(...delays)} ms`);
    t.diagnostic(`back after the restart listened: p10 ${pick(0.1)} ms, p50 ${pick(0.5)} ms, p90 ${pick(0.9)} ms, last ${after[after.length - 1]} ms`);
    t.diagnostic(`attempt that connected: ${[...byAttempt].sort((a, b) => a[0] - b[0]).map(([a, n]) => `${a}:${n}`).join(' ')}`);
  } finally {
    for (const ws of clients) ws.terminate();
    await server.stop(scaled(5_000));
  }
});
