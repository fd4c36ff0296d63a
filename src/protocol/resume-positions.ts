/**
 * Every wanted topic of a resuming client with its last position: what both resuming clients return
 * from `positions()` (src/node/resuming-client.ts, src/browser/resuming-client.ts), for the application
 * to save (a file, localStorage) and pass back as `from` to resume after a restart or a reload
 * (docs/recovery.md "## Client"). No Node API: the browser build imports it.
 */
import type { ResumeState } from './resume-state.js';
import type { ResumePosition } from './resume-wire.js';

/** Each topic `state` wants, in subscription order, with its last position (null: none seen yet). */
export function resumePositions(state: Pick<ResumeState, 'subscriptions' | 'position'>): Record<string, ResumePosition | null> {
  const result: Record<string, ResumePosition | null> = {};
  for (const topic of state.subscriptions()) result[topic] = state.position(topic);
  return result;
}
