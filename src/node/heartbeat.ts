/**
 * Heartbeats for many connections on one timer. Every connection that has received nothing for
 * `interval` ms gets a ping; one that then stays silent for `timeout` ms more is terminated (its peer
 * is gone, or its TCP link died without a FIN). Any received byte counts as a sign of life, so busy
 * connections are never pinged. The hot path only sets a flag per received chunk; the work happens
 * here, once per tick, for all connections together.
 */

export interface HeartbeatOptions {
  /** Idle time before a ping, in ms. */
  readonly interval: number;
  /** Time to wait for any data after the ping, in ms, before terminating. */
  readonly timeout: number;
}

/** What the heartbeat needs of a connection. */
export interface HeartbeatTarget {
  /** Set by the connection whenever data arrives; cleared by the heartbeat. */
  active: boolean;
  lastActivity: number;
  pingSentAt: number;
  heartbeatPing(): void;
  heartbeatTimeout(): void;
}

export const DEFAULT_HEARTBEAT: HeartbeatOptions = { interval: 30_000, timeout: 30_000 };

export class Heartbeat {
  private readonly interval: number;
  private readonly timeout: number;
  private readonly targets = new Set<HeartbeatTarget>();
  private timer: NodeJS.Timeout | null = null;
  private readonly tickMs: number;

  constructor(options: HeartbeatOptions) {
    if (!(options.interval > 0) || !(options.timeout > 0)) throw new RangeError('heartbeat interval and timeout must be positive');
    this.interval = options.interval;
    this.timeout = options.timeout;
    // Fine enough that a deadline is missed by at most a quarter of the shorter period.
    this.tickMs = Math.max(5, Math.floor(Math.min(this.interval, this.timeout) / 4));
  }

  get size(): number {
    return this.targets.size;
  }

  add(target: HeartbeatTarget): void {
    target.active = false;
    target.lastActivity = Date.now();
    target.pingSentAt = 0;
    this.targets.add(target);
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref();
    }
  }

  delete(target: HeartbeatTarget): void {
    this.targets.delete(target);
    if (this.targets.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const target of this.targets) {
      if (target.active) {
        target.active = false;
        target.lastActivity = now;
        target.pingSentAt = 0;
        continue;
      }
      if (target.pingSentAt !== 0) {
        if (now - target.pingSentAt >= this.timeout) {
          this.targets.delete(target);
          target.heartbeatTimeout();
        }
      } else if (now - target.lastActivity >= this.interval) {
        target.pingSentAt = now;
        target.heartbeatPing();
      }
    }
    if (this.targets.size === 0) this.stop();
  }
}
