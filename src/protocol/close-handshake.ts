/**
 * The closing handshake (RFC 6455 §7) as a small state machine with no I/O: who sent a close frame
 * first, what may still be sent and received, when the TCP connection should be closed, and how the
 * connection ended (the code and reason to report, and whether it was clean).
 *
 *  - After sending a close frame, an endpoint sends no more data frames (§5.5.1); it keeps reading
 *    until the peer's close frame arrives.
 *  - After receiving a close frame, it answers with a close frame if it has not sent one (§5.5.1) and
 *    reads nothing more.
 *  - Once both close frames have passed, the server closes the TCP connection first (§7.1.1); the
 *    client waits for that, for a bounded time, and then closes it itself.
 *  - Failing the connection (§7.1.7) sends a close frame with the error's code if none was sent and
 *    closes the TCP connection at once, whatever the role.
 */
import { CloseCode } from './close-codes.js';
import { EMPTY_BUFFER } from './constants.js';
import type { Role } from './frame-parser.js';

/** `readyState` values, as in the WHATWG standard and `ws`. */
export const ReadyState = {
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
} as const;
/** A `readyState` value: 0 (CONNECTING), 1 (OPEN), 2 (CLOSING) or 3 (CLOSED). */
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** How a connection ended. */
export interface CloseResult {
  /** The peer's close code; 1005 if its close frame had none; 1006 if none arrived; on failure, the code we sent. */
  readonly code: number;
  /** The peer's close reason (UTF-8 bytes), or our failure reason. */
  readonly reason: Buffer;
  /** Both close frames were exchanged before the TCP connection closed. */
  readonly wasClean: boolean;
  /** We failed the connection because the peer broke the protocol or a limit. */
  readonly failed: boolean;
}

/**
 * The closing handshake (RFC 6455 §7) as a state machine with no I/O: who sent a close frame first,
 * what may still be sent and received, when to close the TCP connection (the server first, §7.1.1), and
 * how the connection ended ({@link CloseResult}).
 */
export class CloseHandshake {
  private readonly role: Role;
  private sent = false;
  private received = false;
  private failed = false;
  private transportClosed = false;
  private code: number = CloseCode.Abnormal;
  private reason: Buffer = EMPTY_BUFFER;

  constructor(role: Role) {
    this.role = role;
  }

  /** Whether our close frame was sent. */
  get closeSent(): boolean {
    return this.sent;
  }

  /** Whether the peer's close frame arrived. */
  get closeReceived(): boolean {
    return this.received;
  }

  /**
   * OPEN until a close frame passes either way or the connection fails; CLOSING then; CLOSED once the transport closed.
   */
  get readyState(): ReadyState {
    if (this.transportClosed) return ReadyState.CLOSED;
    return this.sent || this.received || this.failed ? ReadyState.CLOSING : ReadyState.OPEN;
  }

  /** Data frames may be sent only before either side has started closing. */
  get canSendData(): boolean {
    return !this.sent && !this.received && !this.failed;
  }

  /** Frames are read until the peer's close frame arrives or we fail. */
  get canReceive(): boolean {
    return !this.received && !this.failed && !this.transportClosed;
  }

  /**
   * We want to close. Returns true if a close frame should be written now (false if one was sent).
   */
  sendClose(): boolean {
    if (this.sent || this.transportClosed) return false;
    this.sent = true;
    return true;
  }

  /**
   * The peer's close frame arrived. Returns true if we must answer with a close frame (we had not
   * sent one yet). RFC 6455 §5.5.1.
   */
  receiveClose(code: number, reason: Buffer): boolean {
    this.received = true;
    this.code = code;
    this.reason = reason;
    if (this.sent) return false;
    this.sent = true;
    return true;
  }

  /**
   * We fail the connection (RFC 6455 §7.1.7). Returns true if a close frame with `code` should be
   * written first (none was sent yet).
   */
  fail(code: number, reason: Buffer): boolean {
    if (this.failed || this.transportClosed) return false;
    this.failed = true;
    if (!this.received) {
      this.code = code;
      this.reason = reason;
    }
    if (this.sent) return false;
    this.sent = true;
    return true;
  }

  /**
   * Whether we should close the TCP connection now: after a failure (either role), or once both close
   * frames have passed if we are the server. A client in that state waits for the server
   * (`awaitingPeerClose`), with a time limit the I/O layer sets.
   */
  get shouldCloseTransport(): boolean {
    if (this.transportClosed) return false;
    if (this.failed) return true;
    return this.sent && this.received && this.role === 'server';
  }

  /** A client that has exchanged close frames and waits for the server to close the TCP connection. */
  get awaitingPeerClose(): boolean {
    return !this.transportClosed && !this.failed && this.sent && this.received && this.role === 'client';
  }

  /** The TCP connection is gone (closed by either side, or lost). Returns how the connection ended. */
  closeTransport(): CloseResult {
    this.transportClosed = true;
    return this.result;
  }

  /** How the connection ended (meaningful once CLOSED): the code and reason to report, and whether it was clean. */
  get result(): CloseResult {
    return {
      code: this.code,
      reason: this.reason,
      wasClean: this.sent && this.received && !this.failed,
      failed: this.failed,
    };
  }
}
