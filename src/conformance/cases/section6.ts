/**
 * Section 6: UTF-8 handling. Empty and fragmented text messages (6.1.x), valid UTF-8 split on and
 * off code point boundaries (6.2.x), invalid UTF-8 whole and in 1-octet fragments (6.3.x), fail-fast
 * detection inside a fragmented or chopped message (6.4.x), and 6.5.x–6.23.x generated from Markus
 * Kuhn's UTF-8 decoder test (UTF-8-test.txt), one case per byte sequence, each sent as one text frame:
 * a valid sequence must come back as sent, an invalid one must make the peer fail with 1007.
 */
import type { CaseDefinition, ExpectedClose } from '../case.js';
import { message, timeout } from '../case.js';
import type { FuzzPeer } from '../fuzz-peer.js';
import { isValidUtf8 } from '../../protocol/utf8.js';

const hex = (data: Buffer): string => data.toString('hex');
/** Bytes from hex digits (spaces allowed for readability). */
const bytes = (digits: string): Buffer => Buffer.from(digits.replace(/\s+/g, ''), 'hex');
const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');
const concat = (...parts: Buffer[]): Buffer => Buffer.concat(parts);

const CLEAN_CLOSE: ExpectedClose = { closedByMe: true, closeCode: [1000], requireClean: true };
/** The peer must fail the connection with 1007; if we had to close, it did not notice at all. */
const FAIL_1007: ExpectedClose = { closedByMe: false, closeCode: [1007], requireClean: false, closedByWrongEndpointIsFatal: true };

/** Send a text (or binary) message in frames of `size` octets (Autobahn's `sendMessage(..., fragmentSize)`). */
function sendFragmented(p: FuzzPeer, payload: Buffer, size: number, binary = false): void {
  if (payload.length <= size) {
    p.sendFrame({ opcode: binary ? 2 : 1, payload });
    return;
  }
  for (let start = 0; start < payload.length; start += size) {
    const end = Math.min(start + size, payload.length);
    p.sendFrame({ opcode: start === 0 ? (binary ? 2 : 1) : 0, payload: payload.subarray(start, end), fin: end === payload.length });
  }
}

/** "κόσμε", the Greek word of UTF-8-test.txt. */
const KOSME = bytes('ceba e1bdb9 cf83 cebc ceb5');

// --- 6.1: empty text messages -------------------------------------------------------------------

const section6_1: CaseDefinition[] = [
  {
    id: '6.1.1',
    description: 'Send text message of length 0.',
    expectation: "A message is echo'ed back to us (with empty payload).",
    onOpen(run) {
      run.expect('OK', [message('')]);
      run.expectClose(CLEAN_CLOSE);
      run.p.sendFrame({ opcode: 1, payload: '' });
      run.p.closeAfter(1);
    },
  },
  {
    id: '6.1.2',
    description: 'Send fragmented text message, 3 fragments each of length 0.',
    expectation: "A message is echo'ed back to us (with empty payload).",
    onOpen(run) {
      run.expect('OK', [message('')]);
      run.expectClose(CLEAN_CLOSE);
      run.p.sendFrame({ opcode: 1, fin: false, payload: '' });
      run.p.sendFrame({ opcode: 0, fin: false, payload: '' });
      run.p.sendFrame({ opcode: 0, fin: true, payload: '' });
      run.p.closeAfter(1);
    },
  },
  {
    id: '6.1.3',
    description: 'Send fragmented text message, 3 fragments, first and last of length 0, middle non-empty.',
    expectation: "A message is echo'ed back to us (with payload = payload of middle fragment).",
    onOpen(run) {
      const middle = 'middle frame payload';
      run.expect('OK', [message(middle)]);
      run.expectClose(CLEAN_CLOSE);
      run.p.sendFrame({ opcode: 1, fin: false, payload: '' });
      run.p.sendFrame({ opcode: 0, fin: false, payload: middle });
      run.p.sendFrame({ opcode: 0, fin: true, payload: '' });
      run.p.closeAfter(1);
    },
  },
];

// --- 6.2: valid UTF-8, whole and fragmented -----------------------------------------------------

const HELLO = 'Hello-µ@ßöäüàá-UTF-8!!';
const HELLO_1 = 'Hello-µ@ßöä';
const HELLO_2 = 'üàá-UTF-8!!';
const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

/** A valid message echoed back, sent in frames of `size` octets (Infinity: one frame). */
function validEcho(id: string, description: string, payload: Buffer, size: number): CaseDefinition {
  return {
    id,
    description,
    expectation: "The message is echo'ed back to us.",
    onOpen(run) {
      run.expect('OK', [message(payload)]);
      run.expectClose(CLEAN_CLOSE);
      sendFragmented(run.p, payload, size);
      run.p.closeAfter(1);
    },
  };
}

const ONE_OCTET_FRAGMENTS =
  'Send a valid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends.';

const section6_2: CaseDefinition[] = [
  validEcho(
    '6.2.1',
    `Send a valid UTF-8 text message in one fragment.<br><br>MESSAGE:<br>${HELLO}<br>${hex(utf8(HELLO))}`,
    utf8(HELLO),
    Infinity,
  ),
  {
    id: '6.2.2',
    description:
      'Send a valid UTF-8 text message in two fragments, fragmented on UTF-8 code point boundary.' +
      `<br><br>MESSAGE FRAGMENT 1:<br>${HELLO_1}<br>${hex(utf8(HELLO_1))}<br><br>MESSAGE FRAGMENT 2:<br>${HELLO_2}<br>${hex(utf8(HELLO_2))}`,
    expectation: "The message is echo'ed back to us.",
    onOpen(run) {
      run.expect('OK', [message(HELLO_1 + HELLO_2)]);
      run.expectClose(CLEAN_CLOSE);
      run.p.sendFrame({ opcode: 1, fin: false, payload: HELLO_1 });
      run.p.sendFrame({ opcode: 0, fin: true, payload: HELLO_2 });
      run.p.closeAfter(1);
    },
  },
  validEcho('6.2.3', `${ONE_OCTET_FRAGMENTS}<br><br>MESSAGE:<br>${HELLO}<br>${hex(utf8(HELLO))}`, utf8(HELLO), 1),
  validEcho('6.2.4', `${ONE_OCTET_FRAGMENTS}<br><br>MESSAGE:<br>${KOSME.toString('utf8')}<br>${hex(KOSME)}`, KOSME, 1),
];

// --- 6.3: invalid UTF-8, whole and in 1-octet fragments -----------------------------------------

/** "κόσμε", then U+D800 (a surrogate: invalid exactly on its second octet, 0xA0, at offset 12), then "edited". */
const SURROGATE_TEXT = concat(KOSME, bytes('eda080'), ascii('edited'));

function invalidAtOnce(id: string, description: string, payload: Buffer, size: number): CaseDefinition {
  return {
    id,
    description,
    expectation: 'The connection is failed immediately, since the payload is not valid UTF-8.',
    onOpen(run) {
      run.expect('OK', []);
      run.expectClose(FAIL_1007);
      sendFragmented(run.p, payload, size);
      run.p.killAfter(1);
    },
  };
}

const section6_3: CaseDefinition[] = [
  invalidAtOnce('6.3.1', `Send invalid UTF-8 text message unfragmented.<br><br>MESSAGE:<br>${hex(SURROGATE_TEXT)}`, SURROGATE_TEXT, Infinity),
  invalidAtOnce(
    '6.3.2',
    'Send invalid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends.' +
      `<br><br>MESSAGE:<br>${hex(SURROGATE_TEXT)}`,
    SURROGATE_TEXT,
    1,
  ),
];

// --- 6.4: fail fast inside a fragmented or chopped message --------------------------------------

/** "κόσμε", then 0x110000 in the UTF-8 integer scheme (beyond U+10FFFF: invalid on its 2nd octet, 0x90, at offset 12), then "edited". */
const PART1 = KOSME;
const PART2 = bytes('f4908080');
const PART3 = ascii('edited');
const OUT_OF_RANGE_TEXT = concat(PART1, PART2, PART3);

const partsList = (parts: readonly Buffer[]): string =>
  `<br><br>MESSAGE PARTS:<br>\n${parts.map((part, i) => `PART${i + 1} = ${hex(part)}<br>\n`).join('')}`;

const FRAMES_EXPECTATION =
  'The first frame is accepted, we expect to timeout on the first wait. The 2nd frame should be rejected immediately (fail fast on UTF-8). ' +
  'If we timeout, we expect the connection is failed at least then, since the complete message payload is not valid UTF-8.';
const CHOPS_EXPECTATION =
  'The first chop is accepted, we expect to timeout on the first wait. The 2nd chop should be rejected immediately (fail fast on UTF-8). ' +
  'If we timeout, we expect the connection is failed at least then, since the complete message payload is not valid UTF-8.';

/**
 * The message goes out in three parts a second apart; the second makes it invalid. A peer that fails
 * fast closes before the second wait is over (OK); one that validates only the whole message fails
 * after the third part (NON-STRICT); one that never notices leaves the close to us (FAILED).
 */
function failFast(id: string, description: string, expectation: string, parts: readonly [Buffer, Buffer, Buffer], chopped: boolean): CaseDefinition {
  const [first, second, third] = parts;
  return {
    id,
    description,
    expectation,
    onOpen(run) {
      run.expect('OK', [timeout('A')]);
      run.expect('NON-STRICT', [timeout('A'), timeout('B')]);
      run.expectClose(FAIL_1007);
      const p = run.p;
      const part2 = (): void => {
        if (p.state !== 'open') return;
        run.record(timeout('A'));
        if (chopped) p.sendMessageFrameData(second);
        else p.sendFrame({ opcode: 0, fin: false, payload: second });
        p.continueLater(1, part3, 'B');
      };
      const part3 = (): void => {
        if (p.state !== 'open') return;
        run.record(timeout('B'));
        if (chopped) {
          p.sendMessageFrameData(third);
          p.endMessage();
        } else {
          p.sendFrame({ opcode: 0, fin: true, payload: third });
        }
        p.killAfter(1);
      };
      if (chopped) {
        // One frame holding the whole message, its payload written in three chops.
        p.beginMessage();
        p.beginMessageFrame(first.length + second.length + third.length);
        p.sendMessageFrameData(first);
      } else {
        p.sendFrame({ opcode: 1, fin: false, payload: first });
      }
      p.continueLater(1, part2, 'A');
    },
  };
}

/** 6.4.2 and 6.4.4 cut the second part right after the octet that makes the text invalid. */
const INVALID_AT = 12;
const SHORT_PARTS: [Buffer, Buffer, Buffer] = [
  OUT_OF_RANGE_TEXT.subarray(0, INVALID_AT),
  OUT_OF_RANGE_TEXT.subarray(INVALID_AT, INVALID_AT + 1),
  OUT_OF_RANGE_TEXT.subarray(INVALID_AT + 1),
];

const section6_4: CaseDefinition[] = [
  failFast(
    '6.4.1',
    'Send invalid UTF-8 text message in 3 fragments (frames).\n' +
      'First frame payload is valid, then wait, then 2nd frame which contains the payload making the sequence invalid, then wait, then 3rd frame with rest.\n' +
      'Note that PART1 and PART3 are valid UTF-8 in themselves, PART2 is a 0x110000 encoded as in the UTF-8 integer encoding scheme, but the codepoint is invalid (out of range).\n' +
      partsList([PART1, PART2, PART3]),
    FRAMES_EXPECTATION,
    [PART1, PART2, PART3],
    false,
  ),
  failFast(
    '6.4.2',
    `Same as Case 6.4.1, but in 2nd frame, we send only up to and including the octet making the complete payload invalid.\n${partsList(SHORT_PARTS)}`,
    FRAMES_EXPECTATION,
    SHORT_PARTS,
    false,
  ),
  failFast(
    '6.4.3',
    `Same as Case 6.4.1, but we send message not in 3 frames, but in 3 chops of the same message frame.\n${partsList([PART1, PART2, PART3])}`,
    CHOPS_EXPECTATION,
    [PART1, PART2, PART3],
    true,
  ),
  failFast(
    '6.4.4',
    `Same as Case 6.4.2, but we send message not in 3 frames, but in 3 chops of the same message frame.\n${partsList(SHORT_PARTS)}`,
    CHOPS_EXPECTATION,
    SHORT_PARTS,
    true,
  ),
];

// --- 6.5 to 6.23: the UTF-8 decoder test sequences ----------------------------------------------

interface SequenceGroup {
  readonly title: string;
  readonly sequences: ReadonlyArray<{ readonly valid: boolean; readonly payload: Buffer }>;
}

const valid = (payload: Buffer): { valid: boolean; payload: Buffer } => ({ valid: true, payload });
const invalid = (payload: Buffer): { valid: boolean; payload: Buffer } => ({ valid: false, payload });

/** The bytes `from` to `to - 1`, each followed by `between` when given. */
function byteRange(from: number, to: number, between?: number): Buffer {
  const out: number[] = [];
  for (let b = from; b < to; b++) {
    out.push(b);
    if (between !== undefined) out.push(between);
  }
  return Buffer.from(out);
}

/** Multi-octet sequences with their last continuation octet missing (UTF-8-test.txt 3.3). */
const TRUNCATED = ['c0', 'e080', 'f08080', 'f8808080', 'fc80808080', 'df', 'efbf', 'f7bfbf', 'fbbfbfbf', 'fdbfbfbfbf'].map(bytes);

/** Non-characters U+xFFFE and U+xFFFF of planes 1 to 16 (F0–F4, then 8F/9F/AF/BF, BF, BE/BF). */
function planeNonCharacters(): Buffer[] {
  const out: Buffer[] = [];
  for (const lead of [0xf0, 0xf1, 0xf2, 0xf3, 0xf4]) {
    for (const second of [0x8f, 0x9f, 0xaf, 0xbf]) {
      if (lead === 0xf4 && second !== 0x8f) continue; // beyond U+10FFFF
      if (lead === 0xf0 && second === 0x8f) continue; // overlong (plane 0, listed on its own)
      for (const last of [0xbe, 0xbf]) out.push(Buffer.from([lead, second, 0xbf, last]));
    }
  }
  return out;
}

const UTF8_TEST_SEQUENCES: readonly SequenceGroup[] = [
  {
    title: 'Some valid UTF-8 sequences',
    sequences: [
      valid(ascii('hello$world')), // U+0024
      valid(concat(ascii('hello'), bytes('c2a2'), ascii('world'))), // U+00A2
      valid(concat(ascii('hello'), bytes('e282ac'), ascii('world'))), // U+20AC
      valid(concat(ascii('hello'), bytes('f0a4ada2'), ascii('world'))), // U+24B62
      valid(KOSME),
    ],
  },
  {
    title: 'All prefixes of a valid UTF-8 string that contains multi-byte code points',
    sequences: Array.from({ length: KOSME.length }, (_, i) => {
      const prefix = KOSME.subarray(0, i + 1);
      return { valid: isValidUtf8(prefix), payload: prefix };
    }),
  },
  {
    title: 'First possible sequence of a certain length',
    sequences: ['00', 'c280', 'e0a080', 'f0908080'].map((s) => valid(bytes(s))),
  },
  {
    title: 'First possible sequence length 5/6 (invalid codepoints)',
    sequences: ['f888808080', 'fc8480808080'].map((s) => invalid(bytes(s))),
  },
  {
    title: 'Last possible sequence of a certain length',
    sequences: ['7f', 'dfbf', 'efbfbf', 'f48fbfbf'].map((s) => valid(bytes(s))),
  },
  {
    title: 'Last possible sequence length 4/5/6 (invalid codepoints)',
    sequences: ['f7bfbfbf', 'fbbfbfbfbf', 'fdbfbfbfbfbf'].map((s) => invalid(bytes(s))),
  },
  {
    title: 'Other boundary conditions',
    sequences: [...['ed9fbf', 'ee8080', 'efbfbd', 'f48fbfbf'].map((s) => valid(bytes(s))), invalid(bytes('f4908080'))],
  },
  {
    title: 'Unexpected continuation bytes',
    sequences: [...['80', 'bf', '80bf', '80bf80', '80bf80bf', '80bf80bf80', '80bf80bf80bf'].map((s) => invalid(bytes(s))), invalid(byteRange(0x80, 0xbf))],
  },
  {
    title: 'Lonely start characters',
    sequences: [
      [0xc0, 0xdf],
      [0xe0, 0xef],
      [0xf0, 0xf7],
      [0xf8, 0xfb],
      [0xfc, 0xfd],
    ].map(([from, to]) => invalid(byteRange(from!, to!, 0x20))),
  },
  {
    title: 'Sequences with last continuation byte missing',
    sequences: TRUNCATED.map(invalid),
  },
  {
    title: 'Concatenation of incomplete sequences',
    sequences: [invalid(concat(...TRUNCATED))],
  },
  {
    title: 'Impossible bytes',
    sequences: ['fe', 'ff', 'fefeffff'].map((s) => invalid(bytes(s))),
  },
  {
    title: 'Examples of an overlong ASCII character',
    sequences: ['c0af', 'e080af', 'f08080af', 'f8808080af', 'fc80808080af'].map((s) => invalid(bytes(s))),
  },
  {
    title: 'Maximum overlong sequences',
    sequences: ['c1bf', 'e09fbf', 'f08fbfbf', 'f887bfbfbf', 'fc83bfbfbfbf'].map((s) => invalid(bytes(s))),
  },
  {
    title: 'Overlong representation of the NUL character',
    sequences: ['c080', 'e08080', 'f0808080', 'f880808080', 'fc8080808080'].map((s) => invalid(bytes(s))),
  },
  {
    title: 'Single UTF-16 surrogates',
    sequences: ['eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf'].map((s) => invalid(bytes(s))),
  },
  {
    title: 'Paired UTF-16 surrogates',
    sequences: [
      'eda080 edb080',
      'eda080 edbfbf',
      'edadbf edb080',
      'edadbf edbfbf',
      'edae80 edb080',
      'edae80 edbfbf',
      'edafbf edb080',
      'edafbf edbfbf',
    ].map((s) => invalid(bytes(s))),
  },
  {
    title: 'Non-character code points (valid UTF-8)',
    sequences: [valid(bytes('efbfbe')), valid(bytes('efbfbf')), ...planeNonCharacters().map(valid)],
  },
  {
    title: 'Unicode specials (i.e. replacement char)',
    sequences: ['efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbfbe', 'efbfbf'].map((s) => valid(bytes(s))),
  },
];

/** The first subsection number of the generated cases. */
const FIRST_GENERATED = 5;

/** Titles of the generated subsections ("6.5" → "Some valid UTF-8 sequences"), for reports. */
export const SECTION6_SUBCATEGORIES: Readonly<Record<string, string>> = Object.fromEntries(
  UTF8_TEST_SEQUENCES.map((group, i) => [`6.${FIRST_GENERATED + i}`, group.title]),
);

function sequenceCase(id: string, payload: Buffer, isValid: boolean): CaseDefinition {
  return {
    id,
    description: `${
      isValid
        ? 'Send a text message with payload which is valid UTF-8 in one fragment.'
        : 'Send a text message with payload which is not valid UTF-8 in one fragment.'
    }<br><br>Payload: 0x${hex(payload)}`,
    expectation: isValid ? "The message is echo'ed back to us." : 'The connection is failed immediately, since the payload is not valid UTF-8.',
    onOpen(run) {
      if (isValid) {
        run.expect('OK', [message(payload)]);
        run.expectClose(CLEAN_CLOSE);
      } else {
        run.expect('OK', []);
        run.expectClose(FAIL_1007);
      }
      run.p.sendMessage(payload, false);
      run.p.killAfter(0.5);
    },
  };
}

const generated: CaseDefinition[] = UTF8_TEST_SEQUENCES.flatMap((group, i) =>
  group.sequences.map(({ valid: isValid, payload }, j) => sequenceCase(`6.${FIRST_GENERATED + i}.${j + 1}`, payload, isValid)),
);

export const section6: CaseDefinition[] = [...section6_1, ...section6_2, ...section6_3, ...section6_4, ...generated];
