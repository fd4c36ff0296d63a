/**
 * A frame that many connections send, whose bytes may not exist yet: a published message compressed
 * once for every subscriber with the same compression parameters. Each connection queues it in its
 * send order at once (`Connection.sendShared`); whoever makes the bytes settles it, and every
 * connection waiting for it then writes it and whatever queued behind it.
 *
 * Sharing one compressed frame is only correct when no connection's compressor keeps a context from
 * message to message (RFC 7692 §7.1.1.1, server_no_context_takeover): then every message is
 * compressed on its own, and identical parameters give bytes that every such peer can inflate.
 */

/** Told once when a shared frame it waits for is settled. */
export interface SharedFrameWaiter {
  /** The frame was made (`chunks`) or could not be (`error`). */
  sharedFrameSettled(): void;
}

/**
 * A frame that many connections send, whose bytes may not exist yet: a published message compressed once
 * for every subscriber with the same compression parameters (correct only without context takeover, RFC
 * 7692 §7.1.1.1). Each connection queues it in its send order at once; whoever makes the bytes settles
 * it (`complete` or `fail`), and every waiting connection then writes it and what queued behind it.
 */
export class SharedFrame {
  /** The whole frame (header and payload) once made; null until then. */
  chunks: readonly Buffer[] | null = null;
  /** Why the frame could not be made (each waiting connection then fails). */
  error: Error | null = null;
  /**
   * What each connection counts as queued for it until the frame exists: the payload's size before
   * compression (as a connection does for a message waiting for its own compressor).
   */
  readonly size: number;
  private waiters: SharedFrameWaiter[] | null = null;

  constructor(size: number) {
    this.size = size;
  }

  /** Whether `complete` or `fail` was called. */
  get settled(): boolean {
    return this.chunks !== null || this.error !== null;
  }

  /** Tell `waiter` when the frame is settled (it must not be settled yet). */
  wait(waiter: SharedFrameWaiter): void {
    (this.waiters ??= []).push(waiter);
  }

  /** Settle with the whole frame's bytes (header and payload), and tell the waiters; no effect once settled. */
  complete(chunks: readonly Buffer[]): void {
    if (this.settled) return;
    this.chunks = chunks;
    this.wake();
  }

  /**
   * Settle with the error that kept the frame from being made (each waiting connection fails), and tell the waiters; no effect once settled.
   */
  fail(error: Error): void {
    if (this.settled) return;
    this.error = error;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = null;
    if (waiters !== null) for (const waiter of waiters) waiter.sharedFrameSettled();
  }
}
