/**
 * Fuzz inputs as pure functions of (campaign seed, index): a generated valid stream, mutated, with the
 * chunk splits to feed it in. Rebuilding a case from its seed and index gives the same bytes, which is
 * how the parser watchdog recovers the input of a hung worker, and how a printed failure reproduces.
 */
import { Prng, deriveSeed } from './prng.js';
import { generateFlood, generateStream } from './generator.js';
import { mutate } from './mutators.js';
import { encodeFrames, encodeFrame, closePayload, Op } from './frames.js';
import { randomChunkSizes, chunkSizes, CHUNK_STRATEGIES } from './chunking.js';
import type { WireEvent } from './events.js';
import type { ModelOptions } from './model.js';

/** The message limit of the fuzzed connections: small enough that 1009 is reached (RFC 6455 §10.4). */
export const FUZZ_MAX_PAYLOAD = 256 * 1024;

export interface FuzzCase {
  seed: number;
  index: number;
  /** The client's byte stream (after the opening handshake). */
  bytes: Buffer;
  mutations: string[];
  /** What the generator says a server reports, when the stream was left valid (no mutation). */
  generated: WireEvent[] | null;
  maxPayload: number;
  /** The library's `maxFragments` (undefined: unlimited). */
  maxFragments?: number;
  keepFragments: boolean;
  /**
   * Parser target: the transport reports itself blocked now and then (`isWriteBlocked`) and drains
   * (`writable()`), so that answers to pings are coalesced (§5.5.3); the number seeds when.
   */
  blockWrites?: number;
  /** The split to feed the stream in, and a second one for the "any split, same result" check. */
  chunks: number[];
  altChunks: number[];
}

function baseCase(seed: number, index: number, rng: Prng, flood = false, deflate = false): Omit<FuzzCase, 'chunks' | 'altChunks' | 'maxPayload' | 'keepFragments'> {
  const stream = flood ? generateFlood(rng) : generateStream(rng, deflate ? { maxPayload: FUZZ_MAX_PAYLOAD } : undefined);
  const donor = (): Buffer => encodeFrames(generateStream(rng, deflate ? { maxPayload: FUZZ_MAX_PAYLOAD } : undefined).frames);
  const { bytes, mutations } = mutate(rng, stream.frames, donor);
  return { seed, index, bytes, mutations, generated: mutations.length === 0 ? stream.expected : null };
}

/** Byte-by-byte splits only up to this size: beyond, they cost much and find nothing more. */
const MAX_PARSER_CHUNKS = 16 * 1024;

/** Input `index` of a parser campaign. */
export function parserCase(seed: number, index: number): FuzzCase {
  const rng = new Prng(deriveSeed(seed, index));
  const base = baseCase(seed, index, rng);
  const maxPayload = rng.chance(0.8) ? FUZZ_MAX_PAYLOAD : rng.int(0, 2000);
  const chunks = randomChunkSizes(rng, base.bytes.length, MAX_PARSER_CHUNKS);
  // A second split, by another strategy where possible, for the "any split, same result" check.
  const strategy = rng.pick(CHUNK_STRATEGIES.filter((s) => s !== 'whole' || chunks.length > 1));
  const altChunks = chunkSizes(rng, base.bytes.length, base.bytes.length > MAX_PARSER_CHUNKS && strategy === 'bytewise' ? 'small' : strategy);
  return {
    ...base,
    maxPayload,
    ...(rng.chance(0.15) && { maxFragments: rng.int(1, 4) }),
    keepFragments: rng.chance(0.3),
    ...(rng.chance(0.25) && { blockWrites: rng.next() }),
    chunks,
    altChunks,
  };
}

export interface ServerCase extends FuzzCase {
  /** The mutated stream alone, without the closing tail (`bytes` is `stream` + `CLOSING_TAIL`). */
  stream: Buffer;
  /** Per chunk: 0 write on, -1 wait for setImmediate, n > 0 wait n ms, before the next write. */
  pauses: number[];
  /** Send the first chunk in the same write as the upgrade request (the server's `head`). */
  withRequest: boolean;
  /**
   * The client does not read until it has written everything: the server's writes back up, and it
   * must coalesce pongs (§5.5.3) and keep everything else in order.
   */
  slowReader: boolean;
  /**
   * Offer permessage-deflate (RFC 7692) with server_no_context_takeover (so that each echo inflates on
   * its own), and with or without client_no_context_takeover; null: no extension.
   */
  deflate: { clientNoContextTakeover: boolean } | null;
}

/** The reference model's options for a live-server case. */
export function serverModelOptions(fuzzCase: Pick<ServerCase, 'maxPayload' | 'deflate'>): ModelOptions {
  return {
    maxPayload: fuzzCase.maxPayload,
    ...(fuzzCase.deflate !== null && { deflate: { contextTakeover: !fuzzCase.deflate.clientNoContextTakeover } }),
  };
}

/**
 * A masked close frame 1000 appended to every stream sent to the live server. If the stream left the
 * connection open at a frame boundary, the server answers it with 1000 (§5.5.1); if the stream is
 * already closed or failed, it is ignored; if the stream stopped inside a frame, it becomes payload.
 * The reference model, run on the same bytes, says which. Its mask is fixed so a replay is exact.
 */
export const CLOSING_TAIL: Buffer = encodeFrame({
  fin: true,
  rsv: 0,
  opcode: Op.Close,
  payload: closePayload(1000, 'fuzz done'),
  mask: Buffer.from([0x6d, 0x61, 0x73, 0x6b]),
});

/** The largest number of TCP writes for one stream (byte-by-byte writes of big streams are too slow). */
const MAX_SERVER_CHUNKS = 200;

/** Input `index` of a live-server campaign. */
export function serverCase(seed: number, index: number): ServerCase {
  const rng = new Prng(deriveSeed(seed, index) ^ 0x5eed);
  const flood = rng.chance(0.005);
  const deflate = !flood && rng.chance(0.25) ? { clientNoContextTakeover: rng.chance(0.5) } : null;
  const base = baseCase(seed, index, rng, flood, deflate !== null);
  const bytes = Buffer.concat([base.bytes, CLOSING_TAIL]);
  const chunks = randomChunkSizes(rng, bytes.length, MAX_SERVER_CHUNKS);
  const pauses = chunks.map(() => rng.weighted([[70, 0], [20, -1], [10, rng.int(1, 3)]] as const));
  return {
    ...base,
    stream: base.bytes,
    bytes,
    maxPayload: FUZZ_MAX_PAYLOAD,
    keepFragments: false,
    chunks,
    altChunks: [],
    pauses,
    withRequest: rng.chance(0.25),
    slowReader: flood || rng.chance(0.05),
    deflate,
  };
}
