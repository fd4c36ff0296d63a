/**
 * The history-publish load generator (its own process), for the servers' history mode: `subscribers`
 * connections subscribe to one topic, either plain (`/sub/bench`: bare payloads) or as resume clients
 * (`fullduplex.resume.v1`, `sub` live only: every message comes in the `[kind][alias][offset]` envelope,
 * and every offset is checked to be the last + 1). A separate publisher connection (`/publish/bench`,
 * not a subscriber) keeps `window` messages in flight: each copy the last subscriber (opened last,
 * alone) receives lets it send one more. With history on, every message first goes through the store
 * (MemoryHistory, or a Lua script on Redis) and comes back on the store's ordered feed, so the window
 * covers that round trip too.
 *
 * Before measuring, one message is published and awaited on every subscriber (the store's feed of the
 * topic is running by then). After the warm-up it counts deliveries (messages received over all
 * subscribers) for the duration, printing {"phase":"measuring"} and {"phase":"measured"} around it, then
 * stops publishing, lets the messages in flight land, checks that every subscriber received every
 * message once (and, for resume subscribers, every offset in order) and prints one JSON line.
 *
 *   node --import tsx bench/load/history-publish.ts '{"port":1234,"subscribers":100,"resume":true,"window":16,...}'
 */
import { clientFrame, MessageCounter } from '../lib/client-frames.js';
import { openConnection, type RawConnection } from '../lib/connect.js';
import { resumeOpening, ResumeSubscriber, RESUME_SUBPROTOCOL } from '../lib/resume-frames.js';

export interface HistoryPublishLoad {
  port: number;
  subscribers: number;
  /** Resume-protocol subscribers instead of plain ones (needs a server with history). */
  resume: boolean;
  /** Messages in flight (closed loop on the last subscriber's copies). */
  window: number;
  /** Text payload size in bytes. */
  size: number;
  durationMs: number;
  warmupMs: number;
}

const TOPIC = 'bench';
const config = JSON.parse(process.argv[2] ?? '{}') as HistoryPublishLoad;
const frame = clientFrame(Buffer.alloc(config.size, 0x61), { binary: false });

let counting = false;
let publishing = false;
let deliveries = 0;
let sent = 0;
let acked = 0;
let ackedCounted = 0;
const received = new Float64Array(config.subscribers);
const resumers: ResumeSubscriber[] = [];
/** Reads over all subscribers (a read may carry several messages). */
let reads = 0;
const acker = config.subscribers - 1;
let publisherSocket: RawConnection['socket'] | null = null;

function onDelivered(index: number, done: number): void {
  received[index]! += done;
  if (counting) deliveries += done;
  if (index !== acker) return;
  acked += done;
  if (counting) ackedCounted += done;
  if (!publishing || publisherSocket === null) return;
  sent += done;
  publisherSocket.write(done === 1 ? frame : Buffer.concat(Array.from({ length: done }, () => frame)));
}

async function open(index: number): Promise<RawConnection> {
  if (!config.resume) {
    const counter = new MessageCounter();
    return openConnection(config.port, {
      path: `/sub/${TOPIC}`,
      onChunk: (chunk) => {
        reads++;
        const done = counter.push(chunk);
        if (done > 0) onDelivered(index, done);
      },
    });
  }
  let subscribed!: () => void;
  const whenSubscribed = new Promise<void>((resolve) => (subscribed = resolve));
  const subscriber = new ResumeSubscriber({ onSubscribed: () => subscribed(), onData: () => onDelivered(index, 1) });
  resumers.push(subscriber);
  const connection = await openConnection(config.port, {
    protocol: RESUME_SUBPROTOCOL,
    onChunk: (chunk) => {
      reads++;
      subscriber.push(chunk);
    },
  });
  connection.socket.write(resumeOpening(TOPIC));
  await whenSubscribed;
  return connection;
}

const BATCH = 200;
const connections: RawConnection[] = [];
for (let opened = 0; opened < acker; opened += BATCH) {
  connections.push(...(await Promise.all(Array.from({ length: Math.min(BATCH, acker - opened) }, (_, i) => open(opened + i)))));
}
connections.push(await open(acker));
const publisher = await openConnection(config.port, { path: `/publish/${TOPIC}` });
connections.push(publisher);
for (const { socket } of connections) socket.on('error', () => {});
publisherSocket = publisher.socket;

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
async function until(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await wait(20);
  }
  return true;
}

// One message first, awaited everywhere: the store's feed of the topic is running before we measure.
sent = 1;
publisherSocket.write(frame);
if (!(await until(() => received.every((count) => count >= 1), 30_000))) throw new Error('the first message did not reach every subscriber within 30 s');
publishing = true;
sent += Math.max(1, config.window);
publisherSocket.write(Buffer.concat(Array.from({ length: Math.max(1, config.window) }, () => frame)));
await wait(config.warmupMs);
counting = true;
process.stdout.write('{"phase":"measuring"}\n');
const cpuBefore = process.cpuUsage();
const started = performance.now();
await wait(config.durationMs);
counting = false;
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
process.stdout.write('{"phase":"measured"}\n');
publishing = false;

const settled = (await until(() => acked >= sent, 10_000)) && (await until(() => received.every((count) => count >= sent), 10_000));
let short = 0;
let over = 0;
for (const count of received) {
  if (count < sent) short++;
  else if (count > sent) over++;
}
const disorder = resumers.reduce((sum, subscriber) => sum + subscriber.disorder, 0);
const problems = resumers.flatMap((subscriber) => subscriber.problems).slice(0, 5);

const result = {
  deliveriesPerSecond: deliveries / seconds,
  messagesPerSecond: ackedCounted / seconds,
  subscribers: config.subscribers,
  resume: config.resume,
  /** Every subscriber received every message once (resume: every offset in order) and nothing else went wrong. */
  complete: settled && over === 0 && disorder === 0 && problems.length === 0,
  messages: sent,
  clientsShort: short,
  clientsOver: over,
  disorder,
  problems,
  /** Reads per message received, over the whole run: below 1 when the server wrote several messages to a socket at once. */
  readsPerMessage: reads / Math.max(1, received.reduce((sum, count) => sum + count, 0)),
  seconds,
  generatorCpu: (cpu.user + cpu.system) / 1e6 / seconds,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
for (const { socket } of connections) socket.destroy();
process.exit(0);
