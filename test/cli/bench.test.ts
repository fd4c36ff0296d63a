/**
 * `fullduplex bench URL` as a real process against echo servers made here (the library's
 * WebSocketServer on port 0) that count what they receive: the JSON report, the flags (connections,
 * window, size, binary, rate), servers that do not echo (exit 1), refused connections, wss:// with
 * --insecure, usage errors (exit 2) and --help. Nothing here asserts on speed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { WebSocketServer } from '../../src/node/server.js';
import { bucketOf, HISTOGRAM_BUCKETS, summarize, valueOf } from '../../src/cli/bench-shared.js';
import type { Report } from '../../src/cli/bench.js';
import { closedPort, killAll, runCliProcess, type Exit } from './cli-process.js';
import { TIME_SCALE } from '../helpers/time.js';
import { selfSignedCertificate } from '../helpers/tls.js';

after(killAll);

type Behaviour =
  | { kind: 'echo' }
  /** Receive but never answer. */
  | { kind: 'silent' }
  /** Answer every message with one byte more. */
  | { kind: 'longer' }
  /** Answer binary with text. */
  | { kind: 'text' }
  /** Hold each connection's messages for `ms` after its first one (counting them), then echo. */
  | { kind: 'hold'; ms: number };

interface Seen {
  connections: number;
  messages: number;
  text: number;
  binary: number;
  sizes: Set<number>;
  /** Per connection, the messages that arrived while it was held. */
  held: number[];
}

interface TestServer {
  url: string;
  seen: Seen;
  close(): Promise<void>;
}

async function startServer(behaviour: Behaviour, tls?: { key: Buffer; cert: Buffer }): Promise<TestServer> {
  const seen: Seen = { connections: 0, messages: 0, text: 0, binary: 0, sizes: new Set(), held: [] };
  let https: HttpsServer | undefined;
  let wss: WebSocketServer;
  if (tls === undefined) {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeat: false });
    await once(wss, 'listening');
  } else {
    https = createHttpsServer(tls);
    wss = new WebSocketServer({ server: https, heartbeat: false });
    https.listen(0, '127.0.0.1');
    await once(https, 'listening');
  }
  wss.on('connection', (ws) => {
    const index = seen.connections++;
    let holding: Array<[Buffer, boolean]> | null = null;
    let started = false;
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      const payload = Array.isArray(data) ? Buffer.concat(data) : (data as Buffer);
      seen.messages++;
      seen.sizes.add(payload.length);
      if (isBinary) seen.binary++;
      else seen.text++;
      switch (behaviour.kind) {
        case 'echo':
          ws.send(payload, { binary: isBinary });
          break;
        case 'silent':
          break;
        case 'longer':
          ws.send(Buffer.concat([payload, Buffer.from('x')]), { binary: isBinary });
          break;
        case 'text':
          ws.send(payload.toString('latin1'));
          break;
        case 'hold':
          if (!started) {
            started = true;
            holding = [];
            seen.held[index] = 0;
            setTimeout(() => {
              for (const [queued, binary] of holding!) ws.send(queued, { binary });
              holding = null;
            }, behaviour.ms);
          }
          if (holding !== null) {
            holding.push([payload, isBinary]);
            seen.held[index] = holding.length;
          } else {
            ws.send(payload, { binary: isBinary });
          }
          break;
      }
    });
  });
  const address = (https ?? wss).address() as AddressInfo;
  return {
    url: `${tls === undefined ? 'ws' : 'wss'}://127.0.0.1:${address.port}/echo`,
    seen,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      if (https !== undefined) {
        https.closeAllConnections();
        await new Promise<void>((resolve) => https!.close(() => resolve()));
      }
    },
  };
}

function parseReport(exit: Exit): Report {
  const lines = exit.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `one JSON line expected\n${exit.stdout}\n${exit.stderr}`);
  return JSON.parse(lines[0]!) as Report;
}

function describeExit(exit: Exit): string {
  return `exit ${exit.code}\nstdout:\n${exit.stdout}\nstderr:\n${exit.stderr}`;
}

/** Short runs: a quick warm-up, one second measured. */
const SHORT = ['--duration', '1', '--warmup', '0.2'];

describe('the latency histogram of fullduplex bench', () => {
  it('keeps values within 0.1% and gives percentiles in order', () => {
    for (const ms of [0, 0.001, 0.5, 2.047, 2.048, 3.3, 17.77, 250, 9_999, 1_000_000]) {
      const bucket = bucketOf(ms);
      assert.ok(bucket >= 0 && bucket < HISTOGRAM_BUCKETS, String(ms));
      assert.ok(Math.abs(valueOf(bucket) - ms) <= Math.max(0.0005, ms * 0.001), `${ms} -> ${valueOf(bucket)}`);
    }
    assert.equal(bucketOf(1e12), HISTOGRAM_BUCKETS - 1);
    const histogram = new Float64Array(HISTOGRAM_BUCKETS);
    for (let i = 1; i <= 1000; i++) histogram[bucketOf(i / 10)]!++; // 0.1 ms to 100 ms
    const summary = summarize(histogram);
    assert.ok(summary !== null);
    assert.equal(summary.count, 1000);
    assert.ok(Math.abs(summary.p50 - 50) < 0.1, String(summary.p50));
    assert.ok(Math.abs(summary.p99 - 99) < 0.1, String(summary.p99));
    assert.ok(Math.abs(summary.p999 - 99.9) < 0.1, String(summary.p999));
    assert.ok(Math.abs(summary.max - 100) < 0.1 && Math.abs(summary.min - 0.1) < 0.001);
    assert.equal(summarize(new Float64Array(HISTOGRAM_BUCKETS)), null);
  });
});

describe('fullduplex bench', () => {
  it('reports messages/s, MB/s and ordered latency percentiles as JSON', async () => {
    const server = await startServer({ kind: 'echo' });
    try {
      const exit = await runCliProcess('bench', server.url, ...SHORT, '--connections', '2', '--json');
      assert.equal(exit.code, 0, describeExit(exit));
      const report = parseReport(exit);
      assert.equal(report.ok, true);
      assert.equal(report.url, server.url);
      assert.equal(report.mode, 'window');
      assert.equal(report.window, 16);
      assert.equal(report.size, 64);
      assert.equal(report.binary, false);
      assert.ok(report.messages > 0 && report.messagesPerSecond > 0, describeExit(exit));
      assert.equal(report.bytes, report.messages * 64);
      assert.ok(Math.abs(report.megabytesPerSecond - report.bytes / report.seconds / 1e6) < 1e-9);
      assert.ok(report.seconds >= 0.9 && report.seconds < 5, String(report.seconds));
      const latency = report.latencyMs;
      assert.ok(latency !== null);
      assert.equal(latency.count, report.messages);
      assert.ok(latency.min <= latency.p50 && latency.p50 <= latency.p99 && latency.p99 <= latency.p999 && latency.p999 <= latency.max, JSON.stringify(latency));
      assert.ok(latency.p50 > 0);
      assert.deepEqual(report.errors, []);
      assert.equal(server.seen.connections, 2);
      assert.deepEqual([...server.seen.sizes], [64]);
      assert.ok(server.seen.messages >= report.messages);
    } finally {
      await server.close();
    }
  });

  it('prints a table without --json', async () => {
    const server = await startServer({ kind: 'echo' });
    try {
      const exit = await runCliProcess('bench', server.url, ...SHORT, '--connections', '1');
      assert.equal(exit.code, 0, describeExit(exit));
      assert.match(exit.stdout, /messages\/s\s+[\d,]+/);
      assert.match(exit.stdout, /MB\/s\s+[\d.]+/);
      assert.match(exit.stdout, /latency \(ms\)\s+p50 [\d.]+\s+p99 [\d.]+\s+p99\.9 [\d.]+/);
      // stderr is not a terminal here: no progress bar.
      assert.equal(exit.stderr, '');
    } finally {
      await server.close();
    }
  });

  it('honours --connections, --window, --size, --binary and --threads', async () => {
    const server = await startServer({ kind: 'hold', ms: 300 });
    try {
      const exit = await runCliProcess('bench', server.url, '--duration', '1', '--warmup', '0', '--connections', '3', '--window', '2', '--size', '300', '--binary', '--threads', '2', '--json');
      assert.equal(exit.code, 0, describeExit(exit));
      const report = parseReport(exit);
      assert.equal(report.connections, 3);
      assert.equal(report.threads, 2);
      assert.equal(report.window, 2);
      assert.equal(report.binary, true);
      assert.equal(report.bytes, report.messages * 300);
      assert.equal(server.seen.connections, 3);
      // Closed loop: exactly the window is in flight while the server holds back its echoes.
      assert.deepEqual(server.seen.held, [2, 2, 2]);
      assert.deepEqual([...server.seen.sizes], [300]);
      assert.equal(server.seen.text, 0);
      assert.ok(server.seen.binary > 6);
    } finally {
      await server.close();
    }
  });

  it('sends text of the default size by default, and --size 0 works', async () => {
    const server = await startServer({ kind: 'echo' });
    try {
      const exit = await runCliProcess('bench', server.url, ...SHORT, '--connections', '1', '--size', '0', '--json');
      assert.equal(exit.code, 0, describeExit(exit));
      const report = parseReport(exit);
      assert.ok(report.messages > 0);
      assert.equal(report.bytes, 0);
      assert.deepEqual([...server.seen.sizes], [0]);
      assert.equal(server.seen.binary, 0);
    } finally {
      await server.close();
    }
  });

  it('--rate sends about N messages per second per connection (open loop)', async () => {
    const server = await startServer({ kind: 'echo' });
    try {
      const exit = await runCliProcess('bench', server.url, '--duration', '2', '--warmup', '0', '--connections', '2', '--rate', '50', '--json');
      assert.equal(exit.code, 0, describeExit(exit));
      const report = parseReport(exit);
      assert.equal(report.mode, 'rate');
      assert.equal(report.rate, 50);
      assert.equal(report.window, null);
      // 2 connections × 50/s: about 100/s. The rate is a ceiling (never faster, whatever the machine);
      // a loaded machine may fall behind it, so the floors shrink with the tests' time scale.
      assert.ok(report.sentPerSecond > 60 / TIME_SCALE && report.sentPerSecond < 140, String(report.sentPerSecond));
      assert.ok(report.messagesPerSecond > 50 / TIME_SCALE && report.messagesPerSecond < 140, String(report.messagesPerSecond));
      assert.ok(server.seen.messages >= 120 / TIME_SCALE && server.seen.messages <= 300, String(server.seen.messages));
      const latency = report.latencyMs;
      assert.ok(latency !== null && latency.p50 <= latency.p99 && latency.p99 <= latency.p999);
    } finally {
      await server.close();
    }
  });

  it('fails (exit 1) against a server that does not answer', async () => {
    const server = await startServer({ kind: 'silent' });
    try {
      const exit = await runCliProcess('bench', server.url, ...SHORT, '--connections', '2', '--json');
      assert.equal(exit.code, 1, describeExit(exit));
      assert.match(exit.stderr, /2 of 2 connection\(s\) failed/);
      assert.match(exit.stderr, /no echo/);
      const report = parseReport(exit);
      assert.equal(report.ok, false);
      assert.equal(report.messages, 0);
      assert.equal(report.failedConnections, 2);
      assert.ok(server.seen.messages > 0);
    } finally {
      await server.close();
    }
  });

  it('fails (exit 1) against a server that answers with the wrong length', async () => {
    const server = await startServer({ kind: 'longer' });
    try {
      const exit = await runCliProcess('bench', server.url, ...SHORT, '--connections', '1');
      assert.equal(exit.code, 1, describeExit(exit));
      assert.match(exit.stderr, /message of 65 bytes for one of 64/);
    } finally {
      await server.close();
    }
  });

  it('fails (exit 1) against a server that answers binary with text', async () => {
    const server = await startServer({ kind: 'text' });
    try {
      const exit = await runCliProcess('bench', server.url, ...SHORT, '--connections', '1', '--binary');
      assert.equal(exit.code, 1, describeExit(exit));
      assert.match(exit.stderr, /a text message for a binary one/);
    } finally {
      await server.close();
    }
  });

  it('fails (exit 1) when the connections are refused, saying how many and why', async () => {
    const port = await closedPort();
    const exit = await runCliProcess('bench', `ws://127.0.0.1:${port}/`, ...SHORT, '--connections', '3');
    assert.equal(exit.code, 1, describeExit(exit));
    assert.match(exit.stderr, /3 of 3 connection\(s\) to ws:\/\/127\.0\.0\.1:\d+\/ failed/);
    assert.match(exit.stderr, /3 × connect ECONNREFUSED/);
    assert.equal(exit.stdout, '');
  });

  it('fails (exit 1) when the server refuses the handshake', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/only-here', heartbeat: false });
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const exit = await runCliProcess('bench', `ws://127.0.0.1:${port}/elsewhere`, ...SHORT, '--connections', '1');
      assert.equal(exit.code, 1, describeExit(exit));
      assert.match(exit.stderr, /handshake refused: HTTP\/1\.1 4\d\d/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('fails (exit 1) when Sec-WebSocket-Accept is wrong', async () => {
    const server = createTcpServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const exit = await runCliProcess('bench', `ws://127.0.0.1:${port}/`, ...SHORT, '--connections', '2');
      assert.equal(exit.code, 1, describeExit(exit));
      assert.match(exit.stderr, /2 × handshake failed: wrong Sec-WebSocket-Accept/);
    } finally {
      server.close();
    }
  });

  describe('wss://', () => {
    let tls: { key: Buffer; cert: Buffer };
    before(() => {
      const certificate = selfSignedCertificate();
      certificate.remove();
      tls = { key: certificate.key, cert: certificate.cert };
    });

    it('runs over TLS with --insecure', async () => {
      const server = await startServer({ kind: 'echo' }, tls);
      try {
        const exit = await runCliProcess('bench', server.url, ...SHORT, '--connections', '2', '--binary', '--insecure', '--json');
        assert.equal(exit.code, 0, describeExit(exit));
        const report = parseReport(exit);
        assert.ok(report.messages > 0);
        assert.equal(report.bytes, report.messages * 64);
        assert.equal(server.seen.connections, 2);
        assert.equal(server.seen.text, 0);
      } finally {
        await server.close();
      }
    });

    it('refuses an untrusted certificate without --insecure (exit 1, with a hint)', async () => {
      const server = await startServer({ kind: 'echo' }, tls);
      try {
        const exit = await runCliProcess('bench', server.url, ...SHORT, '--connections', '1');
        assert.equal(exit.code, 1, describeExit(exit));
        assert.match(exit.stderr, /certificate/);
        assert.match(exit.stderr, /--insecure/);
      } finally {
        await server.close();
      }
    });
  });

  it('--help prints the usage (exit 0), and the tool lists the command', async () => {
    const exit = await runCliProcess('bench', '--help');
    assert.equal(exit.code, 0);
    assert.match(exit.stdout, /^Usage: fullduplex bench URL/);
    for (const flag of ['--connections', '--size', '--window', '--duration', '--rate', '--binary', '--json', '--warmup', '--threads', '--insecure']) {
      assert.ok(exit.stdout.includes(flag), flag);
    }
    const top = await runCliProcess('--help');
    assert.match(top.stdout, /^ {2}bench\s+/m);
  });

  it('rejects bad command lines with exit 2 and the usage on stderr', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /the URL of the echo server is missing/],
      [['ws://127.0.0.1:1/', 'ws://127.0.0.1:2/'], /unexpected argument/],
      [['http://127.0.0.1:1/'], /ws:\/\/ or wss:\/\//],
      [['not a url'], /invalid URL/],
      [['ws://127.0.0.1:1/', '--connections', '0'], /--connections must be a whole number/],
      [['ws://127.0.0.1:1/', '--size', 'big'], /--size must be a whole number/],
      [['ws://127.0.0.1:1/', '--window', '-1'], /--window/],
      [['ws://127.0.0.1:1/', '--duration', '0'], /--duration must be a number above 0/],
      [['ws://127.0.0.1:1/', '--warmup', 'x'], /--warmup must be a number of 0 or more/],
      [['ws://127.0.0.1:1/', '--rate', '10', '--window', '4'], /exclude each other/],
      [['ws://127.0.0.1:1/', '--threads', '0'], /--threads/],
      [['ws://127.0.0.1:1/', '--insecure'], /--insecure only applies to wss:\/\//],
      [['ws://127.0.0.1:1/', '--frobnicate'], /Unknown option '--frobnicate'/],
    ];
    const exits = await Promise.all(cases.map(([args]) => runCliProcess('bench', ...args)));
    cases.forEach(([args, message], i) => {
      const exit = exits[i]!;
      assert.equal(exit.code, 2, `${args.join(' ')}\n${describeExit(exit)}`);
      assert.match(exit.stderr, message, args.join(' '));
      assert.match(exit.stderr, /Usage: fullduplex bench URL/);
      assert.equal(exit.stdout, '');
    });
  });
});
