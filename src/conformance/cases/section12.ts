/** Section 12: (to be written). */
import type { CaseDefinition } from '../case.js';

export const section12: CaseDefinition[] = [];
