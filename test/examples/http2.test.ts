/**
 * examples/http2 as real processes: server.mjs (HTTP/2 + HTTP/1.1 on one TLS port, a self-signed
 * certificate made by openssl at start) and client.mjs (fullduplex's client with http2: 'require', then
 * without). Both WebSockets work; the first one went over HTTP/2 on both sides (the server's
 * request.httpVersion, the client's ALPN), the second over HTTP/1.1. Skips when openssl is missing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { WebSocket } from '../../src/node/index.js';
import { ROOT, startExample, type RunningExample } from './example-process.js';
import { scaled } from '../helpers/time.js';

const OPENSSL_SKIP = 'openssl is not installed (Debian package: openssl)';
function opensslSkipReason(): string | false {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    try {
      if (dir !== '') {
        accessSync(join(dir, 'openssl'), constants.X_OK);
        return false;
      }
    } catch {
      // not here
    }
  }
  return OPENSSL_SKIP;
}

describe('examples/http2', { skip: opensslSkipReason(), timeout: scaled(60_000) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fullduplex-example-http2-'));
  const certFile = join(dir, 'cert.pem');
  let server: RunningExample | undefined;
  before(async () => {
    server = await startExample('examples/http2', { env: { PORT: '0', CERT_FILE: certFile } });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('client.mjs connects over HTTP/2 and over HTTP/1.1, and both echo', async () => {
    assert.ok(server !== undefined);
    const url = `${server.urls[0] as string}/`;
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['client.mjs', url], {
      cwd: join(ROOT, 'examples/http2'),
      env: { ...process.env, CERT_FILE: certFile },
      timeout: scaled(30_000),
    });
    assert.equal(stderr, '');
    assert.deepEqual(stdout.trim().split('\n'), [
      'http2: require | ALPN: h2 | welcome, you came over HTTP/2.0 | echo: ping',
      'http2: false | ALPN: none | welcome, you came over HTTP/1.1 | echo: ping',
    ]);
    assert.match(server.output(), /^connection over HTTP\/2\.0\nconnection over HTTP\/1\.1\n/m);
  });

  it('the http2 WebSocket is a stream of an HTTP/2 session, seen as HTTP/2 by the server', async () => {
    assert.ok(server !== undefined);
    const ws = new WebSocket(`${server.urls[0] as string}/`, { ca: readFileSync(certFile), http2: 'require' });
    const [welcome] = (await once(ws, 'message')) as [Buffer];
    assert.equal(String(welcome), 'welcome, you came over HTTP/2.0');
    const stream = ws.socket as unknown as { session?: { alpnProtocol?: string; encrypted?: boolean } };
    assert.equal(stream.session?.alpnProtocol, 'h2');
    assert.equal(stream.session?.encrypted, true);
    ws.send('over h2');
    assert.equal(String(((await once(ws, 'message')) as [Buffer])[0]), 'over h2');
    ws.close(1000);
    const [code] = (await once(ws, 'close')) as [number];
    assert.equal(code, 1000);
  });
});
