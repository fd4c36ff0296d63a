/**
 * The test side of the scale-out tests: fixture processes (each the leader of its own process group, so
 * that a primary and its cluster workers go together), the clients (fullduplex's own `WebSocket`), a
 * seeded PRNG, and the delivery check (exactly once, per-publisher order, nothing to non-subscribers).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { WebSocket, type MessageData } from '../../src/node/index.js';
import { within } from '../helpers/node.js';
import { NODE_HEADER, parseMessage, type Command, type Reply } from './fixtures/protocol.js';
import { scaled } from '../helpers/time.js';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** How long a step may take before the test fails with what it was waiting for (a hang guard, not a speed test). */
export const STEP_TIMEOUT = scaled(20_000);

export function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms));
}

/** Poll `condition` until it holds; reject after `ms` with `what` and, if given, `detail()`. */
export async function until(condition: () => boolean, what: string, ms = STEP_TIMEOUT, detail?: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${detail === undefined ? '' : `: ${detail()}`}`);
    await delay(10);
  }
}

/** mulberry32: a small PRNG with a fixed seed, so that every run publishes the same thing. */
export function prng(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n: number): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n >>> 0;
  };
}

// --- processes ---------------------------------------------------------------------------------------

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const groups = new Set<FixtureProcess>();
process.once('exit', () => {
  // Last resort (the test process is going away): nothing we started may outlive it.
  for (const fixture of groups) fixture.killGroup('SIGKILL');
});

/** The processes of the process group `pgid` that are still running (zombies left out), from `ps`. */
export function groupMembers(pgid: number): Array<{ pid: number; stat: string; args: string }> {
  const output = execFileSync('ps', ['-e', '-o', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
  const members: Array<{ pid: number; stat: string; args: string }> = [];
  for (const line of output.split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (match === null || Number(match[2]) !== pgid || match[3]!.startsWith('Z')) continue;
    members.push({ pid: Number(match[1]), stat: match[3]!, args: match[4]!.slice(0, 200) });
  }
  return members;
}

/** Whether a process with this id is running (not a zombie), from `ps`. */
export function isRunning(pid: number): boolean {
  try {
    const stat = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return stat !== '' && !stat.startsWith('Z');
  } catch {
    return false; // ps exits 1 when there is no such process
  }
}

/**
 * `node --import tsx <script> <json config>` as the leader of a new process group (what it forks stays
 * in the group), its output kept. `stop()` signals the whole group and waits until it is empty.
 */
export class FixtureProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  #exit: Exit | null = null;
  readonly #waiters = new Set<() => void>();

  constructor(name: string, script: string, config: unknown) {
    this.name = name;
    const env = { ...process.env };
    delete env['NODE_TEST_CONTEXT']; // a program under test, not a test file
    delete env['NODE_OPTIONS'];
    delete env['NODE_CLUSTER_SCHED_POLICY']; // the platform's default scheduling
    this.child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(config)], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    if (this.child.pid === undefined) throw new Error(`${name}: could not start ${script}`);
    this.pid = this.child.pid;
    groups.add(this);
    this.child.stdout?.setEncoding('utf8');
    this.child.stderr?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      this.stdout += chunk;
      this.#notify();
    });
    this.child.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
      this.#notify();
    });
    this.exited = new Promise<Exit>((resolveExit) => {
      this.child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        this.#exit = { code, signal };
        this.#notify();
        resolveExit(this.#exit);
      });
    });
  }

  get running(): boolean {
    return this.#exit === null;
  }

  #notify(): void {
    for (const waiter of this.#waiters) waiter();
  }

  describe(): string {
    return `${this.name} (pid ${this.pid})\nstdout:\n${this.stdout.slice(-2000)}\nstderr:\n${this.stderr.slice(-2000)}`;
  }

  /** Wait until stdout matches `pattern`; reject with the output on exit or after `ms`. */
  waitFor(pattern: RegExp, ms = STEP_TIMEOUT): Promise<RegExpMatchArray> {
    return new Promise((resolveMatch, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      const check = (): void => {
        const match = this.stdout.match(pattern);
        if (match !== null) {
          done();
          resolveMatch(match);
        } else if (!this.running) {
          done();
          reject(new Error(`${this.name} exited before printing ${pattern}\n${this.describe()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${pattern} from ${this.describe()}`));
      }, ms);
      this.#waiters.add(check);
      check();
    });
  }

  /** Wait for the leader's exit; null after `ms`. */
  async exitWithin(ms: number): Promise<Exit | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolveTimeout) => (timer = setTimeout(() => resolveTimeout(null), ms)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Send `signal` to every process of the group (nothing if it is gone). */
  killGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: the group is empty
    }
  }

  /**
   * SIGTERM to the group, up to `graceMs` for the leader to exit and the group to empty, then SIGKILL
   * and wait again. Resolves with the leader's exit; never rejects.
   */
  async stop(graceMs = scaled(8000)): Promise<Exit> {
    const empty = (): boolean => !this.running && groupMembers(this.pid).length === 0;
    if (!empty()) {
      this.killGroup('SIGTERM');
      const deadline = Date.now() + graceMs;
      while (!empty() && Date.now() < deadline) await delay(50);
      if (!empty()) {
        this.killGroup('SIGKILL');
        const killDeadline = Date.now() + scaled(5000);
        while (!empty() && Date.now() < killDeadline) await delay(50);
      }
    }
    groups.delete(this);
    return this.#exit ?? (await this.exited);
  }
}

// --- clients -----------------------------------------------------------------------------------------

export interface Delivery {
  publisher: number;
  seq: number;
  topic: string;
  text: string;
}

function textOf(data: MessageData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  throw new Error('unexpected Blob message');
}

type Pending = { resolve: (reply: Reply) => void; reject: (error: Error) => void };
/** A command without its id (`request` numbers it). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type CommandBody = WithoutId<Command>;

/** A test client: its topics are in its URL; it collects what is published to it and sends commands. */
export class ScaleClient {
  readonly index: number;
  readonly topics: readonly string[];
  readonly ws: WebSocket;
  /** The server (process or worker) it landed on, from the `X-Scale-Node` response header. */
  node = '';
  /** The published messages it received, in order. */
  readonly received: Delivery[] = [];
  /** Anything else: binary messages, unparseable texts, `error` replies without an id. */
  readonly unexpected: string[] = [];
  closeEvent: { code: number; reason: string } | null = null;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  private constructor(index: number, topics: readonly string[], url: string) {
    this.index = index;
    this.topics = topics;
    const query = topics.length > 0 ? `?topics=${topics.map(encodeURIComponent).join(',')}` : '';
    this.ws = new WebSocket(`${url}${query}`, { handshakeTimeout: STEP_TIMEOUT });
    this.ws.on('upgrade', (response) => {
      const header = response.headers[NODE_HEADER];
      this.node = typeof header === 'string' ? header : '';
    });
    this.ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    this.ws.on('error', (error) => this.unexpected.push(`error: ${error.message}`));
    this.closed = new Promise((resolveClose) => {
      this.ws.once('close', (code, reason) => {
        this.closeEvent = { code, reason: reason.toString() };
        const error = new Error(`client ${index}: the connection closed (${code}) with a command unanswered`);
        for (const pending of this.#pending.values()) pending.reject(error);
        this.#pending.clear();
        resolveClose(this.closeEvent);
      });
    });
  }

  /** Connect (to `ws://127.0.0.1:<port>/`) with these topics; resolves once open. */
  static async connect(index: number, url: string, topics: readonly string[]): Promise<ScaleClient> {
    const client = new ScaleClient(index, topics, url);
    await within(
      new Promise<void>((resolveOpen, reject) => {
        client.ws.once('open', resolveOpen);
        client.ws.once('close', (code) => reject(new Error(`client ${index}: closed (${code}) before opening: ${client.unexpected.join('; ')}`)));
      }),
      `client ${index} to open`,
      STEP_TIMEOUT,
    );
    return client;
  }

  #onMessage(data: MessageData, isBinary: boolean): void {
    const text = isBinary ? null : textOf(data);
    if (text === null) {
      this.unexpected.push('a binary message');
      return;
    }
    if (text.startsWith('{')) {
      const reply = JSON.parse(text) as Reply;
      const pending = reply.id === null ? undefined : this.#pending.get(reply.id);
      if (pending === undefined) {
        this.unexpected.push(`reply to nothing: ${text.slice(0, 200)}`);
        return;
      }
      this.#pending.delete(reply.id!);
      if (reply.op === 'error') pending.reject(new Error(`client ${this.index} (${this.node}): the server refused a command: ${reply.message}`));
      else pending.resolve(reply);
      return;
    }
    const parsed = parseMessage(text);
    if (parsed === null) this.unexpected.push(`not a published message: ${text.slice(0, 200)}`);
    else this.received.push({ ...parsed, text });
  }

  /** Send a command and wait for its reply (an `error` reply rejects). */
  request<O extends Reply['op']>(command: CommandBody, op: O): Promise<Extract<Reply, { op: O }>> {
    const id = this.#nextId++;
    return within(
      new Promise<Extract<Reply, { op: O }>>((resolveReply, reject) => {
        if (this.ws.readyState !== WebSocket.OPEN) {
          reject(new Error(`client ${this.index}: not open`));
          return;
        }
        this.#pending.set(id, {
          resolve: (reply) => (reply.op === op ? resolveReply(reply as Extract<Reply, { op: O }>) : reject(new Error(`client ${this.index}: expected ${op}, got ${reply.op}`))),
          reject,
        });
        this.ws.send(JSON.stringify({ ...command, id }));
      }),
      `the answer to ${command.op} from ${this.node}`,
      STEP_TIMEOUT,
    );
  }

  /** Ask the server to publish `text` to `topic` from this connection; resolves with the ack's error (null: the backplane took it). */
  async publish(topic: string, text: string): Promise<string | null> {
    return (await this.request({ op: 'publish', topic, text }, 'ack')).error;
  }
}

/**
 * Publish `schedule` in its order, each from its client, with at most `window` publishes unacknowledged
 * at a time (over all clients). Resolves with the ack errors (none expected).
 */
export async function publishAll(schedule: ReadonlyArray<{ client: ScaleClient; topic: string; text: string }>, window: number): Promise<string[]> {
  const errors: string[] = [];
  let inFlight = 0;
  let wake: (() => void) | null = null;
  const settled = (): void => {
    inFlight--;
    const resume = wake;
    wake = null;
    resume?.();
  };
  for (const { client, topic, text } of schedule) {
    while (inFlight >= window) await new Promise<void>((resume) => (wake = resume));
    inFlight++;
    client.publish(topic, text).then(
      (error) => {
        if (error !== null) errors.push(`client ${client.index} on ${topic}: ${error}`);
        settled();
      },
      (error: Error) => {
        errors.push(error.message);
        settled();
      },
    );
  }
  while (inFlight > 0) await new Promise<void>((resume) => (wake = resume));
  return errors;
}

// --- the check ---------------------------------------------------------------------------------------

/** Each publish as sent: by client `publisher`, its `seq`-th, to `topic`. */
export type Published = Delivery;

/** What each client should have got: every message of its topics but its own, in publish order. */
export function expectedFor(client: ScaleClient, published: readonly Published[]): Published[] {
  const topics = new Set(client.topics);
  return published.filter((message) => message.publisher !== client.index && topics.has(message.topic));
}

/**
 * Every problem with what `clients` received (empty: all good): messages of topics a client is not on,
 * its own messages, and per publisher any message missing, duplicated, out of order or altered.
 */
export function deliveryProblems(clients: readonly ScaleClient[], published: readonly Published[]): string[] {
  const problems: string[] = [];
  const texts = new Map<string, string>();
  for (const message of published) texts.set(`${message.publisher}|${message.seq}`, message.text);
  for (const client of clients) {
    const who = `client ${client.index} (${client.node}, topics [${client.topics.join(',')}])`;
    if (client.unexpected.length > 0) problems.push(`${who}: unexpected: ${client.unexpected.slice(0, 3).join(' / ')}`);
    const topics = new Set(client.topics);
    const strays = client.received.filter((message) => !topics.has(message.topic));
    if (strays.length > 0) problems.push(`${who}: ${strays.length} message(s) of topics it is not on, e.g. ${strays[0]!.text.slice(0, 40)}`);
    const own = client.received.filter((message) => message.publisher === client.index);
    if (own.length > 0) problems.push(`${who}: ${own.length} of its own message(s) came back`);
    const altered = client.received.filter((message) => texts.get(`${message.publisher}|${message.seq}`) !== message.text);
    if (altered.length > 0) problems.push(`${who}: ${altered.length} message(s) not as published (or never published), e.g. ${altered[0]!.text.slice(0, 40)}`);

    const expected = new Map<number, number[]>();
    for (const message of expectedFor(client, published)) {
      let list = expected.get(message.publisher);
      if (list === undefined) expected.set(message.publisher, (list = []));
      list.push(message.seq);
    }
    const got = new Map<number, number[]>();
    for (const message of client.received) {
      if (!topics.has(message.topic) || message.publisher === client.index) continue; // reported above
      let list = got.get(message.publisher);
      if (list === undefined) got.set(message.publisher, (list = []));
      list.push(message.seq);
    }
    for (const publisher of new Set([...expected.keys(), ...got.keys()])) {
      const want = expected.get(publisher) ?? [];
      const have = got.get(publisher) ?? [];
      if (want.length === have.length && want.every((seq, i) => have[i] === seq)) continue;
      const wanted = new Set(want);
      const seen = new Set<number>();
      let duplicates = 0;
      let reordered = 0;
      let previous = -1;
      for (const seq of have) {
        if (seen.has(seq)) duplicates++;
        else if (seq < previous) reordered++;
        seen.add(seq);
        previous = Math.max(previous, seq);
      }
      const missing = want.filter((seq) => !seen.has(seq));
      const extra = [...seen].filter((seq) => !wanted.has(seq));
      problems.push(
        `${who}, publisher ${publisher}: expected ${want.length}, got ${have.length}: ${missing.length} missing${missing.length > 0 ? ` (seq ${missing.slice(0, 5).join(',')}…)` : ''}, ` +
          `${duplicates} duplicated, ${reordered} out of order, ${extra.length} not expected`,
      );
    }
  }
  return problems;
}

/** Count-based wait for deliveries: resolves once every client has at least what it should get. */
export async function untilDelivered(clients: readonly ScaleClient[], expectedCounts: ReadonlyMap<ScaleClient, number>, ms = STEP_TIMEOUT): Promise<void> {
  await until(
    () => clients.every((client) => client.received.length >= (expectedCounts.get(client) ?? 0)),
    'every delivery',
    ms,
    () => {
      const short = clients.filter((client) => client.received.length < (expectedCounts.get(client) ?? 0));
      const total = short.reduce((sum, client) => sum + (expectedCounts.get(client) ?? 0) - client.received.length, 0);
      return `${short.length} client(s) short of ${total} message(s), e.g. ${short
        .slice(0, 3)
        .map((client) => `client ${client.index} (${client.node}) ${client.received.length}/${expectedCounts.get(client) ?? 0}`)
        .join(', ')}`;
    },
  );
}

/**
 * Publish `schedule` (at most `window` unacknowledged), wait until every client has what `published`
 * makes its due, then a little longer for anything extra, and check it: exactly its topics' messages,
 * each once, in each publisher's order. Returns the number of deliveries that were due.
 */
export async function publishAndVerify(
  clients: readonly ScaleClient[],
  schedule: ReadonlyArray<{ client: ScaleClient; topic: string; text: string }>,
  published: readonly Published[],
  window: number,
  lap: (what: string) => void,
): Promise<number> {
  const expectedCounts = new Map(clients.map((client) => [client, expectedFor(client, published).length]));
  const due = [...expectedCounts.values()].reduce((sum, n) => sum + n, 0);
  assert.deepEqual(await publishAll(schedule, window), [], 'every publish was taken by the backplane');
  lap('all publishes acknowledged');
  const waited = await untilDelivered(clients, expectedCounts).then(
    () => null,
    (error: Error) => error,
  );
  lap('all deliveries in');
  await delay(300); // anything extra would show up now
  const problems = deliveryProblems(clients, published);
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problem(s)${waited === null ? '' : `; ${waited.message}`}`);
  assert.equal(waited, null);
  return due;
}
