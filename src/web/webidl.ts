/**
 * The few Web IDL conversions (https://webidl.spec.whatwg.org/#es-type-mapping) the WebSocket
 * interface needs, so that arguments are treated as a browser treats them: strings through
 * ToString (a Symbol is a TypeError), `[Clamp] unsigned short` rounded and clamped, USVString with
 * lone surrogates replaced.
 */

/** Web IDL DOMString (§3.2.10): ToString, which throws a TypeError for a Symbol. */
export function toDOMString(value: unknown, what: string): string {
  if (typeof value === 'symbol') throw new TypeError(`${what}: cannot convert a Symbol to a string`);
  return String(value);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Web IDL USVString (§3.2.12): a DOMString with every lone surrogate replaced by U+FFFD. */
export function toUSVString(value: unknown, what: string): string {
  const string = toDOMString(value, what);
  return string.replace(LONE_SURROGATE, '\uFFFD');
}

/** ToNumber (a Symbol or a BigInt is a TypeError, as in Web IDL's conversions to integer types). */
function toNumber(value: unknown, what: string): number {
  if (typeof value === 'symbol' || typeof value === 'bigint') throw new TypeError(`${what}: cannot convert a ${typeof value} to a number`);
  return Number(value);
}

/**
 * `[Clamp] unsigned short` (Web IDL §3.2.4 "ConvertToInt" with [Clamp]): NaN becomes 0, the value is
 * clamped to 0–65535 and rounded to the nearest integer, ties to even.
 */
export function toClampedUnsignedShort(value: unknown, what: string): number {
  const x = toNumber(value, what);
  if (Number.isNaN(x)) return 0;
  const clamped = Math.min(Math.max(x, 0), 0xffff);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * `unsigned short` without [Clamp] (Web IDL §3.2.4 "ConvertToInt"): NaN and infinities become 0,
 * the value is truncated towards zero and taken modulo 2^16.
 */
export function toUnsignedShort(value: unknown, what: string): number {
  const x = toNumber(value, what);
  if (!Number.isFinite(x)) return 0;
  const truncated = Math.trunc(x);
  return ((truncated % 0x10000) + 0x10000) % 0x10000;
}
