/**
 * One time scale for every wait in the tests, so a slow or loaded machine makes tests slower, never
 * wrong. Every hang guard (a wait for an event, an exit, a test's own `timeout`) goes through
 * `scaled(ms)`: the base values are what a quiet machine needs with room to spare.
 *
 *   FULLDUPLEX_TEST_TIME_SCALE=N   multiply every wait by N (a number above 0; CI may set it)
 *   unset                          3, or more when the machine is already loaded as the test file
 *                                  starts: the 1-minute load average per available core, rounded up
 *                                  (load 10 on 2 cores: 5), at most 20
 *
 * Not scaled on purpose:
 * - waits that check that something does NOT happen ("no message within 200 ms"): a longer wait
 *   would only slow the suite; on a slow machine such a check can only miss, never fail wrongly;
 * - the settings of a timeout feature under test (handshakeTimeout, closeTimeout, heartbeat): those
 *   tests assert lower bounds (it did not fire early) and wait for the event with a scaled guard,
 *   so a late timer makes them slow, not red.
 */
import { availableParallelism, loadavg } from 'node:os';

/** The scale when nothing says otherwise and the machine is quiet. */
export const DEFAULT_TIME_SCALE = 3;
/** The largest automatic scale (an explicit FULLDUPLEX_TEST_TIME_SCALE may go beyond). */
export const MAX_AUTO_TIME_SCALE = 20;

/** The scale from the environment variable's value, the load average and the number of cores. */
export function timeScaleFrom(setting: string | undefined, load: number, cores: number): number {
  if (setting !== undefined && setting.trim() !== '') {
    const value = Number(setting);
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(`FULLDUPLEX_TEST_TIME_SCALE must be a number above 0 (got "${setting}")`);
    }
    return value;
  }
  const perCore = cores > 0 && Number.isFinite(load) ? load / cores : 0;
  return Math.min(MAX_AUTO_TIME_SCALE, Math.max(DEFAULT_TIME_SCALE, Math.ceil(perCore)));
}

/** The scale of this test process (each test file runs in its own process). */
export const TIME_SCALE = timeScaleFrom(process.env['FULLDUPLEX_TEST_TIME_SCALE'], loadavg()[0] ?? 0, availableParallelism());

/** `ms` times the scale: for hang guards and test timeouts, never for "nothing happened" waits. */
export function scaled(ms: number): number {
  return Math.ceil(ms * TIME_SCALE);
}
