/**
 * `WebSocketError` (WebSockets Standard, "The WebSocketError interface"): the `DOMException` whose
 * name is "WebSocketError", carrying a close code and reason. `WebSocketStream` rejects and errors
 * its promises and streams with one when the connection fails or closes uncleanly; passed to
 * `writable.abort()` or `readable.cancel()`, its code and reason are the ones sent in the close frame.
 */
import { toDOMString } from './webidl.js';
import { toCloseInfo, validateCloseCodeAndReason, type WebSocketCloseInfo } from './close-info.js';
import { defineInterfaceShape } from './interface.js';

/** Lets this module make errors without the constructor's validation (for 1006 and codes a peer sent). */
let unvalidated: { code: number | null; reason: string } | null = null;
let brandCheck: (value: unknown) => boolean;

/**
 * The WHATWG `WebSocketError` (WebSockets Standard, "The WebSocketError interface"): a `DOMException`
 * named "WebSocketError" with a `closeCode` and `reason`. `WebSocketStream` rejects its promises and
 * errors its streams with one when the connection fails (`closeCode` 1006) or closes uncleanly; given to
 * `writable.abort()` or `readable.cancel()`, its code and reason are sent in the close frame.
 */
export class WebSocketError extends DOMException {
  readonly #closeCode: number | null;
  readonly #reason: string;

  /**
   * `new WebSocketError(message, { closeCode, reason })`: `closeCode` 1000 or 3000–4999 (else an
   * "InvalidAccessError" `DOMException`), `reason` at most 123 UTF-8 bytes (else a "SyntaxError");
   * a reason without a code gets the code 1000.
   */
  constructor(message: string = '', init: WebSocketCloseInfo = {}) {
    const context = "Failed to construct 'WebSocketError'";
    // Web IDL: `optional DOMString message = ""`, `optional WebSocketCloseInfo init = {}`.
    const text = message === undefined ? '' : toDOMString(message, `${context}: message`);
    const preset = unvalidated;
    unvalidated = null;
    const info = preset === null ? toCloseInfo(init, context) : null;
    // Steps 1–2: name and message.
    super(text, 'WebSocketError');
    if (info === null) {
      this.#closeCode = preset!.code;
      this.#reason = preset!.reason;
      return;
    }
    // Steps 3–5.
    validateCloseCodeAndReason(info.closeCode, info.reason, context);
    // Step 6: a reason without a code means a normal closure.
    this.#closeCode = info.reason !== '' && info.closeCode === null ? 1000 : info.closeCode;
    this.#reason = info.reason;
  }

  /** The close code (null when none was given). */
  get closeCode(): number | null {
    return this.#closeCode;
  }

  /** The close reason ("" when none). */
  get reason(): string {
    return this.#reason;
  }

  static {
    // The brand check (the standard's "implements WebSocketError"), which only the class body can write.
    brandCheck = (value) => typeof value === 'object' && value !== null && #closeCode in value;
  }
}

/** Whether `value` was made by `WebSocketError`'s constructor (not a look-alike with the same properties). */
export function isWebSocketError(value: unknown): value is WebSocketError {
  return brandCheck(value);
}

/**
 * A `WebSocketError` with a code and reason taken as they are (the standard creates these for an
 * unclean close: 1006, or the code the peer sent, which the constructor's checks would refuse).
 */
export function createWebSocketError(message: string, code: number | null, reason: string): WebSocketError {
  unvalidated = { code, reason };
  try {
    return new WebSocketError(message);
  } finally {
    unvalidated = null;
  }
}

// Web IDL §3.7 (the interface shape, src/web/interface.ts): `closeCode` and `reason` enumerable
// accessors that throw "Illegal invocation" for a `this` the constructor did not make, `length` 0.
defineInterfaceShape(WebSocketError, { name: 'WebSocketError', length: 0, attributes: ['closeCode', 'reason'], brand: isWebSocketError });
