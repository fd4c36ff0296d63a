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
import { driveClient, ourClient } from '../conformance/drivers.js';
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

  it('usage errors exit 2; --help exits 0', async () => {
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
  });
});
