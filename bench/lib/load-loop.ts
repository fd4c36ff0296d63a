/**
 * What the closed-loop publish generators (bench/load/broadcast.ts, bench/load/history-publish.ts)
 * share: opening the subscribers in batches, the closed loop itself (counting deliveries, each ack sending
 * one more message), the measured period with its phase lines, and the final check that every connection
 * received every message once.
 */
import type { Socket } from 'node:net';
import type { RawConnection } from './connect.js';

/** How many connections open at once. */
const BATCH = 200;

export const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `done()` holds or `ms` have passed; returns whether it holds. */
export async function until(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await wait(20);
  }
  return true;
}

/** Connections 0 to `count` - 1, `open(index)`, 200 at a time; in index order. */
export async function openInBatches(count: number, open: (index: number) => Promise<RawConnection>): Promise<RawConnection[]> {
  const connections: RawConnection[] = [];
  for (let opened = 0; opened < count; opened += BATCH) {
    connections.push(...(await Promise.all(Array.from({ length: Math.min(BATCH, count - opened) }, (_, i) => open(opened + i)))));
  }
  return connections;
}

export interface MeasuredPeriod {
  seconds: number;
  /** The generator's CPU time over the measured period, in cores (1 = saturated). */
  generatorCpu: number;
}

/**
 * Waits `warmupMs`, then counts for `durationMs` (`setCounting(true)`, then false), printing
 * {"phase":"measuring"} and {"phase":"measured"} around it: the scenario samples the servers' CPU use
 * between the two (serverCpuWhileMeasuring).
 */
async function measure(warmupMs: number, durationMs: number, setCounting: (counting: boolean) => void): Promise<MeasuredPeriod> {
  await wait(warmupMs);
  setCounting(true);
  process.stdout.write('{"phase":"measuring"}\n');
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await wait(durationMs);
  setCounting(false);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write('{"phase":"measured"}\n');
  return { seconds, generatorCpu: (cpu.user + cpu.system) / 1e6 / seconds };
}

export interface Tally {
  /** The acks caught up with what was sent and every connection received at least that many (each within 10 s). */
  settled: boolean;
  fewest: number;
  most: number;
  /** Connections that received fewer messages than were sent. */
  short: number;
  /** Connections that received more messages than were sent. */
  over: number;
}

/**
 * Once publishing stopped: lets the messages in flight land (`acked()` reaching `sent`, then every
 * connection's count in `received`), and counts the connections that got fewer or more than `sent`.
 */
async function settle(sent: number, acked: () => number, received: Float64Array): Promise<Tally> {
  const settled = (await until(() => acked() >= sent, 10_000)) && (await until(() => received.every((count) => count >= sent), 10_000));
  let fewest = Infinity;
  let most = 0;
  let short = 0;
  let over = 0;
  for (const count of received) {
    fewest = Math.min(fewest, count);
    most = Math.max(most, count);
    if (count < sent) short++;
    else if (count > sent) over++;
  }
  return { settled, fewest, most, short, over };
}

/**
 * The closed loop: the publisher keeps `window` messages in flight, and each copy the acker connection
 * receives makes it send one more (one precomputed masked frame; a burst is a slice of `window` of them,
 * so the per-read work allocates nothing). The connections report what they receive with delivered().
 */
export class ClosedLoop {
  /** Within the measured period (deliveries and ackedCounted grow). */
  counting = false;
  /** The acks make the publisher send more. */
  publishing = false;
  /** Messages received over all connections while counting. */
  deliveries = 0;
  /** Messages the publisher sent. */
  sent = 0;
  /** Messages the acker received. */
  acked = 0;
  /** Messages the acker received while counting. */
  ackedCounted = 0;
  /** Messages received by each connection. */
  readonly received: Float64Array;
  publisher: Socket | null = null;
  readonly #acker: number;
  readonly #frame: Buffer;
  readonly #window: number;
  readonly #burst: Buffer;

  constructor(connections: number, acker: number, frame: Buffer, window: number) {
    this.received = new Float64Array(connections);
    this.#acker = acker;
    this.#frame = frame;
    this.#window = Math.max(1, window);
    this.#burst = Buffer.concat(Array.from({ length: this.#window }, () => frame));
  }

  /** Connection `index` received `done` (> 0) complete messages. */
  delivered(index: number, done: number): void {
    this.received[index]! += done;
    if (this.counting) this.deliveries += done;
    if (index !== this.#acker) return;
    this.acked += done;
    if (this.counting) this.ackedCounted += done;
    if (!this.publishing || this.publisher === null) return;
    this.send(done);
  }

  /** The publisher sends `count` messages now (it must be set). */
  send(count: number): void {
    this.sent += count;
    this.publisher!.write(count <= this.#window ? this.#burst.subarray(0, count * this.#frame.length) : Buffer.concat(Array.from({ length: count }, () => this.#frame)));
  }

  /** Start publishing: the window goes out at once, and every ack from now on sends one more. */
  start(publisher: Socket): void {
    this.publisher = publisher;
    this.publishing = true;
    this.send(this.#window);
  }

  /** Warm-up, then the measured period (see measure()); publishing stops after it. */
  async measure(warmupMs: number, durationMs: number): Promise<MeasuredPeriod> {
    const period = await measure(warmupMs, durationMs, (on) => (this.counting = on));
    this.publishing = false;
    return period;
  }

  /** Let the messages in flight land, then count who got fewer or more than were sent (see settle()). */
  settle(): Promise<Tally> {
    return settle(this.sent, () => this.acked, this.received);
  }
}
