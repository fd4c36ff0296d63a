/**
 * The handshake load generator (its own process): `parallel` loops, each one over and over: open a TCP
 * connection and upgrade it (bench/lib/connect.ts), send one masked small text frame, wait for its
 * echo, send a masked close frame (1000), and wait for the server to close the TCP connection (the
 * socket's 'close'). Counts the cycles completed after the warm-up, printing {"phase":"measuring"} and
 * {"phase":"measured"} around the measured period (the scenario samples the server's CPU use there);
 * prints one JSON line last, with the generator's own CPU use (`generatorCpu`, in cores).
 *
 * The server closes the TCP connection first, so TIME_WAIT lands on the server's side and the client's
 * ephemeral ports stay free. With `sources`, loop i connects from 127.0.0.(2 + i % sources), which
 * spreads the connections over more 4-tuples should that ever be needed.
 *
 * With `tls` (wss-handshakes) every cycle is TLS first. Each loop keeps the newest session ticket the
 * server sent and offers it on its next connection, as a browser does with its session cache, so all
 * but a loop's first connection resume (RFC 8446 §2.2: no certificate sent or checked, but a fresh
 * key exchange each time, psk_dhe_ke, as browsers use it). `resumed` counts the measured cycles whose
 * session was resumed.
 *
 *   node --import tsx bench/load/handshakes.ts '{"port":..., "parallel":32, ...}'
 */
import { clientCloseFrame, clientFrame, MessageCounter } from '../lib/client-frames.js';
import { openConnection } from '../lib/connect.js';
import type { TLSSocket } from 'node:tls';

export interface HandshakesLoad {
  port: number;
  parallel: number;
  /** Text payload size of the one echoed message. */
  size: number;
  durationMs: number;
  warmupMs: number;
  /** Spread the loops over this many source addresses (127.0.0.2, ...); 0 or absent: the default one. */
  sources?: number;
  /** wss://: the certificate to trust (PEM); every loop resumes its last session. */
  tls?: { ca: string };
  /** A cycle that takes longer than this failed (default 5,000 ms). */
  cycleTimeoutMs?: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as HandshakesLoad;
const frame = clientFrame(Buffer.alloc(config.size, 0x61), { binary: false });
const close = clientCloseFrame(1000);
/** A cycle that takes longer than this failed (the server did not answer or did not close). */
const CYCLE_TIMEOUT_MS = config.cycleTimeoutMs ?? 5000;

let running = true;
let counting = false;
let cycles = 0;
let failures = 0;
let resumed = 0;
/** Loops that have completed at least one cycle. */
let loopsWithACycle = 0;
const errors = new Map<string, number>();

function fail(error: unknown): void {
  if (counting) failures++;
  const message = error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error);
  errors.set(message, (errors.get(message) ?? 0) + 1);
}

/** A loop's TLS session: the newest ticket the server sent it. */
interface Session {
  ticket: Buffer | undefined;
}

/**
 * One connect + upgrade + echo + close; resolves when the server has closed the connection, with
 * whether the TLS session was resumed.
 */
async function cycle(localAddress: string | undefined, session: Session): Promise<boolean> {
  const { socket, head } = await openConnection(config.port, {
    ...(localAddress !== undefined && { localAddress }),
    ...(config.tls !== undefined && {
      tls: {
        ca: config.tls.ca,
        ...(session.ticket !== undefined && { session: session.ticket }),
        onSession: (ticket: Buffer) => (session.ticket = ticket),
      },
    }),
  });
  const reused = config.tls !== undefined && (socket as TLSSocket).isSessionReused();
  await new Promise<void>((resolve, reject) => {
    const counter = new MessageCounter();
    let echoed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(echoed ? 'server did not close' : 'no echo'));
    }, CYCLE_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      // The echo is the first data message; the server's close frame is a control frame, not counted.
      if (!echoed && counter.push(chunk) > 0) {
        echoed = true;
        socket.write(close);
      }
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      if (echoed) resolve();
      else reject(new Error('closed before the echo'));
    });
    if (head.length > 0) onData(head);
    socket.write(frame);
  });
  return reused;
}

async function loop(index: number): Promise<void> {
  const sources = config.sources ?? 0;
  const localAddress = sources > 0 ? `127.0.0.${2 + (index % sources)}` : undefined;
  const session: Session = { ticket: undefined };
  let first = true;
  while (running) {
    try {
      const reused = await cycle(localAddress, session);
      if (first) {
        first = false;
        loopsWithACycle++;
      }
      if (counting) {
        cycles++;
        if (reused) resumed++;
      }
    } catch (error) {
      fail(error);
      // Do not spin on an error that repeats at once (EADDRNOTAVAIL, ECONNREFUSED).
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

const loops = Array.from({ length: config.parallel }, (_, index) => loop(index));
await new Promise((resolve) => setTimeout(resolve, config.warmupMs));
// The warm-up also lasts until every loop has finished a cycle (at most a cycle's timeout more): on a
// loaded machine a loop's first, full TLS handshake can come after `warmupMs`, and it is not what a
// browser with a session to resume does.
const warmedUp = Date.now() + CYCLE_TIMEOUT_MS;
while (loopsWithACycle < config.parallel && Date.now() < warmedUp) await new Promise((resolve) => setTimeout(resolve, 20));
counting = true;
// The phases, for the server's CPU use over the same period (serverCpuWhileMeasuring).
process.stdout.write('{"phase":"measuring"}\n');
const cpuBefore = process.cpuUsage();
const started = performance.now();
await new Promise((resolve) => setTimeout(resolve, config.durationMs));
counting = false;
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
process.stdout.write('{"phase":"measured"}\n');
running = false;
await Promise.race([Promise.all(loops), new Promise((resolve) => setTimeout(resolve, CYCLE_TIMEOUT_MS + 1000))]);

const result = {
  connectionsPerSecond: cycles / seconds,
  cycles,
  failures,
  ...(config.tls !== undefined && { resumed }),
  ...(errors.size > 0 && { errors: Object.fromEntries(errors) }),
  seconds,
  /** The generator's CPU time over the measured period, in cores (1 = saturated). */
  generatorCpu: (cpu.user + cpu.system) / 1e6 / seconds,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
