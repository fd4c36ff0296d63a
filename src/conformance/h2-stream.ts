/**
 * Running a conformance case over an HTTP/2 stream (RFC 8441) instead of a TCP connection. The fuzzing
 * peer speaks to a Duplex; an HTTP/2 stream is one, and RFC 8441 §5 maps the TCP events of RFC 6455
 * onto it: "the connection close of RFC 6455 becomes half-closed stream" (END_STREAM), and a TCP reset
 * becomes RST_STREAM CANCEL. This module makes a stream behave as the peer expects of a TCP socket:
 *
 * - our `end()` sends END_STREAM (a TCP FIN), as Node already does;
 * - the other side's END_STREAM is answered with ours, as a TCP socket without half-open answers a
 *   FIN, so that the stream closes (the peer's 'close', a TCP connection's end) once both have ended;
 * - our `destroy()` resets the stream with CANCEL (a TCP reset; Node's own `destroy()` resets with
 *   NO_ERROR), and a reset from the other side closes it at once (a TCP RST).
 */
import { constants, type Http2Stream } from 'node:http2';
import { Duplex } from 'node:stream';

/** Give `stream` the TCP-like behaviour above; returns the stream. */
export function tcpLikeStream<S extends Http2Stream>(stream: S): S {
  let aborted = false;
  stream.on('aborted', () => {
    aborted = true;
  });
  // Node ends the readable side just before it reports a reset ('aborted'): wait a turn to tell a
  // reset from the other side's END_STREAM.
  stream.on('end', () => {
    setImmediate(() => {
      if (aborted || stream.closed || stream.destroyed || stream.writableEnded) return;
      stream.end();
    });
  });
  stream.destroy = function cancelOnDestroy(this: S, error?: Error): S {
    if (error === undefined && !this.closed && !this.destroyed) {
      this.close(constants.NGHTTP2_CANCEL);
      return this;
    }
    return Duplex.prototype.destroy.call(this, error) as S;
  };
  return stream;
}

/** The request or response headers of a stream as text lines, for the report's handshake. */
export function formatH2Headers(first: string, headers: Record<string, unknown>): string {
  const lines = [first];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${String(item)}`);
  }
  return lines.join('\r\n');
}
