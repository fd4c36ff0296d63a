/**
 * End to end over TLS: `wss://` with our client and our server sharing an `https` server, a
 * self-signed certificate made by `openssl` for this run. Trusting it (`ca`) gives a round trip;
 * not trusting it, or a name it was not issued for, fails the handshake with a TLS error reported as
 * `error` then `close` 1006 (no hang); `rejectUnauthorized: false` connects anyway.
 *
 * openssl is required (a missing openssl fails these tests: it is part of the machine).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpsServer, get as httpsGet, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { WebSocket, WebSocketServer, type ClientOptions } from '../../src/node/index.js';
import { selfSignedCertificate as makeCertificate } from '../helpers/tls.js';

const TIMEOUT = 60_000;

/** The key and certificate in memory (the files are not needed here). */
function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
  const { key, cert, remove } = makeCertificate();
  remove();
  return { key, cert };
}

interface Outcome {
  events: string[];
  error: Error | null;
  close: { code: number; reason: string; wasClean: boolean | undefined } | null;
}

/** Follow a client to its end: which events fired, in order, the error, and how it closed. */
function watch(ws: WebSocket): Promise<Outcome> {
  const outcome: Outcome = { events: [], error: null, close: null };
  ws.on('open', () => outcome.events.push('open'));
  ws.on('error', (error) => {
    outcome.events.push('error');
    outcome.error = error;
  });
  return new Promise<Outcome>((resolve) => {
    ws.on('close', (code, reason) => {
      outcome.events.push('close');
      outcome.close = { code, reason: reason.toString('utf8'), wasClean: ws.closeResult?.wasClean };
      resolve(outcome);
    });
  });
}

/** Send and wait for the echo. */
async function roundTrip(ws: WebSocket, data: string | Buffer): Promise<{ data: Buffer; isBinary: boolean }> {
  const reply = once(ws, 'message') as Promise<[Buffer, boolean]>;
  ws.send(data);
  const [got, isBinary] = await reply;
  return { data: got, isBinary };
}

describe('wss:// with a self-signed certificate', () => {
  let key: Buffer;
  let cert: Buffer;
  let https: HttpsServer;
  let wss: WebSocketServer;
  let port: number;
  type ServerClose = { code: number; reason: string; wasClean: boolean | undefined };
  /** Resolvers waiting for the next server-side `close` (one connection at a time here). */
  const closeWaiters: Array<(close: ServerClose) => void> = [];
  const nextServerClose = (): Promise<ServerClose> => new Promise((resolve) => closeWaiters.push(resolve));
  let connections = 0;

  before(
    async () => {
      ({ key, cert } = selfSignedCertificate());
      https = createHttpsServer({ key, cert }, (_request, response) => {
        response.writeHead(200, { 'Content-Type': 'text/plain' });
        response.end('plain https still works\n');
      });
      wss = new WebSocketServer({ server: https, heartbeat: false });
      wss.on('connection', (ws, request) => {
        connections++;
        assert.equal((request.socket as TLSSocket).encrypted, true);
        ws.on('error', () => {});
        ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
        ws.on('close', (code, reason) => closeWaiters.shift()?.({ code, reason: reason.toString('utf8'), wasClean: ws.closeResult?.wasClean }));
      });
      https.listen(0, '127.0.0.1');
      await once(https, 'listening');
      port = (https.address() as AddressInfo).port;
    },
    { timeout: TIMEOUT },
  );

  after(
    async () => {
      if (wss !== undefined) await new Promise<void>((resolve) => wss.close(() => resolve()));
      if (https !== undefined) {
        https.closeAllConnections();
        await new Promise<void>((resolve) => https.close(() => resolve()));
      }
    },
    { timeout: TIMEOUT },
  );

  /** Connect, echo text and binary, close cleanly; returns the client's TLS socket facts. */
  async function echoSession(url: string, options: ClientOptions): Promise<{ authorized: boolean; protocol: string | null }> {
    const serverClosed = nextServerClose();
    const ws = new WebSocket(url, options);
    const closed = watch(ws);
    await once(ws, 'open');
    const socket = ws.socket as TLSSocket;
    assert.equal(socket.encrypted, true, 'the client socket is a TLS socket');
    const facts = { authorized: socket.authorized, protocol: socket.getProtocol() };

    const text = 'hello over TLS — ✓ 🦄';
    const echoedText = await roundTrip(ws, text);
    assert.equal(echoedText.isBinary, false);
    assert.equal(echoedText.data.toString('utf8'), text);

    const bytes = Buffer.alloc(100_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
    const echoedBytes = await roundTrip(ws, bytes);
    assert.equal(echoedBytes.isBinary, true);
    assert.ok(echoedBytes.data.equals(bytes), 'binary echo differs');

    ws.close(1000, 'done');
    const result = await closed;
    assert.deepEqual(result.events, ['open', 'close']);
    assert.equal(result.error, null);
    assert.deepEqual(result.close, { code: 1000, reason: '', wasClean: true });
    // The server's side of the same connection saw our code and reason.
    assert.deepEqual(await serverClosed, { code: 1000, reason: 'done', wasClean: true });
    return facts;
  }

  /** A client that must fail the TLS handshake: `error` (a TLS error), then `close` 1006, nothing else. */
  async function expectTlsFailure(url: string, options: ClientOptions, code: RegExp): Promise<Error> {
    const before = connections;
    const ws = new WebSocket(url, { handshakeTimeout: 30_000, ...options });
    const result = await watch(ws);
    assert.deepEqual(result.events, ['error', 'close'], 'error, then close');
    assert.ok(result.error !== null);
    assert.match(String((result.error as NodeJS.ErrnoException).code), code, `unexpected error: ${String(result.error)}`);
    assert.doesNotMatch(result.error.message, /timed out/);
    assert.deepEqual(result.close, { code: 1006, reason: '', wasClean: false });
    assert.equal(ws.readyState, WebSocket.CLOSED);
    assert.equal(connections, before, 'the server never saw a WebSocket connection');
    return result.error;
  }

  it('the https server still answers ordinary requests on the shared port', { timeout: TIMEOUT }, async () => {
    const body = await new Promise<string>((resolve, reject) => {
      httpsGet({ host: '127.0.0.1', port, path: '/', ca: cert, servername: 'localhost', agent: false }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.equal(body, 'plain https still works\n');
  });

  it('round trip with the certificate trusted (ca) and servername', { timeout: TIMEOUT }, async () => {
    const facts = await echoSession(`wss://127.0.0.1:${port}/`, { ca: cert, servername: 'localhost' });
    assert.equal(facts.authorized, true);
    assert.match(String(facts.protocol), /^TLSv1\.[23]$/);
  });

  it('round trip with the certificate trusted, verified against the IP address in the URL', { timeout: TIMEOUT }, async () => {
    const facts = await echoSession(`wss://127.0.0.1:${port}/`, { ca: cert });
    assert.equal(facts.authorized, true);
  });

  it('without ca: a TLS error, then close 1006', { timeout: TIMEOUT }, async () => {
    await expectTlsFailure(`wss://127.0.0.1:${port}/`, { servername: 'localhost' }, /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/);
  });

  it('a name the certificate was not issued for: a TLS error, then close 1006', { timeout: TIMEOUT }, async () => {
    const error = await expectTlsFailure(`wss://127.0.0.1:${port}/`, { ca: cert, servername: 'example.com' }, /^ERR_TLS_CERT_ALTNAME_INVALID$/);
    assert.match(error.message, /example\.com/);
  });

  it('rejectUnauthorized: false connects to the untrusted server', { timeout: TIMEOUT }, async () => {
    const facts = await echoSession(`wss://127.0.0.1:${port}/`, { rejectUnauthorized: false, servername: 'localhost' });
    assert.equal(facts.authorized, false);
  });
});
