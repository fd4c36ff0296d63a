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
import { ClosedLoop, openInBatches, until } from '../lib/load-loop.js';
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

const resumers: ResumeSubscriber[] = [];
/** Reads over all subscribers (a read may carry several messages). */
let reads = 0;
const acker = config.subscribers - 1;
const loop = new ClosedLoop(config.subscribers, acker, frame, config.window);

async function open(index: number): Promise<RawConnection> {
  if (!config.resume) {
    const counter = new MessageCounter();
    return openConnection(config.port, {
      path: `/sub/${TOPIC}`,
      onChunk: (chunk) => {
        reads++;
        const done = counter.push(chunk);
        if (done > 0) loop.delivered(index, done);
      },
    });
  }
  let subscribed!: () => void;
  const whenSubscribed = new Promise<void>((resolve) => (subscribed = resolve));
  const subscriber = new ResumeSubscriber({ onSubscribed: () => subscribed(), onData: () => loop.delivered(index, 1) });
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

const connections = await openInBatches(acker, open);
connections.push(await open(acker));
const publisher = await openConnection(config.port, { path: `/publish/${TOPIC}` });
connections.push(publisher);
for (const { socket } of connections) socket.on('error', () => {});
loop.publisher = publisher.socket;

// One message first, awaited everywhere: the store's feed of the topic is running before we measure.
loop.send(1);
if (!(await until(() => loop.received.every((count) => count >= 1), 30_000))) throw new Error('the first message did not reach every subscriber within 30 s');
loop.start(publisher.socket);
const { seconds, generatorCpu } = await loop.measure(config.warmupMs, config.durationMs);

const { settled, short, over } = await loop.settle();
const disorder = resumers.reduce((sum, subscriber) => sum + subscriber.disorder, 0);
const problems = resumers.flatMap((subscriber) => subscriber.problems).slice(0, 5);

const result = {
  deliveriesPerSecond: loop.deliveries / seconds,
  messagesPerSecond: loop.ackedCounted / seconds,
  subscribers: config.subscribers,
  resume: config.resume,
  /** Every subscriber received every message once (resume: every offset in order) and nothing else went wrong. */
  complete: settled && over === 0 && disorder === 0 && problems.length === 0,
  messages: loop.sent,
  clientsShort: short,
  clientsOver: over,
  disorder,
  problems,
  /** Reads per message received, over the whole run: below 1 when the server wrote several messages to a socket at once. */
  readsPerMessage: reads / Math.max(1, loop.received.reduce((sum, count) => sum + count, 0)),
  seconds,
  generatorCpu,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
for (const { socket } of connections) socket.destroy();
process.exit(0);
