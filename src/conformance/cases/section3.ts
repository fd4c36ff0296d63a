/** Section 3: (to be written). */
import type { CaseDefinition } from '../case.js';

export const section3: CaseDefinition[] = [];
