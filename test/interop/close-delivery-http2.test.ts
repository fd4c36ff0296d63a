/**
 * Nothing received is lost at close over HTTP/2 streams (RFC 8441), as test/interop/close-delivery.test.ts
 * checks over TCP: our client (`http2: 'require'` over TLS, `'h2c'` in cleartext) against our server on
 * an http2 server. The close handshake there ends in END_STREAM (and, on the server, RST_STREAM NO_ERROR
 * once both close frames have crossed, RFC 9113 §8.1) instead of TCP FINs: every message sent before
 * the close frame must still be delivered, in order, before a clean close with the right code. Each
 * scenario runs REPETITIONS times, a few at once, the WebSockets multiplexed on the pooled session.
 * (`terminate()` is out of scope: an abort may lose what is in flight.)
 */
import { describe, it, before, after } from 'node:test';
import { createSecureServer, createServer, type Http2SecureServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { ClientOptions } from '../../src/node/websocket.js';
import { WebSocketServer } from '../../src/node/server.js';
import { assertNoFailures, BURST, BURST_TEXTS, clientRun, describeOutcome, repeatRuns, type Outcome } from '../helpers/close-delivery.js';
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js';

const REPETITIONS = 200;
const CONCURRENCY = 8;
/** Codes other than the defaults, so that a wrong one shows. */
const SERVER_CODE = 4000;
const CLIENT_CODE = 4001;
/**
 * The bursts: small messages, and messages of 2 KiB of hex (about 1 KiB each once compressed), whose
 * 200 KiB outgrow HTTP/2's initial 64 KiB stream window: the close frame then waits on flow control.
 */
const BURSTS = { small: BURST_TEXTS, large: BURST_TEXTS.map((text) => `${text}:${randomBytes(1024).toString('hex')}`) } as const;
type Size = keyof typeof BURSTS;

let certificate: Certificate;
before(() => {
  certificate = selfSignedCertificate();
});
after(() => certificate.remove());

for (const transport of ['h2', 'h2c'] as const) {
  for (const compression of ['none', 'deflate'] as const) {
    const perMessageDeflate = compression === 'deflate' ? { threshold: 0 } : false; // threshold 0: every message through zlib
    describe(`our client and our server over ${transport === 'h2' ? 'HTTP/2 over TLS' : 'h2c'}, ${compression === 'deflate' ? 'permessage-deflate' : 'no compression'}: nothing lost at close`, () => {
      let server: Http2SecureServer | Http2Server;
      let wss: WebSocketServer;
      let base = '';
      let clientOptions: ClientOptions;
      const sessions = new Set<ServerHttp2Session>();
      /** What the server received on each `/receive?id=` WebSocket, reported at its close. */
      const closed = new Map<string, (outcome: Outcome) => void>();

      before(async () => {
        server = transport === 'h2' ? createSecureServer({ key: certificate.key, cert: certificate.cert }) : createServer();
        server.on('session', (session: ServerHttp2Session) => {
          sessions.add(session);
          session.on('close', () => sessions.delete(session));
        });
        wss = new WebSocketServer({ server, perMessageDeflate, heartbeat: false });
        wss.on('connection', (ws, request) => {
          const url = new URL(request.url ?? '/', 'http://x');
          if (request.httpVersion !== '2.0') throw new Error(`expected HTTP/2, got ${request.httpVersion}`);
          if (url.pathname === '/send') {
            for (const text of BURSTS[url.searchParams.get('size') as Size]) ws.send(text);
            ws.close(SERVER_CODE, 'server bye');
            return;
          }
          const id = url.searchParams.get('id')!;
          const texts: string[] = [];
          ws.on('message', (data) => texts.push(String(data)));
          ws.on('close', (code) => closed.get(id)?.({ texts, code, wasClean: ws.closeResult?.wasClean ?? false }));
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const port = (server.address() as AddressInfo).port;
        base = `${transport === 'h2' ? 'wss' : 'ws'}://127.0.0.1:${port}`;
        clientOptions = transport === 'h2' ? { http2: 'require', ca: certificate.cert, perMessageDeflate } : { http2: 'h2c', perMessageDeflate };
      });

      after(async () => {
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        for (const session of sessions) session.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      });

      for (const size of ['small', 'large'] as const) {
        const texts = BURSTS[size];
        it(`the server sends ${BURST} ${size} messages then close(): the client gets all, in order, then a clean close with the server's code (${REPETITIONS} times)`, async () => {
          const failures = await repeatRuns(REPETITIONS, CONCURRENCY, async () =>
            describeOutcome(await clientRun(`${base}/send?size=${size}`, clientOptions, () => {}), texts, SERVER_CODE),
          );
          assertNoFailures(failures, REPETITIONS);
        });

        it(`the client sends ${BURST} ${size} messages then close(): the server gets all, in order, then a clean close with the client's code, and the client's close is clean too (${REPETITIONS} times)`, async () => {
          const failures = await repeatRuns(REPETITIONS, CONCURRENCY, async (i) => {
            const id = `${size}-${i}`;
            const serverSaw = new Promise<Outcome>((resolve) => closed.set(id, resolve));
            const clientSide = await clientRun(`${base}/receive?id=${id}`, clientOptions, (client) => {
              for (const text of texts) client.send(text);
              client.close(CLIENT_CODE, 'client bye');
            });
            const serverSide = await serverSaw;
            closed.delete(id);
            const failure = describeOutcome(serverSide, texts, CLIENT_CODE);
            if (failure !== null) return `server side: ${failure}`;
            const own = describeOutcome(clientSide, [], CLIENT_CODE);
            return own === null ? null : `client side: ${own}`;
          });
          assertNoFailures(failures, REPETITIONS);
        });
      }
    });
  }
}
