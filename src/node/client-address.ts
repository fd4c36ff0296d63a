/**
 * The address of the client that opened a handshake: what per-client limits (src/node/limits.ts) key
 * on by default. For now the TCP peer's address (`request.socket.remoteAddress`), which is the
 * client's own only when nothing stands in between; trusted forwarding headers and the PROXY protocol
 * will be honoured here, behind this same signature, so that every caller gets the real address.
 *
 * An HTTP/2 stream's request carries its session's socket (src/node/http2-server.ts `streamRequest`).
 * A socket without an address (already destroyed, or not a TCP socket) gives "".
 */
import type { IncomingMessage } from 'node:http';

export function clientAddress(request: IncomingMessage): string {
  return (request.socket as { remoteAddress?: string } | null | undefined)?.remoteAddress ?? '';
}
