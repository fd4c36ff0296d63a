/**
 * The corpus: inputs worth replaying on every test run — hand-made nasty streams and the inputs the
 * fuzzer found bugs with. Each is a raw `.bin` file (the client's bytes after the opening handshake)
 * described in `index.json`: what it is, the outcome it must have where known, the split that
 * found it, and, while the bug it found is open in src, a `knownBug` note.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FUZZ_MAX_PAYLOAD } from './cases.js';
import { endingOf, type Ending } from './events.js';
import { modelServerEvents, type ModelOptions } from './model.js';
import { KNOWN_ISSUES, type KnownIssue } from './known-issues.js';
import type { FailureRecord, FindingKind, Target } from './findings.js';

export const CORPUS_DIR = fileURLToPath(new URL('../corpus/', import.meta.url));

export interface CorpusEntry {
  /** File name in the corpus folder. */
  file: string;
  description: string;
  /** The outcome at the parser (the stream alone): open, closed by the client's close frame, or failed. */
  expect?: Ending;
  /** `maxPayload` of the connection (default: the fuzz limit, 256 KiB). */
  maxPayload?: number;
  /** `maxFragments` of the connection (default: unlimited). */
  maxFragments?: number;
  /** Replay at the parser with a transport blocked now and then, on this schedule (pong coalescing). */
  blockWrites?: number;
  /**
   * A live-server input with permessage-deflate negotiated (RFC 7692); `expect` is then the server's
   * outcome with the extension (the parser target has no extension and judges it by the model alone).
   */
  deflate?: { clientNoContextTakeover: boolean };
  /** The split that found it (replayed along with whole and byte-by-byte splits). */
  chunks?: number[];
  /** Where the fuzzer found it. */
  found?: { target: Target; seed: number; index: number; kinds: FindingKind[]; date: string };
  /** While set, the bug this input found is open in src: a failing replay is reported as a to-do. */
  knownBug?: string;
}

export interface CorpusItem {
  entry: CorpusEntry;
  bytes: Buffer;
}

function indexPath(dir: string): string {
  return join(dir, 'index.json');
}

export function readIndex(dir = CORPUS_DIR): CorpusEntry[] {
  const path = indexPath(dir);
  if (!existsSync(path)) return [];
  return (JSON.parse(readFileSync(path, 'utf8')) as { entries: CorpusEntry[] }).entries;
}

/** One entry per line, so that adding an input is a one-line diff. */
export function writeIndex(entries: readonly CorpusEntry[], dir = CORPUS_DIR): void {
  writeFileSync(indexPath(dir), `{\n  "entries": [\n${entries.map((entry) => `    ${JSON.stringify(entry)}`).join(',\n')}\n  ]\n}\n`);
}

export function loadCorpus(dir = CORPUS_DIR): CorpusItem[] {
  return readIndex(dir).map((entry) => ({ entry, bytes: readFileSync(join(dir, entry.file)) }));
}

/** The model's options for a corpus entry or a failure record. */
export function modelOptionsOf(entry: { maxPayload?: number; maxFragments?: number }): ModelOptions {
  return { maxPayload: entry.maxPayload ?? FUZZ_MAX_PAYLOAD, ...(entry.maxFragments !== undefined && { maxFragments: entry.maxFragments }) };
}

function knownIssueOf(record: FailureRecord): string | undefined {
  const known = record.findings.find((f) => f.known !== undefined)?.known;
  return known === undefined ? undefined : knownBugNote(known);
}

/** How an entry names the open bug it shows. */
export function knownBugNote(issue: KnownIssue): string {
  return `${issue}: ${KNOWN_ISSUES[issue]?.title ?? 'unknown'} (see test/fuzz/lib/known-issues.ts)`;
}

/** Longer splits (byte-by-byte ones of big inputs) are not kept: the replay tries those itself. */
const MAX_SAVED_CHUNKS = 1000;

/**
 * Save a failing input (once per content) and return its file name, or null if it was saved before.
 * Its expectation is the reference model's: the replay fails until src is fixed.
 */
export function saveFailure(record: FailureRecord, dir = CORPUS_DIR): string | null {
  const kinds = [...new Set(record.findings.map((f) => f.kind))];
  const hash = createHash('sha256').update(record.bytes).update(JSON.stringify(record.chunks)).digest('hex').slice(0, 12);
  const file = `found-${record.target}-${kinds[0] ?? 'failure'}-${hash}.bin`;
  if (existsSync(join(dir, file))) return null;
  writeFileSync(join(dir, file), record.bytes);
  const entries = readIndex(dir);
  entries.push({
    file,
    description: record.findings.map((f) => `${f.kind}: ${f.message.split('\n')[0]!.slice(0, 300)}`).join(' | '),
    // The stream alone: at the parser, or at the server with the extension when there was one.
    expect: endingOf(modelServerEvents(record.bytes, { ...modelOptionsOf(record), ...(record.deflate !== undefined && { deflate: { contextTakeover: !record.deflate.clientNoContextTakeover } }) })),
    ...(record.maxPayload !== FUZZ_MAX_PAYLOAD && { maxPayload: record.maxPayload }),
    ...(record.maxFragments !== undefined && { maxFragments: record.maxFragments }),
    ...(record.blockWrites !== undefined && { blockWrites: record.blockWrites }),
    ...(record.deflate !== undefined && { deflate: record.deflate }),
    ...(record.chunks.length <= MAX_SAVED_CHUNKS && { chunks: record.chunks }),
    found: { target: record.target, seed: record.seed, index: record.index, kinds, date: new Date().toISOString().slice(0, 10) },
    knownBug: knownIssueOf(record) ?? 'found by the fuzzer, not yet triaged',
  });
  writeIndex(entries, dir);
  return join(dir, file);
}
