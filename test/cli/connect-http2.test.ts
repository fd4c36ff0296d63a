/**
 * `fullduplex connect --http2` / `--try-http2` (RFC 8441) as a real process, against an in-process
 * `node:http2` peer (test/helpers/http2-peer.ts, echoing on each extended CONNECT stream): -x over an
 * HTTP/2 stream on TLS and on h2c, the "connected" line and the JSON "http" field naming the protocol,
 * a clear error and exit 1 when the server does not allow extended CONNECT (--http2), the fallback to
 * HTTP/1.1 (--try-http2), and the usage errors.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { caArgs, startPeer } from './http2-peers.js';
import { killAll, startCli } from './cli-process.js';
import { http2Mode } from '../../src/cli/connect.js';

after(killAll);

describe('fullduplex connect --http2', () => {
  it('maps the flags onto the client option: --http2 is "require" on wss:/https: and "h2c" on ws:/http:, --try-http2 is true', () => {
    assert.equal(http2Mode('wss://a/', 'require'), 'require');
    assert.equal(http2Mode('https://a/', 'require'), 'require');
    assert.equal(http2Mode('ws://a/', 'require'), 'h2c');
    assert.equal(http2Mode('http://a/', 'require'), 'h2c');
    assert.equal(http2Mode('wss://a/', 'try'), true);
    assert.equal(http2Mode('ws://a/', 'try'), true);
  });

  it('wss: sends and receives over an extended CONNECT stream, and says so', async () => {
    const peer = await startPeer();
    const exit = await startCli('connect', peer.url('/echo?x=1'), '--http2', ...caArgs(peer), '-s', 'chat', '-x', 'hello', '-x', 'over h2').exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stdout, 'hello\nover h2\n');
    assert.match(exit.stderr, /connected to wss:\/\/127\.0\.0\.1:\d+\/echo\?x=1 protocol=chat over HTTP\/2 \(RFC 8441\)\n/);
    assert.match(exit.stderr, /closed code=1000/);
    assert.equal(peer.streams.length, 1);
    const { headers } = peer.streams[0]!;
    assert.deepEqual([headers[':method'], headers[':protocol'], headers[':path'], headers['sec-websocket-version']], ['CONNECT', 'websocket', '/echo?x=1', '13']);
    assert.equal(peer.upgrades, 0);
  });

  it('ws: with --http2 is cleartext HTTP/2 with prior knowledge (h2c); --json gives "http":"2"', async () => {
    const peer = await startPeer({ cleartext: true });
    const exit = await startCli('connect', peer.url('/'), '--http2', '--json', '-x', 'h2c!').exit();
    assert.equal(exit.code, 0, exit.stderr);
    const events = exit.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(events[0], { event: 'open', url: peer.url('/'), protocol: '', extensions: '', http: '2' });
    assert.deepEqual(events[1], { event: 'message', isBinary: false, text: 'h2c!' });
    assert.equal(events.at(-1)?.['event'], 'close');
    assert.equal(peer.streams.length, 1);
  });

  it('fails clearly (exit 1) when the server does not allow extended CONNECT', async () => {
    const peer = await startPeer({ enableConnectProtocol: false });
    const exit = await startCli('connect', peer.url('/'), '--http2', ...caArgs(peer), '-x', 'never sent').exit();
    assert.equal(exit.code, 1);
    assert.equal(exit.stdout, '');
    assert.match(exit.stderr, /error: .*does not allow the extended CONNECT of RFC 8441 \(no SETTINGS_ENABLE_CONNECT_PROTOCOL/);
    assert.match(exit.stderr, /closed code=1006/);
    assert.equal(peer.upgrades, 0, 'no fallback to HTTP/1.1 with --http2');
  });

  it('--try-http2 falls back to HTTP/1.1 when the server does not allow extended CONNECT, and says so', async () => {
    const peer = await startPeer({ enableConnectProtocol: false });
    const exit = await startCli('connect', peer.url('/'), '--try-http2', ...caArgs(peer), '-x', 'fallback').exit();
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.stdout, 'fallback\n');
    assert.match(exit.stderr, /connected to \S+ protocol=\(none\) over HTTP\/1\.1\n/);
    assert.equal(peer.upgrades, 1);

    const h2 = await startPeer();
    const upgraded = await startCli('connect', h2.url('/'), '--try-http2', ...caArgs(h2), '-x', 'h2 when offered').exit();
    assert.equal(upgraded.code, 0, upgraded.stderr);
    assert.match(upgraded.stderr, /over HTTP\/2 \(RFC 8441\)\n/);
    assert.equal(h2.streams.length, 1);
  });

  it('usage errors exit 2: --http2 with --try-http2, --http2 on a ws+unix: URL; --help documents both flags', async () => {
    for (const [args, message] of [
      [['ws://127.0.0.1:1/', '--http2', '--try-http2', '--echo'], /--http2 and --try-http2 contradict/],
      [['ws+unix:/tmp/x.sock', '--http2', '--echo'], /--http2 is not for ws\+unix: URLs/],
    ] as Array<[string[], RegExp]>) {
      const exit = await startCli('connect', ...args).exit();
      assert.equal(exit.code, 2, args.join(' '));
      assert.match(exit.stderr, message);
    }
    const help = await startCli('connect', '--help').exit();
    assert.match(help.stdout, /--http2 {2,}Open the WebSocket as a stream of an HTTP\/2 connection/);
    assert.match(help.stdout, /--try-http2 {2,}wss:\/\/: HTTP\/2 when the server allows/);
  });
});
