/**
 * The pieces of the resume chaos tests (issue 19 "Proven"; test/scale/resume-chaos.test.ts and
 * resume-redis-restart.test.ts), on real processes:
 *
 *  - `ResumeCluster`: a real redis-server (no persistence), N server processes
 *    (./fixtures/resume-server.ts, each on a fixed port so that a SIGKILLed one comes back where HAProxy
 *    looks for it), HAProxy in round-robin TCP mode in front of them (health checks, redispatch), and a
 *    TCP relay (test/helpers/relay.ts) in this process in front of HAProxy, which drops client links (both
 *    sockets destroyed, as a network that resets a connection).
 *  - `Watcher`: one `ResumingClient` and the check of what it delivers, as it comes: per topic, per
 *    publisher, sequence numbers 1, 2, 3 … with no hole and no duplicate, and a hole allowed only right
 *    after a `gap` event of that topic (never silent). A `ResumeError` that ended a connection (the client
 *    caught the server skipping an offset, or another protocol violation) is a problem too: the client
 *    would resume after it, which would hide the bug from the sequence check.
 *  - `Publisher`: publishers that publish through `wss.publish` on a `WebSocketServer` with the same
 *    RedisHistory (an application's backend), each message `topic:publisher:seq`, paced over a
 *    duration so that the chaos happens while they run.
 *  - `ClientPublishers`: the same plan sent by `ResumingClient`s through the relay, to the servers that are
 *    killed: each server publishes a send with its idempotency key (./fixtures/resume-server.ts), so each
 *    message must be in the history exactly once whatever dies when.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { ResumingClient } from '../../src/node/index.js';
import { WebSocketServer } from '../../src/node/index.js';
import { RedisHistory } from '../../src/redis.js';
import { ResumeError } from '../../src/protocol/resume-wire.js';
import { HAProxy } from '../helpers/haproxy.js';
import { RedisServer } from '../helpers/redis.js';
import { TcpRelay } from '../helpers/relay.js';
import { FixtureProcess, STEP_TIMEOUT, delay } from './scale-helpers.js';

/** `CONFORMANCE_FULL=1` (`.ci/run`, once) or `RESUME_CHAOS_FULL=1`: the issue's full size. */
export const FULL = process.env['CONFORMANCE_FULL'] === '1' || process.env['RESUME_CHAOS_FULL'] === '1';

// --- the cluster ---------------------------------------------------------------------------------------

/**
 * A free port on 127.0.0.1 outside the kernel's ephemeral range (net.ipv4.ip_local_port_range), for a
 * server that is killed and started again on the same port: while it is down, an outgoing connection
 * (thousands of them come and go here) could otherwise be given that port as its local one, and the
 * restart would fail with EADDRINUSE.
 */
export async function stablePort(random: (n: number) => number): Promise<number> {
  let low = 32768;
  let high = 60999;
  try {
    const [a, b] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(a) && Number.isInteger(b)) [low, high] = [a!, b!];
  } catch {
    // not Linux: the usual range
  }
  const below = Math.max(0, low - 10_000);
  const above = Math.max(0, 65_535 - high);
  if (below + above === 0) throw new Error(`no port outside the ephemeral range ${low}-${high}`);
  for (let attempt = 0; attempt < 100; attempt++) {
    const n = random(below + above);
    const port = n < below ? 10_000 + n : high + 1 + (n - below);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port outside the ephemeral range');
}

export interface ServerSlot {
  readonly label: string;
  readonly port: number;
  process: FixtureProcess | null;
  /** Its start (or restart) in progress. */
  starting: Promise<void> | null;
}

export class ResumeCluster {
  readonly redis: RedisServer;
  readonly servers: ServerSlot[];
  readonly proxy: HAProxy;
  readonly relay: TcpRelay;
  readonly prefix: string;
  readonly #maxMessages: number;
  kills = 0;

  private constructor(redis: RedisServer, servers: ServerSlot[], proxy: HAProxy, relay: TcpRelay, prefix: string, maxMessages: number) {
    this.redis = redis;
    this.servers = servers;
    this.proxy = proxy;
    this.relay = relay;
    this.prefix = prefix;
    this.#maxMessages = maxMessages;
  }

  /** Redis, `count` servers (all ready), HAProxy round robin over them, the relay in front. */
  static async start(options: { servers: number; maxMessages: number; prefix: string }): Promise<ResumeCluster> {
    const pick = (n: number): number => Math.floor(Math.random() * n);
    const ports = new Set<number>();
    while (ports.size < options.servers + 1) ports.add(await stablePort(pick));
    const [redisPort, ...serverPorts] = ports;
    const redis = await RedisServer.start({ port: redisPort! });
    const slots: ServerSlot[] = serverPorts.map((port, i) => ({ label: `s${i}`, port, process: null, starting: null }));
    let proxy: HAProxy | undefined;
    try {
      // TCP mode: HAProxy passes the WebSocket bytes through (no HTTP parsing); round robin; a server that
      // is down is noticed by the health checks (every 250 ms) and a refused connection is redispatched.
      proxy = await HAProxy.start(
        (ports) => `listen resume
  bind 127.0.0.1:${ports[0]}
  balance roundrobin
  option redispatch
  retries 3
${slots.map((slot) => `  server ${slot.label} 127.0.0.1:${slot.port} check inter 250 fall 1 rise 1`).join('\n')}
`,
        {
          ports: 1,
          preamble: `global
  maxconn 4000

defaults
  mode tcp
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout tunnel 300s
`,
        },
      );
      const relay = await TcpRelay.start(proxy.ports[0]!, { noDelay: true });
      const cluster = new ResumeCluster(redis, slots, proxy, relay, options.prefix, options.maxMessages);
      await Promise.all(slots.map((_, i) => cluster.startServer(i)));
      return cluster;
    } catch (error) {
      for (const slot of slots) await slot.process?.stop();
      await proxy?.stop();
      await redis.dispose();
      throw error;
    }
  }

  /** The URL the clients use: the relay, then HAProxy. */
  get url(): string {
    return `ws://127.0.0.1:${this.relay.port}/`;
  }

  running(): number[] {
    return this.servers.flatMap((slot, i) => (slot.process?.running === true && slot.starting === null ? [i] : []));
  }

  /** Start server `i` on its port and wait until it says ready. */
  startServer(i: number): Promise<void> {
    const slot = this.servers[i]!;
    const config = { redisUrl: this.redis.url, prefix: this.prefix, port: slot.port, label: slot.label, maxMessages: this.#maxMessages, parentPid: process.pid };
    const fixture = new FixtureProcess(slot.label, 'test/scale/fixtures/resume-server.ts', config);
    slot.process = fixture;
    slot.starting = fixture.waitFor(/^ready /m, STEP_TIMEOUT).then(() => {
      slot.starting = null;
    });
    return slot.starting;
  }

  /** SIGKILL server `i` (its process group) and wait until it is gone. */
  async kill(i: number): Promise<void> {
    const fixture = this.servers[i]!.process;
    if (fixture === null) return;
    fixture.killGroup('SIGKILL');
    await fixture.exited;
    await fixture.stop(); // the group is empty: forget it
    this.kills++;
  }

  /** Wait for every server start in progress. */
  async settled(): Promise<void> {
    for (const slot of this.servers) await slot.starting;
  }

  async stop(): Promise<void> {
    await this.relay.close().catch(() => {});
    for (const slot of this.servers) await slot.process?.stop();
    await this.proxy.stop();
    await this.redis.dispose();
  }
}

// --- the clients ---------------------------------------------------------------------------------------

export interface WatcherOptions {
  /** Holes allowed right after a `gap` event (the Redis restart test); never otherwise. */
  readonly gapsAllowed: boolean;
  readonly publishers: number;
}

/** One ResumingClient and the running check of what it delivers. */
export class Watcher {
  readonly index: number;
  readonly topics: readonly string[];
  readonly client: ResumingClient;
  /** Per topic, per publisher: the last sequence number delivered (0: none). */
  readonly last = new Map<string, number[]>();
  /** Per topic, per publisher: a `gap` event came since its last message (a hole is told). */
  readonly #excused = new Map<string, boolean[]>();
  readonly #options: WatcherOptions;
  readonly problems: string[] = [];
  problemCount = 0;
  received = 0;
  /** Messages delivered from history (a replay after `subscribed`), not live. */
  replayed = 0;
  /** Holes that came right after a `gap` event (told, not silent), and messages delivered again after one. */
  toldHoles = 0;
  toldRepeats = 0;
  readonly gaps: Array<{ topic: string; reason: string }> = [];
  readonly subscribed = new Set<string>();
  reconnects = 0;
  opens = 0;

  constructor(index: number, url: string, topics: readonly string[], options: WatcherOptions) {
    this.index = index;
    this.topics = topics;
    this.#options = options;
    this.client = new ResumingClient(url, { reconnect: { initialDelay: 100, maxDelay: 2000 }, handshakeTimeout: STEP_TIMEOUT, heartbeat: false });
    for (const topic of topics) {
      this.last.set(topic, new Array<number>(options.publishers).fill(0));
      this.#excused.set(topic, new Array<boolean>(options.publishers).fill(false));
      this.client.subscribe(topic, { from: 'start' });
    }
    this.client.on('open', () => this.opens++);
    this.client.on('reconnected', () => this.reconnects++);
    this.client.on('subscribed', (topic) => this.subscribed.add(topic));
    this.client.on('message', (topic, data, info) => {
      if (info.replayed) this.replayed++;
      this.#onMessage(topic, data);
    });
    this.client.on('gap', (topic, info) => {
      this.gaps.push({ topic, reason: info.reason });
      this.#excused.get(topic)?.fill(true);
    });
    this.client.on('refused', (topic, refusal) => this.#problem(`refused ${topic}: ${refusal.code} ${refusal.message}`));
    this.client.on('reconnecting', (event) => {
      // A connection the client failed itself: the server broke the protocol (an unreported hole…).
      if (event.error instanceof ResumeError) this.#problem(`connection failed with ${event.error.code}: ${event.error.message}`);
    });
    this.client.on('error', (error) => this.#problem(`error: ${error.message}`));
    this.client.on('close', (code) => {
      if (!this.#closing) this.#problem(`closed for good (${code})`);
    });
  }

  #closing = false;

  /** Close for good (the end of the test). */
  close(): void {
    this.#closing = true;
    this.client.close();
  }

  #problem(text: string): void {
    this.problemCount++;
    if (this.problems.length < 10) this.problems.push(`client ${this.index}: ${text}`);
  }

  #onMessage(topic: string, data: string | Buffer): void {
    this.received++;
    const text = typeof data === 'string' ? data : data.toString('utf8');
    const [name, p, s] = text.split(':');
    const publisher = Number(p);
    const seq = Number(s);
    const last = this.last.get(topic);
    const excused = this.#excused.get(topic)!;
    if (name !== topic || last === undefined || !(publisher >= 0 && publisher < last.length) || !Number.isSafeInteger(seq)) {
      this.#problem(`on ${topic}: unexpected message ${text.slice(0, 80)}`);
      return;
    }
    const previous = last[publisher]!;
    if (seq !== previous + 1) {
      if (this.#options.gapsAllowed && excused[publisher]) {
        if (seq > previous + 1) this.toldHoles++;
        else this.toldRepeats++;
      } else {
        this.#problem(`${topic}, publisher ${publisher}: seq ${seq} after ${previous} (${seq <= previous ? 'duplicate or out of order' : `${seq - previous - 1} missing`}, no gap event before it)`);
      }
    }
    excused[publisher] = false;
    last[publisher] = seq;
  }

  /** It has the last message of every publisher on each of its topics. */
  complete(counts: ReadonlyMap<string, readonly number[]>): boolean {
    for (const topic of this.topics) {
      const want = counts.get(topic)!;
      const have = this.last.get(topic)!;
      for (let p = 0; p < want.length; p++) if (have[p] !== want[p]) return false;
    }
    return true;
  }

  /** Per topic and publisher where it stands, for an assertion message. */
  describe(counts: ReadonlyMap<string, readonly number[]>): string {
    return this.topics.map((topic) => `${topic}: ${this.last.get(topic)!.map((seq, p) => `${seq}/${counts.get(topic)![p]}`).join(' ')}`).join('; ');
  }
}

// --- the publishers ------------------------------------------------------------------------------------

export interface PublishPlan {
  /** In publish order: who publishes to which topic, with the publisher's next seq on that topic. */
  readonly messages: ReadonlyArray<{ readonly publisher: number; readonly topic: string; readonly seq: number }>;
  /** Per topic, per publisher: how many (the last seq). */
  readonly counts: ReadonlyMap<string, number[]>;
}

export function planPublishes(total: number, publishers: number, topics: readonly string[], random: (n: number) => number): PublishPlan {
  const counts = new Map(topics.map((topic) => [topic, new Array<number>(publishers).fill(0)]));
  const messages = Array.from({ length: total }, () => {
    const publisher = random(publishers);
    const topic = topics[random(topics.length)]!;
    const seq = ++counts.get(topic)![publisher]!;
    return { publisher, topic, seq };
  });
  return { messages, counts };
}

/** The publishing side: a WebSocketServer without a port, with a RedisHistory on the cluster's Redis. */
export class Publisher {
  readonly wss: WebSocketServer;
  readonly store: RedisHistory;
  published = 0;
  /** Publishes whose callback had an error (retried when `retry` is on). */
  failures = 0;

  constructor(cluster: ResumeCluster, maxMessages: number) {
    this.store = new RedisHistory({ url: cluster.redis.url, prefix: cluster.prefix, reconnect: { minDelayMs: 50, maxDelayMs: 500 } });
    const bounds = { maxMessages };
    this.wss = new WebSocketServer({ noServer: true, history: { store: this.store, topics: (topic) => (topic.startsWith('t') ? bounds : null) } });
  }

  async ready(): Promise<void> {
    const deadline = Date.now() + STEP_TIMEOUT;
    while (!this.store.connected) {
      if (Date.now() > deadline) throw new Error('the publisher did not connect to Redis');
      await delay(20);
    }
  }

  /**
   * Publish `plan` spread over `durationMs` (each message not before its share of the time), each
   * publisher in its own order with at most `window` of its publishes waiting for their callback. With
   * `retry`, a publish that failed (Redis unreachable: not stored) is tried again until it is stored —
   * `window` must then be 1, so that a retried message cannot land after a later one.
   */
  async run(plan: PublishPlan, publishers: number, options: { durationMs: number; window: number; retry: boolean; onProgress?: (published: number) => void }): Promise<string[]> {
    if (options.retry && options.window !== 1) throw new Error('retry needs window 1');
    const errors: string[] = [];
    const start = Date.now();
    const step = options.durationMs / plan.messages.length;
    const publishOne = async (topic: string, text: string): Promise<void> => {
      for (;;) {
        const error = await new Promise<Error | null>((resolve) => this.wss.publish(topic, text, {}, (failure) => resolve(failure)));
        if (error === null) return;
        this.failures++;
        if (!options.retry) {
          if (errors.length < 10) errors.push(`${text}: ${error.message}`);
          return;
        }
        await delay(50);
      }
    };
    const loops = Array.from({ length: publishers }, async (_, publisher) => {
      let inFlight = 0;
      let wake: (() => void) | null = null;
      for (let i = 0; i < plan.messages.length; i++) {
        const message = plan.messages[i]!;
        if (message.publisher !== publisher) continue;
        const due = start + i * step - Date.now();
        if (due > 0) await delay(due);
        while (inFlight >= options.window) await new Promise<void>((resolve) => (wake = resolve));
        inFlight++;
        void publishOne(message.topic, `${message.topic}:${publisher}:${message.seq}`).then(() => {
          inFlight--;
          this.published++;
          options.onProgress?.(this.published);
          const resume = wake;
          wake = null;
          resume?.();
        });
      }
      while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
    });
    await Promise.all(loops);
    return errors;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

/**
 * Publishers as `ResumingClient`s (one per publisher, through the cluster's relay: their links are dropped
 * and their servers killed like everyone's), each sending its messages of the plan in order, paced over
 * `durationMs`. The servers turn each send into a publish with the send's idempotency key.
 */
export class ClientPublishers {
  readonly clients: ResumingClient[];
  /** Sends acked by a server (applied, and its publish stored). */
  acked = 0;
  /** Sends the client could not take at once (`maxUnacked` reached): sent again after an ack. */
  full = 0;
  reconnects = 0;
  readonly errors: string[] = [];

  constructor(cluster: ResumeCluster, publishers: number) {
    this.clients = Array.from({ length: publishers }, () => new ResumingClient(cluster.url, { reconnect: { initialDelay: 100, maxDelay: 2000 }, handshakeTimeout: STEP_TIMEOUT, heartbeat: false }));
    for (const client of this.clients) {
      client.on('reconnected', () => this.reconnects++);
      client.on('error', (error) => this.#error(`publisher error: ${error.message}`));
    }
  }

  async run(plan: PublishPlan, options: { durationMs: number }): Promise<void> {
    const start = Date.now();
    const step = options.durationMs / plan.messages.length;
    const all: Array<Promise<void>> = [];
    const loops = this.clients.map(async (client, publisher) => {
      for (let i = 0; i < plan.messages.length; i++) {
        const message = plan.messages[i]!;
        if (message.publisher !== publisher) continue;
        const due = start + i * step - Date.now();
        if (due > 0) await delay(due);
        const text = `${message.topic}:${publisher}:${message.seq}`;
        for (;;) {
          let resolve!: () => void;
          const done = new Promise<void>((r) => (resolve = r));
          try {
            client.send(text, (error) => {
              if (error === null) this.acked++;
              else this.#error(`${text}: ${error.message}`);
              resolve();
            });
            all.push(done);
            break;
          } catch (error) {
            if ((error as { code?: string }).code !== 'FD_ERR_RESUME_UNACKED_FULL') throw error;
            this.full++;
            await new Promise((resolve) => client.once('acked', resolve));
          }
        }
      }
    });
    await Promise.all(loops);
    await Promise.all(all);
  }

  /** Sends not acked yet, over all publishers. */
  get unacked(): number {
    return this.clients.reduce((sum, client) => sum + client.unacked, 0);
  }

  close(): void {
    for (const client of this.clients) client.close();
  }

  #error(text: string): void {
    if (this.errors.length < 10) this.errors.push(text);
  }
}

/** Poll `condition` every 100 ms until it holds; reject after `ms` with `what` and `detail()`. */
export async function waitFor(condition: () => boolean, what: string, ms: number, detail: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}: ${detail()}`);
    await delay(100);
  }
}

/**
 * `count` Watchers on `cluster` (pushed to `into` as they are made, so that the caller closes them
 * whatever happens), each on 1 to 3 of `topics` drawn with `random`; then waits until each is subscribed
 * to all of its topics. `paced`: a pause of 100 ms after every 50 clients (spreads their handshakes).
 */
export async function startWatchers(
  cluster: ResumeCluster,
  count: number,
  topics: readonly string[],
  random: (n: number) => number,
  options: WatcherOptions & { paced?: boolean },
  into: Watcher[],
): Promise<void> {
  const { paced, ...watcherOptions } = options;
  for (let i = 0; i < count; i++) {
    const chosen = new Set<string>();
    const many = 1 + random(3);
    while (chosen.size < many) chosen.add(topics[random(topics.length)]!);
    into.push(new Watcher(i, cluster.url, [...chosen].sort(), watcherOptions));
    if (paced === true && i % 50 === 49) await delay(100);
  }
  await waitFor(
    () => into.every((w) => w.subscribed.size === w.topics.length),
    'every client subscribed',
    STEP_TIMEOUT * 3,
    () => `${into.filter((w) => w.subscribed.size < w.topics.length).length} not yet`,
  );
}
