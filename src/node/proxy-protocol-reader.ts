/**
 * The PROXY protocol pre-step on an accepted socket: read the header (src/protocol/proxy-protocol.ts)
 * before anything else looks at the bytes, bounded in time and size, then hand the socket on with the
 * bytes that came after the header; or drop it. HAProxy's proxy-protocol.txt §2: the receiver "MUST
 * NOT start processing the connection before it receives a complete and valid PROXY protocol header",
 * and must not guess whether one is there: on a port that expects it, a connection without one
 * (e.g. a plain HTTP request) is dropped, never parsed as HTTP.
 */
import type { Socket } from 'node:net';
import { DEFAULT_PROXY_MAX_HEADER_BYTES, parseProxyHeader, ProxyProtocolError, PROXY_V1_MAX_LENGTH, type ProxyHeader } from '../protocol/proxy-protocol.js';

/**
 * The `proxyProtocol` option's bounds (HAProxy's proxy-protocol.txt: a connection on such a port starts with a PROXY header, v1 or v2).
 */
export interface ProxyProtocolOptions {
  /** Drop a connection whose header is not complete after this many ms. Default 5,000 (the spec asks for at least 3 s). */
  readonly timeout?: number;
  /** The largest v2 header (16 bytes, addresses, TLVs) accepted. Default 4,096; v1 lines are 107 bytes at most. */
  readonly maxHeaderBytes?: number;
}

export const DEFAULT_PROXY_HEADER_TIMEOUT = 5_000;

/** Options with their defaults, checked (RangeError for a bad value). */
export function resolveProxyProtocolOptions(options: ProxyProtocolOptions | true): Required<ProxyProtocolOptions> {
  const given = options === true ? {} : options;
  if (typeof given !== 'object' || given === null) throw new TypeError('proxyProtocol must be true or an object { timeout?, maxHeaderBytes? }');
  const timeout = given.timeout ?? DEFAULT_PROXY_HEADER_TIMEOUT;
  const maxHeaderBytes = given.maxHeaderBytes ?? DEFAULT_PROXY_MAX_HEADER_BYTES;
  if (!Number.isFinite(timeout) || timeout <= 0) throw new RangeError(`proxyProtocol.timeout must be a positive number of ms, not ${timeout}`);
  if (!Number.isInteger(maxHeaderBytes) || maxHeaderBytes < 16 + 216 || maxHeaderBytes > 16 + 65535) {
    throw new RangeError(`proxyProtocol.maxHeaderBytes must be a whole number from 232 (the largest address block) to 65551, not ${maxHeaderBytes}`);
  }
  return { timeout, maxHeaderBytes };
}

/**
 * The PROXY header a socket came with, as a symbol-keyed property of the socket: it is then seen through
 * the `Proxy` that an HTTP/2 session's `socket` is (node:http2 forwards property reads to the real
 * socket, but that object is not the socket itself, so a WeakMap keyed by the socket would miss it).
 */
const kProxyHeader = Symbol('fullduplex.proxyHeader');
type WithHeader = { [kProxyHeader]?: ProxyHeader; _parent?: WithHeader | null };

/**
 * The PROXY header `socket` came with, if it went through `readProxyHeader`; for a TLS socket, the
 * header of the TCP socket under it (Node's `_parent`); for an HTTP/2 session's socket, its socket's.
 */
export function proxyHeaderOf(socket: object | null | undefined): ProxyHeader | undefined {
  if (socket === null || socket === undefined) return undefined;
  const marked = socket as WithHeader;
  return marked[kProxyHeader] ?? marked._parent?.[kProxyHeader];
}

/**
 * Read the PROXY header off `socket`. On success `next(socket, rest)` gets the socket, its header
 * recorded (see `proxyHeaderOf`), and the bytes read past the header (also put back into the socket with
 * `unshift`, so that a listener added now reads them first: pass them on only to code that reads the
 * socket some other way). If `next` does not add a 'data' listener before it returns, the socket is
 * paused: `resume()` it when you read. On a malformed, oversized, late or missing header, or a peer that leaves
 * first, the socket is destroyed and `fail` gets the reason (a `ProxyProtocolError`).
 */
export function readProxyHeader(
  socket: Socket,
  options: Required<ProxyProtocolOptions>,
  next: (socket: Socket, bufferedBytes: Buffer) => void,
  fail: (reason: ProxyProtocolError) => void,
): void {
  let received: Buffer = Buffer.alloc(0);
  let settled = false;
  const limit = Math.max(options.maxHeaderBytes, PROXY_V1_MAX_LENGTH);
  const finish = (): void => {
    settled = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onGone);
    socket.off('close', onGone);
    socket.off('error', onError);
  };
  const drop = (error: ProxyProtocolError): void => {
    if (settled) return;
    finish();
    // Errors after this are of a socket nobody uses any more.
    socket.on('error', ignore);
    socket.destroy();
    fail(error);
  };
  const onData = (chunk: Buffer): void => {
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    // Never hold more than the largest header: the parser decides with what it has.
    const result = parseProxyHeader(received.length > limit ? received.subarray(0, limit) : received, options.maxHeaderBytes);
    if (result.kind === 'more') {
      if (received.length >= limit) drop(new ProxyProtocolError('FD_ERR_PROXY_HEADER_TOO_LARGE', `no complete PROXY header in the first ${limit} bytes`));
      return;
    }
    if (result.kind === 'error') {
      drop(result.error);
      return;
    }
    finish();
    (socket as WithHeader)[kProxyHeader] = result.header;
    const rest = received.subarray(result.length);
    if (rest.length > 0) socket.unshift(rest);
    next(socket, rest);
    // The socket flows (our 'data' listener made it): if `next` did not start reading, hold the bytes
    // until someone does (`resume()`), rather than let them go by unheard.
    if (socket.listenerCount('data') === 0 && !socket.destroyed) socket.pause();
  };
  const onGone = (): void => {
    drop(new ProxyProtocolError('FD_ERR_PROXY_HEADER_INCOMPLETE', received.length === 0 ? 'the peer left before sending a PROXY header' : `the peer left after ${received.length} bytes of an incomplete PROXY header`));
  };
  const onError = (error: Error): void => {
    drop(new ProxyProtocolError('FD_ERR_PROXY_HEADER_INCOMPLETE', `the connection failed before a complete PROXY header: ${error.message}`));
  };
  const timer = setTimeout(() => drop(new ProxyProtocolError('FD_ERR_PROXY_HEADER_TIMEOUT', `no complete PROXY header within ${options.timeout} ms`)), options.timeout);
  timer.unref();
  socket.on('data', onData);
  socket.once('end', onGone);
  socket.once('close', onGone);
  socket.on('error', onError);
}

function ignore(): void {}
