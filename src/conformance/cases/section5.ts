/** Section 5: (to be written). */
import type { CaseDefinition } from '../case.js';

export const section5: CaseDefinition[] = [];
