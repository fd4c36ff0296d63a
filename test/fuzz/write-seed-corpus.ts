/**
 * Write the hand-made seed inputs (lib/seed-corpus.ts) into test/fuzz/corpus/ and index.json,
 * keeping the entries the fuzzer saved. Run: node --import tsx test/fuzz/write-seed-corpus.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORPUS_DIR, knownBugNote, readIndex, writeIndex, type CorpusEntry } from './lib/corpus.js';
import { DEFLATE_SEEDS, SEEDS, seedBytes } from './lib/seed-corpus.js';

const found = readIndex().filter((entry) => entry.found !== undefined);
const seeds: CorpusEntry[] = [...SEEDS, ...DEFLATE_SEEDS].map((seed) => {
  const file = `seed-${seed.name}.bin`;
  writeFileSync(join(CORPUS_DIR, file), seedBytes(seed));
  return {
    file,
    description: seed.description,
    expect: seed.expect,
    ...(seed.maxPayload !== undefined && { maxPayload: seed.maxPayload }),
    ...(seed.blockWrites !== undefined && { blockWrites: seed.blockWrites }),
    ...(seed.deflate !== undefined && { deflate: seed.deflate }),
    ...(seed.knownBug !== undefined && { knownBug: knownBugNote(seed.knownBug) }),
  };
});
writeIndex([...seeds, ...found]);
console.log(`${seeds.length} seed inputs and ${found.length} found ones in ${CORPUS_DIR}`);
