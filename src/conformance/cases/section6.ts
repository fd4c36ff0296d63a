/** Section 6: (to be written). */
import type { CaseDefinition } from '../case.js';

export const section6: CaseDefinition[] = [];
