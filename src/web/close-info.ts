/**
 * The `WebSocketCloseInfo` dictionary of the WebSockets Standard (`[EnforceRange] unsigned short
 * closeCode; USVString reason = ""`), used by `WebSocketStream.close()` and the `WebSocketError`
 * constructor, and the standard's "validate close code and reason".
 */
import { toUSVString } from './webidl.js';
import { MAX_REASON_BYTES } from '../protocol/web-constants.js';

/** What `close()` and `new WebSocketError(message, init)` accept. */
export interface WebSocketCloseInfo {
  /**
   * The close code: 1000 or 3000–4999 (others are an "InvalidAccessError"). Absent: none (1000 when a reason is given).
   */
  closeCode?: number;
  /**
   * The close reason, at most 123 UTF-8 bytes (RFC 6455 §5.5: a control frame's payload is at most 125 bytes). Default "".
   */
  reason?: string;
}

/** A converted `WebSocketCloseInfo`: `closeCode` null when absent. */
export interface CloseInfo {
  readonly closeCode: number | null;
  readonly reason: string;
}


/**
 * Web IDL dictionary conversion (§3.2.17): undefined and null are an empty dictionary, any other
 * non-object is a TypeError; members are read in lexicographic order, an undefined one is absent.
 */
export function toCloseInfo(value: unknown, context: string): CloseInfo {
  if (value === undefined || value === null) return { closeCode: null, reason: '' };
  if (typeof value !== 'object' && typeof value !== 'function') {
    throw new TypeError(`${context}: the close info must be an object.`);
  }
  const dictionary = value as { closeCode?: unknown; reason?: unknown };
  const closeCode = dictionary.closeCode;
  const code = closeCode === undefined ? null : toEnforcedUnsignedShort(closeCode, `${context}: closeCode`);
  const reason = dictionary.reason;
  return { closeCode: code, reason: reason === undefined ? '' : toUSVString(reason, `${context}: reason`) };
}

/**
 * `[EnforceRange] unsigned short` (Web IDL §3.2.4 "ConvertToInt"): NaN and infinities are a
 * TypeError, the value is truncated, and outside 0–65535 it is a TypeError too.
 */
function toEnforcedUnsignedShort(value: unknown, what: string): number {
  if (typeof value === 'symbol' || typeof value === 'bigint') throw new TypeError(`${what}: cannot convert a ${typeof value} to a number.`);
  const x = Number(value);
  if (!Number.isFinite(x)) throw new TypeError(`${what}: ${String(x)} is not a finite number.`);
  const truncated = Math.trunc(x);
  if (truncated < 0 || truncated > 0xffff) throw new TypeError(`${what}: ${truncated} is outside the range 0 to 65535.`);
  return truncated === 0 ? 0 : truncated; // no -0
}

/**
 * The standard's "validate close code and reason": a code must be 1000 or 3000–4999 (else an
 * "InvalidAccessError" `DOMException`), a reason at most 123 bytes of UTF-8 (else a "SyntaxError").
 */
export function validateCloseCodeAndReason(code: number | null, reason: string, context: string): void {
  if (code !== null && code !== 1000 && !(code >= 3000 && code <= 4999)) {
    throw new DOMException(`${context}: the code must be either 1000, or between 3000 and 4999. ${code} is neither.`, 'InvalidAccessError');
  }
  if (Buffer.byteLength(reason, 'utf8') > MAX_REASON_BYTES) {
    throw new DOMException(`${context}: the reason must not be longer than ${MAX_REASON_BYTES} UTF-8 bytes.`, 'SyntaxError');
  }
}
