/**
 * Replay corpus inputs: against the sans-I/O core in several splits (whole, byte by byte, the split
 * that found it, a few random ones), and against the live server.
 */
import { createHash } from 'node:crypto';
import { Prng } from './prng.js';
import { CLOSING_TAIL, FUZZ_MAX_PAYLOAD, type ServerCase } from './cases.js';
import { chunkSizes, randomChunkSizes, splitBySizes } from './chunking.js';
import { compareEvents, endingOf, type Ending } from './events.js';
import { modelServerEvents } from './model.js';
import { checkRun, runCore } from './parser-target.js';
import { runServerCase } from './server-target.js';
import { modelOptionsOf, type CorpusItem } from './corpus.js';
import type { Finding } from './findings.js';
import type { ServerProcess } from './server-process.js';

function rngFor(bytes: Buffer): Prng {
  return new Prng(createHash('sha256').update(bytes).digest().readUInt32BE(0));
}

function sum(sizes: readonly number[]): number {
  return sizes.reduce((a, b) => a + b, 0);
}

/** The splits a corpus input is replayed in, by name. */
function splits(item: CorpusItem): Array<[string, number[]]> {
  const { bytes, entry } = item;
  const rng = rngFor(bytes);
  const list: Array<[string, number[]]> = [['whole', chunkSizes(rng, bytes.length, 'whole')]];
  if (bytes.length <= 64 * 1024) list.push(['byte by byte', chunkSizes(rng, bytes.length, 'bytewise')]);
  if (entry.chunks !== undefined && sum(entry.chunks) === bytes.length) list.push(['the recorded split', entry.chunks]);
  for (let i = 0; i < 3; i++) list.push([`random split ${i + 1}`, randomChunkSizes(rng, bytes.length, 64 * 1024)]);
  return list;
}

export interface ParserReplay {
  findings: Finding[];
  /** How the core left the connection (first split). */
  ending: Ending;
  /** How the reference model says it must. */
  modelEnding: Ending;
}

export function replayParser(item: CorpusItem): ParserReplay {
  const options = modelOptionsOf(item.entry);
  const expected = modelServerEvents(item.bytes, options);
  const findings: Finding[] = [];
  let first: ReturnType<typeof runCore> | null = null;
  const blockWrites = item.entry.blockWrites ?? 1;
  for (const [name, sizes] of splits(item)) {
    for (const variant of ['plain', 'keepFragments', 'blocked writes'] as const) {
      const run = runCore(splitBySizes(item.bytes, sizes), {
        ...options,
        keepFragments: variant === 'keepFragments',
        blockWrites: variant === 'blocked writes' ? blockWrites : undefined,
      });
      const label = `${name}, ${variant}`;
      findings.push(...checkRun(run, expected, label, variant === 'blocked writes'));
      if (first === null) first = run;
      else {
        const difference = compareEvents(first.events, run.events, { expected: 'whole', actual: label });
        if (difference !== null || (variant !== 'blocked writes' && !first.output.equals(run.output))) {
          findings.push({ kind: 'split-dependent', message: `${label}: ${difference ?? 'different bytes written'}` });
        }
      }
    }
  }
  return { findings, ending: endingOf(first!.events), modelEnding: endingOf(expected) };
}

/**
 * The live-server case for a corpus input: its bytes and the closing tail, in its recorded or a random
 * split. The server runs with the fuzz limits, so entries with other limits are judged by those.
 */
export function serverCaseOf(item: CorpusItem, withRequest = false): ServerCase {
  const bytes = Buffer.concat([item.bytes, CLOSING_TAIL]);
  const rng = rngFor(bytes);
  const recorded = item.entry.chunks;
  const chunks = recorded !== undefined && sum(recorded) === bytes.length ? recorded : randomChunkSizes(rng, bytes.length, 200);
  return {
    seed: item.entry.found?.seed ?? 0,
    index: item.entry.found?.index ?? -1,
    stream: item.bytes,
    bytes,
    mutations: [],
    generated: null,
    maxPayload: FUZZ_MAX_PAYLOAD, // the live server's limit, whatever the entry's

    keepFragments: false,
    chunks,
    altChunks: [],
    pauses: chunks.map(() => (rng.chance(0.2) ? -1 : 0)),
    withRequest,
    slowReader: false,
    deflate: item.entry.deflate ?? null,
  };
}

export async function replayServer(server: ServerProcess, item: CorpusItem, withRequest = false): Promise<Finding[]> {
  return runServerCase(server, serverCaseOf(item, withRequest));
}
