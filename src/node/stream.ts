/**
 * `createWebSocketStream(ws, options)`: a Node `Duplex` over one connection, as the `ws` package's
 * function of the same name (lib/stream.js in `ws` 8) behaves:
 *
 *  - each incoming message is pushed as one chunk (text as a string when the readable side is in
 *    object mode); when `push` returns false the connection is paused (`ws.pause()`), and `_read`
 *    resumes it, so a slow reader holds the peer back through TCP;
 *  - each written chunk is sent as one message, and its write callback waits for the send's callback
 *    (the bytes handed to the operating system), so writers see the connection's backpressure;
 *  - `end()` starts the closing handshake once everything written is out; the connection's `close`
 *    ends the readable side after every message that came before it;
 *  - an `error` on the connection destroys the stream with it (the connection is already failing and
 *    sends its own close frame); destroying the stream terminates the connection, and the stream's
 *    `close` follows the connection's.
 *
 * `options` go to the `Duplex` constructor, except those that `ws` overrides too: `objectMode` and
 * `writableObjectMode` are always false (a message is bytes or text), `autoDestroy` and `emitClose`
 * are managed here. `readableObjectMode`, `decodeStrings`, `encoding`, `allowHalfOpen` (default true)
 * and the high-water marks pass through.
 */
import { Duplex, type DuplexOptions } from 'node:stream';
import { ReadyState } from '../protocol/close-handshake.js';
import type { MessageData } from './data.js';
import type { WebSocket } from './websocket.js';

/** Wrap an open or connecting `WebSocket` in a `Duplex` stream (see the module comment). */
export function createWebSocketStream(ws: WebSocket, options?: DuplexOptions): Duplex {
  // An `error` from the connection means it is failing already (it sends its own close frame): the
  // stream's destruction then waits for its `close` instead of cutting it short, as in `ws`. Any other
  // destruction terminates the connection.
  let terminateOnDestroy = true;

  const duplex = new Duplex({
    ...options,
    autoDestroy: false,
    emitClose: false,
    objectMode: false,
    writableObjectMode: false,
  });
  const objectMode = duplex.readableObjectMode;

  ws.on('message', (data: MessageData, isBinary: boolean) => {
    let chunk: MessageData | string = data;
    if (!isBinary) {
      if (objectMode) chunk = data.toString();
    } else if (!objectMode && !Buffer.isBuffer(data)) {
      const bytes = toBytes(data);
      if (bytes === null) {
        duplex.destroy(new TypeError("createWebSocketStream: binaryType 'blob' cannot be read as bytes (use 'nodebuffer', or readableObjectMode)"));
        return;
      }
      chunk = bytes;
    }
    if (!duplex.push(chunk)) ws.pause();
  });

  ws.once('error', (error: Error) => {
    if (duplex.destroyed) return;
    // A connection that is still OPEN did not fail on its own (e.g. a listener threw): terminate it.
    terminateOnDestroy = ws.readyState === ReadyState.OPEN;
    duplex.destroy(error);
  });

  ws.once('close', () => {
    if (duplex.destroyed) return;
    duplex.push(null);
  });

  duplex._destroy = (error, callback) => {
    if (ws.readyState === ReadyState.CLOSED) {
      callback(error);
      process.nextTick(emitClose, duplex);
      return;
    }
    let called = false;
    ws.once('error', (wsError: Error) => {
      called = true;
      callback(wsError);
    });
    ws.once('close', () => {
      if (!called) callback(error);
      process.nextTick(emitClose, duplex);
    });
    if (terminateOnDestroy) ws.terminate();
  };

  duplex._final = (callback) => {
    if (ws.readyState === ReadyState.CONNECTING) {
      ws.once('open', () => duplex._final(callback));
      return;
    }
    const socket = ws.socket;
    // No socket: a client whose handshake failed. Its `error` destroys the stream.
    if (socket === null) return;
    // Closed already: nothing more can be sent (a socket destroyed before it finished never will).
    if (socket.writableFinished || ws.readyState === ReadyState.CLOSED) {
      callback();
      if (duplex.readableEnded) duplex.destroy();
      return;
    }
    // Finished once the close frame and our FIN are out. The readable side ends on the connection's
    // `close` (after `finish`), and that destroys the stream. A socket destroyed before it finished
    // never emits `finish`: the connection's `close` then finishes the writable side (`ws` would hang).
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      socket.off('finish', finish);
      ws.off('close', finish);
      callback();
    };
    socket.once('finish', finish);
    ws.once('close', finish);
    ws.close();
  };

  duplex._read = () => {
    if (ws.isPaused) ws.resume();
  };

  duplex._write = (chunk: Buffer | string, _encoding, callback) => {
    if (ws.readyState === ReadyState.CONNECTING) {
      ws.once('open', () => duplex._write(chunk, _encoding, callback));
      return;
    }
    ws.send(chunk, callback);
  };

  duplex.on('end', onEnd);
  duplex.on('finish', onFinish);
  duplex.on('error', onError);
  return duplex;
}

/** Binary data as bytes for a byte-mode stream (`binaryType` 'arraybuffer' or 'fragments'); null for a Blob. */
function toBytes(data: MessageData): Buffer | null {
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : null;
}

function emitClose(stream: Duplex): void {
  stream.emit('close');
}

/** Both sides done: destroy, which emits `close` once the connection has closed (as in `ws`). */
function onEnd(this: Duplex): void {
  if (!this.destroyed && this.writableFinished) this.destroy();
}

/** The same when the writable side finishes last (the connection closed before the socket finished). */
function onFinish(this: Duplex): void {
  if (!this.destroyed && this.readableEnded) this.destroy();
}

/**
 * An `error` emitted on the stream itself (with `autoDestroy` off, Node's stream machinery only emits
 * it): destroy the stream, and rethrow as an uncaught error when nobody else listens, as `ws` does.
 */
function onError(this: Duplex, error: Error): void {
  this.off('error', onError);
  this.destroy();
  if (this.listenerCount('error') === 0) this.emit('error', error);
}
