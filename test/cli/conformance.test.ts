/**
 * `fullduplex conformance` as a real process: testing a server (our echo server: OK and exit 0; a
 * broken server: FAILED ids printed and exit 1), testing a client (`client --once` driven by our
 * client), the report files, and usage errors.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { killAll, runCliProcess, startCli, startEchoServer } from './cli-process.js';
import { startBrokenServer } from '../conformance/broken-server.js';
import { driveClient, ourClient, ourH2Client } from '../conformance/drivers.js';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '../../src/node/index.js';
import { selfSignedCertificate } from '../helpers/tls.js';
import { TIME_SCALE } from '../helpers/time.js';

/** The cases' waits get the tests' time scale: a loaded machine makes them slow, not FAILED. */
const SCALE = ['--time-scale', String(TIME_SCALE)];

after(killAll);

describe('fullduplex conformance', () => {
  it('server: runs the selected cases against an echo server, prints the table, writes the report, exits 0', async () => {
    const { cli: server, url } = await startEchoServer();
    const dir = mkdtempSync(join(tmpdir(), 'fd-conformance-'));
    try {
      const result = await runCliProcess('conformance', 'server', url, '--cases', '1.*,2.*', '--exclude', '2.10,2.11', '--report', dir, '--parallel', '4', ...SCALE);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Testing the server at .*: 25 cases/);
      assert.match(result.stdout, /^total\s+25\s+0\s+0\s+0\s+0$/m);
      const report = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { cases: Array<{ id: string; verdict: string }> };
      assert.equal(report.cases.length, 25);
      assert.ok(report.cases.every((c) => c.verdict === 'OK'));
      assert.ok(existsSync(join(dir, 'index.html')));
    } finally {
      server.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('server: a case that runs out of time is listed as TIMED OUT with its wait (--time-scale)', async () => {
    // The silent server answers nothing; 9.2.1 waits 10 s for its echo, 1 s at a scale of 0.1.
    const broken = await startBrokenServer({ silent: true });
    const dir = mkdtempSync(join(tmpdir(), 'fd-conformance-'));
    try {
      const result = await runCliProcess('conformance', 'server', broken.url, '--cases', '9.2.1', '--report', dir, '--time-scale', '0.1');
      assert.equal(result.code, 1);
      assert.match(result.stdout, /FAILED: 9\.2\.1\n/);
      assert.match(result.stdout, /TIMED OUT .*: 9\.2\.1\n {2}9\.2\.1: Timed out after 1(\.5)? s/);
    } finally {
      await broken.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('server: exits 1 and names the failed cases when the server is broken', async () => {
    const broken = await startBrokenServer({ acceptUnmasked: true });
    const dir = mkdtempSync(join(tmpdir(), 'fd-conformance-'));
    try {
      const result = await runCliProcess('conformance', 'server', broken.url, '--cases', '8.*', '--report', dir, ...SCALE);
      assert.equal(result.code, 1);
      assert.match(result.stdout, /FAILED: 8\.1\.1, 8\.1\.2, 8\.1\.3, 8\.1\.4, 8\.1\.5/);
    } finally {
      await broken.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('client --once: serves the cases to a client driver and exits after the reports', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fd-conformance-'));
    const cli = startCli('conformance', 'client', '--port', '0', '--cases', '1.1.*,5.1', '--report', dir, '--once', ...SCALE);
    try {
      const match = await cli.waitFor(/on ws:\/\/127\.0\.0\.1:(\d+)\/ \(9 cases\)/);
      await driveClient(ourClient, `ws://127.0.0.1:${match[1]}`, 'fullduplex client');
      const result = await cli.exit();
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Agent fullduplex client:/);
      const report = JSON.parse(readFileSync(join(dir, 'fullduplex_client', 'index.json'), 'utf8')) as { cases: Array<{ verdict: string }> };
      assert.equal(report.cases.length, 9);
      assert.ok(report.cases.every((c) => c.verdict === 'OK'));
    } finally {
      cli.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('server --http2: runs the cases on extended CONNECT streams of an h2c server (RFC 8441)', async () => {
    const server = http2.createServer({ settings: { enableConnectProtocol: true } });
    const wss = new WebSocketServer({ server });
    const versions: string[] = [];
    wss.on('connection', (ws, request) => {
      versions.push(request.httpVersion);
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(join(tmpdir(), 'fd-conformance-'));
    try {
      const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const result = await runCliProcess('conformance', 'server', url, '--http2', '--cases', '1.1.*,7.1.*', '--report', dir, '--parallel', '2', ...SCALE);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Testing the server at .* over HTTP\/2 \(RFC 8441\): 14 cases/);
      assert.match(result.stdout, /^total\s+13\s+0\s+1\s+0\s+0$/m); // 7.1.6 is informational
      assert.ok(versions.length >= 14 && versions.every((v) => v === '2.0'), versions.join(','));
      const report = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { cases: Array<{ handshake: { request: string; response: string } }> };
      assert.match(report.cases[0]!.handshake.request, /^:protocol: websocket$/m);
      assert.match(report.cases[0]!.handshake.response, /^HTTP\/2 200/);
    } finally {
      await new Promise((resolve) => wss.close(resolve));
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('server --http2 against an HTTP/1.1-only server: every case fails and the error says why', async () => {
    const { cli: server, url } = await startEchoServer();
    const dir = mkdtempSync(join(tmpdir(), 'fd-conformance-'));
    try {
      const result = await runCliProcess('conformance', 'server', url, '--http2', '--cases', '1.1.1,1.1.2', '--report', dir, ...SCALE);
      assert.equal(result.code, 1);
      assert.match(result.stdout, /FAILED: 1\.1\.1, 1\.1\.2/);
      assert.match(result.stderr, /no opening handshake .* succeeded: is a WebSocket echo server speaking RFC 8441 running there\? \(\(no HTTP\/2 session: /);
    } finally {
      server.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('client --http2 --tls-cert/--tls-key --once: serves the cases over TLS h2 to our client with http2: require', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fd-conformance-'));
    const certificate = selfSignedCertificate();
    const cli = startCli('conformance', 'client', '--http2', '--tls-cert', certificate.certPath, '--tls-key', certificate.keyPath, '--port', '0', '--cases', '1.1.*,7.3.*', '--report', dir, '--once', ...SCALE);
    try {
      const match = await cli.waitFor(/on wss:\/\/127\.0\.0\.1:(\d+)\/ over HTTP\/2 \(TLS; RFC 8441 extended CONNECT only\) \(14 cases\)/);
      await driveClient(ourH2Client({ ca: certificate.cert }), `wss://127.0.0.1:${match[1]}`, 'fullduplex h2');
      const result = await cli.exit();
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(readFileSync(join(dir, 'fullduplex_h2', 'index.json'), 'utf8')) as { cases: Array<{ verdict: string }> };
      assert.equal(report.cases.length, 14);
      assert.ok(report.cases.every((c) => c.verdict === 'OK'));
    } finally {
      cli.kill();
      certificate.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('usage errors exit 2; --help exits 0', async () => {
    for (const args of [['server', 'ws://x', '--tls-cert', 'a', '--tls-key', 'b'], ['client', '--tls-cert', 'a', '--tls-key', 'b'], ['client', '--http2', '--tls-cert', 'a']]) {
      const result = await runCliProcess('conformance', ...args);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, /--tls-cert/);
    }
    assert.equal((await runCliProcess('conformance')).code, 2);
    assert.equal((await runCliProcess('conformance', 'server')).code, 2);
    assert.equal((await runCliProcess('conformance', 'server', 'http://x')).code, 2);
    assert.equal((await runCliProcess('conformance', 'server', 'ws://x', '--cases', 'nothing')).code, 2);
    assert.equal((await runCliProcess('conformance', 'server', 'ws://x', '--parallel', '0')).code, 2);
    for (const bad of ['0', '-1', 'x', '']) {
      const result = await runCliProcess('conformance', 'server', 'ws://x', `--time-scale=${bad}`);
      assert.equal(result.code, 2, bad);
      assert.match(result.stderr, /--time-scale must be a number above 0/);
    }
    const help = await runCliProcess('conformance', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit codes:/);
    assert.match(help.stdout, /--time-scale X/);
    assert.match(help.stdout, /--http2 /);
  });
});
