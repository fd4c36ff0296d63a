// wss:// over HTTP/2 (RFC 8441) and HTTP/1.1 on one TLS port. Browsers that already have an HTTP/2
// connection to the page's origin open their WebSockets as streams of it; other clients upgrade over
// HTTP/1.1 (allowHTTP1). The page and the WebSockets share the server.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'fullduplex';

// Where the certificate goes, for the client to trust (client.mjs reads the same path).
const certFile = process.env.CERT_FILE ?? join(tmpdir(), 'fullduplex-example-http2-cert.pem');
const { key, cert } = selfSignedCertificate();
writeFileSync(certFile, cert);

const server = http2.createSecureServer({ key, cert, allowHTTP1: true }, (request, response) => {
  response.end(`a page, over HTTP/${request.httpVersion}\n`);
});
const wss = new WebSocketServer({ server }); // turns on SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)

wss.on('connection', (ws, request) => {
  // '2.0' for an extended CONNECT stream, '1.1' for an HTTP/1.1 Upgrade.
  console.log(`connection over HTTP/${request.httpVersion}`);
  ws.send(`welcome, you came over HTTP/${request.httpVersion}`);
  ws.on('message', (data) => ws.send(data)); // echo
});

server.listen(Number(process.env.PORT ?? 8443), '127.0.0.1', () => {
  console.log(`listening on wss://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => wss.close(() => process.exit(0)));

/** A certificate for localhost and 127.0.0.1, valid for a day, made by openssl (Debian: openssl). */
function selfSignedCertificate() {
  const dir = mkdtempSync(join(tmpdir(), 'fullduplex-example-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
