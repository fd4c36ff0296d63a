/** Helpers for protocol tests: frames from hex, recording handlers, random chunking. */
import { ProtocolError } from '../../src/protocol/errors.js';
import { Receiver, type ReceiverOptions } from '../../src/protocol/receiver.js';
import { writeFrameHeader, frameHeaderSize } from '../../src/protocol/frame-serializer.js';
import { xorMask } from '../../src/protocol/mask.js';
import { scaled } from './time.js';

export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

export type ReceivedEvent =
  | { type: 'message'; data: Buffer; isBinary: boolean }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'close'; code: number; reason: string }
  | { type: 'error'; error: ProtocolError };

/** A receiver that records what it reports (copying buffers, which are views of pushed chunks). */
export function recordingReceiver(options: Partial<ReceiverOptions> = {}): { receiver: Receiver; events: ReceivedEvent[] } {
  const events: ReceivedEvent[] = [];
  const receiver = new Receiver(
    { role: 'server', ...options },
    {
      onMessage: (data, isBinary) =>
        events.push({ type: 'message', data: Buffer.from(Array.isArray(data) ? Buffer.concat(data) : data), isBinary }),
      onPing: (data) => events.push({ type: 'ping', data: Buffer.from(data) }),
      onPong: (data) => events.push({ type: 'pong', data: Buffer.from(data) }),
      onClose: (code, reason) => events.push({ type: 'close', code, reason: reason.toString('utf8') }),
      onError: (error) => events.push({ type: 'error', error }),
    },
  );
  return { receiver, events };
}

/** Build one frame by hand (any header a test wants, including broken ones). */
export function frame(
  opcode: number,
  payload: Buffer | string,
  options: { fin?: boolean; rsv?: number; mask?: Buffer | null } = {},
): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const mask = options.mask === undefined ? Buffer.from([0x37, 0xfa, 0x21, 0x3d]) : options.mask;
  const out = Buffer.alloc(frameHeaderSize(data.length, mask !== null) + data.length);
  const offset = writeFrameHeader(out, 0, opcode, options.fin ?? true, options.rsv ?? 0, data.length, mask);
  data.copy(out, offset);
  if (mask !== null) xorMask(out, offset, out.length, mask, 0);
  return out;
}

/** Split `data` into chunks at the given cut points (copies, so in-place unmasking stays local). */
export function splitAt(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < data.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, data.length]) {
    chunks.push(Buffer.from(data.subarray(start, point)));
    start = point;
  }
  return chunks;
}

/** Every chunk of one byte. */
export function bytewise(data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i++) chunks.push(Buffer.from([data[i]!]));
  return chunks;
}

export function errorOf(events: ReceivedEvent[]): ProtocolError | undefined {
  const last = events.at(-1);
  return last?.type === 'error' ? last.error : undefined;
}

/** Wait until `condition()` holds, checking after each turn of the event loop; fail after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = scaled(5000), what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
