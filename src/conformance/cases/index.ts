/**
 * Every case, in the Autobahn|Testsuite's order and numbering. Sections: 1 framing, 2 ping/pong,
 * 3 reserved bits, 4 opcodes, 5 fragmentation, 6 UTF-8, 7 close handling, 9 limits/performance,
 * 10 miscellaneous, 12 and 13 permessage-deflate; and one of ours, 8 masking, in the number
 * Autobahn leaves unused (its cases always mask correctly, so they cannot catch a peer that accepts
 * wrongly masked frames).
 */
import type { CaseDefinition } from '../case.js';
import { section1 } from './section1.js';
import { section2 } from './section2.js';
import { section3 } from './section3.js';
import { section4 } from './section4.js';
import { section5 } from './section5.js';
import { section6 } from './section6.js';
import { section7 } from './section7.js';
import { section8 } from './section8.js';
import { section9 } from './section9.js';
import { section10 } from './section10.js';
import { section12 } from './section12.js';
import { section13 } from './section13.js';

export const ALL_CASES: readonly CaseDefinition[] = [
  ...section1,
  ...section2,
  ...section3,
  ...section4,
  ...section5,
  ...section6,
  ...section7,
  ...section8,
  ...section9,
  ...section10,
  ...section12,
  ...section13,
];

/** The number of cases per section in the Autobahn|Testsuite (0.8.x), which ours must match. */
export const AUTOBAHN_CASE_COUNTS: Readonly<Record<string, number>> = {
  '1': 16,
  '2': 11,
  '3': 7,
  '4': 10,
  '5': 20,
  '6': 145,
  '7': 37,
  '9': 54,
  '10': 1,
  '12': 90,
  '13': 126,
};
