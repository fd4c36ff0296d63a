/**
 * Case selection as in Autobahn's spec files: comma-separated ids with `*` wildcards (`1.*,5.*,6.4.1`).
 * A `*` at the end matches the rest of an id; inside a pattern it matches one segment (`12.*.15`).
 */
import type { CaseDefinition } from './case.js';

function matcher(pattern: string): (id: string) => boolean {
  const parts = pattern.trim().split('.');
  return (id) => {
    const segments = id.split('.');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part === '*' && i === parts.length - 1) return segments.length >= parts.length; // the rest
      if (part !== '*' && segments[i] !== part) return false; // '*' inside a pattern: any one segment
    }
    return segments.length === parts.length;
  };
}

/** The cases whose ids match any of `include` (default all) and none of `exclude`, in suite order. */
export function selectCases(all: readonly CaseDefinition[], include?: string, exclude?: string): CaseDefinition[] {
  const includes = (include ?? '*').split(',').filter((p) => p.trim() !== '').map(matcher);
  const excludes = (exclude ?? '').split(',').filter((p) => p.trim() !== '').map(matcher);
  return all.filter((c) => includes.some((m) => m(c.id)) && !excludes.some((m) => m(c.id)));
}

/** Sort key for case ids: numeric per segment. */
export function compareCaseIds(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}
