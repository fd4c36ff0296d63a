/**
 * The permessage-deflate cases (sections 12 and 13), as the Autobahn|Testsuite runs them: negotiate
 * permessage-deflate (the subsection's offers as the client, its accept policy as the server), then
 * send a series of compressed messages, one at a time, each the next slice of a test data set, and
 * check every echo. A peer that does not negotiate the extension makes the case UNIMPLEMENTED.
 */
import { createHash } from 'node:crypto';
import type { CaseDefinition, CaseExtensions, CaseRun } from '../case.js';
import { Behavior, CloseBehavior } from '../verdict.js';
import {
  PerMessageDeflate,
  formatOffers,
  formatResponse,
  negotiatedParams,
  parseOffers,
  parseResponse,
  type DeflateOffer,
  type DeflateResponse,
} from '../deflate.js';
import type { TestData } from './compression-data.js';

/** A case's message series: payload length, message count, time limit (s), auto-fragment size (0: none). */
export interface MessageSeries {
  readonly length: number;
  readonly count: number;
  readonly wait: number;
  readonly fragment: number;
}

/** The series of each subsection's 18 cases, as Autobahn's (12|13).x.1 to (12|13).x.18. */
export const MESSAGE_SERIES: readonly MessageSeries[] = (
  [
    [16, 60, 0],
    [64, 60, 0],
    [256, 120, 0],
    [1024, 240, 0],
    [4096, 480, 0],
    [8192, 480, 0],
    [16384, 480, 0],
    [32768, 480, 0],
    [65536, 480, 0],
    [131072, 480, 0],
    [8192, 480, 256],
    [16384, 480, 256],
    [32768, 480, 256],
    [65536, 480, 256],
    [131072, 480, 256],
    [131072, 480, 1024],
    [131072, 480, 4096],
    [131072, 480, 32768],
  ] as const
).map(([length, wait, fragment]) => ({ length, count: 1000, wait, fragment }));

/** How a subsection negotiates. */
export interface Negotiation {
  /** Client role: the offers to send, in order of preference. */
  readonly offers: readonly DeflateOffer[];
  /** Server role: the response to the client's (valid) offers; null when none will do. */
  accept(offers: readonly DeflateOffer[]): DeflateResponse | null;
  /** The negotiation in the case descriptions (a sentence). */
  readonly description: string;
}

/** Autobahn's default offer: the client can do without context takeover and can limit its window. */
export const DEFAULT_OFFER: DeflateOffer = { clientNoContextTakeover: true, clientMaxWindowBits: true };

/**
 * A server's accept policy: take the first offer it can answer, grant what that offer requests of the
 * server, and request of the client `clientNoContextTakeover` and a `clientMaxWindowBits` window
 * (0: none). A client window can only be requested of an offer with `client_max_window_bits`
 * (RFC 7692 §7.1.2.2), and no larger than its value; `client_no_context_takeover` can be requested
 * of any offer (§7.1.1.2).
 */
export function acceptPolicy(clientNoContextTakeover: boolean, clientMaxWindowBits: number): (offers: readonly DeflateOffer[]) => DeflateResponse | null {
  return (offers) => {
    for (const offer of offers) {
      const offered = offer.clientMaxWindowBits;
      if (clientMaxWindowBits > 0 && (offered === undefined || offered === false)) continue;
      return {
        ...(offer.serverNoContextTakeover === true && { serverNoContextTakeover: true }),
        ...(offer.serverMaxWindowBits !== undefined && { serverMaxWindowBits: offer.serverMaxWindowBits }),
        ...(clientNoContextTakeover && { clientNoContextTakeover: true }),
        ...(clientMaxWindowBits > 0 && { clientMaxWindowBits: typeof offered === 'number' ? Math.min(offered, clientMaxWindowBits) : clientMaxWindowBits }),
      };
    }
    return null;
  };
}

/** The first policy that accepts. */
export function firstAccepting(...policies: ReadonlyArray<(offers: readonly DeflateOffer[]) => DeflateResponse | null>): (offers: readonly DeflateOffer[]) => DeflateResponse | null {
  return (offers) => {
    for (const policy of policies) {
      const response = policy(offers);
      if (response !== null) return response;
    }
    return null;
  };
}

/** Per-run state. */
interface State {
  readonly codec: PerMessageDeflate;
  /** The server's response was one a client must fail the connection for. */
  readonly negotiationError: string | null;
  /** Where the next slice of the test data starts. */
  pointer: number;
  sent: number;
  expected: Buffer;
  done: boolean;
}

const STATE = 'permessage-deflate';

function state(run: CaseRun): State {
  return run.data[STATE] as State;
}

function describeParams(codec: PerMessageDeflate): string {
  const p = codec.params;
  return (
    `negotiated permessage-deflate (we are the ${codec.role}): ` +
    `server_no_context_takeover=${p.serverNoContextTakeover}, client_no_context_takeover=${p.clientNoContextTakeover}, ` +
    `server_max_window_bits=${p.serverMaxWindowBits}, client_max_window_bits=${p.clientMaxWindowBits}`
  );
}

function extensionsFor(negotiation: Negotiation): CaseExtensions {
  const start = (run: CaseRun, codec: PerMessageDeflate, negotiationError: string | null): PerMessageDeflate => {
    const initial: State = { codec, negotiationError, pointer: 0, sent: 0, expected: Buffer.alloc(0), done: false };
    run.data[STATE] = initial;
    return codec;
  };
  return {
    offer: () => formatOffers(negotiation.offers),
    accept(response, run) {
      const parsed = parseResponse(response, negotiation.offers);
      if (parsed === null) return null;
      if ('error' in parsed) return start(run, new PerMessageDeflate('client', negotiatedParams({})), parsed.error);
      return start(run, new PerMessageDeflate('client', negotiatedParams(parsed.value)), null);
    },
    respond(offer, run) {
      const response = negotiation.accept(parseOffers(offer).offers);
      if (response === null) return null;
      return { header: formatResponse(response), extension: start(run, new PerMessageDeflate('server', negotiatedParams(response)), null) };
    },
  };
}

/** The next message: `length` characters (text) or octets (binary) from the pointer on, wrapping around. */
function nextSlice(data: TestData, s: State, length: number): Buffer {
  const content = data.content();
  const from = s.pointer;
  const to = (from + length) % content.length;
  s.pointer = to;
  if (typeof content === 'string') return Buffer.from(to > from ? content.slice(from, to) : content.slice(from) + content.slice(0, to), 'utf8');
  return to > from ? content.subarray(from, to) : Buffer.concat([content.subarray(from), content.subarray(0, to)]);
}

function sendOne(run: CaseRun, data: TestData, series: MessageSeries): void {
  const s = state(run);
  s.expected = nextSlice(data, s, series.length);
  s.sent++;
  run.p.sendMessage(s.expected, data.binary);
}

/** End the series: the verdict, the wire log back on with the traffic account, and the closing handshake. */
function finish(run: CaseRun, behavior: Behavior, result: string): void {
  const s = state(run);
  s.done = true;
  run.behavior = behavior;
  run.result = result;
  run.p.enableWirelog(true);
  run.p.note(s.codec.describeStats());
  run.p.sendClose(1000);
}

const sha1 = (data: Buffer): string => createHash('sha1').update(data).digest('hex');

/** The 18 cases of one subsection (`12.1` ... `13.7`). */
export function compressionCases(subsection: string, data: TestData, negotiation: Negotiation): CaseDefinition[] {
  const extensions = extensionsFor(negotiation);
  const dataDescription =
    `Test data: ${data.description} (${data.binary ? 'binary' : 'utf8'}, ${data.size} bytes), generated deterministically from a seeded PRNG ` +
    `in place of Autobahn's ${data.replaces}.`;
  return MESSAGE_SERIES.map((series, index): CaseDefinition => ({
    id: `${subsection}.${index + 1}`,
    description:
      `Send ${series.count} compressed messages each of payload size ${series.length}, auto-fragment to ${series.fragment} octets. ` +
      `${negotiation.description} ${dataDescription}`,
    expectation: `Receive echo'ed messages (with payload as sent). Timeout case after ${series.wait} secs.`,
    extensions,
    timeLimit: series.wait + 30,
    onOpen(run) {
      run.reportTime = true;
      run.expectClose({ closedByMe: true, closeCode: [1000], requireClean: true });
      const s = state(run);
      if (s.negotiationError !== null) {
        // RFC 6455 §4.1 / RFC 7692 §7.1: the client must fail the connection.
        run.behavior = Behavior.FAILED;
        run.result = `Invalid permessage-deflate negotiation: ${s.negotiationError}`;
        run.p.note(run.result);
        run.p.dropConnection();
        return;
      }
      run.p.note(describeParams(s.codec));
      run.p.enableWirelog(false);
      run.p.autoFragmentSize = series.fragment;
      run.behavior = Behavior.FAILED;
      run.result = "Not all echo'ed messages arrived."; // "Timed out after N s: ..." once the wait ran out
      run.p.closeAfter(series.wait);
      sendOne(run, data, series);
    },
    onMessage(run, payload, binary) {
      const s = state(run);
      if (s.done || run.p.state !== 'open') return;
      const expected = s.expected;
      if (binary !== data.binary) {
        finish(run, Behavior.FAILED, `Echo'ed message type differs from what I sent (got binary ${binary}, expected binary ${data.binary}).`);
      } else if (payload.length !== expected.length) {
        finish(run, Behavior.FAILED, `Echo'ed message length differs from what I sent (got ${payload.length} octets, expected ${expected.length}).`);
      } else if (!payload.equals(expected)) {
        finish(run, Behavior.FAILED, `Echo'ed message contents differs from what I sent (got SHA1 ${sha1(payload)}, expected SHA1 ${sha1(expected)}).`);
      } else if (s.sent < series.count) {
        sendOne(run, data, series);
      } else {
        finish(run, Behavior.OK, "Ok, received all echo'ed messages in time.");
      }
    },
    onConnectionLost(run) {
      const s = run.data[STATE] as State | undefined;
      if (s === undefined) return;
      if (s.negotiationError !== null) {
        run.behaviorClose = CloseBehavior.FAILED;
        run.resultClose = 'The client failed the connection for an invalid permessage-deflate response';
      } else if (!s.done) {
        // Ended before the series did (a timeout, or the peer failed the connection): the traffic so far.
        run.p.wirelog.push({ at: run.p.elapsed, kind: 'note', text: s.codec.describeStats() });
      }
    },
  }));
}
