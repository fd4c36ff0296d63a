/**
 * The resume-storm load generator (its own process; the clients in `workers` worker threads): `clients`
 * resume clients spread evenly over `topics` topics, each `behind` messages behind, connect at once, as
 * after a server restart or a network blip; the server keeps no state for a client between connections,
 * so a client that comes with a position is one that reconnects.
 *
 *  1. A publisher connection per topic (`/publish/<topic>?ack`: the server answers each publish with its
 *     position) publishes one message, whose position (epoch, offset) every client of the topic will
 *     resume after, then `behind` more: the messages the clients missed.
 *  2. {"phase":"storm"}: every worker starts its clients, at most `concurrency` (over all workers)
 *     between the start of a connection and the end of its replay. A client connects with
 *     `fullduplex.resume.v1`, sends `hello` and `sub` with `from` its position, and must get `subscribed`
 *     (replay = `behind`, no gap) and the `behind` missed messages in offset order. Its time to live is
 *     when the last of them arrived (from then on the server sends it live messages); a connection that
 *     fails is retried (at most 5 times, counted).
 *  3. Once every client is there, one live message per topic: every client must receive it (the next
 *     offset, once). `allLiveMs` is when the last one did, from the start of the storm.
 *
 * Prints {"phase":"storm"} and {"phase":"live"} as it goes and one JSON line last.
 *
 *   node --import tsx bench/load/resume-storm.ts '{"port":1234,"clients":10000,"topics":10,"behind":100,"concurrency":512,"workers":2}'
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { clientFrame } from '../lib/client-frames.js';
import { openConnection, type RawConnection } from '../lib/connect.js';
import { resumeOpening, ResumeSubscriber, RESUME_SUBPROTOCOL, ServerFrameReader } from '../lib/resume-frames.js';

export interface ResumeStormLoad {
  port: number;
  clients: number;
  topics: number;
  /** Messages each client missed. */
  behind: number;
  /** Connections between their start and the end of their replay, over all workers. */
  concurrency: number;
  /** Worker threads running the clients. */
  workers: number;
  /** Give up after this long (ms; default 300,000). */
  timeoutMs?: number;
}

interface WorkerJob {
  port: number;
  /** This worker's clients: their topic index each. */
  topicOf: number[];
  topics: string[];
  /** Per topic: the position the clients resume after, and the offset of the last missed message. */
  positions: { epoch: string; offset: number; top: number }[];
  behind: number;
  concurrency: number;
}

/** What a worker reports when all its clients are live (times in ms of performance.timeOrigin + now). */
interface WorkerReport {
  type: 'done';
  started: number[];
  caughtUp: number[];
  live: number[];
  retries: number;
  failed: number;
  disorder: number;
  wrongSubscribed: number;
  problems: string[];
}

const now = (): number => performance.timeOrigin + performance.now();
const TOPIC = (index: number): string => `storm-${index}`;
const MAX_RETRIES = 5;

if (isMainThread) await main();
else await runWorker(workerData as WorkerJob);

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ResumeStormLoad;
  const topics = Array.from({ length: config.topics }, (_, i) => TOPIC(i));
  const payload = clientFrame(Buffer.alloc(64, 0x61), { binary: false });

  // 1. The history: one message to resume after, then the ones the clients missed.
  const publishers = await Promise.all(topics.map((topic) => publisherOf(config.port, topic)));
  const first = await Promise.all(publishers.map((publisher) => publisher.publish(payload, 1)));
  const tops = await Promise.all(publishers.map((publisher) => publisher.publish(payload, config.behind)));
  const positions = first.map((position, i) => {
    if (tops[i]!.epoch !== position.epoch || tops[i]!.offset !== position.offset + config.behind) throw new Error(`${topics[i]}: positions ${JSON.stringify(position)} then ${JSON.stringify(tops[i])}`);
    return { epoch: position.epoch, offset: position.offset, top: tops[i]!.offset };
  });

  // 2. The storm.
  const workers = Math.max(1, Math.min(config.workers, config.clients));
  const jobs: WorkerJob[] = Array.from({ length: workers }, (_, w) => ({
    port: config.port,
    topicOf: [],
    topics,
    positions,
    behind: config.behind,
    concurrency: Math.max(1, Math.floor(config.concurrency / workers) + (w < config.concurrency % workers ? 1 : 0)),
  }));
  for (let client = 0; client < config.clients; client++) jobs[client % workers]!.topicOf.push(client % config.topics);
  // A worker does not inherit `--import tsx` in time for its entry module: load this file through tsx's API.
  const url = JSON.stringify(import.meta.url);
  const threads = jobs.map((job) => new Worker(`import('tsx/esm/api').then(({ tsImport }) => tsImport(${url}, ${url}))`, { eval: true, workerData: job }));
  const caughtUp = threads.map((thread) => waitFor<{ type: 'caughtUp' }>(thread, 'caughtUp'));
  const reports = threads.map((thread) => waitFor<WorkerReport>(thread, 'done'));
  await Promise.all(threads.map((thread) => waitFor(thread, 'ready')));
  const timeout = setTimeout(() => {
    process.stderr.write(`resume-storm: not done after ${config.timeoutMs ?? 300_000} ms\n`);
    process.exit(1);
  }, config.timeoutMs ?? 300_000);
  process.stdout.write('{"phase":"storm"}\n');
  const cpuBefore = process.cpuUsage();
  const start = now();
  for (const thread of threads) thread.postMessage({ type: 'go' });
  await Promise.all(caughtUp);
  const allCaughtUp = now() - start;

  // 3. One live message per topic.
  for (const publisher of publishers) publisher.socket.write(payload);
  const done = await Promise.all(reports);
  const seconds = (now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  clearTimeout(timeout);
  process.stdout.write('{"phase":"live"}\n');
  for (const thread of threads) void thread.terminate();
  for (const publisher of publishers) publisher.socket.destroy();

  const fromStart = done.flatMap((report) => report.caughtUp.map((at) => at - start)).sort((a, b) => a - b);
  const perConnection = done.flatMap((report) => report.caughtUp.map((at, i) => at - report.started[i]!)).sort((a, b) => a - b);
  const live = done.flatMap((report) => report.live.map((at) => at - start));
  const sum = (pick: (report: WorkerReport) => number): number => done.reduce((total, report) => total + pick(report), 0);
  const result = {
    clients: config.clients,
    topics: config.topics,
    behind: config.behind,
    concurrency: config.concurrency,
    workers,
    /** From the start of the storm until every client had its missed messages. */
    allCaughtUpMs: allCaughtUp,
    /** ... and then the live message published after that. */
    allLiveMs: Math.max(...live),
    /** Time to live of one client (its last missed message arrived), from the start of the storm. */
    p50Ms: percentile(fromStart, 0.5),
    p99Ms: percentile(fromStart, 0.99),
    /** The same from the start of the client's own connection (without waiting for a slot). */
    connectionP50Ms: percentile(perConnection, 0.5),
    connectionP99Ms: percentile(perConnection, 0.99),
    retries: sum((report) => report.retries),
    failed: sum((report) => report.failed),
    disorder: sum((report) => report.disorder),
    wrongSubscribed: sum((report) => report.wrongSubscribed),
    problems: done.flatMap((report) => report.problems).slice(0, 5),
    /** The generator's CPU time (all its threads) over the storm, in cores. */
    generatorCpu: (cpu.user + cpu.system) / 1e6 / seconds,
    complete: fromStart.length === config.clients && live.length === config.clients && sum((r) => r.failed + r.disorder + r.wrongSubscribed + r.problems.length) === 0,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

function waitFor<T>(thread: Worker, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }): void => {
      if (message.type !== type) return;
      thread.off('message', onMessage);
      resolve(message as T);
    };
    thread.on('message', onMessage);
    thread.once('error', reject);
  });
}

/** A connection that publishes to a topic and reads the positions the server answers, in order. */
async function publisherOf(port: number, topic: string): Promise<{ socket: RawConnection['socket']; publish(frame: Buffer, count: number): Promise<{ epoch: string; offset: number }> }> {
  const waiting: { left: number; resolve: (position: { epoch: string; offset: number }) => void; reject: (error: Error) => void }[] = [];
  const reader = new ServerFrameReader((opcode, payload) => {
    if (opcode !== 0x1) return;
    const answer = JSON.parse(payload.toString('utf8')) as { epoch: string; offset: number } | { error: string };
    const head = waiting[0];
    if (head === undefined) return;
    if ('error' in answer) {
      waiting.shift();
      head.reject(new Error(`publish to ${topic}: ${answer.error}`));
    } else if (--head.left === 0) {
      waiting.shift();
      head.resolve(answer);
    }
  });
  const { socket } = await openConnection(port, { path: `/publish/${topic}?ack`, onChunk: (chunk) => reader.push(chunk) });
  socket.on('error', () => {});
  return {
    socket,
    publish: (frame, count) =>
      new Promise((resolve, reject) => {
        waiting.push({ left: count, resolve, reject });
        socket.write(Buffer.concat(Array.from({ length: count }, () => frame)));
      }),
  };
}

async function runWorker(job: WorkerJob): Promise<void> {
  const port = parentPort!;
  const count = job.topicOf.length;
  const openings = job.topicOf.map((t) => resumeOpening(job.topics[t]!, { epoch: job.positions[t]!.epoch, offset: job.positions[t]!.offset }));
  const started = new Array<number>(count).fill(NaN);
  const caughtUp = new Array<number>(count).fill(NaN);
  const live = new Array<number>(count).fill(NaN);
  const sockets: RawConnection['socket'][] = [];
  let retries = 0;
  let failed = 0;
  let wrongSubscribed = 0;
  const subscribers: ResumeSubscriber[] = [];
  let caughtUpCount = 0;
  let liveCount = 0;

  const finish = (): void => {
    port.postMessage({
      type: 'done',
      started,
      caughtUp,
      live,
      retries,
      failed,
      disorder: subscribers.reduce((sum, s) => sum + s.disorder, 0),
      wrongSubscribed,
      problems: subscribers.flatMap((s) => s.problems).slice(0, 5),
    } satisfies WorkerReport);
  };
  const settleOne = (): void => {
    if (caughtUpCount + failed === count) port.postMessage({ type: 'caughtUp' });
  };

  /** One client: connect, resume, resolve once its missed messages are in (or it gave up). */
  const run = async (index: number): Promise<void> => {
    const position = job.positions[job.topicOf[index]!]!;
    started[index] = now();
    for (let attempt = 0; ; attempt++) {
      let replayed!: () => void;
      const replayDone = new Promise<void>((resolve) => (replayed = resolve));
      const subscriber = new ResumeSubscriber({
        onSubscribed: (message) => {
          if (message.replay !== job.behind || message.gap !== null || message.offset !== position.offset) wrongSubscribed++;
        },
        onData: (offset) => {
          if (offset === position.top) {
            caughtUp[index] = now();
            caughtUpCount++;
            replayed();
            settleOne();
          } else if (offset === position.top + 1) {
            live[index] = now();
            if (++liveCount + failed === count) finish();
          }
        },
      });
      try {
        const { socket } = await openConnection(job.port, { protocol: RESUME_SUBPROTOCOL, onChunk: (chunk) => subscriber.push(chunk) });
        socket.on('error', () => {});
        sockets.push(socket);
        subscribers.push(subscriber);
        socket.write(openings[index]!);
        await replayDone;
        return;
      } catch {
        if (attempt >= MAX_RETRIES) {
          failed++;
          settleOne();
          if (liveCount + failed === count) finish();
          return;
        }
        retries++;
        await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
      }
    }
  };

  await new Promise<void>((resolve) => {
    port.once('message', () => resolve());
    port.postMessage({ type: 'ready' });
  });
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await run(next++);
  };
  await Promise.all(Array.from({ length: Math.min(job.concurrency, count) }, lane));
  // The worker stays until the main thread ends it (its connections must stay open until then).
}
