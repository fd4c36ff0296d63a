/**
 * permessage-deflate (RFC 7692) on the fuzzing side, for sections 12 and 13: the negotiation (a
 * client's offers, a server's response, both with the four parameters `server_no_context_takeover`,
 * `client_no_context_takeover`, `server_max_window_bits` and `client_max_window_bits`) and a
 * per-connection codec on Node's zlib raw deflate.
 *
 * The codec is synchronous, as the fuzzing peer is. Context takeover needs the LZ77 window of the
 * previous messages: instead of keeping a zlib stream open, each direction keeps the last 2^bits
 * octets of its uncompressed messages and hands them to zlib as the preset dictionary of the next
 * message, which is exactly the window a persistent stream would have. A message is compressed with
 * a sync flush and the 00 00 ff ff tail of the final empty stored block removed (§7.2.1); a received
 * one gets the tail back before it is inflated (§7.2.2). Decompression uses the negotiated window, so
 * a peer that reaches back further than it agreed to (or takes over a context it gave up) fails.
 * zlib cannot deflate raw with an 8-bit window: 8 is used as 9 both ways, as browsers do (zlib's
 * 9-bit deflate never reaches back more than 250 octets, so its output is valid for a 256-octet
 * window).
 */
import { constants, deflateRawSync, inflateRawSync, type ZlibOptions } from 'node:zlib';
import { HeaderSyntaxError, parseExtensions, type ExtensionParam } from '../protocol/header-grammar.js';
import type { PeerExtension } from './fuzz-peer.js';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const DEFAULT_WINDOW_BITS = 15;
const WINDOW_BITS_VALUE = /^(?:[89]|1[0-5])$/;

/** One permessage-deflate offer of a client (an element of `Sec-WebSocket-Extensions`). */
export interface DeflateOffer {
  /** `client_no_context_takeover`: the client hints that it will not take over its context. */
  readonly clientNoContextTakeover?: boolean;
  /** `client_max_window_bits`: the client can limit its window (true: without a value; a number: to at most that). */
  readonly clientMaxWindowBits?: boolean | number;
  /** `server_no_context_takeover`: the server must not take over its context. */
  readonly serverNoContextTakeover?: boolean;
  /** `server_max_window_bits=N`: the server's window must be at most 2^N octets. */
  readonly serverMaxWindowBits?: number;
}

/** A server's permessage-deflate response: the parameters it includes. */
export interface DeflateResponse {
  readonly serverNoContextTakeover?: boolean;
  readonly serverMaxWindowBits?: number;
  readonly clientNoContextTakeover?: boolean;
  readonly clientMaxWindowBits?: number;
}

/** The parameters in effect once negotiated (window bits 8–15, 15 when not negotiated). */
export interface DeflateParams {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number;
  readonly clientMaxWindowBits: number;
}

/** The parameters a response puts in effect. */
export function negotiatedParams(response: DeflateResponse): DeflateParams {
  return {
    serverNoContextTakeover: response.serverNoContextTakeover === true,
    clientNoContextTakeover: response.clientNoContextTakeover === true,
    serverMaxWindowBits: response.serverMaxWindowBits ?? DEFAULT_WINDOW_BITS,
    clientMaxWindowBits: response.clientMaxWindowBits ?? DEFAULT_WINDOW_BITS,
  };
}

// --- formatting ------------------------------------------------------------------------------------

/** One offer as header text, parameters in Autobahn's order. */
export function formatOffer(offer: DeflateOffer): string {
  let text = PERMESSAGE_DEFLATE;
  if (offer.clientNoContextTakeover === true) text += '; client_no_context_takeover';
  if (offer.clientMaxWindowBits === true) text += '; client_max_window_bits';
  else if (typeof offer.clientMaxWindowBits === 'number') text += `; client_max_window_bits=${offer.clientMaxWindowBits}`;
  if (offer.serverNoContextTakeover === true) text += '; server_no_context_takeover';
  if (offer.serverMaxWindowBits !== undefined) text += `; server_max_window_bits=${offer.serverMaxWindowBits}`;
  return text;
}

/** Several offers, in order of preference, as one header value. */
export function formatOffers(offers: readonly DeflateOffer[]): string {
  return offers.map(formatOffer).join(', ');
}

export function formatResponse(response: DeflateResponse): string {
  let text = PERMESSAGE_DEFLATE;
  if (response.serverNoContextTakeover === true) text += '; server_no_context_takeover';
  if (response.serverMaxWindowBits !== undefined) text += `; server_max_window_bits=${response.serverMaxWindowBits}`;
  if (response.clientNoContextTakeover === true) text += '; client_no_context_takeover';
  if (response.clientMaxWindowBits !== undefined) text += `; client_max_window_bits=${response.clientMaxWindowBits}`;
  return text;
}

// --- parsing ---------------------------------------------------------------------------------------

type Parsed<T> = { readonly value: T } | { readonly error: string };

/** The parameters of one permessage-deflate element; `client_max_window_bits` may lack a value in an offer only. */
function readParams(params: readonly ExtensionParam[], inOffer: boolean): Parsed<DeflateOffer> {
  const seen = new Set<string>();
  const out: { -readonly [K in keyof DeflateOffer]: DeflateOffer[K] } = {};
  for (const { name, value } of params) {
    if (seen.has(name)) return { error: `parameter ${name} appears twice` };
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== null) return { error: `parameter ${name} must not have a value (has ${JSON.stringify(value)})` };
        if (name === 'server_no_context_takeover') out.serverNoContextTakeover = true;
        else out.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
      case 'client_max_window_bits':
        if (value === null) {
          if (name === 'client_max_window_bits' && inOffer) {
            out.clientMaxWindowBits = true;
            break;
          }
          return { error: `parameter ${name} needs a value` };
        }
        if (!WINDOW_BITS_VALUE.test(value)) return { error: `parameter ${name} has an invalid value ${JSON.stringify(value)} (8 to 15)` };
        if (name === 'server_max_window_bits') out.serverMaxWindowBits = Number(value);
        else out.clientMaxWindowBits = Number(value);
        break;
      default:
        return { error: `unknown parameter ${name}` };
    }
  }
  return { value: out };
}

function parseHeader(header: string): Parsed<ReturnType<typeof parseExtensions>> {
  try {
    return { value: parseExtensions(header) };
  } catch (error) {
    if (error instanceof HeaderSyntaxError) return { error: error.message };
    throw error;
  }
}

/**
 * A client's permessage-deflate offers, in order (server role). Offers with invalid parameters are
 * left out (a server declines what it cannot accept), with the reasons in `declined`.
 */
export function parseOffers(header: string | undefined): { offers: DeflateOffer[]; declined: string[] } {
  const offers: DeflateOffer[] = [];
  const declined: string[] = [];
  if (header === undefined) return { offers, declined };
  const elements = parseHeader(header);
  if ('error' in elements) return { offers, declined: [elements.error] };
  for (const element of elements.value) {
    if (element.name !== PERMESSAGE_DEFLATE) continue;
    const params = readParams(element.params, true);
    if ('error' in params) declined.push(params.error);
    else offers.push(params.value);
  }
  return { offers, declined };
}

/** Does `response` answer `offer` as RFC 7692 §7.1 allows? (A reason when not.) */
function mismatch(response: DeflateResponse, offer: DeflateOffer): string | null {
  // server_no_context_takeover and client_no_context_takeover may come back unasked (§7.1.1.1,
  // §7.1.1.2); a requested server_no_context_takeover must come back (§7.1.1.1).
  if (offer.serverNoContextTakeover === true && response.serverNoContextTakeover !== true) return 'server_no_context_takeover was requested but not accepted';
  // server_max_window_bits: at most the offered value (§7.1.2.1).
  if (offer.serverMaxWindowBits !== undefined && (response.serverMaxWindowBits === undefined || response.serverMaxWindowBits > offer.serverMaxWindowBits)) {
    return `server_max_window_bits=${offer.serverMaxWindowBits} was requested but the response has ${response.serverMaxWindowBits ?? 'none'}`;
  }
  // client_max_window_bits: only when offered, at most the offered value (§7.1.2.2).
  if (response.clientMaxWindowBits !== undefined) {
    if (offer.clientMaxWindowBits === undefined || offer.clientMaxWindowBits === false) return 'client_max_window_bits in the response, but not in the offer';
    if (typeof offer.clientMaxWindowBits === 'number' && response.clientMaxWindowBits > offer.clientMaxWindowBits) {
      return `client_max_window_bits=${response.clientMaxWindowBits} is above the offered ${offer.clientMaxWindowBits}`;
    }
  }
  return null;
}

/**
 * A server's response to our offers (client role): `null` when it did not accept permessage-deflate
 * (the case is unimplemented), an error when the response is one a client must fail the connection
 * for (RFC 6455 §9.1, RFC 7692 §7.1), else the accepted parameters.
 */
export function parseResponse(header: string | undefined, offers: readonly DeflateOffer[]): Parsed<DeflateResponse> | null {
  if (header === undefined || header.trim() === '') return null;
  const elements = parseHeader(header);
  if ('error' in elements) return { error: `invalid Sec-WebSocket-Extensions: ${elements.error}` };
  const names = elements.value.map((element) => element.name);
  const unasked = names.find((name) => name !== PERMESSAGE_DEFLATE);
  if (unasked !== undefined) return { error: `the server accepted ${unasked}, which was not offered` };
  if (names.length > 1) return { error: 'the server accepted permessage-deflate more than once' };
  const element = elements.value[0]!;
  const params = readParams(element.params, false);
  if ('error' in params) return { error: `invalid permessage-deflate response: ${params.error}` };
  const response = params.value as DeflateResponse;
  const reasons = offers.map((offer) => mismatch(response, offer));
  if (reasons.every((reason) => reason !== null)) return { error: `the permessage-deflate response fits none of the offers: ${reasons.join('; ')}` };
  return { value: response };
}

// --- the codec -------------------------------------------------------------------------------------

/** Octets before and after compression, each way. */
export interface DeflateStats {
  sentMessages: number;
  sentPlain: number;
  sentCompressed: number;
  receivedMessages: number;
  receivedCompressed: number;
  receivedPlain: number;
}

/** zlib's raw deflate has no 8-bit window: 9 stands in for it. */
function zlibWindowBits(bits: number): number {
  return Math.max(9, bits);
}

/** The last `size` octets of `history` followed by `message`. */
function slide(history: Buffer, message: Buffer, size: number): Buffer {
  if (message.length >= size) return Buffer.from(message.subarray(message.length - size));
  const keep = Math.min(history.length, size - message.length);
  return Buffer.concat([history.subarray(history.length - keep), message]);
}

/** A negotiated permessage-deflate for one connection, as the client or as the server. */
export class PerMessageDeflate implements PeerExtension {
  readonly rsvValue = 4;
  readonly role: 'client' | 'server';
  readonly params: DeflateParams;
  readonly stats: DeflateStats = { sentMessages: 0, sentPlain: 0, sentCompressed: 0, receivedMessages: 0, receivedCompressed: 0, receivedPlain: 0 };
  private readonly sendBits: number;
  private readonly sendTakeover: boolean;
  private readonly receiveBits: number;
  private readonly receiveTakeover: boolean;
  private sendWindow: Buffer = Buffer.alloc(0);
  private receiveWindow: Buffer = Buffer.alloc(0);

  constructor(role: 'client' | 'server', params: DeflateParams) {
    this.role = role;
    this.params = params;
    const client = role === 'client';
    this.sendBits = zlibWindowBits(client ? params.clientMaxWindowBits : params.serverMaxWindowBits);
    this.sendTakeover = !(client ? params.clientNoContextTakeover : params.serverNoContextTakeover);
    this.receiveBits = zlibWindowBits(client ? params.serverMaxWindowBits : params.clientMaxWindowBits);
    this.receiveTakeover = !(client ? params.serverNoContextTakeover : params.clientNoContextTakeover);
  }

  /** Compress a whole message (RFC 7692 §7.2.1): the payload of its frames, with RSV1 on the first. */
  compress(message: Buffer): Buffer {
    const options: ZlibOptions = { windowBits: this.sendBits, finishFlush: constants.Z_SYNC_FLUSH };
    if (this.sendTakeover && this.sendWindow.length > 0) options.dictionary = this.sendWindow;
    const flushed = deflateRawSync(message, options);
    // A sync flush ends with an empty stored block, whose LEN/NLEN are the tail to remove.
    const output = flushed.subarray(flushed.length - 4).equals(TAIL) ? flushed.subarray(0, flushed.length - 4) : flushed;
    if (this.sendTakeover) this.sendWindow = slide(this.sendWindow, message, 1 << this.sendBits);
    this.stats.sentMessages++;
    this.stats.sentPlain += message.length;
    this.stats.sentCompressed += output.length;
    return output;
  }

  /** Decompress a whole received message (RFC 7692 §7.2.2). Throws on invalid data. */
  decompress(payload: Buffer): Buffer {
    const options: ZlibOptions = { windowBits: this.receiveBits, finishFlush: constants.Z_SYNC_FLUSH };
    if (this.receiveTakeover && this.receiveWindow.length > 0) options.dictionary = this.receiveWindow;
    const message = inflateRawSync(Buffer.concat([payload, TAIL]), options);
    if (this.receiveTakeover) this.receiveWindow = slide(this.receiveWindow, message, 1 << this.receiveBits);
    this.stats.receivedMessages++;
    this.stats.receivedCompressed += payload.length;
    this.stats.receivedPlain += message.length;
    return message;
  }

  /** A one-line account of the traffic, for the wire log. */
  describeStats(): string {
    const s = this.stats;
    const ratio = (compressed: number, plain: number): string => (plain === 0 ? '-' : `${((100 * compressed) / plain).toFixed(1)}%`);
    return (
      `permessage-deflate: sent ${s.sentMessages} messages, ${s.sentPlain} octets as ${s.sentCompressed} (${ratio(s.sentCompressed, s.sentPlain)}); ` +
      `received ${s.receivedMessages} compressed messages, ${s.receivedCompressed} octets to ${s.receivedPlain} (${ratio(s.receivedCompressed, s.receivedPlain)})`
    );
  }
}
