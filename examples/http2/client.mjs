// The Node client, once over HTTP/2 and once over HTTP/1.1, to the server in server.mjs.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'fullduplex';

const url = process.argv[2] ?? 'wss://127.0.0.1:8443/';
// Trust the server's self-signed certificate (and nothing else).
const ca = readFileSync(process.env.CERT_FILE ?? join(tmpdir(), 'fullduplex-example-http2-cert.pem'));

for (const http2 of ['require', false]) {
  // http2: 'require' opens the WebSocket as a stream of an HTTP/2 connection, or fails; true would fall
  // back to HTTP/1.1 when the server does not offer it; false (the default) is an HTTP/1.1 Upgrade.
  const ws = new WebSocket(url, { ca, http2 });
  const [welcome] = await once(ws, 'message');
  // ws.socket is the HTTP/2 stream over HTTP/2 (ALPN h2), the TLS socket over HTTP/1.1 (no ALPN offered).
  const alpn = (http2 ? ws.socket.session.alpnProtocol : ws.socket.alpnProtocol) || 'none';
  ws.send('ping');
  const [echo] = await once(ws, 'message');
  console.log(`http2: ${http2} | ALPN: ${alpn} | ${welcome} | echo: ${echo}`);
  ws.close();
  await once(ws, 'close');
}
