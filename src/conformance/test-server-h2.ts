/**
 * Testing a server over HTTP/2 (RFC 8441): each case runs on an extended CONNECT stream instead of a
 * TCP connection. The request is `:method CONNECT`, `:protocol websocket`, `:scheme`, `:authority`,
 * `:path`, `sec-websocket-version: 13` and the case's extension offer (§4, §5); any 2xx answer opens the
 * WebSocket (no Sec-WebSocket-Key/Accept). The stream is made TCP-like (h2-stream.ts): END_STREAM for
 * a TCP close, RST_STREAM CANCEL for a reset, so the cases and their scoring run unchanged.
 */
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { CaseRun, type CaseDefinition, type CaseResult } from './case.js';
import { formatH2Headers, tcpLikeStream } from './h2-stream.js';
import { OPEN_HANDSHAKE_TIMEOUT, serverCase } from './server-case.js';
import type { ServerTestOptions } from './test-server.js';

/** One worker's HTTP/2 session, opened on first use and again whenever the previous one went away. */
export class H2Sessions {
  private readonly url: URL;
  private readonly options: ServerTestOptions;
  private session: ClientHttp2Session | null = null;

  constructor(url: URL, options: ServerTestOptions) {
    this.url = url;
    this.options = options;
  }

  /** A live session whose SETTINGS allow extended CONNECT (RFC 8441 §3); throws with the reason. */
  async get(): Promise<ClientHttp2Session> {
    const current = this.session;
    if (current !== null && !current.closed && !current.destroyed) return current;
    const secure = this.url.protocol === 'wss:';
    const session = http2.connect(`${secure ? 'https' : 'http'}://${this.url.host}`, {
      ...(this.options.ca !== undefined && { ca: this.options.ca }),
      rejectUnauthorized: this.options.rejectUnauthorized ?? true,
    });
    session.on('error', () => {});
    const wait = OPEN_HANDSHAKE_TIMEOUT * (this.options.timeScale ?? 1);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no SETTINGS from the server within ${wait / 1000} s`)), wait);
        session.once('remoteSettings', () => {
          clearTimeout(timer);
          resolve();
        });
        session.once('error', (error: Error) => {
          clearTimeout(timer);
          reject(error);
        });
        session.once('close', () => {
          clearTimeout(timer);
          reject(new Error('the HTTP/2 session closed before the server sent its SETTINGS'));
        });
      });
    } catch (error) {
      session.destroy();
      throw error;
    }
    if (session.remoteSettings.enableConnectProtocol !== true) {
      session.close();
      throw new Error('the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3): no WebSocket over HTTP/2 there');
    }
    this.session = session;
    return session;
  }

  close(): void {
    this.session?.close();
    this.session = null;
  }
}

/** Run one case on a new stream of the worker's session. */
export async function runH2Case(url: URL, definition: CaseDefinition, options: ServerTestOptions, sessions: H2Sessions): Promise<CaseResult> {
  const run = new CaseRun(definition, false);
  let session: ClientHttp2Session;
  try {
    session = await sessions.get();
  } catch (error) {
    run.handshakeResponse = `(no HTTP/2 session: ${(error as Error).message})`;
    run.connectionLost();
    return run.toResult();
  }
  return new Promise((resolve) => {
    const offer = definition.extensions?.offer?.();
    const headers: OutgoingHttpHeaders = {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': url.protocol === 'wss:' ? 'https' : 'http',
      ':authority': url.host,
      ':path': `${url.pathname}${url.search}`,
      'sec-websocket-version': '13',
      ...(offer !== undefined && { 'sec-websocket-extensions': offer }),
      'user-agent': 'fullduplex-conformance',
    };
    run.handshakeRequest = formatH2Headers('HTTP/2 extended CONNECT (RFC 8441)', headers);
    const stream = tcpLikeStream(session.request(headers));
    const { finish, answered, start } = serverCase(run, definition, options, stream, resolve);
    stream.on('error', () => {});
    stream.once('close', () => {
      if (!run.connectionWasOpen) {
        if (run.handshakeResponse === '') run.handshakeResponse = `(the stream closed without a response: RST_STREAM code ${stream.rstCode ?? 'none'})`;
        finish();
      }
    });
    stream.once('response', (response: IncomingHttpHeaders) => {
      answered();
      const status = Number(response[':status']);
      run.handshakeResponse = formatH2Headers(`HTTP/2 ${status}`, Object.fromEntries(Object.entries(response).filter(([name]) => name !== ':status')));
      // RFC 8441 §5: any 2xx opens the WebSocket; anything else is a refusal.
      if (!(status >= 200 && status < 300)) {
        stream.destroy();
        return;
      }
      const answer = response['sec-websocket-extensions'];
      start(Array.isArray(answer) ? answer.join(', ') : answer, Buffer.alloc(0));
    });
  });
}
