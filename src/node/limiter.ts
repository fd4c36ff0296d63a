/**
 * A concurrency limiter for zlib work across all connections. zlib jobs run on libuv's thread pool;
 * thousands started at once fragment memory and starve everything else that uses the pool (file
 * system, DNS). Jobs wait in a FIFO queue and at most `concurrency` run at a time. A job is an object
 * (one per connection and direction, reused), not a closure per message.
 */

export interface LimitedJob {
  /** Do the work; call `done` exactly once when finished. */
  runLimited(done: () => void): void;
}

export class Limiter {
  readonly concurrency: number;
  private running = 0;
  private readonly queue: LimitedJob[] = [];
  private head = 0;

  constructor(concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    this.concurrency = concurrency;
  }

  /** Jobs waiting for a slot. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  get active(): number {
    return this.running;
  }

  add(job: LimitedJob): void {
    this.queue.push(job);
    this.next();
  }

  private readonly done = (): void => {
    this.running--;
    this.next();
  };

  /** Set while `next()` runs: a job that finishes synchronously is picked up by the running loop. */
  private starting = false;

  private next(): void {
    // Jobs may call `done` synchronously (a closed connection's job has nothing to do): without this
    // guard, each such job would start the next one a stack frame deeper, and thousands overflow it.
    if (this.starting) return;
    this.starting = true;
    try {
      this.startJobs();
    } finally {
      this.starting = false;
    }
  }

  private startJobs(): void {
    while (this.running < this.concurrency && this.head < this.queue.length) {
      const job = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as LimitedJob;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.running++;
      job.runLimited(this.done);
    }
  }
}

/** The size of libuv's thread pool: the default concurrency of zlib work. */
export function threadPoolSize(): number {
  const size = Number(process.env['UV_THREADPOOL_SIZE']);
  return Number.isInteger(size) && size > 0 ? size : 4;
}

const shared = new Map<number, Limiter>();

/** One limiter per concurrency value, shared by every connection that uses it. */
export function sharedLimiter(concurrency: number = threadPoolSize()): Limiter {
  let limiter = shared.get(concurrency);
  if (limiter === undefined) {
    limiter = new Limiter(concurrency);
    shared.set(concurrency, limiter);
  }
  return limiter;
}
