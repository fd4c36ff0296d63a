/** Section 7: (to be written). */
import type { CaseDefinition } from '../case.js';

export const section7: CaseDefinition[] = [];
