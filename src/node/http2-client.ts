/**
 * The client's WebSocket over HTTP/2 (RFC 8441): pick the mode from the options, get an HTTP/2 session
 * (the caller's, or one shared per origin and TLS settings), wait for the server's SETTINGS, and open
 * the WebSocket as an extended CONNECT stream. The stream is a Duplex: the `WebSocket` runs its usual
 * `Transport` over it. When the server does not speak HTTP/2 or does not allow extended CONNECT
 * (RFC 8441 §3), the caller is told to fall back to HTTP/1.1, or the attempt fails, as the mode says.
 */
import { connect as http2Connect, type ClientHttp2Session, type ClientHttp2Stream, type SecureClientSessionOptions } from 'node:http2';
import { isIP } from 'node:net';
import type { OutgoingHttpHeaders } from 'node:http';
import { createExtendedConnectRequest, validateExtendedConnectResponse } from '../protocol/extended-connect-client.js';
import { formatExtensions } from '../protocol/header-grammar.js';
import { PERMESSAGE_DEFLATE, acceptServerResponse, createClientOffer } from '../protocol/permessage-deflate.js';
import { PerMessageDeflate, type PerMessageDeflateConfig } from './permessage-deflate.js';
import type { ClientOptions } from './client.js';
import { bareHostname } from './url-host.js';

/**
 * `true`: HTTP/2 for wss:// when the server offers it, else HTTP/1.1; `'require'`: HTTP/2 for wss:// or
 * fail; `'h2c'`: cleartext HTTP/2 with prior knowledge for ws:// (RFC 9113 §3.3), no fallback.
 */
export type Http2Mode = boolean | 'require' | 'h2c';

/** What `startClientHandshake` does: HTTP/2, and whether HTTP/1.1 may take over. */
export interface Http2Plan {
  readonly fallback: boolean;
  readonly session: ClientHttp2Session | undefined;
}

/** RFC 9113 §7: the error code of RST_STREAM for "the stream is no longer needed". */
const NGHTTP2_CANCEL = 0x8;

/** Decide from the URL and options (TypeError for a combination that cannot work); null: HTTP/1.1. */
export function http2Plan(url: URL, options: ClientOptions): Http2Plan | null {
  const mode = options.http2;
  const session = options.http2Session;
  if (mode !== undefined && mode !== true && mode !== false && mode !== 'require' && mode !== 'h2c') {
    throw new TypeError(`The http2 option must be true, false, "require" or "h2c" (got ${JSON.stringify(mode)})`);
  }
  if (session !== undefined && (session === null || typeof session !== 'object' || typeof (session as { request?: unknown }).request !== 'function')) {
    throw new TypeError('The http2Session option must be a ClientHttp2Session (from http2.connect)');
  }
  if (session === undefined && (mode === undefined || mode === false)) return null;
  if (url.protocol === 'ws+unix:') throw new TypeError('WebSockets over HTTP/2 need a ws:// or wss:// URL, not ws+unix:');
  if (options.agent !== undefined || options.createConnection !== undefined) {
    throw new TypeError('The http2 and http2Session options cannot be combined with agent or createConnection (they make HTTP/1.1 connections); pass an http2Session instead');
  }
  if (session !== undefined) return { fallback: false, session };
  const secure = url.protocol === 'wss:';
  if (mode === 'h2c') {
    if (secure) throw new TypeError('http2: "h2c" is cleartext HTTP/2 for ws:// URLs; for wss:// use http2: true or "require"');
    return { fallback: false, session: undefined };
  }
  if (!secure) {
    if (mode === 'require') throw new TypeError('http2: "require" needs a wss:// URL (HTTP/2 is negotiated by TLS ALPN); for cleartext HTTP/2 with prior knowledge use http2: "h2c"');
    return null; // http2: true over ws://: no prior knowledge, HTTP/1.1 (as browsers do)
  }
  return { fallback: mode === true, session: undefined };
}

// --- sessions: the caller's, or one per origin and TLS settings shared by every WebSocket -----------

/** What we know of a session: whether its SETTINGS arrived, and who waits for them. */
interface SessionState {
  readonly session: ClientHttp2Session;
  /** Its key in the pool (null: the caller's session, never closed by us). */
  readonly key: string | null;
  settled: boolean;
  error: Error | null;
  /** WebSockets opening or open on it; a pooled session closes when the last one ends. */
  users: number;
  waiters: Set<() => void>;
}

const states = new WeakMap<ClientHttp2Session, SessionState>();
const pool = new Map<string, SessionState>();

/** TLS and socket options that make a session differ (the rest of the client options do not). */
const SESSION_OPTIONS = [
  'ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername', 'checkServerIdentity', 'ciphers', 'ecdhCurve',
  'minVersion', 'maxVersion', 'secureContext', 'secureOptions', 'crl', 'sigalgs', 'honorCipherOrder', 'secureProtocol',
  'lookup', 'family', 'localAddress', 'localPort', 'hints', 'session',
] as const;

/** Objects and functions in the key by identity (the same `ca` Buffer: the same session). */
const identities = new WeakMap<object, number>();
let nextIdentity = 0;
function keyPart(value: unknown): string {
  if ((typeof value === 'object' && value !== null) || typeof value === 'function') {
    let id = identities.get(value);
    if (id === undefined) identities.set(value, (id = ++nextIdentity));
    return `#${id}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

function sessionOptions(options: ClientOptions, hostname: string): { settings: SecureClientSessionOptions; key: string } {
  const settings: Record<string, unknown> = {};
  let key = '';
  for (const name of SESSION_OPTIONS) {
    const value = (options as Record<string, unknown>)[name];
    if (value === undefined) continue;
    settings[name] = value;
    key += `${name}=${keyPart(value)};`;
  }
  // SNI names a host, never an IP address (RFC 6066 §3), as the HTTP/1.1 path does.
  if (settings['servername'] === undefined && isIP(hostname) === 0) settings['servername'] = hostname;
  return { settings: settings as SecureClientSessionOptions, key };
}

function track(session: ClientHttp2Session, key: string | null): SessionState {
  const state: SessionState = { session, key, settled: false, error: null, users: 0, waiters: new Set() };
  states.set(session, state);
  const settle = (): void => {
    if (state.settled) return;
    state.settled = true;
    const waiters = [...state.waiters];
    state.waiters.clear();
    for (const waiter of waiters) waiter();
  };
  session.once('remoteSettings', settle);
  // Without a listener a session error would crash the process; the waiters read it from the state.
  session.on('error', (error) => {
    state.error ??= error;
  });
  session.once('close', () => {
    if (key !== null && pool.get(key) === state) pool.delete(key);
    settle();
  });
  // A GOAWAY: streams open on it finish, new WebSockets get a new session.
  session.once('goaway', () => {
    if (key !== null && pool.get(key) === state) pool.delete(key);
  });
  if (key === null && !session.connecting && !session.destroyed) {
    // The caller's session may have had its SETTINGS before we listened: the server's SETTINGS
    // precede its answer to our PING (RFC 9113 §3.4, the server connection preface).
    if (session.remoteSettings.enableConnectProtocol === true) settle();
    else session.ping(() => settle());
  } else if (key === null) {
    session.once('connect', () => session.ping(() => settle()));
  }
  return state;
}

function acquire(target: URL, options: ClientOptions, plan: Http2Plan): SessionState {
  let state: SessionState;
  if (plan.session !== undefined) {
    state = states.get(plan.session) ?? track(plan.session, null);
  } else {
    const hostname = bareHostname(target);
    const origin = `${target.protocol === 'wss:' ? 'https' : 'http'}://${target.host}`;
    const { settings, key: optionsKey } = sessionOptions(options, hostname);
    const key = `${origin} ${optionsKey}`;
    const pooled = pool.get(key);
    if (pooled !== undefined && !pooled.session.closed && !pooled.session.destroyed) {
      state = pooled;
    } else {
      const session = http2Connect(origin, settings);
      state = track(session, key);
      pool.set(key, state);
    }
  }
  state.users++;
  return state;
}

function release(state: SessionState): void {
  state.users--;
  if (state.users > 0 || state.key === null) return;
  // The last WebSocket on a pooled session ended: close it (no idle HTTP/2 connections linger).
  if (pool.get(state.key) === state) pool.delete(state.key);
  if (!state.session.closed && !state.session.destroyed) state.session.close();
}

/** How many pooled sessions are open (for tests and diagnostics). */
export function pooledHttp2Sessions(): number {
  return pool.size;
}

// --- one WebSocket's handshake ----------------------------------------------------------------------

export interface Http2Outcome {
  /** The stream is accepted: the caller attaches it (as it attaches an upgraded socket). */
  opened(stream: ClientHttp2Stream, protocol: string, extensions: string, deflate: PerMessageDeflate | null): void;
  failed(error: Error): void;
  /** The server does not do WebSockets over HTTP/2, and the mode allows HTTP/1.1: connect that way. */
  fallback(): void;
}

export interface Http2Attempt {
  /** Give up (handshake timeout, close() or terminate() while connecting): RST_STREAM CANCEL. */
  cancel(): void;
}

/** Open `target` as an extended CONNECT stream; the outcome comes through `outcome`, once. */
export function openHttp2WebSocket(
  target: URL,
  plan: Http2Plan,
  protocols: readonly string[],
  headers: OutgoingHttpHeaders,
  options: ClientOptions,
  deflateConfig: PerMessageDeflateConfig | null,
  outcome: Http2Outcome,
): Http2Attempt {
  const secure = target.protocol === 'wss:';
  // Built now, so that a bad header or subprotocol throws from the constructor.
  const request = createExtendedConnectRequest({
    scheme: secure ? 'https' : 'http',
    authority: target.host,
    path: `${target.pathname === '' ? '/' : target.pathname}${target.search}`,
    protocols,
    extensions: deflateConfig === null ? [] : [createClientOffer(deflateConfig)],
    ...(options.origin !== undefined && { origin: options.origin }),
    headers: headers as Record<string, string | number | readonly string[] | undefined>,
  });
  const state = acquire(target, options, plan);
  let done = false;
  let released = false;
  let stream: ClientHttp2Stream | null = null;

  const releaseOnce = (): void => {
    if (released) return;
    released = true;
    release(state);
  };
  const finish = (action: () => void): void => {
    if (done) return;
    done = true;
    state.waiters.delete(onSettled);
    action();
  };
  /** Let go of the session, or reset the stream (its `close` then releases the session). */
  const abandon = (): void => {
    if (stream === null) releaseOnce();
    else if (!stream.closed) stream.close(NGHTTP2_CANCEL);
  };
  const failWith = (error: Error): void =>
    finish(() => {
      abandon();
      outcome.failed(error);
    });
  const notHttp2 = (reason: string): void => {
    if (plan.fallback) {
      finish(() => {
        releaseOnce();
        outcome.fallback();
      });
    } else {
      failWith(new Error(`Cannot open a WebSocket over HTTP/2 to ${target.host}: ${reason}`));
    }
  };

  function onSettled(): void {
    if (done) return;
    const session = state.session;
    const error = state.error;
    if (error !== null) {
      // The TLS server does not offer h2 by ALPN: it may still speak HTTP/1.1.
      if ((error as { code?: string }).code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL') notHttp2('the server does not offer HTTP/2 (TLS ALPN "h2")');
      else failWith(error);
      return;
    }
    if (session.closed || session.destroyed) {
      notHttp2('the connection closed before the server sent its HTTP/2 SETTINGS');
      return;
    }
    if (secure && session.alpnProtocol !== undefined && session.alpnProtocol !== 'h2') {
      notHttp2(`the server chose ${JSON.stringify(session.alpnProtocol)} by TLS ALPN, not "h2"`);
      return;
    }
    if (session.remoteSettings.enableConnectProtocol !== true) {
      notHttp2('the server does not allow the extended CONNECT of RFC 8441 (no SETTINGS_ENABLE_CONNECT_PROTOCOL in its SETTINGS, RFC 8441 §3)');
      return;
    }
    let opened: ClientHttp2Stream;
    try {
      opened = session.request(request.headers as OutgoingHttpHeaders, { endStream: false });
    } catch (requestError) {
      failWith(requestError as Error);
      return;
    }
    stream = opened;
    let streamError: Error | null = null;
    opened.on('error', (e: Error) => {
      streamError ??= e;
    });
    opened.once('close', () => {
      releaseOnce();
      if (!done) {
        const code = opened.rstCode;
        failWith(streamError ?? new Error(`The server closed the HTTP/2 stream before answering the extended CONNECT${code === undefined || code === 0 ? '' : ` (RST_STREAM code ${code})`}`));
      }
    });
    opened.once('response', (response) => {
      if (done) return;
      let deflate: PerMessageDeflate | null = null;
      let accepted;
      try {
        accepted = validateExtendedConnectResponse(response, request);
        const agreed = accepted.extensions.find((extension) => extension.name === PERMESSAGE_DEFLATE);
        if (agreed !== undefined && deflateConfig !== null) {
          deflate = new PerMessageDeflate(acceptServerResponse(agreed, deflateConfig), 'client', deflateConfig);
        }
      } catch (validationError) {
        failWith(validationError as Error);
        return;
      }
      finish(() => outcome.opened(opened, accepted.protocol, formatExtensions(accepted.extensions), deflate));
    });
  }

  if (state.settled) process.nextTick(onSettled);
  else state.waiters.add(onSettled);
  return { cancel: () => finish(abandon) };
}
