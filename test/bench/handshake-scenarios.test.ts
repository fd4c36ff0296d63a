/**
 * Smoke test of the connection benchmark scenarios (bench/handshake-scenarios.ts): handshakes,
 * wss-handshakes and storm each run once at a tiny size against fullduplex, ws and the raw ceiling,
 * with the servers in their own processes as in `npm run bench` (from the sources:
 * FULLDUPLEX_BENCH_SOURCE=src, as there is no dist/ in a checkout). The results must have the shape
 * the harness needs and be sane (every cycle completed, TLS sessions resumed, every storm client
 * opened and closed, percentiles in order); nothing here asserts on speed.
 *
 * And the raw ceiling must be the same exchange as the WebSocket servers': a differential check of
 * what a client receives from each of the three (the 101's size, the echo and the close frame byte
 * for byte, the server closing the TCP connection first), over ws:// and wss://.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { handshakesScenario, stormScenario, wssHandshakesScenario, type HandshakesSize, type StormSize } from '../../bench/handshake-scenarios.js';
import { connectionsWithinFdLimit, openFileLimit } from '../../bench/lib/fd-limit.js';
import { clientCloseFrame, clientFrame } from '../../bench/lib/client-frames.js';
import { startServer } from '../../bench/lib/processes.js';
import type { Measurement, Scenario } from '../../bench/scenarios.js';
import type { Implementation } from '../../bench/servers/server.js';
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js';
import { scaled } from '../helpers/time.js';

before(() => {
  process.env['FULLDUPLEX_BENCH_SOURCE'] = 'src';
});

const IMPLEMENTATIONS: readonly Implementation[] = ['fullduplex', 'ws', 'raw'];

function checkShape(scenario: Scenario, measured: Measurement): void {
  assert.ok(Number.isFinite(measured.value) && measured.value > 0, `value ${measured.value}`);
  for (const line of scenario.lines ?? []) {
    const value = measured.lines?.[line.name];
    assert.ok(typeof value === 'number' && Number.isFinite(value) && value >= 0, `${line.name}: ${value}`);
  }
  assert.deepEqual(Object.keys(measured.lines ?? {}).sort(), (scenario.lines ?? []).map((line) => line.name).sort());
}

describe('the connection benchmark scenarios at a tiny size', () => {
  const tiny = (): { full: HandshakesSize; quick: HandshakesSize } => {
    const size = { parallel: 4, durationMs: scaled(400), warmupMs: scaled(200), cycleTimeoutMs: scaled(5000) };
    return { full: size, quick: size };
  };

  it('handshakes completes every cycle against fullduplex, ws and the raw node:net ceiling, with the server CPU per connection', { timeout: scaled(120_000) }, async () => {
    const scenario = handshakesScenario('handshakes-tiny', tiny());
    assert.deepEqual(scenario.implementations, IMPLEMENTATIONS);
    for (const implementation of IMPLEMENTATIONS) {
      const measured = await scenario.measure(implementation, true);
      checkShape(scenario, measured);
      const details = measured.details as { cycles: number; failures: number; resumed?: number };
      assert.ok(details.cycles > 0, `${implementation}: ${JSON.stringify(details)}`);
      assert.equal(details.failures, 0, `${implementation}: ${JSON.stringify(details)}`);
      assert.equal(details.resumed, undefined);
    }
  });

  it('wss-handshakes resumes the TLS sessions (all but each loop\'s first) against fullduplex, ws and the raw tls.Server ceiling', { timeout: scaled(120_000) }, async (t) => {
    const scenario = wssHandshakesScenario('wss-handshakes-tiny', tiny());
    const skip = scenario.skip?.() ?? false;
    if (skip !== false) {
      t.skip(skip);
      return;
    }
    for (const implementation of IMPLEMENTATIONS) {
      const measured = await scenario.measure(implementation, true);
      checkShape(scenario, measured);
      const details = measured.details as { cycles: number; failures: number; resumed: number };
      assert.ok(details.cycles > 0, `${implementation}: ${JSON.stringify(details)}`);
      assert.equal(details.failures, 0, `${implementation}: ${JSON.stringify(details)}`);
      // A loop's first connection is a full handshake; every later one offers the ticket it got.
      assert.ok(details.resumed >= details.cycles - 4 && details.resumed <= details.cycles, `${implementation}: ${JSON.stringify(details)}`);
    }
  });

  it('storm opens every client, keeps them open and closes them all, with the server memory peak and percentiles in order', { timeout: scaled(120_000) }, async () => {
    const size: StormSize = { clients: 60, concurrency: 16, holdMs: 200 };
    const scenario = stormScenario('storm-tiny', { full: size, quick: size });
    for (const implementation of IMPLEMENTATIONS) {
      const measured = await scenario.measure(implementation, true);
      checkShape(scenario, measured);
      const details = measured.details as { complete: boolean; clients: number; opened: number; failed: number; closed: number; allOpenMs: number; p50Ms: number; p99Ms: number; memorySamples: number };
      assert.equal(details.complete, true, `${implementation}: ${JSON.stringify(details)}`);
      assert.equal(details.clients, 60);
      assert.equal(details.opened, 60);
      assert.equal(details.closed, 60);
      assert.equal(details.failed, 0);
      assert.ok(details.p50Ms <= details.p99Ms && details.p99Ms <= details.allOpenMs, JSON.stringify(details));
      assert.equal(measured.value, details.allOpenMs);
      assert.ok(details.memorySamples >= 1, JSON.stringify(details));
    }
  });
});

describe('the storm and the open-file limit', () => {
  it('reads the limit the processes inherit', () => {
    const limit = openFileLimit();
    assert.ok(limit === undefined || limit > 0, String(limit));
  });

  it('keeps the count under a limit that is high enough, and lowers it (with a notice) under one that is not', () => {
    const notices: string[] = [];
    const notify = (line: string): void => void notices.push(line);
    assert.equal(connectionsWithinFdLimit('storm', 10_000, 20_000, notify), 10_000);
    assert.equal(connectionsWithinFdLimit('storm', 10_000, Infinity, notify), 10_000);
    assert.equal(connectionsWithinFdLimit('storm', 10_000, undefined, notify), 10_000);
    assert.deepEqual(notices, []);
    assert.equal(connectionsWithinFdLimit('storm', 10_000, 4096, notify), 4096 - 256);
    assert.match(notices[0] ?? '', /storm: the open-file limit \(ulimit -n\) is 4096.*running with 3,840 \(raise it with `ulimit -n 10512`/);
    assert.equal(connectionsWithinFdLimit('storm', 10_000, 100, notify), 0);
  });
});

/** What a client receives in one cycle: the response head, the frames after it, who closed first. */
interface Exchange {
  headLength: number;
  status: string;
  frames: string;
  serverEndedFirst: boolean;
}

/** One handshake cycle by hand: request, one masked text frame, the close frame once it is echoed. */
function exchange(port: number, ca: Buffer | undefined): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket: Socket = ca === undefined ? connectTcp({ port, host: '127.0.0.1' }) : connectTls({ port, host: '127.0.0.1', ca });
    let received = Buffer.alloc(0);
    let headEnd = -1;
    let clientEnded = false;
    let serverEndedFirst = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete exchange: ${received.toString('latin1')}`));
    }, scaled(10_000));
    socket.once(ca === undefined ? 'connect' : 'secureConnect', () => {
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (headEnd === -1) {
        headEnd = received.indexOf('\r\n\r\n');
        if (headEnd !== -1) socket.write(clientFrame(Buffer.from('hello'), { binary: false }));
      } else if (received.length - (headEnd + 4) === 7) {
        // The echo (0x81 0x05 "hello") is in: close.
        socket.write(clientCloseFrame(1000));
      }
    });
    socket.on('end', () => {
      serverEndedFirst = !clientEnded;
      clientEnded = true;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({
        headLength: headEnd + 4,
        status: received.subarray(0, received.indexOf('\r\n')).toString('latin1'),
        frames: received.subarray(headEnd + 4).toString('hex'),
        serverEndedFirst,
      });
    });
  });
}

describe('the raw ceiling does the same exchange on the wire as fullduplex and ws', () => {
  let certificate: Certificate | undefined;
  before(() => {
    certificate = selfSignedCertificate();
  });
  after(() => certificate?.remove());

  for (const secure of [false, true]) {
    it(`over ${secure ? 'wss' : 'ws'}://: the same 101 size, the same echo and close frame, the server closing first`, { timeout: scaled(60_000) }, async () => {
      const seen: Record<string, Exchange> = {};
      for (const implementation of IMPLEMENTATIONS) {
        const tls = secure ? { key: certificate!.key.toString('utf8'), cert: certificate!.cert.toString('utf8') } : undefined;
        const server = await startServer(implementation, { frames: true, ...(tls !== undefined && { tls }) });
        try {
          seen[implementation] = await exchange(server.port, secure ? certificate!.cert : undefined);
        } finally {
          await server.stop();
        }
      }
      // The echo of "hello" (FIN, text, unmasked), then the close frame with 1000.
      const expected: Exchange = { headLength: 129, status: 'HTTP/1.1 101 Switching Protocols', frames: '810568656c6c6f880203e8', serverEndedFirst: true };
      assert.deepEqual(seen, { fullduplex: expected, ws: expected, raw: expected });
    });
  }
});
