/**
 * The broadcast load generator (its own process), for the servers' broadcast and publish modes: N
 * connections (opened in batches), every one counting the complete messages it receives; the last one,
 * opened alone after the others, is also the publisher. The publisher keeps `window` broadcasts in
 * flight: it gets its own copy of each broadcast like every other client, and each copy is the ack that
 * sends the next one (one precomputed masked text frame). Both servers write to their clients (or
 * subscribers) in the order they connected, so the publisher's copy goes out after the message was
 * written to everyone else.
 *
 * With several servers (`ports`: servers sharing a topic over a backplane), the connections are spread
 * evenly over them and the publisher is on the first. Its own copy would then come back before the
 * other servers have the message, so the ack is the copy of the last connection of the last server,
 * opened alone just before the publisher (it is that server's last subscriber): the window then bounds
 * what is in flight through the broker too.
 *
 * After the warm-up it counts deliveries (messages received, over all connections) and broadcasts
 * (the acks) for the duration, printing {"phase":"measuring"} and {"phase":"measured"} around it
 * (the scenario samples the servers' CPU use there); then it stops publishing, lets the broadcasts in
 * flight land, and checks that every connection received every broadcast exactly once. Prints one JSON
 * line last.
 *
 * With `compress`, every connection offers permessage-deflate (client_no_context_takeover) and the
 * publisher sends its messages compressed. Messages are still counted from frame headers only (FIN,
 * see MessageCounter), never inflated, so the exactly-once check means what it did; the result says
 * how many arrived with RSV1 set (`compressedShare`, 1 when every delivery was compressed), and the
 * bytes on the wire and reads per delivery.
 *
 * The generator must not be the bottleneck (one process on one core reads from 1,000 connections): the
 * connections read into one shared buffer (`onChunk`: no allocation, no stream machinery per read), the
 * per-chunk work is a MessageCounter push and a few additions, and it reports its own CPU use over the
 * measured period (`generatorCpu`, 1 = one core busy all the time) next to the server's.
 *
 *   node --import tsx bench/load/broadcast.ts '{"ports":[...], "connections":1000, "window":4, ...}'
 */
import { clientFrame, jsonLikeText, MessageCounter } from '../lib/client-frames.js';
import { openConnection, type RawConnection } from '../lib/connect.js';
import { ClosedLoop, openInBatches } from '../lib/load-loop.js';

export interface BroadcastLoad {
  /** The server's port; several: servers that share the topic, each getting an even share of the connections. */
  ports: readonly number[];
  connections: number;
  /** Broadcasts in flight (closed loop on the publisher's own copies). */
  window: number;
  /** Text payload size in bytes. */
  size: number;
  /** JSON-like text (jsonLikeText) instead of filler bytes. */
  json?: boolean;
  /** Offer permessage-deflate on every connection and send the publisher's messages compressed. */
  compress?: boolean;
  durationMs: number;
  warmupMs: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as BroadcastLoad;
const payload = config.json === true ? jsonLikeText(config.size) : Buffer.alloc(config.size, 0x61);
const frame = clientFrame(payload, { binary: false, ...(config.compress === true && { compress: true }) });
const connectOptions = config.compress === true ? { extensions: 'permessage-deflate; client_no_context_takeover' } : {};

const counters: MessageCounter[] = [];
const { ports } = config;
const publisher = config.connections - 1;
/** Whose copies are the acks: the publisher's own with one server, else the last server's last connection. */
const acker = ports.length === 1 ? publisher : publisher - 1;
const loop = new ClosedLoop(config.connections, acker, frame, config.window);

function portOf(index: number): number {
  if (index === publisher) return ports[0]!;
  if (index === acker) return ports[ports.length - 1]!;
  return ports[index % ports.length]!;
}

/** Connection `index`: counts what it receives; each copy the acker receives makes the publisher send one more. */
function open(index: number): Promise<RawConnection> {
  const counter = new MessageCounter();
  counters.push(counter);
  const onChunk = (chunk: Buffer): void => {
    const done = counter.push(chunk);
    if (done > 0) loop.delivered(index, done);
  };
  return openConnection(portOf(index), { ...connectOptions, onChunk });
}

// The subscribers in batches, then the acker and the publisher alone, last.
const connections = await openInBatches(acker, open);
if (acker !== publisher) connections.push(await open(acker));
connections.push(await open(publisher));
for (const { socket } of connections) socket.on('error', () => {});

loop.start(connections[publisher]!.socket);
const { seconds, generatorCpu } = await loop.measure(config.warmupMs, config.durationMs);

// Let the broadcasts in flight land, then check that every client got every broadcast, once.
const { settled, fewest, most, short, over } = await loop.settle();
let messages = 0;
let compressed = 0;
let wireBytes = 0;
let reads = 0;
for (const counter of counters) {
  messages += counter.messages;
  compressed += counter.compressed;
  wireBytes += counter.bytes;
  reads += counter.chunks;
}

const result = {
  deliveriesPerSecond: loop.deliveries / seconds,
  broadcastsPerSecond: loop.ackedCounted / seconds,
  clients: connections.length,
  /** Every client received every broadcast the publisher sent, and no more. */
  complete: settled && over === 0,
  broadcasts: loop.sent,
  fewestReceived: fewest,
  mostReceived: most,
  clientsShort: short,
  clientsOver: over,
  /** Of the messages received over the whole run, the share that arrived compressed (RSV1). */
  compressedShare: messages === 0 ? 0 : compressed / messages,
  /** Bytes read per message received, frame headers included (the payload is `size` bytes). */
  wireBytesPerMessage: messages === 0 ? 0 : wireBytes / messages,
  /** Reads per message received: below 1 when the server wrote several messages to a socket at once. */
  readsPerMessage: messages === 0 ? 0 : reads / messages,
  seconds,
  /** The generator's CPU time over the measured period, in cores (1 = saturated). */
  generatorCpu,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
for (const { socket } of connections) socket.destroy();
process.exit(0);
