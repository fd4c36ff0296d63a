/**
 * RFC 6455 §4.1, client requirement 2: "There MUST be no more than one connection in a CONNECTING
 * state" per remote host (IP address) and port. A client that already has a connection to that
 * endpoint in the CONNECTING state "MUST wait until that connection has been established or for that
 * connection to have failed". Browsers do this (Chromium's WebSocket endpoint lock); it also turns a
 * storm of reconnects into one handshake at a time.
 *
 * This module is only the queue: per key, the first ticket holds the turn and the others wait in
 * order (first come, first served). Which key a handshake uses (a resolved IP address and port, a
 * host name and port, a Unix socket path) is decided by the client (`src/node/connecting-endpoint.ts`).
 *
 * Every ticket must be released exactly once, whatever happens to its connection; `release()` is
 * idempotent, so that every failure path can simply call it. A waiting ticket that is released
 * leaves the queue without ever getting its turn (a connection closed while it waits never connects).
 */

/** One connection's place in the queue of its endpoint. */
export interface ConnectingTicket {
  /** The endpoint this ticket queues for. */
  readonly key: string;
  /** True from the moment the turn is granted (the callback may run a microtask later) until release. */
  readonly holding: boolean;
  /** Give the turn up (the handshake completed or failed), or leave the queue while waiting. Idempotent. */
  release(): void;
}

class Ticket implements ConnectingTicket {
  holding = false;
  released = false;
  constructor(
    readonly key: string,
    readonly onTurn: () => void,
    private readonly queue: ConnectingQueue,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.holding = false;
    this.queue.remove(this);
  }
}

/** Handshakes serialised per endpoint key. One instance per process is the default (see `connectingQueue`). */
export class ConnectingQueue {
  /** Per key: the holder first, then the waiters in arrival order. A key with nobody left is deleted. */
  readonly #lines = new Map<string, Ticket[]>();

  /**
   * Queue for `key`. `onTurn` runs once, when this ticket gets the turn: in a microtask when the
   * endpoint is free now (never synchronously, so callers can finish their setup first), else after
   * the tickets ahead of it are released. It never runs for a ticket released before its turn.
   */
  acquire(key: string, onTurn: () => void): ConnectingTicket {
    if (typeof key !== 'string' || key === '') throw new TypeError('The endpoint key must be a non-empty string');
    if (typeof onTurn !== 'function') throw new TypeError('onTurn must be a function');
    const ticket = new Ticket(key, onTurn, this);
    const line = this.#lines.get(key);
    if (line === undefined) {
      this.#lines.set(key, [ticket]);
      this.#grant(ticket);
    } else {
      line.push(ticket);
    }
    return ticket;
  }

  /** How many connections hold or wait for `key` (0 when the key is unknown). */
  pending(key: string): number {
    return this.#lines.get(key)?.length ?? 0;
  }

  /** How many endpoints have a connection holding or waiting (every entry goes once all settle). */
  get size(): number {
    return this.#lines.size;
  }

  /** @internal called by `Ticket.release()`. */
  remove(ticket: Ticket): void {
    const line = this.#lines.get(ticket.key);
    if (line === undefined) return;
    const index = line.indexOf(ticket);
    if (index === -1) return;
    line.splice(index, 1);
    if (line.length === 0) {
      this.#lines.delete(ticket.key);
      return;
    }
    // The holder left: the next in line gets the turn.
    if (index === 0) this.#grant(line[0]!);
  }

  #grant(ticket: Ticket): void {
    ticket.holding = true;
    // Deferred: the turn may be granted inside another connection's failure path (a `release()` in
    // its error handling), which must not run this connection's I/O reentrantly.
    queueMicrotask(() => {
      if (!ticket.released) ticket.onTurn();
    });
  }
}

/** The process-wide queue the clients share (a browser has one per network context). */
export const connectingQueue = new ConnectingQueue();
