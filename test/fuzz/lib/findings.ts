/** What the targets report, and how a failure is described so that it can be reproduced. */
import type { KnownIssue } from './known-issues.js';

export type FindingKind =
  /** An exception escaped the library (parser: from `receive()`; server: uncaught in its process). */
  | 'exception'
  /** An input took longer than the time bound, or a connection never ended. */
  | 'hang'
  /** A close code a connection may not fail with, or one that must never be on the wire (1005/1006/1015). */
  | 'illegal-close-code'
  /** Something was delivered after the close frame or the failure. */
  | 'event-after-close'
  /** The library's events differ from the reference model's. */
  | 'model-mismatch'
  /** Two splits of the same bytes gave different results. */
  | 'split-dependent'
  /** What the server wrote is illegal or not what it owed (pongs, echoes, the close frame). */
  | 'bad-output'
  /** The server process crashed or reported an unhandled error. */
  | 'crash'
  /** A connection the server still holds after every client left. */
  | 'leak'
  /** The harness disagrees with itself (generator vs model): a bug in the fuzzer, not in src. */
  | 'harness';

export interface Finding {
  kind: FindingKind;
  message: string;
  /** A bug already reported (see known-issues.ts): printed, saved, not counted as a failure. */
  known?: KnownIssue;
  /**
   * Caused by another input (a connection that left shared state broken, e.g. a pooled zlib stream):
   * the input does not reproduce it alone, so it is not saved to the corpus.
   */
  elsewhere?: boolean;
}

/** Whether every finding is a known issue (then the input does not fail the campaign). */
export function onlyKnown(findings: readonly Finding[]): boolean {
  return findings.length > 0 && findings.every((finding) => finding.known !== undefined);
}

export type Target = 'parser' | 'server';

/** A failing input, with what is needed to replay it. */
export interface FailureRecord {
  target: Target;
  seed: number;
  index: number;
  findings: Finding[];
  /** The client's stream (for the server target, without the closing tail). */
  bytes: Buffer;
  /** The split it was sent in (for the server target, of the stream and the closing tail). */
  chunks: number[];
  mutations: string[];
  maxPayload: number;
  maxFragments?: number;
  /** Parser target: the seed of the blocked-transport schedule (pong coalescing), if one was used. */
  blockWrites?: number;
  /** Server target: permessage-deflate was negotiated. */
  deflate?: { clientNoContextTakeover: boolean };
  /** Where it was saved, if it was. */
  file?: string;
}

export function describeFailure(record: FailureRecord): string {
  const lines = [
    `[${record.target}] seed ${record.seed} input #${record.index}: ${record.findings.map((f) => f.kind).join(', ')}`,
    ...record.findings.map((f) => `  - ${f.kind}${f.known === undefined ? '' : ` (known issue ${f.known})`}: ${f.message}`),
    `  mutations: ${record.mutations.length === 0 ? 'none' : record.mutations.join('; ')}`,
    `  maxPayload ${record.maxPayload}${record.maxFragments === undefined ? '' : `, maxFragments ${record.maxFragments}`}` +
      `${record.blockWrites === undefined ? '' : `, blocked writes (seed ${record.blockWrites})`}` +
      `${record.deflate === undefined ? '' : `, permessage-deflate${record.deflate.clientNoContextTakeover ? ' (client_no_context_takeover)' : ''}`}` +
      `, ${record.bytes.length} bytes in ${record.chunks.length} chunks`,
    `  bytes: ${record.bytes.subarray(0, 96).toString('hex')}${record.bytes.length > 96 ? '…' : ''}`,
  ];
  if (record.file !== undefined) lines.push(`  saved: ${record.file}`);
  return lines.join('\n');
}
