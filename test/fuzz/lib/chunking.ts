/**
 * Random splits of a byte stream into the chunks a transport would deliver (TCP writes, `data`
 * events): whole, one byte at a time, small pieces, mixed sizes, or a few random cuts. The protocol
 * core promises the same result for any split.
 */
import type { Prng } from './prng.js';

export type ChunkStrategy = 'whole' | 'bytewise' | 'small' | 'mixed' | 'cuts';

export const CHUNK_STRATEGIES: readonly ChunkStrategy[] = ['whole', 'bytewise', 'small', 'mixed', 'cuts'];

/** Chunk sizes (summing to `length`) following `strategy`. */
export function chunkSizes(rng: Prng, length: number, strategy: ChunkStrategy): number[] {
  if (length === 0) return [];
  const sizes: number[] = [];
  switch (strategy) {
    case 'whole':
      return [length];
    case 'bytewise':
      return new Array<number>(length).fill(1);
    case 'cuts': {
      const cuts = [...new Set(Array.from({ length: rng.int(1, 6) }, () => rng.int(1, length)))].sort((a, b) => a - b);
      let start = 0;
      for (const cut of [...cuts, length]) {
        if (cut > start) sizes.push(cut - start);
        start = cut;
      }
      return sizes;
    }
    case 'small':
    case 'mixed': {
      let left = length;
      while (left > 0) {
        const size = strategy === 'small' ? rng.int(1, 8) : rng.chance(0.3) ? rng.int(1, 3) : rng.skewed(1, Math.max(1, Math.min(left, 4096)));
        const take = Math.min(left, Math.max(1, size));
        sizes.push(take);
        left -= take;
      }
      return sizes;
    }
  }
}

/** A random strategy, giving at most `maxChunks` chunks (byte-by-byte chunks of big streams are slow). */
export function randomChunkSizes(rng: Prng, length: number, maxChunks = Infinity): number[] {
  for (let attempt = 0; attempt < 4; attempt++) {
    const sizes = chunkSizes(rng, length, rng.pick(CHUNK_STRATEGIES));
    if (sizes.length <= maxChunks) return sizes;
  }
  return chunkSizes(rng, length, 'cuts');
}

/**
 * Split `bytes` into chunks of the given sizes: views of one private copy, since the core unmasks
 * chunks in place and the caller's bytes must stay intact.
 */
export function splitBySizes(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const copy = Buffer.from(bytes);
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const size of sizes) {
    chunks.push(copy.subarray(offset, offset + size));
    offset += size;
  }
  if (offset < copy.length) chunks.push(copy.subarray(offset));
  return chunks;
}
