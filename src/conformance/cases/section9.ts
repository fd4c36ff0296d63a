/** Section 9: (to be written). */
import type { CaseDefinition } from '../case.js';

export const section9: CaseDefinition[] = [];
