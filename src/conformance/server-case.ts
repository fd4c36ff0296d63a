/**
 * One case against a server, the part that is the same over a TCP connection (test-server.ts) and over
 * an HTTP/2 extended CONNECT stream (test-server-h2.ts): the case's time limit, the opening handshake's
 * time limit, scoring the case once when the connection is lost, and the fuzzing peer started on the
 * open connection with the case's extension (or the case reported as unimplemented when the server
 * declined the offer).
 */
import type { Duplex } from 'node:stream';
import type { CaseDefinition, CaseResult, CaseRun } from './case.js';
import { FuzzPeer, DEFAULT_TIMEOUTS, type PeerTimeouts } from './fuzz-peer.js';

/** How long the server has to answer the opening handshake (times the time scale). */
export const OPEN_HANDSHAKE_TIMEOUT = 5000;

export interface ServerCase {
  /** The connection is lost (or never opened): score the case and resolve, once. */
  readonly finish: () => void;
  /** The server answered the opening handshake: its time limit no longer applies. */
  readonly answered: () => void;
  /**
   * The handshake succeeded: run the case on `channel` from `rest` (bytes that came with the answer),
   * with the extension the case makes of the server's Sec-WebSocket-Extensions answer.
   */
  readonly start: (extensionsAnswer: string | undefined, rest: Buffer) => void;
}

/**
 * Start the case's timers on `channel` (destroyed when one runs out) and return its ends. `resolve` gets
 * the result once.
 */
export function serverCase(
  run: CaseRun,
  definition: CaseDefinition,
  options: { readonly timeScale?: number; readonly timeouts?: PeerTimeouts },
  channel: Duplex,
  resolve: (result: CaseResult) => void,
): ServerCase {
  let finished = false;
  let unimplemented: string | null = null;
  const scale = options.timeScale ?? 1;
  const limitSeconds = (definition.timeLimit ?? 60) * scale;
  const limit = setTimeout(() => {
    run.limitReached('the case to finish (its time limit)', limitSeconds);
    channel.destroy();
  }, limitSeconds * 1000);
  const handshakeTimer = setTimeout(() => {
    run.limitReached('the opening handshake', (OPEN_HANDSHAKE_TIMEOUT * scale) / 1000);
    channel.destroy();
  }, OPEN_HANDSHAKE_TIMEOUT * scale);
  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearTimeout(limit);
    clearTimeout(handshakeTimer);
    if (unimplemented !== null) run.unimplemented(unimplemented);
    else run.connectionLost();
    resolve(run.toResult());
  };
  const start = (extensionsAnswer: string | undefined, rest: Buffer): void => {
    const peer = new FuzzPeer(channel, 'client', {
      onOpen: () => run.open(peer),
      onMessage: (payload, binary) => run.onMessage(payload, binary),
      onPong: (payload) => run.onPong(payload),
      onConnectionLost: finish,
    }, options.timeouts ?? DEFAULT_TIMEOUTS, scale);
    if (definition.extensions?.accept !== undefined) {
      const extension = definition.extensions.accept(extensionsAnswer, run);
      if (extension === null) {
        // The server does not implement what the case needs: close politely and report it.
        unimplemented = 'The server did not accept the extension offer of this case';
        peer.sendClose(1000);
        return;
      }
      peer.setExtension(extension);
    }
    peer.start(rest);
  };
  return { finish, answered: () => clearTimeout(handshakeTimer), start };
}
