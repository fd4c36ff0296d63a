/**
 * A small seeded PRNG (sfc32, seeded through splitmix32), so that every fuzz input is a pure function
 * of (campaign seed, input index): a failure reproduces from the seed and index the fuzzer prints.
 */

/** splitmix32: spreads a 32-bit seed into well-mixed words. */
function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [(z ^ (z >>> 16)) >>> 0, state];
}

/** The seed of input `index` of a campaign with seed `seed`. */
export function deriveSeed(seed: number, index: number): number {
  const [a] = splitmix32((seed ^ Math.imul(index + 1, 0x27d4eb2d)) | 0);
  const [b] = splitmix32((a ^ index) | 0);
  return b;
}

/** A random 32-bit seed for a new campaign (printed, so it can be given back with --seed). */
export function freshSeed(): number {
  return (Math.random() * 0x1_0000_0000) >>> 0;
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let state = seed | 0;
    let word: number;
    [word, state] = splitmix32(state);
    this.a = word;
    [word, state] = splitmix32(state);
    this.b = word;
    [word, state] = splitmix32(state);
    this.c = word;
    [word] = splitmix32(state);
    this.d = word;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next() / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.below(items.length)]!;
  }

  /** One of the values, each with its weight. */
  weighted<T>(choices: ReadonlyArray<readonly [weight: number, value: T]>): T {
    let total = 0;
    for (const [weight] of choices) total += weight;
    let roll = this.float() * total;
    for (const [weight, value] of choices) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return choices[choices.length - 1]![1];
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i += 4) {
      const word = this.next();
      out[i] = word;
      if (i + 1 < length) out[i + 1] = word >>> 8;
      if (i + 2 < length) out[i + 2] = word >>> 16;
      if (i + 3 < length) out[i + 3] = word >>> 24;
    }
    return out;
  }

  /** Small sizes often, larger ones rarely: an integer in [min, max] skewed towards min. */
  skewed(min: number, max: number): number {
    const f = this.float();
    return min + Math.floor(f * f * f * (max - min + 1));
  }
}
