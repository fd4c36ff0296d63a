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
import type { Duplex } from 'node:stream';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { createExtendedConnectRequest, validateExtendedConnectResponse } from '../protocol/extended-connect-client.js';
import { formatExtensions } from '../protocol/header-grammar.js';
import { PERMESSAGE_DEFLATE, acceptServerResponse, createClientOffer } from '../protocol/permessage-deflate.js';
import { PerMessageDeflate, type PerMessageDeflateConfig } from './permessage-deflate.js';
import type { ClientOptions } from './client.js';
import { bareHostname } from './url-host.js';
import type { ResolvedProxy } from './proxy-environment.js';
import { openProxiedConnection } from './http2-proxy-connection.js';

/**
 * `true`: HTTP/2 for wss:// when the server offers it, else HTTP/1.1; `'require'`: HTTP/2 for wss:// or
 * fail; `'h2c'`: cleartext HTTP/2 with prior knowledge for ws:// (RFC 9113 §3.3), no fallback.
 */
export type Http2Mode = boolean | 'require' | 'h2c';

/** What `startClientHandshake` does: HTTP/2, and whether HTTP/1.1 may take over. */
export interface Http2Plan {
  readonly fallback: boolean;
  readonly session: ClientHttp2Session | undefined;
  /** The proxy to tunnel a pooled session through (the caller's `session` connects by itself). */
  readonly proxy?: ResolvedProxy | null;
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

// --- sessions: the caller's, or one per origin, TLS settings and proxy shared by every WebSocket ----

/** What we know of a session: whether its SETTINGS arrived, and who waits for them. */
interface SessionState {
  /** Null while the connection under it goes through a proxy (see `connectThroughProxy`). */
  session: ClientHttp2Session | null;
  /** Its key in the pool (null: the caller's session, never closed by us). */
  readonly key: string | null;
  settled: boolean;
  error: Error | null;
  /** Through a proxy: why the target will not speak HTTP/2 (its ALPN choice), known before any session. */
  notHttp2: string | null;
  /** With `notHttp2`: the TLS connection to the target, for the first WebSocket falling back to HTTP/1.1. */
  spare: Duplex | null;
  /** Through a proxy: abandons the tunnel (or the TLS inside it) while no session exists yet. */
  cancelConnect: (() => void) | null;
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

/** Options of the TCP connection to the target: through a proxy, the proxy makes that connection. */
const DIRECT_ONLY_OPTIONS = new Set<string>(['lookup', 'family', 'localAddress', 'localPort', 'hints']);

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

/**
 * The proxy's part of a pool key: everything that makes its tunnels differ (URL with credentials,
 * headers, credentials, TLS options to the proxy). A direct session never shares a key with a proxied
 * one, nor do sessions through different proxies or with different credentials.
 */
function proxyKey(proxy: ResolvedProxy): string {
  const headers = proxy.headers === undefined ? '' : JSON.stringify(Object.entries(proxy.headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const credentials = proxy.credentials === undefined ? '' : JSON.stringify([proxy.credentials.username, proxy.credentials.password]);
  // The TLS options to an https:// proxy by value, each by identity (as the target's: the same `ca` Buffer, the same key).
  const tls = Object.entries(proxy.tls ?? {})
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${keyPart(value)}`)
    .join(',');
  return `via ${proxy.url.href} headers=${headers} credentials=${credentials} tls=${tls}`;
}

function newState(key: string | null): SessionState {
  return { session: null, key, settled: false, error: null, notHttp2: null, spare: null, cancelConnect: null, users: 0, waiters: new Set() };
}

function settle(state: SessionState): void {
  if (state.settled) return;
  state.settled = true;
  const waiters = [...state.waiters];
  state.waiters.clear();
  for (const waiter of waiters) waiter();
}

function unpool(state: SessionState): void {
  if (state.key !== null && pool.get(state.key) === state) pool.delete(state.key);
}

/** Follow `session` for `state`: settled by the server's SETTINGS (or the session's end). */
function watch(state: SessionState, session: ClientHttp2Session): void {
  state.session = session;
  states.set(session, state);
  session.once('remoteSettings', () => settle(state));
  // Without a listener a session error would crash the process; the waiters read it from the state.
  session.on('error', (error) => {
    state.error ??= error;
  });
  session.once('close', () => {
    unpool(state);
    settle(state);
  });
  // A GOAWAY: streams open on it finish, new WebSockets get a new session.
  session.once('goaway', () => unpool(state));
}

function track(session: ClientHttp2Session, key: string | null): SessionState {
  const state = newState(key);
  watch(state, session);
  if (key === null && !session.connecting && !session.destroyed) {
    // The caller's session may have had its SETTINGS before we listened: the server's SETTINGS
    // precede its answer to our PING (RFC 9113 §3.4, the server connection preface).
    if (session.remoteSettings.enableConnectProtocol === true) settle(state);
    else session.ping(() => settle(state));
  } else if (key === null) {
    session.once('connect', () => session.ping(() => settle(state)));
  }
  return state;
}

/**
 * A pooled session whose connection goes through `proxy`: the tunnel and (wss://) the TLS inside it
 * first; the session is made once the target has chosen "h2" by ALPN (or at once over h2c).
 */
function connectThroughProxy(state: SessionState, proxy: ResolvedProxy, target: URL, origin: string, settings: SecureClientSessionOptions): void {
  const tls: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(settings)) if (!DIRECT_ONLY_OPTIONS.has(name)) tls[name] = value;
  state.cancelConnect = openProxiedConnection(proxy, target, tls as TlsConnectionOptions, (error, connection) => {
    state.cancelConnect = null;
    if (error !== null || connection === undefined) {
      unpool(state);
      state.error = error ?? new Error('The proxy tunnel closed');
      settle(state);
      return;
    }
    if (!connection.http2) {
      unpool(state);
      state.notHttp2 = connection.reason;
      state.spare = connection.socket;
      settle(state);
      return;
    }
    const socket = connection.socket;
    watch(state, http2Connect(origin, { ...settings, createConnection: () => socket }));
  });
}

function acquire(target: URL, options: ClientOptions, plan: Http2Plan): SessionState {
  let state: SessionState;
  if (plan.session !== undefined) {
    state = states.get(plan.session) ?? track(plan.session, null);
  } else {
    const hostname = bareHostname(target);
    const origin = `${target.protocol === 'wss:' ? 'https' : 'http'}://${target.host}`;
    const { settings, key: optionsKey } = sessionOptions(options, hostname);
    const proxy = plan.proxy ?? null;
    const key = `${origin} ${optionsKey}${proxy === null ? '' : ` ${proxyKey(proxy)}`}`;
    const pooled = pool.get(key);
    if (pooled !== undefined && (pooled.session === null || (!pooled.session.closed && !pooled.session.destroyed))) {
      state = pooled;
    } else {
      state = newState(key);
      pool.set(key, state);
      if (proxy === null) watch(state, http2Connect(origin, settings));
      else connectThroughProxy(state, proxy, target, origin, settings);
    }
  }
  state.users++;
  return state;
}

function release(state: SessionState): void {
  state.users--;
  if (state.users > 0 || state.key === null) return;
  // The last WebSocket on a pooled session ended: close it (no idle HTTP/2 connections linger).
  unpool(state);
  state.cancelConnect?.();
  state.cancelConnect = null;
  state.spare?.destroy();
  state.spare = null;
  const session = state.session;
  if (session !== null && !session.closed && !session.destroyed) session.close();
}

/** How many pooled sessions are open or opening (for tests and diagnostics). */
export function pooledHttp2Sessions(): number {
  return pool.size;
}

// --- one WebSocket's handshake ----------------------------------------------------------------------

export interface Http2Outcome {
  /** The stream is accepted: the caller attaches it (as it attaches an upgraded socket). */
  opened(stream: ClientHttp2Stream, protocol: string, extensions: string, deflate: PerMessageDeflate | null): void;
  failed(error: Error): void;
  /**
   * The server does not do WebSockets over HTTP/2, and the mode allows HTTP/1.1: connect that way.
   * Through a proxy, when the target chose HTTP/1.1 by ALPN, `socket` is that TLS connection (its
   * tunnel included), ready for the HTTP/1.1 handshake; otherwise a new connection is needed.
   */
  fallback(socket?: Duplex): void;
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
        // The first WebSocket to fall back takes the TLS connection the proxy's tunnel already carries.
        const spare = state.spare;
        state.spare = null;
        releaseOnce();
        if (spare === null) outcome.fallback();
        else outcome.fallback(spare);
      });
    } else {
      failWith(new Error(`Cannot open a WebSocket over HTTP/2 to ${target.host}: ${reason}`));
    }
  };

  function onSettled(): void {
    if (done) return;
    const session = state.session;
    const error = state.error;
    if (state.notHttp2 !== null) {
      notHttp2(state.notHttp2);
      return;
    }
    if (error !== null) {
      // The TLS server does not offer h2 by ALPN: it may still speak HTTP/1.1.
      if ((error as { code?: string }).code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL') notHttp2('the server does not offer HTTP/2 (TLS ALPN "h2")');
      else failWith(error);
      return;
    }
    if (session === null || session.closed || session.destroyed) {
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
