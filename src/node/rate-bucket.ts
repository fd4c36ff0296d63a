/**
 * A token bucket (RFC 2697's and RFC 4115's meters, the usual rate limiter): `rate` tokens a second
 * refill it up to `burst`; a request takes its cost. Refilled lazily from the time the caller passes:
 * no timer, a few numbers of state. The balance may go below zero ("debt"): a cost larger than what
 * is left is taken whole, and refilling pays the debt back first, so that the long-run rate holds
 * even for costs larger than the burst (a message bigger than the byte burst).
 */
export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  /** Tokens at `updatedAt` (at most `burst`; below zero while in debt). */
  tokens: number;
  updatedAt: number;

  /** `rate` tokens per second (> 0, may be Infinity), at most `burst` (>= 1) stored; full at `now` (ms). */
  constructor(rate: number, burst: number, now: number) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.updatedAt = now;
  }

  /** Refill for the time since the last call (a clock that went back refills nothing). */
  refill(now: number): number {
    const elapsed = now - this.updatedAt;
    if (elapsed > 0) {
      this.updatedAt = now;
      const tokens = this.tokens + (elapsed * this.rate) / 1000;
      this.tokens = tokens > this.burst ? this.burst : tokens;
    }
    return this.tokens;
  }

  /**
   * Take `cost` if the bucket holds it (or, for a cost above the burst, if the bucket is full: such a
   * request can never find more); false, and nothing taken, otherwise.
   */
  tryTake(cost: number, now: number): boolean {
    const tokens = this.refill(now);
    if (tokens < (cost < this.burst ? cost : this.burst)) return false;
    this.tokens = tokens - cost;
    return true;
  }

  /** Take `cost` whatever the balance (it may go into debt). Returns the balance after. */
  take(cost: number, now: number): number {
    return (this.tokens = this.refill(now) - cost);
  }

  /** Milliseconds until the balance reaches `level` (0 if it is there now). */
  msUntil(level: number, now: number): number {
    const missing = level - this.refill(now);
    return missing <= 0 ? 0 : (missing * 1000) / this.rate;
  }

  /** Whether the bucket is full (a key in this state holds nothing worth remembering). */
  isFull(now: number): boolean {
    return this.refill(now) >= this.burst;
  }
}
