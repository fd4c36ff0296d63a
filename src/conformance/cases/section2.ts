/** Section 2: (to be written). */
import type { CaseDefinition } from '../case.js';

export const section2: CaseDefinition[] = [];
