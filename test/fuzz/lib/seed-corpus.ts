/**
 * Hand-made inputs for the corpus: one per rule of RFC 6455 a hostile client might break, plus valid
 * edge cases, each with the outcome it must have. `write-seed-corpus.ts` writes them as files.
 */
import { constants, deflateRawSync } from 'node:zlib';
import { Op, closePayload, encodeFrames, type FrameSpec } from './frames.js';
import type { Ending } from './events.js';
import type { KnownIssue } from './known-issues.js';

export interface Seed {
  name: string;
  description: string;
  frames?: FrameSpec[];
  /** Raw bytes appended after the frames (broken tails, partial headers). */
  raw?: Buffer;
  expect: Ending;
  maxPayload?: number;
  /** Replay at the parser with this blocked-transport schedule (see CoreOptions.blockWrites). */
  blockWrites?: number;
  /** The bug in src this input shows, while it is open (see known-issues.ts). */
  knownBug?: KnownIssue;
  /** A live-server input with permessage-deflate (RFC 7692); `expect` is the outcome with it. */
  deflate?: { clientNoContextTakeover: boolean };
}

const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

function f(opcode: number, payload: Buffer | string | number[], extra: Partial<FrameSpec> = {}): FrameSpec {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  return { fin: true, rsv: 0, opcode, payload: data, mask: KEY, ...extra };
}

const failed = (closeCode: number): Ending => ({ kind: 'failed', closeCode });
const closed = (code: number): Ending => ({ kind: 'closed', code });
const OPEN: Ending = { kind: 'open' };
const close1000 = f(Op.Close, closePayload(1000));

export const SEEDS: readonly Seed[] = [
  // §5.2: lengths.
  { name: 'len64-msb-set', description: '64-bit length 2^63 (most significant bit set, §5.2): 1002', frames: [f(Op.Binary, [], { declaredLength: 2n ** 63n })], expect: failed(1002) },
  { name: 'len64-all-ones', description: '64-bit length 2^64-1: MSB set, 1002', frames: [f(Op.Binary, [], { declaredLength: 2n ** 64n - 1n })], expect: failed(1002) },
  { name: 'len64-2pow63-minus-1', description: '64-bit length 2^63-1: legal encoding but beyond any limit, 1009 before any payload', frames: [f(Op.Text, [], { declaredLength: 2n ** 63n - 1n })], expect: failed(1009) },
  { name: 'len64-2pow53', description: '64-bit length 2^53 (not exactly representable as a JS number): 1009', frames: [f(Op.Binary, [], { declaredLength: 2n ** 53n })], expect: failed(1009) },
  { name: 'len-over-maxpayload', description: 'text frame announcing 300,000 bytes with maxPayload 256 KiB: 1009 on the header (§10.4)', frames: [f(Op.Text, 'abc', { declaredLength: 300_000n })], expect: failed(1009) },
  { name: 'fragments-over-maxpayload', description: 'three 500-byte fragments with maxPayload 1,200: 1009 on the third header', frames: [f(Op.Binary, Buffer.alloc(500), { fin: false }), f(Op.Continuation, Buffer.alloc(500), { fin: false }), f(Op.Continuation, Buffer.alloc(500))], expect: failed(1009), maxPayload: 1200 },
  { name: 'exactly-maxpayload', description: 'a message of exactly maxPayload (1,200) bytes is accepted', frames: [f(Op.Binary, Buffer.alloc(1200)), close1000], expect: closed(1000), maxPayload: 1200 },
  { name: 'non-minimal-length', description: '"hi" with a 64-bit length form: §5.2 asks senders for the minimal form; the library accepts it', frames: [f(Op.Text, 'hi', { lengthForm: 64 }), close1000], expect: closed(1000) },
  { name: 'len16-126-bytes', description: 'a 126-byte binary message, the smallest 16-bit length (§5.2)', frames: [f(Op.Binary, Buffer.alloc(126, 1)), close1000], expect: closed(1000) },
  { name: 'truncated-header', description: 'one byte of a header, then nothing: the connection stays open', raw: Buffer.from([0x81]), expect: OPEN },
  { name: 'truncated-extended-length', description: 'a 64-bit length cut after 3 of its 8 bytes: open', raw: Buffer.from([0x82, 0xff, 0x00, 0x00, 0x00]), expect: OPEN },
  // §5.2: reserved bits and opcodes; §5.1: masking.
  { name: 'rsv1-without-extension', description: 'RSV1 on a text frame with no extension negotiated (§5.2): 1002', frames: [f(Op.Text, 'x', { rsv: 4 })], expect: failed(1002) },
  { name: 'rsv3-on-ping', description: 'RSV3 on a ping: 1002', frames: [f(Op.Ping, 'x', { rsv: 1 })], expect: failed(1002) },
  { name: 'reserved-opcode-3', description: 'reserved data opcode 0x3 (§5.2): 1002', frames: [f(3, 'x')], expect: failed(1002) },
  { name: 'reserved-opcode-b', description: 'reserved control opcode 0xB: 1002', frames: [f(0xb, 'x')], expect: failed(1002) },
  { name: 'unmasked-client-frame', description: 'an unmasked frame from a client (§5.1): 1002', frames: [f(Op.Text, 'hello', { mask: null })], expect: failed(1002) },
  { name: 'zero-mask-key', description: 'a masking key of four zero bytes is a valid key', frames: [f(Op.Text, 'plain', { mask: Buffer.alloc(4) }), close1000], expect: closed(1000) },
  // §5.4, §5.5: fragmentation and control frames.
  { name: 'fragmented-ping', description: 'a ping with FIN clear (§5.5: control frames are not fragmented): 1002', frames: [f(Op.Ping, 'x', { fin: false }), f(Op.Continuation, 'y')], expect: failed(1002) },
  { name: 'ping-126-bytes', description: 'a ping of 126 bytes, 16-bit length (§5.5: at most 125): 1002', frames: [f(Op.Ping, Buffer.alloc(126))], expect: failed(1002) },
  { name: 'ping-125-bytes', description: 'a ping of 125 bytes is the largest allowed; answered with a pong', frames: [f(Op.Ping, Buffer.alloc(125, 7)), close1000], expect: closed(1000) },
  { name: 'continuation-first', description: 'a continuation frame with no message to continue (§5.4): 1002', frames: [f(Op.Continuation, 'x')], expect: failed(1002) },
  { name: 'text-inside-fragmented', description: 'a new text frame inside a fragmented message (§5.4): 1002', frames: [f(Op.Text, 'a', { fin: false }), f(Op.Text, 'b')], expect: failed(1002) },
  { name: 'ping-between-fragments', description: 'a ping between two fragments is allowed (§5.4) and answered at once', frames: [f(Op.Text, 'frag', { fin: false }), f(Op.Ping, 'p'), f(Op.Continuation, 'ment'), close1000], expect: closed(1000) },
  { name: 'empty-fragments', description: 'a text message of empty fragments only', frames: [f(Op.Text, '', { fin: false }), f(Op.Continuation, '', { fin: false }), f(Op.Continuation, ''), close1000], expect: closed(1000) },
  // §8.1: UTF-8.
  { name: 'utf8-split-across-fragments', description: '"€" (E2 82 AC) split across three fragments is valid', frames: [f(Op.Text, [0xe2], { fin: false }), f(Op.Continuation, [0x82], { fin: false }), f(Op.Continuation, [0xac]), close1000], expect: closed(1000) },
  { name: 'utf8-invalid-across-fragments', description: 'E2 82 then 28 in the next fragment: invalid across the boundary, 1007', frames: [f(Op.Text, [0xe2, 0x82], { fin: false }), f(Op.Continuation, [0x28])], expect: failed(1007) },
  { name: 'utf8-fail-fast-in-fragment', description: 'a surrogate (ED A0 80) in the first fragment of an unfinished message: 1007 at once, without waiting for the end', frames: [f(Op.Text, [0x61, 0xed, 0xa0, 0x80], { fin: false })], expect: failed(1007) },
  { name: 'utf8-ends-mid-character', description: 'a text message that ends inside a character (E2 82): 1007', frames: [f(Op.Text, [0x61, 0xe2, 0x82])], expect: failed(1007) },
  { name: 'utf8-overlong-nul', description: 'overlong NUL (C0 80): 1007', frames: [f(Op.Text, [0xc0, 0x80])], expect: failed(1007) },
  { name: 'utf8-above-max', description: 'F4 90 80 80 (above U+10FFFF): 1007', frames: [f(Op.Text, [0xf4, 0x90, 0x80, 0x80])], expect: failed(1007) },
  { name: 'utf8-max-code-point', description: 'U+10FFFF (F4 8F BF BF) and U+FFFF are valid', frames: [f(Op.Text, [0xf4, 0x8f, 0xbf, 0xbf, 0xef, 0xbf, 0xbf]), close1000], expect: closed(1000) },
  { name: 'binary-not-utf8', description: 'binary messages are not UTF-8 checked', frames: [f(Op.Binary, [0xc0, 0x80, 0xff]), close1000], expect: closed(1000) },
  // §5.5.1, §7.4: close frames.
  { name: 'close-empty', description: 'a close frame without a body: reported as 1005, answered with an empty close frame', frames: [f(Op.Close, [])], expect: closed(1005) },
  { name: 'close-1-byte', description: 'a close frame with a 1-byte body (§5.5.1): 1002', frames: [f(Op.Close, [0x03])], expect: failed(1002) },
  { name: 'close-1005', description: 'close code 1005 on the wire (§7.4.1: must not be sent): 1002', frames: [f(Op.Close, closePayload(1005))], expect: failed(1002) },
  { name: 'close-1006', description: 'close code 1006 on the wire: 1002', frames: [f(Op.Close, closePayload(1006))], expect: failed(1002) },
  { name: 'close-1015', description: 'close code 1015 on the wire: 1002', frames: [f(Op.Close, closePayload(1015))], expect: failed(1002) },
  { name: 'close-1004', description: 'reserved close code 1004: 1002', frames: [f(Op.Close, closePayload(1004))], expect: failed(1002) },
  { name: 'close-999', description: 'close code 999 (unused range 0-999): 1002', frames: [f(Op.Close, closePayload(999))], expect: failed(1002) },
  { name: 'close-2999', description: 'close code 2999 (reserved for the RFC, §7.4.2): 1002', frames: [f(Op.Close, closePayload(2999))], expect: failed(1002) },
  { name: 'close-5000', description: 'close code 5000 (undefined): 1002', frames: [f(Op.Close, closePayload(5000))], expect: failed(1002) },
  { name: 'close-4999-reason', description: 'close code 4999 (private use) with a reason: echoed', frames: [f(Op.Close, closePayload(4999, 'bye'))], expect: closed(4999) },
  { name: 'close-reason-bad-utf8', description: 'close 1000 with an invalid UTF-8 reason (§5.5.1): 1007', frames: [f(Op.Close, Buffer.concat([closePayload(1000), Buffer.from([0xff])]))], expect: failed(1007) },
  { name: 'close-reason-123-bytes', description: 'close 1000 with a 123-byte reason (the whole 125-byte control payload)', frames: [f(Op.Close, closePayload(1000, 'r'.repeat(123)))], expect: closed(1000) },
  { name: 'frames-after-close', description: 'after a close frame nothing is processed (§5.5.1): a reserved opcode and a text frame after it are ignored', frames: [close1000, f(3, 'x'), f(Op.Text, 'late')], expect: closed(1000) },
  {
    name: 'pong-dropped-on-close',
    description: 'two pings then close 1000 while the transport is blocked (blockWrites 1: one chunk, blocked): the second ping\'s pong must precede the close frame (§5.5.2, §5.5.3)',
    frames: [f(Op.Ping, 'one'), f(Op.Ping, 'two'), close1000],
    expect: closed(1000),
    blockWrites: 1,
  },
  { name: 'close-during-fragmented', description: 'a close frame in the middle of a fragmented message closes the connection; the message is not delivered', frames: [f(Op.Text, 'half', { fin: false }), close1000], expect: closed(1000) },
];

/** A compressed frame (RSV1, RFC 7692 §6) from hex payload bytes. */
function z(opcode: number, hex: string, extra: Partial<FrameSpec> = {}): FrameSpec {
  return f(opcode, Buffer.from(hex.replace(/\s+/g, ''), 'hex'), { rsv: 4, ...extra });
}

const TAKEOVER = { clientNoContextTakeover: false };
const NO_TAKEOVER = { clientNoContextTakeover: true };
const HELLO = 'f2 48 cd c9 c9 07 00'; // RFC 7692 §7.2.3.1: "Hello", flushed, 00 00 ff ff removed
const HELLO_BFINAL = 'f3 48 cd c9 c9 07 00 00'; // §7.2.3.4: "Hello" in a block with BFINAL set

/** Live-server inputs with permessage-deflate negotiated (the parser target has no extension). */
export const DEFLATE_SEEDS: readonly Seed[] = [
  { name: 'deflate-hello', description: 'RFC 7692 §7.2.3.1: "Hello" compressed in one frame', frames: [z(Op.Text, HELLO), close1000], expect: closed(1000), deflate: TAKEOVER },
  { name: 'deflate-hello-fragmented', description: 'RFC 7692 §7.2.3.1: "Hello" compressed, in two frames (RSV1 on the first only)', frames: [z(Op.Text, 'f2 48 cd', { fin: false }), f(Op.Continuation, [0xc9, 0xc9, 0x07, 0x00]), close1000], expect: closed(1000), deflate: TAKEOVER },
  { name: 'deflate-context-takeover', description: 'RFC 7692 §7.2.3.2: the second "Hello" refers back to the first (context takeover)', frames: [z(Op.Text, HELLO), z(Op.Text, 'f2 00 11 00 00'), close1000], expect: closed(1000), deflate: TAKEOVER },
  { name: 'deflate-stored-block', description: 'RFC 7692 §7.2.3.3: "Hello" in a DEFLATE block with no compression', frames: [z(Op.Text, '00 05 00 fa ff 48 65 6c 6c 6f 00'), close1000], expect: closed(1000), deflate: NO_TAKEOVER },
  { name: 'deflate-empty-message', description: 'RFC 7692 §7.2.3.6: an empty message compresses to one 0x00 byte; and an empty payload', frames: [z(Op.Binary, '00'), z(Op.Binary, ''), close1000], expect: closed(1000), deflate: TAKEOVER },
  { name: 'deflate-bfinal-context-takeover', description: 'RFC 7692 §7.2.3.4: "Hello" ended by a BFINAL block, then "Hello" twice the usual way, with context takeover: three "Hello" echoes are owed', frames: [z(Op.Text, HELLO_BFINAL), z(Op.Text, HELLO), z(Op.Text, HELLO), close1000], expect: closed(1000), deflate: TAKEOVER },
  { name: 'deflate-bfinal-no-context-takeover', description: 'the same with client_no_context_takeover: the second message must not fail', frames: [z(Op.Text, HELLO_BFINAL), z(Op.Text, HELLO), close1000], expect: closed(1000), deflate: NO_TAKEOVER },
  { name: 'deflate-zip-bomb', description: '2 MiB of "a" compressed to 2 KiB, over maxPayload (256 KiB) once inflated: 1009, without inflating it all', frames: [f(Op.Binary, deflateFlushed(Buffer.alloc(2 * 1024 * 1024, 0x61)), { rsv: 4 })], expect: failed(1009), deflate: NO_TAKEOVER },
  { name: 'deflate-invalid-data', description: 'RSV1 on a message whose payload is not DEFLATE (a reserved block type): 1007', frames: [z(Op.Binary, 'ff ff ff ff')], expect: failed(1007), deflate: TAKEOVER },
  { name: 'deflate-bad-utf8', description: 'a compressed text message that inflates to invalid UTF-8 (C0 80): 1007', frames: [f(Op.Text, deflateFlushed(Buffer.from([0x61, 0xc0, 0x80])), { rsv: 4 })], expect: failed(1007), deflate: TAKEOVER },
  { name: 'deflate-rsv1-on-continuation', description: 'RSV1 on a continuation frame (RFC 7692 §6.1: first frame only): 1002', frames: [z(Op.Text, 'f2 48 cd', { fin: false }), z(Op.Continuation, 'c9 c9 07 00')], expect: failed(1002), deflate: TAKEOVER },
  { name: 'deflate-rsv1-on-ping', description: 'RSV1 on a ping (control frames are never compressed): 1002', frames: [z(Op.Ping, '00')], expect: failed(1002), deflate: TAKEOVER },
  { name: 'deflate-rsv2', description: 'RSV2 with only permessage-deflate (RSV1) negotiated: 1002', frames: [f(Op.Text, 'x', { rsv: 2 })], expect: failed(1002), deflate: TAKEOVER },
];

function deflateFlushed(data: Buffer): Buffer {
  const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

export function seedBytes(seed: Seed): Buffer {
  return Buffer.concat([encodeFrames(seed.frames ?? []), seed.raw ?? Buffer.alloc(0)]);
}
