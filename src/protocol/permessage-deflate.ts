/**
 * permessage-deflate negotiation (RFC 7692 §5, §7), as pure functions over parsed
 * `Sec-WebSocket-Extensions` elements. The compression itself (zlib) lives in the Node layer.
 *
 * The four parameters:
 *  - server_no_context_takeover: the server resets its compressor after every message;
 *  - client_no_context_takeover: the client does;
 *  - server_max_window_bits=N: the server's LZ77 window is at most 2^N bytes (8–15);
 *  - client_max_window_bits[=N]: in an offer, the client can limit its window (to N, if given); in a
 *    response, the server tells the client its limit.
 *
 * Window bits 8: zlib cannot compress raw deflate with a 256-byte window. It compresses with 9 bits
 * instead, which is safe: zlib's deflate never looks back further than 2^bits - 262 bytes, so with 9
 * bits every distance is at most 250 and an 8-bit decompressor reads the stream. (Chromium does the same.)
 */
import { HandshakeError } from './errors.js';
import type { ExtensionOffer, ExtensionParam } from './header-grammar.js';

/** The extension's name in `Sec-WebSocket-Extensions` (RFC 7692 §7). */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** What a side is willing to do (the `perMessageDeflate` option of server and client, as in `ws`). */
export interface PerMessageDeflateOptions {
  /**
   * Server: always reset the server's compressor between messages (and accept a client asking for it).
   * Client: ask the server to reset its compressor between messages. Default false.
   */
  serverNoContextTakeover?: boolean;
  /** Server: ask the client to reset its compressor. Client: reset ours between messages (and say so). Default false. */
  clientNoContextTakeover?: boolean;
  /** Largest window the server's compressor may use, 8–15 (client: ask the server for it). Default 15. */
  serverMaxWindowBits?: number;
  /**
   * Client: `true` (default) offers `client_max_window_bits` (we accept any limit the server sets);
   * a number also limits our own window. Server: a number limits the client's window (offers that
   * cannot be limited are declined); `true`/undefined accepts the client's own choice.
   */
  clientMaxWindowBits?: number | boolean;
}

/** The agreed parameters of a connection. */
export interface DeflateParams {
  /** The server resets its compressor between messages (`server_no_context_takeover`, RFC 7692 §7.1.1.1). */
  readonly serverNoContextTakeover: boolean;
  /** The client resets its compressor between messages (`client_no_context_takeover`, RFC 7692 §7.1.1.2). */
  readonly clientNoContextTakeover: boolean;
  /** The server's window, 8–15. */
  readonly serverMaxWindowBits: number;
  /** The client's window, 8–15. */
  readonly clientMaxWindowBits: number;
}

const PARAM_NAMES = ['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits'] as const;
type ParamName = (typeof PARAM_NAMES)[number];

/** Parameters of one element, checked: known names, each at most once, valid values. */
interface ParsedParams {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number | undefined;
  /** `true` for the valueless form (offers only). */
  readonly clientMaxWindowBits: number | true | undefined;
}

/** 8–15 written as a plain decimal number ("08" and "+9" are not; RFC 7692 §7.1.2.1: 1*DIGIT). */
function windowBits(value: string | null): number | null {
  if (value === null || !/^[0-9]{1,2}$/.test(value)) return null;
  const bits = Number(value);
  return bits >= 8 && bits <= 15 && String(bits) === value ? bits : null;
}

/** Read an element's parameters; a string describes what is wrong. */
function readParams(params: readonly ExtensionParam[], isOffer: boolean): ParsedParams | string {
  const seen = new Set<string>();
  let serverNoContextTakeover = false;
  let clientNoContextTakeover = false;
  let serverMaxWindowBits: number | undefined;
  let clientMaxWindowBits: number | true | undefined;
  for (const param of params) {
    const name = param.name.toLowerCase();
    if (!(PARAM_NAMES as readonly string[]).includes(name)) return `unknown parameter ${JSON.stringify(param.name)}`;
    if (seen.has(name)) return `parameter ${name} appears twice`;
    seen.add(name);
    switch (name as ParamName) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (param.value !== null) return `${name} takes no value`;
        if (name === 'server_no_context_takeover') serverNoContextTakeover = true;
        else clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        const bits = windowBits(param.value);
        if (bits === null) return `invalid server_max_window_bits ${JSON.stringify(param.value)} (8 to 15)`;
        serverMaxWindowBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        if (param.value === null) {
          if (!isOffer) return 'client_max_window_bits needs a value in a response';
          clientMaxWindowBits = true;
          break;
        }
        const bits = windowBits(param.value);
        if (bits === null) return `invalid client_max_window_bits ${JSON.stringify(param.value)} (8 to 15)`;
        clientMaxWindowBits = bits;
        break;
      }
    }
  }
  return { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits };
}

function checkOptions(options: PerMessageDeflateOptions): void {
  const check = (name: string, value: unknown): void => {
    if (value === undefined || value === true || value === false) return;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 8 || value > 15) {
      throw new RangeError(`perMessageDeflate.${name} must be an integer from 8 to 15`);
    }
  };
  check('serverMaxWindowBits', options.serverMaxWindowBits);
  check('clientMaxWindowBits', options.clientMaxWindowBits);
}

/** The outcome of a server's negotiation: the response element and the agreed parameters. */
export interface ServerNegotiation {
  /** The element to send back in the response's `Sec-WebSocket-Extensions`. */
  readonly response: ExtensionOffer;
  /** The agreed parameters. */
  readonly params: DeflateParams;
}

/**
 * Server side (RFC 7692 §7.1): take the first permessage-deflate offer that is valid and acceptable
 * under `options`, in the client's order. Offers with unknown, repeated or invalid parameters are
 * declined (not an error: the next offer, or no compression). Returns null when none fits.
 */
export function negotiateServer(offers: readonly ExtensionOffer[], options: PerMessageDeflateOptions): ServerNegotiation | null {
  checkOptions(options);
  for (const offer of offers) {
    if (offer.name.toLowerCase() !== PERMESSAGE_DEFLATE) continue;
    const parsed = readParams(offer.params, true);
    if (typeof parsed === 'string') continue;

    // Our compressor's window: at most what the client asked for and what we allow ourselves.
    const serverLimit = typeof options.serverMaxWindowBits === 'number' ? options.serverMaxWindowBits : 15;
    const serverBits = Math.min(serverLimit, parsed.serverMaxWindowBits ?? 15);
    // The client's window: limit it only if the client said it can be limited.
    let clientBits = typeof parsed.clientMaxWindowBits === 'number' ? parsed.clientMaxWindowBits : 15;
    let announceClientBits = false;
    if (typeof options.clientMaxWindowBits === 'number') {
      if (parsed.clientMaxWindowBits === undefined) continue; // we need a limit the client cannot apply
      clientBits = Math.min(clientBits, options.clientMaxWindowBits);
      announceClientBits = true;
    }
    const serverNoContextTakeover = parsed.serverNoContextTakeover || options.serverNoContextTakeover === true;
    const clientNoContextTakeover = parsed.clientNoContextTakeover || options.clientNoContextTakeover === true;

    const params: ExtensionParam[] = [];
    if (serverNoContextTakeover) params.push({ name: 'server_no_context_takeover', value: null });
    if (clientNoContextTakeover) params.push({ name: 'client_no_context_takeover', value: null });
    if (parsed.serverMaxWindowBits !== undefined || serverBits < 15) params.push({ name: 'server_max_window_bits', value: String(serverBits) });
    if (announceClientBits) params.push({ name: 'client_max_window_bits', value: String(clientBits) });
    return {
      response: { name: PERMESSAGE_DEFLATE, params },
      params: { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits: serverBits, clientMaxWindowBits: clientBits },
    };
  }
  return null;
}

/**
 * Why the first malformed permessage-deflate offer is malformed (an unknown or repeated parameter, a
 * value where none belongs, a window size outside 8–15), or null when every offer is well formed.
 * RFC 7692 §5 lets a server decline such an offer; `ws` refuses the handshake (400), and a server that
 * follows `ws` checks with this before negotiating.
 */
export function invalidServerOffer(offers: readonly ExtensionOffer[]): string | null {
  for (const offer of offers) {
    if (offer.name.toLowerCase() !== PERMESSAGE_DEFLATE) continue;
    const parsed = readParams(offer.params, true);
    if (typeof parsed === 'string') return parsed;
  }
  return null;
}

/** Client side: the offer to send (RFC 7692 §5.1, §7.1). */
export function createClientOffer(options: PerMessageDeflateOptions): ExtensionOffer {
  checkOptions(options);
  const params: ExtensionParam[] = [];
  if (options.serverNoContextTakeover === true) params.push({ name: 'server_no_context_takeover', value: null });
  if (options.clientNoContextTakeover === true) params.push({ name: 'client_no_context_takeover', value: null });
  if (typeof options.serverMaxWindowBits === 'number') params.push({ name: 'server_max_window_bits', value: String(options.serverMaxWindowBits) });
  if (typeof options.clientMaxWindowBits === 'number') params.push({ name: 'client_max_window_bits', value: String(options.clientMaxWindowBits) });
  else if (options.clientMaxWindowBits !== false) params.push({ name: 'client_max_window_bits', value: null });
  return { name: PERMESSAGE_DEFLATE, params };
}

/**
 * Client side (RFC 7692 §7.1): check the server's response to our offer and return the agreed
 * parameters. A response we cannot honour fails the connection: `HandshakeError`.
 */
export function acceptServerResponse(response: ExtensionOffer, options: PerMessageDeflateOptions): DeflateParams {
  const fail = (why: string): never => {
    throw new HandshakeError('FD_ERR_HANDSHAKE_EXTENSIONS', 0, `Invalid permessage-deflate response: ${why}`);
  };
  const parsed = readParams(response.params, false);
  if (typeof parsed === 'string') return fail(parsed);
  const offered = createClientOffer(options);
  const offeredServerBits = typeof options.serverMaxWindowBits === 'number' ? options.serverMaxWindowBits : undefined;
  if (options.serverNoContextTakeover === true && !parsed.serverNoContextTakeover) {
    fail('the server did not accept server_no_context_takeover, which we require');
  }
  if (offeredServerBits !== undefined && parsed.serverMaxWindowBits === undefined) {
    fail(`the server did not accept server_max_window_bits=${offeredServerBits}`);
  }
  if (offeredServerBits !== undefined && parsed.serverMaxWindowBits !== undefined && parsed.serverMaxWindowBits > offeredServerBits) {
    fail(`server_max_window_bits=${parsed.serverMaxWindowBits} is larger than the ${offeredServerBits} we asked for`);
  }
  const offeredClientBits = offered.params.find((p) => p.name === 'client_max_window_bits');
  if (parsed.clientMaxWindowBits !== undefined) {
    if (offeredClientBits === undefined) fail('client_max_window_bits was not offered');
    const limit = offeredClientBits!.value === null ? 15 : Number(offeredClientBits!.value);
    if (typeof parsed.clientMaxWindowBits === 'number' && parsed.clientMaxWindowBits > limit) {
      fail(`client_max_window_bits=${parsed.clientMaxWindowBits} is larger than the ${limit} we offered`);
    }
  }
  const ownLimit = typeof options.clientMaxWindowBits === 'number' ? options.clientMaxWindowBits : 15;
  return {
    serverNoContextTakeover: parsed.serverNoContextTakeover,
    clientNoContextTakeover: parsed.clientNoContextTakeover || options.clientNoContextTakeover === true,
    serverMaxWindowBits: parsed.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: Math.min(ownLimit, typeof parsed.clientMaxWindowBits === 'number' ? parsed.clientMaxWindowBits : 15),
  };
}

/** The window zlib can compress with: 8 becomes 9 (see the note at the top). */
export function compressorWindowBits(bits: number): number {
  return bits < 9 ? 9 : bits;
}
