/**
 * Testing a server (Autobahn's "fuzzingclient" mode): for each case, connect to the server's URL as a
 * fuzzing client, run the case against the server's echo, and score it.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { CaseRun, type CaseDefinition, type CaseResult } from './case.js';
import { checkTimeScale, type PeerTimeouts } from './fuzz-peer.js';
import { serverCase } from './server-case.js';
import { computeAcceptKey } from '../protocol/handshake.js';
import { H2Sessions, runH2Case } from './test-server-h2.js';
import { bareHostname } from '../node/url-host.js';

export interface ServerTestOptions {
  /** The server's URL (ws:// or wss://); it must echo every message with its opcode. */
  readonly url: string;
  readonly cases: readonly CaseDefinition[];
  /** Cases run at once (1 as in Autobahn; more is faster against servers that handle it). */
  readonly parallel?: number;
  readonly timeouts?: PeerTimeouts;
  /**
   * Multiplies every wait (the cases' timers, the closing handshake, the opening handshake, each
   * case's time limit): 1 (the default) is Autobahn's timing; more gives a slow server, a slow link
   * or a loaded machine time. A case that still runs out of time is reported as timed out.
   */
  readonly timeScale?: number;
  /** TLS: trust this CA, or do not verify (self-signed test servers). */
  readonly ca?: string | Buffer;
  readonly rejectUnauthorized?: boolean;
  /**
   * Run every case on an extended CONNECT stream of an HTTP/2 session (RFC 8441) instead of a TCP
   * connection: ws:// is cleartext HTTP/2 with prior knowledge (h2c), wss:// is TLS with ALPN h2. Each
   * of the `parallel` workers keeps one session and opens one stream per case (a new session if the
   * previous one went away).
   */
  readonly http2?: boolean;
  /** Called as each case finishes. */
  readonly onResult?: (result: CaseResult, done: number, total: number) => void;
}

export { OPEN_HANDSHAKE_TIMEOUT } from './server-case.js';
const MAX_RESPONSE_HEAD = 64 * 1024;

/** Run the cases against the server; results come back in suite order. */
export async function testServer(options: ServerTestOptions): Promise<CaseResult[]> {
  const url = new URL(options.url);
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new TypeError(`Not a ws:// or wss:// URL: ${options.url}`);
  checkTimeScale(options.timeScale ?? 1);
  const results: CaseResult[] = new Array(options.cases.length);
  let next = 0;
  let done = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(options.parallel ?? 1, options.cases.length)) }, async () => {
    const sessions = options.http2 === true ? new H2Sessions(url, options) : null;
    while (next < options.cases.length) {
      const index = next++;
      const definition = options.cases[index]!;
      const result = sessions === null ? await runCase(url, definition, options) : await runH2Case(url, definition, options, sessions);
      results[index] = result;
      done++;
      options.onResult?.(result, done, options.cases.length);
    }
    sessions?.close();
  });
  await Promise.all(workers);
  return results;
}

function runCase(url: URL, definition: CaseDefinition, options: ServerTestOptions): Promise<CaseResult> {
  return new Promise((resolve) => {
    const run = new CaseRun(definition, false);
    const secure = url.protocol === 'wss:';
    const port = Number(url.port || (secure ? 443 : 80));
    const host = bareHostname(url);
    const socket: Socket = secure
      ? tlsConnect({ host, port, servername: host, ...(options.ca !== undefined && { ca: options.ca }), rejectUnauthorized: options.rejectUnauthorized ?? true })
      : netConnect({ host, port });
    const { finish, answered, start } = serverCase(run, definition, options, socket, resolve);
    socket.on('error', () => {});
    socket.once('close', () => {
      if (!run.connectionWasOpen) finish();
    });

    const key = randomBytes(16).toString('base64');
    const offer = definition.extensions?.offer?.();
    const request =
      `GET ${url.pathname}${url.search} HTTP/1.1\r\n` +
      `Host: ${url.host}\r\n` +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${key}\r\n` +
      'Sec-WebSocket-Version: 13\r\n' +
      (offer !== undefined ? `Sec-WebSocket-Extensions: ${offer}\r\n` : '') +
      'User-Agent: fullduplex-conformance\r\n\r\n';
    run.handshakeRequest = request;
    socket.once(secure ? 'secureConnect' : 'connect', () => socket.write(request));

    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > MAX_RESPONSE_HEAD) socket.destroy();
        return;
      }
      socket.off('data', onData);
      answered();
      const responseText = head.subarray(0, end).toString('latin1');
      run.handshakeResponse = responseText;
      const rest = head.subarray(end + 4);
      const { status, headers } = parseHead(responseText);
      if (status !== 101 || headers.get('sec-websocket-accept') !== computeAcceptKey(key)) {
        socket.destroy();
        return;
      }
      start(headers.get('sec-websocket-extensions'), rest);
    };
    socket.on('data', onData);
  });
}

/** Status code and lower-cased headers of an HTTP response head (repeated headers joined by ", "). */
export function parseHead(text: string): { status: number; headers: Map<string, string> } {
  const lines = text.split('\r\n');
  const status = Number((lines[0] ?? '').split(' ')[1]);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const existing = headers.get(name);
    headers.set(name, existing === undefined ? value : `${existing}, ${value}`);
  }
  return { status, headers };
}
