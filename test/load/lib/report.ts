/**
 * What a load scenario found: figures to print, and checks that pass or fail. The tests assert on the
 * checks and print the figures as diagnostics; the soak script prints both and exits 1 on a failure.
 */

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export class Report {
  readonly title: string;
  readonly figures: Array<[string, string]> = [];
  readonly checks: Check[] = [];
  private readonly started = performance.now();

  constructor(title: string) {
    this.title = title;
  }

  figure(name: string, value: string | number): void {
    this.figures.push([name, typeof value === 'number' ? value.toLocaleString('en-US') : value]);
  }

  check(name: string, ok: boolean, detail: string): void {
    this.checks.push({ name, ok, detail });
  }

  /** A check that `actual` equals `expected`, with both in the detail. */
  equal(name: string, actual: unknown, expected: unknown): void {
    const a = JSON.stringify(actual);
    const e = JSON.stringify(expected);
    this.check(name, a === e, a === e ? a : `got ${a}, expected ${e}`);
  }

  get failures(): Check[] {
    return this.checks.filter((check) => !check.ok);
  }

  get seconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** Figures and checks as lines of text. */
  lines(): string[] {
    const width = Math.max(0, ...this.figures.map(([name]) => name.length));
    return [
      `${this.title} (${this.seconds.toFixed(1)} s)`,
      ...this.figures.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`),
      ...this.checks.map((check) => `  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`),
    ];
  }
}

/** Problems lists for a check's detail: "none", or the first few. */
export function listed(problems: readonly string[], count = problems.length): string {
  return count === 0 ? 'none' : `${count}: ${problems.slice(0, 5).join('; ')}`;
}
