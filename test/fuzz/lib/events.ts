/**
 * What a server-side connection reports for a client's byte stream, in one shape for the reference
 * model, the sans-I/O core and the live server, so that the three can be compared event by event.
 */

export type WireEvent =
  | { type: 'message'; isBinary: boolean; data: Buffer }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  /** A valid close frame from the peer; `code` is 1005 when it carried none (RFC 6455 §7.1.5). */
  | { type: 'close'; code: number; reason: Buffer }
  /** The connection failed (RFC 6455 §7.1.7) with this close code (or, in the model, `alternative`). */
  | { type: 'error'; closeCode: number; detail?: string; alternative?: number };

/** How the stream left the connection: still open, closed by the peer's close frame, or failed. */
export type Ending = { kind: 'open' } | { kind: 'closed'; code: number } | { kind: 'failed'; closeCode: number };

export function endingOf(events: readonly WireEvent[]): Ending {
  const last = events.at(-1);
  if (last?.type === 'close') return { kind: 'closed', code: last.code };
  if (last?.type === 'error') return { kind: 'failed', closeCode: last.closeCode };
  return { kind: 'open' };
}

export function describeEnding(ending: Ending): string {
  if (ending.kind === 'open') return 'open';
  return ending.kind === 'closed' ? `closed by the peer with ${ending.code}` : `failed with ${ending.closeCode}`;
}

function preview(data: Buffer): string {
  const hex = data.subarray(0, 16).toString('hex');
  return `${data.length} bytes${data.length > 0 ? ` ${hex}${data.length > 16 ? '…' : ''}` : ''}`;
}

export function describeEvent(event: WireEvent): string {
  switch (event.type) {
    case 'message':
      return `${event.isBinary ? 'binary' : 'text'} message (${preview(event.data)})`;
    case 'ping':
    case 'pong':
      return `${event.type} (${preview(event.data)})`;
    case 'close':
      return `close ${event.code} (reason ${preview(event.reason)})`;
    case 'error':
      return `error ${event.closeCode}${event.detail === undefined ? '' : ` (${event.detail})`}`;
  }
}

export function sameEvent(a: WireEvent, b: WireEvent): boolean {
  switch (a.type) {
    case 'message':
      return b.type === 'message' && a.isBinary === b.isBinary && a.data.equals(b.data);
    case 'ping':
    case 'pong':
      return b.type === a.type && a.data.equals(b.data);
    case 'close':
      return b.type === 'close' && a.code === b.code && a.reason.equals(b.reason);
    case 'error':
      return b.type === 'error' && (a.closeCode === b.closeCode || a.alternative === b.closeCode || a.closeCode === b.alternative);
  }
}

/** null if the two lists agree, else a sentence on the first difference. */
export function compareEvents(expected: readonly WireEvent[], actual: readonly WireEvent[], names = { expected: 'expected', actual: 'actual' }): string | null {
  const count = Math.max(expected.length, actual.length);
  for (let i = 0; i < count; i++) {
    const e = expected[i];
    const a = actual[i];
    if (e !== undefined && a !== undefined && sameEvent(e, a)) continue;
    return `event #${i}: ${names.expected} ${e === undefined ? 'nothing' : describeEvent(e)}, ${names.actual} ${a === undefined ? 'nothing' : describeEvent(a)}` +
      ` (${names.expected} ${expected.length} events, ${names.actual} ${actual.length})`;
  }
  return null;
}
