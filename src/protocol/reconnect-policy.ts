/**
 * When and how soon a client reconnects: exponential backoff with jitter, which closes are final, and
 * what a server's 1012 (Service Restart), 1013 (Try Again Later) or `Retry-After` asks for. Pure: the
 * caller owns the timers and the random source, so the Node client and the browser build share it.
 */

/** Options of `reconnect` (all optional). */
export interface ReconnectOptions {
  /** Ceiling of the first delay, in ms. Default 1,000. */
  readonly initialDelay?: number;
  /** Largest delay, in ms. Default 30,000. */
  readonly maxDelay?: number;
  /** Growth of the ceiling per failed attempt. Default 2. */
  readonly factor?: number;
  /**
   * Share of the delay drawn at random: 1 ("full jitter", the default: a delay anywhere between 0 and
   * the ceiling, so that many clients of one restarted server spread out), 0 for none.
   */
  readonly jitter?: number;
  /** Give up after this many attempts in a row that did not open. Default Infinity. */
  readonly maxRetries?: number;
  /** A connection that stayed open this long resets the backoff. Default 5,000 ms. */
  readonly resetAfter?: number;
  /** Decide for each unplanned close whether to reconnect; default: `isFinalClose` says no. */
  readonly shouldReconnect?: (close: ClosedConnection) => boolean;
}

/** What ended a connection (or an attempt that never opened). */
export interface ClosedConnection {
  /** The close code (1006 when no close frame arrived, or the attempt failed). */
  readonly code: number;
  /** The close reason ("" when none). */
  readonly reason: string;
  /** The HTTP status when the opening handshake was refused. */
  readonly status?: number;
  /** Seconds or an HTTP-date from a refusal's `Retry-After` header. */
  readonly retryAfter?: string;
  /** How long the connection was open, in ms (0 if it never opened). */
  readonly openFor: number;
}

/** The decision for one close: reconnect after `delay` ms, or stop (and why). */
export type ReconnectDecision =
  | { readonly reconnect: true; readonly attempt: number; readonly delay: number }
  | { readonly reconnect: false; readonly why: 'final-close' | 'max-retries' | 'refused' };

const DEFAULTS = { initialDelay: 1_000, maxDelay: 30_000, factor: 2, jitter: 1, maxRetries: Infinity, resetAfter: 5_000 } as const;

/**
 * Closes a server means as final, by default: 1008 Policy Violation and the application codes
 * 4000–4999 (RFC 6455 §7.4.2: private use; a server that picks one means something the client cannot
 * cure by retrying). Everything else — 1001 Going Away, 1006 lost, 1011, 1012, 1013, 1014 — is retried.
 */
export function isFinalClose(close: ClosedConnection): boolean {
  if (close.status !== undefined) return !isRetryableStatus(close.status);
  return close.code === 1008 || (close.code >= 4000 && close.code <= 4999);
}

/**
 * RFC 9110 §15: a refused handshake is retried only when the status says the refusal is temporary:
 * 408 Request Timeout, 425, 429 Too Many Requests, and 5xx. A 401, 403 or 404 would only repeat.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || (status >= 500 && status <= 599);
}

/** `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, in ms from `now`; null if unreadable. */
export function parseRetryAfter(value: string, now: number): number | null {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** Check and fill in the options (a RangeError names the bad one). */
export function reconnectSettings(options: ReconnectOptions | true): Required<Omit<ReconnectOptions, 'shouldReconnect'>> & Pick<ReconnectOptions, 'shouldReconnect'> {
  const given = options === true ? {} : options;
  const settings = { ...DEFAULTS, ...given };
  const check = (name: keyof typeof DEFAULTS, ok: boolean): void => {
    if (!ok) throw new RangeError(`The reconnect.${name} option is invalid: ${String(settings[name])}`);
  };
  check('initialDelay', Number.isFinite(settings.initialDelay) && settings.initialDelay >= 0);
  check('maxDelay', Number.isFinite(settings.maxDelay) && settings.maxDelay >= settings.initialDelay);
  check('factor', Number.isFinite(settings.factor) && settings.factor >= 1);
  check('jitter', settings.jitter >= 0 && settings.jitter <= 1);
  check('maxRetries', settings.maxRetries >= 0 && (Number.isInteger(settings.maxRetries) || settings.maxRetries === Infinity));
  check('resetAfter', Number.isFinite(settings.resetAfter) && settings.resetAfter >= 0);
  if (given.shouldReconnect !== undefined && typeof given.shouldReconnect !== 'function') {
    throw new TypeError('The reconnect.shouldReconnect option must be a function');
  }
  return settings;
}

/**
 * The backoff state of one logical client. `closed()` is told about every close (and every failed
 * attempt) that the application did not ask for, and answers whether to reconnect and after how long.
 */
export class ReconnectPolicy {
  readonly #settings: ReturnType<typeof reconnectSettings>;
  readonly #random: () => number;
  /** Attempts since the last connection that stayed open `resetAfter` ms. */
  #failures = 0;

  constructor(options: ReconnectOptions | true, random: () => number = Math.random) {
    this.#settings = reconnectSettings(options);
    this.#random = random;
  }

  /** Attempts made since the backoff was last reset. */
  get attempts(): number {
    return this.#failures;
  }

  /** The close of a connection (or a failed attempt); `now` is for `Retry-After` dates. */
  closed(close: ClosedConnection, now: number = Date.now()): ReconnectDecision {
    const s = this.#settings;
    if (close.openFor >= s.resetAfter) this.#failures = 0;
    const wanted = s.shouldReconnect !== undefined ? s.shouldReconnect(close) : !isFinalClose(close);
    if (!wanted) return { reconnect: false, why: close.status !== undefined ? 'refused' : 'final-close' };
    if (this.#failures >= s.maxRetries) return { reconnect: false, why: 'max-retries' };
    const attempt = ++this.#failures;
    const ceiling = Math.min(s.maxDelay, s.initialDelay * s.factor ** (attempt - 1));
    let delay = ceiling * (1 - s.jitter * this.#random());
    // RFC 6455 §7.4.1 / IANA: 1013 Try Again Later asks for a pause: never sooner than initialDelay.
    if (close.code === 1013) delay = Math.max(delay, s.initialDelay);
    if (close.retryAfter !== undefined) {
      const asked = parseRetryAfter(close.retryAfter, now);
      if (asked !== null) delay = Math.max(delay, Math.min(asked, s.maxDelay));
    }
    return { reconnect: true, attempt, delay: Math.round(delay) };
  }
}
