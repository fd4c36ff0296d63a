/** Section 4: (to be written). */
import type { CaseDefinition } from '../case.js';

export const section4: CaseDefinition[] = [];
