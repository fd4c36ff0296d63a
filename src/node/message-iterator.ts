/**
 * `for await (const message of socket)`: messages in order until the connection closes. The iterator
 * holds at most `HIGH_WATER` unread messages; beyond that it pauses the socket, so a slow loop applies
 * backpressure to the peer instead of growing memory. It ends when the connection closes, and throws
 * the connection's error if it failed.
 */
import type { MessageData } from './data.js';
import type { WebSocket } from './websocket.js';

/** One message, as `for await (const { data, isBinary } of ws)` yields it. */
export interface ReceivedMessage {
  /** The message, as the `message` event gives it (per `binaryType` for binary; a `Buffer` for text). */
  readonly data: MessageData;
  /** Whether it is a binary message (false: text). */
  readonly isBinary: boolean;
}

const HIGH_WATER = 16;

export class MessageIterator implements AsyncIterableIterator<ReceivedMessage> {
  private readonly socket: WebSocket;
  private readonly buffered: ReceivedMessage[] = [];
  private waiting: { resolve: (result: IteratorResult<ReceivedMessage>) => void; reject: (error: Error) => void } | null = null;
  private done = false;
  private error: Error | null = null;
  private pausedByUs = false;

  private readonly onMessage = (data: MessageData, isBinary: boolean): void => {
    const message = { data, isBinary };
    if (this.waiting !== null) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ value: message, done: false });
      return;
    }
    this.buffered.push(message);
    if (this.buffered.length >= HIGH_WATER && !this.socket.isPaused) {
      this.pausedByUs = true;
      this.socket.pause();
    }
  };

  private readonly onError = (error: Error): void => {
    this.error ??= error;
  };

  private readonly onClose = (): void => {
    this.done = true;
    this.detach();
    if (this.waiting !== null) {
      const { resolve, reject } = this.waiting;
      this.waiting = null;
      if (this.error !== null) reject(this.error);
      else resolve({ value: undefined, done: true });
    }
  };

  private readonly onConnectionEnd = (): void => {
    if (this.pausedByUs) {
      this.pausedByUs = false;
      this.socket.resume();
    }
    this.onClose();
  };

  constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', this.onMessage);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    // Reconnecting with `iterate: 'connection'`: the loop ends with the connection (docs/client.md).
    if (socket.reconnection?.iteratesAcross === false) socket.on('reconnecting', this.onConnectionEnd);
    if (socket.readyState === socket.CLOSED) this.onClose();
  }

  next(): Promise<IteratorResult<ReceivedMessage>> {
    const message = this.buffered.shift();
    if (message !== undefined) {
      if (this.pausedByUs && this.buffered.length < HIGH_WATER / 2) {
        this.pausedByUs = false;
        this.socket.resume();
      }
      return Promise.resolve({ value: message, done: false });
    }
    if (this.done) {
      if (this.error !== null) {
        const error = this.error;
        this.error = null;
        return Promise.reject(error);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  /** Leaving the loop early (`break`) stops listening; the connection stays open. */
  return(): Promise<IteratorResult<ReceivedMessage>> {
    this.done = true;
    this.detach();
    this.buffered.length = 0;
    if (this.pausedByUs) {
      this.pausedByUs = false;
      this.socket.resume();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ReceivedMessage> {
    return this;
  }

  private detach(): void {
    this.socket.off('message', this.onMessage);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    this.socket.off('reconnecting', this.onConnectionEnd);
  }
}
