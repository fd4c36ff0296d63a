/** Section 13: (to be written). */
import type { CaseDefinition } from '../case.js';

export const section13: CaseDefinition[] = [];
