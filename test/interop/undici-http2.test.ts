/**
 * undici (the `undici` dev dependency, 7.x; Node's global WebSocket is the same code) as a second client
 * peer for our server over HTTP/2. With `dispatcher: new Agent({ allowH2: true })` undici's WebSocket
 * does open an RFC 8441 extended CONNECT (lib/dispatcher/client-h2.js: `:method CONNECT`,
 * `:protocol websocket`, once the server's SETTINGS allow it), marked experimental (an
 * ExperimentalWarning on first use). But its handshake check (lib/web/websocket/connection.js,
 * processResponse) skips only the Upgrade and Connection checks for HTTP/2 and still requires
 * `Sec-WebSocket-Accept` to match the key it sent, which RFC 8441 §5 says is not used over HTTP/2:
 * against a server that follows the RFC (ours; Hypercorn; HAProxy) it fails the connection with 1006.
 * (Reported upstream as nodejs/undici#5681, closed as a server issue; nodejs/undici#5774 proposed the fix.)
 *
 * The first test pins that behaviour, so that an undici that fixes it is noticed (it then fails: turn
 * it into an echo test). The second proves that this check is the only obstacle to the handshake: a
 * server that adds the (unneeded) header through our `headers` event gets a working undici WebSocket
 * over HTTP/2. The third pins a second gap: after the closing handshake undici does not half-close its
 * stream (END_STREAM, RFC 8441 §5) and waits for the stream to close (seen against a bare node:http2
 * server); the fourth shows that our server does not wait for it (its `closeTimeout`, 30 s by default),
 * but resets the stream with NO_ERROR once its own END_STREAM is out (RFC 9113 §8.1).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createSecureServer, type Http2SecureServer, type ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { Agent, WebSocket as UndiciWebSocket } from 'undici';
import { WebSocketServer } from '../../src/node/server.js';
import type { WebSocket } from '../../src/node/websocket.js';
import { computeAcceptKey } from '../../src/protocol/handshake.js';
import { once, within } from '../helpers/node.js';
import { readFrames } from '../helpers/frames.js';
import { frame, waitFor } from '../helpers/protocol.js';
import { scaled } from '../helpers/time.js';
import { selfSignedCertificate, type Certificate } from '../helpers/tls.js';

/** Our server's closeTimeout here (a feature setting, not a hang guard: not scaled). */
const CLOSE_TIMEOUT = 600_000;

const UNDICI_VERSION = (createRequire(import.meta.url)('undici/package.json') as { version: string }).version;

interface Closed {
  code: number;
  reason: string;
  wasClean: boolean;
  error: boolean;
}

/** Open undici's WebSocket; resolves when it opens, or with how it closed if it never opened. */
function openUndici(url: string, dispatcher: Agent): Promise<{ ws: UndiciWebSocket; opened: boolean; closed: Promise<Closed> }> {
  const ws = new UndiciWebSocket(url, { dispatcher } as ConstructorParameters<typeof UndiciWebSocket>[1]);
  ws.binaryType = 'arraybuffer';
  let error = false;
  ws.addEventListener('error', () => (error = true));
  const closed = new Promise<Closed>((resolve) =>
    ws.addEventListener('close', (event) => resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean, error })),
  );
  return within(
    new Promise((resolve) => {
      ws.addEventListener('open', () => resolve({ ws, opened: true, closed }));
      void closed.then(() => resolve({ ws, opened: false, closed }));
    }),
    "undici's WebSocket to open or close",
    scaled(10_000),
  );
}

function nextMessage(ws: UndiciWebSocket): Promise<string | ArrayBuffer> {
  return within(
    new Promise((resolve) => ws.addEventListener('message', (event) => resolve(event.data as string | ArrayBuffer), { once: true })),
    "undici's WebSocket to receive a message",
  );
}

describe(`undici ${UNDICI_VERSION}'s WebSocket over HTTP/2 (Agent allowH2) against our TLS http2 server`, { timeout: scaled(60_000) }, () => {
  let certificate: Certificate;
  let server: Http2SecureServer;
  let wss: WebSocketServer;
  let dispatcher: Agent;
  let url = '';
  /** Add Sec-WebSocket-Accept to the 200 (what RFC 8441 §5 leaves out, and undici 7 still checks). */
  let addAccept = false;
  const connections: Array<[WebSocket, IncomingMessage]> = [];

  before(async () => {
    certificate = selfSignedCertificate();
    server = createSecureServer({ key: certificate.key, cert: certificate.cert, allowHTTP1: true, settings: { enableConnectProtocol: true } });
    wss = new WebSocketServer({ server, perMessageDeflate: true, closeTimeout: CLOSE_TIMEOUT });
    wss.on('headers', (lines: string[], request: IncomingMessage) => {
      const key = request.headers['sec-websocket-key'];
      if (addAccept && typeof key === 'string') lines.push(`sec-websocket-accept: ${computeAcceptKey(key)}`);
    });
    wss.on('connection', (ws, request) => {
      connections.push([ws, request]);
      ws.on('message', (data, isBinary) => {
        if (!isBinary && String(data) === 'close please') ws.close(4002, 'server bye');
        else ws.send(data as Buffer, { binary: isBinary });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `wss://127.0.0.1:${(server.address() as AddressInfo).port}/undici`;
    dispatcher = new Agent({ allowH2: true, connect: { ca: certificate.cert } });
  });

  after(async () => {
    await dispatcher?.close();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    certificate?.remove();
  });

  it('sends an RFC 8441 extended CONNECT (our server sees HTTP/2.0) but fails its own handshake with 1006: it requires Sec-WebSocket-Accept over HTTP/2', async () => {
    addAccept = false;
    const before = connections.length;
    const { opened, closed } = await openUndici(url, dispatcher);
    const result = await closed;
    assert.equal(connections.length, before + 1, 'our server accepted the stream');
    const [serverWs, request] = connections.at(-1)!;
    assert.equal(request.httpVersion, '2.0');
    assert.equal(request.method, 'CONNECT');
    assert.equal(typeof request.headers['sec-websocket-key'], 'string', 'undici sends the HTTP/1.1 key over HTTP/2 too');
    assert.equal(
      opened,
      false,
      `undici ${UNDICI_VERSION} opened a WebSocket over HTTP/2 without Sec-WebSocket-Accept: it has been fixed, make this an echo test and update docs/http2.md`,
    );
    assert.deepEqual(result, { code: 1006, reason: '', wasClean: false, error: true });
    // undici drops the stream; our side learns of it and closes without a close frame.
    const [code] = serverWs.readyState === 3 ? [serverWs.closeResult!.code] : await once<[number]>(serverWs, 'close');
    assert.equal(code, 1006);
  });

  it('with Sec-WebSocket-Accept added through the headers event, undici echoes text and binary over HTTP/2, with permessage-deflate, and close codes go both ways', async () => {
    addAccept = true;
    const first = await openUndici(url, dispatcher);
    assert.equal(first.opened, true, 'undici opened once the header was there');
    const [serverWs, request] = connections.at(-1)!;
    assert.equal(request.httpVersion, '2.0', 'still HTTP/2');
    assert.equal(first.ws.extensions, 'permessage-deflate');
    assert.equal(serverWs.extensions, 'permessage-deflate');

    const text = 'héllo over h2 '.repeat(1000);
    first.ws.send(text);
    assert.equal(await nextMessage(first.ws), text);
    first.ws.send(new Uint8Array([0, 1, 2, 255]));
    assert.deepEqual([...new Uint8Array((await nextMessage(first.ws)) as ArrayBuffer)], [0, 1, 2, 255]);

    const serverClosed = once<[number, Buffer]>(serverWs, 'close');
    first.ws.close(4001, 'client bye');
    const [[serverCode, serverReason], clientResult] = await Promise.all([serverClosed, first.closed]);
    assert.deepEqual([serverCode, String(serverReason)], [4001, 'client bye']);
    assert.equal(clientResult.code, 4001);

    const second = await openUndici(url, dispatcher);
    assert.equal(second.opened, true);
    second.ws.send('close please');
    const result = await second.closed;
    assert.deepEqual([result.code, result.reason, result.wasClean], [4002, 'server bye', true]);
  });

  it('does not half-close its stream after the closing handshake (RFC 8441 §5): against a bare node:http2 server that ends its side, undici never ends its own', async () => {
    // A minimal RFC 8441 server of its own (not ours, which no longer waits: see the next test): it
    // answers undici's close frame with one and END_STREAM, then watches for undici's END_STREAM.
    const bare = createSecureServer({ key: certificate.key, cert: certificate.cert, settings: { enableConnectProtocol: true } });
    const streams: Array<{ stream: ServerHttp2Stream; peerEnded: boolean; closeAnswered: boolean }> = [];
    bare.on('stream', (stream, headers) => {
      const seen = { stream, peerEnded: false, closeAnswered: false };
      streams.push(seen);
      stream.on('error', () => {});
      const key = headers['sec-websocket-key'];
      stream.respond({ ':status': 200, ...(typeof key === 'string' ? { 'sec-websocket-accept': computeAcceptKey(key) } : {}) });
      let buffer = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        const { frames, used } = readFrames(buffer);
        buffer = buffer.subarray(used);
        if (!seen.closeAnswered && frames.some((f) => f.opcode === 8)) {
          seen.closeAnswered = true;
          stream.end(frame(8, frames.find((f) => f.opcode === 8)!.payload.subarray(0, 2), { mask: null }));
        }
      });
      // undici's END_STREAM (or a reset: Node ends the readable side then too): either way it let go.
      stream.on('end', () => (seen.peerEnded = true));
    });
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    const own = new Agent({ allowH2: true, connect: { ca: certificate.cert } }); // this session is left in a bad state
    try {
      const bareUrl = `wss://127.0.0.1:${(bare.address() as AddressInfo).port}/`;
      const { ws, opened } = await openUndici(bareUrl, own);
      assert.equal(opened, true);
      ws.close(4001, 'client bye');
      await waitFor(() => streams[0]?.closeAnswered === true, scaled(10_000), 'the close frame');
      // A check that something does NOT happen: a second is ample for an END_STREAM on loopback.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.equal(
        streams[0]!.peerEnded,
        false,
        `undici ${UNDICI_VERSION} now ends (or resets) its stream after the closing handshake: drop this test and the note in docs/http2.md`,
      );
      assert.equal(streams[0]!.stream.closed, false, 'the stream waits, half-closed');
    } finally {
      for (const { stream } of streams) stream.close(constants.NGHTTP2_CANCEL);
      await own.destroy();
      await new Promise<void>((resolve) => bare.close(() => resolve()));
    }
  });

  it('our server does not wait for it: after the closing handshake it ends its side, then RST_STREAM NO_ERROR (RFC 9113 §8.1), and both sides close cleanly', async () => {
    addAccept = true;
    for (const first of ['client', 'server'] as const) {
      const { ws, opened, closed } = await openUndici(url, dispatcher);
      assert.equal(opened, true);
      const [serverWs] = connections.at(-1)!;
      const stream = serverWs.socket as ServerHttp2Stream;
      // The guard is far below CLOSE_TIMEOUT: only the reset can close the stream in time.
      const serverClosed = once<[number]>(serverWs, 'close', scaled(10_000));
      if (first === 'client') ws.close(4001, 'client bye');
      else ws.send('close please');
      const [[code], clientResult] = await Promise.all([serverClosed, closed]);
      if (!stream.closed) await once(stream, 'close');
      const expected = first === 'client' ? 4001 : 4002;
      assert.deepEqual([code, serverWs.closeResult?.wasClean], [expected, true], `${first} first: our side`);
      assert.deepEqual([clientResult.code, clientResult.wasClean, clientResult.error], [expected, true, false], `${first} first: undici's side`);
      assert.equal(stream.rstCode, constants.NGHTTP2_NO_ERROR, `${first} first: RST_STREAM NO_ERROR, not closeTimeout's CANCEL`);
    }
  });
});
