/** Section 10: (to be written). */
import type { CaseDefinition } from '../case.js';

export const section10: CaseDefinition[] = [];
