/**
 * Target 1: the sans-I/O core, in process. A server-role `Connection` is fed a stream in chunks and
 * records what it reports and what it writes. The checks, for each input:
 *  - no exception escapes `receive()`;
 *  - the events equal the reference model's (same messages, pings, pongs, close, or failure code), so
 *    every failure uses the code RFC 6455 names and a legal one (§7.4.1), and nothing is delivered
 *    after a close frame or a failure (§5.5.1, §7.1.7);
 *  - another split of the same bytes gives the same events and the same bytes written (the core's
 *    promise: "any split of the input gives the same result");
 *  - what it writes is legal and owed: a pong per ping (§5.5.2) — or, when the transport says it is
 *    blocked now and then, fewer pongs that still answer the most recent ping (§5.5.3) — the close
 *    frame echoing the peer's code or carrying the failure's, last, and the transport closed once
 *    after it (§7.1.1);
 *  - it finishes within the time bound.
 */
import { Connection } from '../../../src/protocol/connection.js';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { compareEvents, describeEvent, endingOf, type WireEvent } from './events.js';
import { isSendableCloseCode, modelServerEvents } from './model.js';
import { compareOutput, isLegalFailureCode, lastPongProblem, owedOutput, parseServerOutput } from './wire.js';
import { splitBySizes } from './chunking.js';
import { Prng } from './prng.js';
import type { FuzzCase } from './cases.js';
import type { Finding } from './findings.js';
import { scaled } from '../../helpers/time.js';

export interface CoreOptions {
  maxPayload: number;
  maxFragments?: number | undefined;
  keepFragments: boolean;
  /** Seed of when the transport says it is blocked and when it drains (undefined: never blocked). */
  blockWrites?: number | undefined;
}

export interface CoreRun {
  events: WireEvent[];
  /** Everything the connection wrote, in order. */
  output: Buffer;
  closeTransportCalls: number;
  /** Events reported after the close frame or the failure (there must be none). */
  late: string[];
  /** What `receive()` threw, if anything. */
  thrown: unknown;
  ms: number;
}

/** Feed `chunks` to a fresh server-role `Connection` and record everything. */
export function runCore(chunks: readonly Buffer[], options: CoreOptions): CoreRun {
  const events: WireEvent[] = [];
  const written: Buffer[] = [];
  const late: string[] = [];
  let closeTransportCalls = 0;
  let terminal = false;
  const record = (event: WireEvent): void => {
    if (terminal) late.push(describeEvent(event));
    events.push(event);
    if (event.type === 'close' || event.type === 'error') terminal = true;
  };
  // A transport that is blocked now and then, and drains now and then (deterministic per seed).
  const blocking = options.blockWrites === undefined ? null : new Prng(options.blockWrites);
  let blocked = false;
  const connection = new Connection(
    {
      role: 'server',
      maxPayload: options.maxPayload,
      ...(options.maxFragments !== undefined && { maxFragments: options.maxFragments }),
      keepFragments: options.keepFragments,
    },
    {
      // Payloads are views of the pushed chunks: copy what is kept.
      write: (chunk) => written.push(Buffer.from(chunk)),
      onMessage: (data, isBinary) => record({ type: 'message', isBinary, data: Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data) }),
      onPing: (data) => record({ type: 'ping', data: Buffer.from(data) }),
      onPong: (data) => record({ type: 'pong', data: Buffer.from(data) }),
      onCloseFrame: (code, reason) => record({ type: 'close', code, reason: Buffer.from(reason) }),
      onProtocolError: (error) => record({ type: 'error', closeCode: error.closeCode, detail: `${error.code}: ${error.message}` }),
      closeTransport: () => {
        closeTransportCalls++;
      },
      ...(blocking !== null && { isWriteBlocked: () => blocked }),
    },
  );
  let thrown: unknown;
  const started = performance.now();
  try {
    for (const chunk of chunks) {
      if (blocking !== null) blocked = blocking.chance(0.5);
      connection.receive(chunk);
      if (blocking?.chance(0.3) === true) {
        blocked = false;
        connection.writable();
      }
    }
    if (blocking !== null) {
      // The transport drains at the end: an answer held back for the last ping goes out now.
      blocked = false;
      connection.writable();
    }
  } catch (error) {
    thrown = error;
  }
  return { events, output: Buffer.concat(written), closeTransportCalls, late, thrown, ms: performance.now() - started };
}

/** Per-input time bound: beyond it an input counts as a hang (the watchdog also kills real hangs). */
export const PARSER_TIME_BOUND_MS = scaled(2000);

function describeThrown(error: unknown): string {
  if (error instanceof ProtocolError) return `ProtocolError ${error.code} (${error.closeCode}) escaped: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}\n${error.stack ?? ''}`;
  return String(error);
}

/**
 * The invariants one run must satisfy on its own. With `coalescing` (a transport blocked now and
 * then), pongs may be fewer than pings, a subsequence of the owed ones, but the most recent ping
 * still gets its answer, once the transport drains or before the close frame.
 */
export function checkRun(run: CoreRun, expected: readonly WireEvent[], label: string, coalescing = false): Finding[] {
  const findings: Finding[] = [];
  if (run.thrown !== undefined) findings.push({ kind: 'exception', message: `${label}: ${describeThrown(run.thrown)}` });
  if (run.ms > PARSER_TIME_BOUND_MS) findings.push({ kind: 'hang', message: `${label}: took ${run.ms.toFixed(0)} ms` });
  for (const event of run.events) {
    if (event.type === 'error' && !isLegalFailureCode(event.closeCode)) {
      findings.push({ kind: 'illegal-close-code', message: `${label}: failed with close code ${event.closeCode} (${event.detail ?? ''})` });
    }
    if (event.type === 'close' && event.code !== 1005 && !isSendableCloseCode(event.code)) {
      findings.push({ kind: 'illegal-close-code', message: `${label}: accepted a close frame with code ${event.code}` });
    }
  }
  if (run.late.length > 0) findings.push({ kind: 'event-after-close', message: `${label}: after the close/failure: ${run.late.join('; ')}` });
  const difference = compareEvents(expected, run.events, { expected: 'model', actual: 'core' });
  if (difference !== null) findings.push({ kind: 'model-mismatch', message: `${label}: ${difference}` });

  const parsed = parseServerOutput(run.output);
  const owed = owedOutput(run.events, false);
  const problems = [...parsed.problems, ...compareOutput(owed, parsed.events, { exactPongs: !coalescing, echoesMayStopShort: false })];
  if (parsed.trailing > 0) problems.push(`${parsed.trailing} trailing bytes that are not a whole frame`);
  const ending = endingOf(run.events);
  if (coalescing && ending.kind !== 'failed') {
    const issue = lastPongProblem(owed, parsed.events);
    if (issue !== null && ending.kind === 'open') problems.push(`${issue} after the transport drained`);
    if (issue !== null && ending.kind === 'closed') problems.push(`${issue} before the close frame`);
  }
  const closes = ending.kind === 'open' ? 0 : 1;
  if (run.closeTransportCalls !== closes) problems.push(`closeTransport called ${run.closeTransportCalls} times for a connection ${ending.kind}`);
  if (problems.length > 0) findings.push({ kind: 'bad-output', message: `${label}: ${problems.join('; ')}` });
  return findings;
}

/** Run one case: the model, two splits, and every check. */
export function checkParserCase(fuzzCase: FuzzCase): Finding[] {
  const options: CoreOptions = {
    maxPayload: fuzzCase.maxPayload,
    maxFragments: fuzzCase.maxFragments,
    keepFragments: fuzzCase.keepFragments,
    blockWrites: fuzzCase.blockWrites,
  };
  const expected = modelServerEvents(fuzzCase.bytes, { maxPayload: fuzzCase.maxPayload, ...(fuzzCase.maxFragments !== undefined && { maxFragments: fuzzCase.maxFragments }) });
  const findings: Finding[] = [];
  if (fuzzCase.generated !== null && fuzzCase.maxFragments === undefined && fuzzCase.generated.every((e) => e.type !== 'message' || e.data.length <= fuzzCase.maxPayload)) {
    const difference = compareEvents(fuzzCase.generated, expected, { expected: 'generator', actual: 'model' });
    if (difference !== null) findings.push({ kind: 'harness', message: `valid stream: ${difference}` });
  }
  const first = runCore(splitBySizes(fuzzCase.bytes, fuzzCase.chunks), options);
  const coalescing = options.blockWrites !== undefined;
  findings.push(...checkRun(first, expected, `split A (${fuzzCase.chunks.length} chunks)`, coalescing));
  if (fuzzCase.altChunks.length > 0) {
    const second = runCore(splitBySizes(fuzzCase.bytes, fuzzCase.altChunks), options);
    const difference = compareEvents(first.events, second.events, { expected: 'split A', actual: 'split B' });
    // With a blocked transport, what is written depends on when it drains, hence on the split.
    if (difference !== null || (!coalescing && !first.output.equals(second.output))) {
      findings.push({
        kind: 'split-dependent',
        message: `${fuzzCase.chunks.length} vs ${fuzzCase.altChunks.length} chunks: ${difference ?? 'same events, different bytes written'}`,
      });
    }
    if (second.thrown !== undefined && first.thrown === undefined) {
      findings.push(...checkRun(second, expected, `split B (${fuzzCase.altChunks.length} chunks)`, coalescing).filter((f) => f.kind === 'exception'));
    }
  }
  return findings;
}
