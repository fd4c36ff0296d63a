/** What the two campaigns (parser, live server) take and give back. */
import { onlyKnown, type FailureRecord } from './findings.js';

export interface CampaignOptions {
  seed: number;
  durationMs: number;
  /** Called for each failing input as it is found (e.g. to save it to the corpus). */
  onFailure?: (record: FailureRecord, known: boolean) => void;
  /** Parser campaign, to test the watchdog: the worker spins forever on this input. */
  stallAt?: number;
}

export interface CampaignResult {
  target: 'parser' | 'server';
  executions: number;
  durationMs: number;
  failures: FailureRecord[];
  /** Inputs whose only findings are known issues (known-issues.ts): reported, not failures. */
  known: FailureRecord[];
}

/** Collects a campaign's failures, setting aside those that only show known issues. */
export class FailureLog {
  readonly failures: FailureRecord[] = [];
  readonly known: FailureRecord[] = [];
  private readonly listener: CampaignOptions['onFailure'];

  constructor(listener: CampaignOptions['onFailure']) {
    this.listener = listener;
  }

  add(record: FailureRecord): void {
    const known = onlyKnown(record.findings);
    (known ? this.known : this.failures).push(record);
    this.listener?.(record, known);
  }
}
