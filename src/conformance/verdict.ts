/**
 * Verdicts, as the Autobahn|Testsuite reports them. A case has a `behavior` (what was received against
 * what was expected) and a `behaviorClose` (how the connection ended); `verdict` combines the two into
 * the one word a summary shows.
 */

export const Behavior = {
  OK: 'OK',
  NON_STRICT: 'NON-STRICT',
  FAILED: 'FAILED',
  INFORMATIONAL: 'INFORMATIONAL',
  UNIMPLEMENTED: 'UNIMPLEMENTED',
} as const;
export type Behavior = (typeof Behavior)[keyof typeof Behavior];

export const CloseBehavior = {
  OK: 'OK',
  FAILED: 'FAILED',
  WRONG_CODE: 'WRONG CODE',
  UNCLEAN: 'UNCLEAN',
  FAILED_BY_CLIENT: 'FAILED BY CLIENT',
  INFORMATIONAL: 'INFORMATIONAL',
  UNIMPLEMENTED: 'UNIMPLEMENTED',
} as const;
export type CloseBehavior = (typeof CloseBehavior)[keyof typeof CloseBehavior];

/** The summary verdict of a case. */
export type Verdict = 'OK' | 'NON-STRICT' | 'INFORMATIONAL' | 'UNIMPLEMENTED' | 'FAILED';
export const VERDICTS: readonly Verdict[] = ['OK', 'NON-STRICT', 'INFORMATIONAL', 'UNIMPLEMENTED', 'FAILED'];

/**
 * Combine the two: FAILED if either part failed (a wrong close is a failure when the case's own
 * behavior passed: the peer ended the connection the wrong way, or not at all); NON-STRICT when the
 * behavior or the close was acceptable but not the preferred one (a wrong but tolerated close code,
 * the client had to drop TCP).
 */
export function combineVerdict(behavior: Behavior, close: CloseBehavior): Verdict {
  if (behavior === Behavior.UNIMPLEMENTED) return 'UNIMPLEMENTED';
  if (behavior === Behavior.INFORMATIONAL) return 'INFORMATIONAL';
  if (behavior === Behavior.FAILED || close === CloseBehavior.FAILED || close === CloseBehavior.UNCLEAN) return 'FAILED';
  if (behavior === Behavior.NON_STRICT || close === CloseBehavior.WRONG_CODE || close === CloseBehavior.FAILED_BY_CLIENT) return 'NON-STRICT';
  return 'OK';
}
