/**
 * What every `TunnelOpener` (http-tunnel.ts, socks-tunnel.ts) does around its own protocol: call back
 * once and never synchronously, destroy the connection to the proxy when the attempt fails, hand it
 * over when the tunnel is open, and abandon it on cancel. The rule for cancel (the `TunnelOpener`
 * contract in proxy-tunnel-types.ts):
 * - before the callback has run, it destroys whatever the attempt opened and the callback never runs;
 * - after the callback has delivered a socket, it does nothing: that socket belongs to the caller.
 *
 * `converse` wires a connection to the proxy: the first bytes once connected, the proxy's answer read
 * chunk by chunk until the tunnel is open, an error or an early end as a `ProxyError`.
 */
import type { Socket } from 'node:net';
import { ProxyError, type TunnelCallback } from './proxy-tunnel-types.js';

/** One protocol's side of the conversation with the proxy, up to the open tunnel. */
export interface ProxyConversation {
  /** `'connect'` for TCP to the proxy, `'secureConnect'` for TLS to an `https:` proxy. */
  readonly connectEvent: 'connect' | 'secureConnect';
  /** Connected: send the first bytes. */
  connected(): void;
  /**
   * One chunk of the proxy's answer: null while the negotiation goes on, or, once the tunnel is open,
   * the target's bytes that came with the proxy's last answer (possibly empty). Throws a `ProxyError`
   * when the proxy refused or answered something else.
   */
  receive(chunk: Buffer): Buffer | null;
  /** The error for a failed connection (`connected`: whether the proxy had been reached). */
  failed(cause: Error, connected: boolean): ProxyError;
  /** The error for a proxy that closed the connection before the tunnel was open. */
  closed(): ProxyError;
}

/** The state of one attempt to open a tunnel: see the file's comment. */
export class TunnelAttempt {
  #settled = false;
  #socket: Socket | null = null;
  readonly #callback: TunnelCallback;

  constructor(callback: TunnelCallback) {
    this.#callback = callback;
  }

  /** Whether the attempt is over: called back, or cancelled. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Abandon the attempt (the opener's return value): see the file's comment. */
  readonly cancel = (): void => {
    if (this.#settled) return; // called back already: a tunnel handed over is the caller's
    this.#settled = true;
    this.#socket?.destroy();
  };

  /** End the attempt with `error`: the connection to the proxy, if any, is destroyed first. */
  fail(error: ProxyError): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#socket?.destroy();
    this.#callback(error);
  }

  /** End the attempt with `error` on the next tick (the callback never runs synchronously). */
  failSoon(error: ProxyError): () => void {
    process.nextTick(() => this.fail(error));
    return this.cancel;
  }

  /** Run `conversation` over `socket`, a connection to the proxy, until the tunnel is open or fails. */
  converse(socket: Socket, conversation: ProxyConversation): void {
    this.#socket = socket;
    let connected = false;
    const onConnect = (): void => {
      connected = true;
      conversation.connected();
    };
    const onError = (cause: Error): void => this.fail(conversation.failed(cause, connected));
    const onClose = (): void => this.fail(conversation.closed());
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while (!this.#settled && (chunk = socket.read() as Buffer | null) !== null) {
        let rest: Buffer | null;
        try {
          rest = conversation.receive(chunk);
        } catch (error) {
          if (!(error instanceof ProxyError)) throw error;
          this.fail(error);
          return;
        }
        if (rest !== null) {
          socket.off(conversation.connectEvent, onConnect);
          socket.off('error', onError);
          socket.off('end', onClose);
          socket.off('close', onClose);
          socket.off('readable', onReadable);
          // The target's first bytes, if the proxy sent some with its answer, are read first.
          if (rest.length > 0) socket.unshift(rest);
          this.#settled = true;
          this.#callback(null, socket);
          return;
        }
      }
    };
    socket.once(conversation.connectEvent, onConnect);
    socket.on('error', onError);
    socket.on('end', onClose);
    socket.on('close', onClose);
    socket.on('readable', onReadable);
  }
}
