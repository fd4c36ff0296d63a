/**
 * A worker thread of `fullduplex bench`: opens its share of the connections over raw TCP (or TLS),
 * does the opening handshake itself (checking Sec-WebSocket-Accept), then sends precomputed masked
 * frames and counts the echoes by parsing frame headers out of the chunks as they arrive.
 *
 * The hot path allocates nothing per message: the frames (and bursts of them, with views of every
 * length) are built once, plain TCP reads go into one buffer shared by the thread's connections,
 * send times go into a per-connection ring buffer (an echo server answers in order), and latencies
 * into a fixed histogram.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';
import { computeAcceptKey } from '../protocol/handshake.js';
import { frameHeaderSize, writeFrameHeader } from '../protocol/frame-serializer.js';
import { xorMask } from '../protocol/mask.js';
import { bucketOf, HISTOGRAM_BUCKETS, type BenchWorkerConfig, type ErrorCounts, type FromWorker, type ToWorker } from './bench-shared.js';

const config = workerData as BenchWorkerConfig;
const port = parentPort;
if (port === null) throw new Error('bench-worker.ts runs as a worker thread of `fullduplex bench`');

/** Bursts (many copies of the frame in one buffer, so a window is one write) stay under this size. */
const MAX_BURST_BYTES = 4 * 1024 * 1024;
/** How often the rate mode looks for sends that are due. */
const TICK_MS = 1;
const PROGRESS_MS = 250;
/** After the run: how long to wait for the server's close before dropping a connection. */
const CLOSE_WAIT_MS = 1000;

const TEXT = 1;
const BINARY = 2;
const opcode = config.binary ? BINARY : TEXT;

function makePayload(size: number, binary: boolean): Buffer {
  const payload = Buffer.allocUnsafe(size);
  if (binary) {
    for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
  } else {
    const text = 'fullduplex bench 0123456789 ';
    for (let i = 0; i < size; i++) payload[i] = text.charCodeAt(i % text.length);
  }
  return payload;
}

/** One masked client frame; the mask is chosen once for the run. */
function maskedFrame(frameOpcode: number, payload: Buffer, mask: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(frameHeaderSize(payload.length, true) + payload.length);
  const offset = writeFrameHeader(frame, 0, frameOpcode, true, 0, payload.length, mask);
  payload.copy(frame, offset);
  xorMask(frame, offset, frame.length, mask, 0);
  return frame;
}

const mask = randomFillSync(Buffer.alloc(4));
const payload = makePayload(config.size, config.binary);
const frame = maskedFrame(opcode, payload, mask);
const closeFrame = maskedFrame(0x8, Buffer.from([0x03, 0xe8]), mask); // 1000 Normal Closure
const burstFrames = Math.max(1, Math.min(config.rate === undefined ? config.window : 64, Math.floor(MAX_BURST_BYTES / frame.length)));
const burst = Buffer.concat(Array.from({ length: burstFrames }, () => frame));
/** `bursts[k]`: k frames in one buffer. */
const bursts = Array.from({ length: burstFrames + 1 }, (_, k) => burst.subarray(0, k * frame.length));

function ringCapacity(): number {
  const wanted = config.rate === undefined ? config.window : Math.min(4096, Math.max(16, Math.ceil(config.rate)));
  let capacity = 1;
  while (capacity < wanted) capacity *= 2;
  return capacity;
}
const RING = ringCapacity();

/** Where the plain-TCP connections of this thread read into (reads are handled one at a time). */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

type Phase = 'connecting' | 'running' | 'measuring' | 'stopped';
let phase: Phase = 'connecting';
let measureStart = 0;
// Counted during the measurement.
let messages = 0;
let sent = 0;
let skipped = 0;
const histogram = new Float64Array(HISTOGRAM_BUCKETS);
// Counted from the start, for the progress display.
let receivedTotal = 0;
let sentTotal = 0;

const errors = new Map<string, number>();
function countError(reason: string): void {
  errors.set(reason, (errors.get(reason) ?? 0) + 1);
}

class BenchConnection {
  socket: Socket | null = null;
  open = false;
  failed = false;
  // Send times, oldest first.
  readonly times = new Float64Array(RING);
  head = 0;
  inFlight = 0;
  // Frame parser.
  readonly header = Buffer.alloc(14);
  headerFilled = 0;
  remaining = 0;
  fin = false;
  control = false;
  frameOpcode = 0;
  inMessage = false;
  messageLength = 0;
  readonly controlPayload = Buffer.alloc(125);
  controlFilled = 0;
  /** The first echo is compared byte for byte with what was sent. */
  checkContent = true;
  received = 0;
  receivedMeasured = 0;
  /** Echoes completed in the chunk being parsed. */
  replies = 0;
  /** Rate mode: when the next message is due. */
  nextDue = 0;

  fail(reason: string): void {
    if (this.failed) return;
    this.failed = true;
    this.open = false;
    countError(reason);
    this.socket?.destroy();
  }

  push(time: number, count: number): void {
    const times = this.times;
    let tail = (this.head + this.inFlight) & (RING - 1);
    for (let i = 0; i < count; i++) {
      times[tail] = time;
      tail = (tail + 1) & (RING - 1);
    }
    this.inFlight += count;
  }

  send(count: number, now: number): void {
    const socket = this.socket;
    if (socket === null || count === 0) return;
    this.push(now, count);
    sentTotal += count;
    if (phase === 'measuring') sent += count;
    while (count > 0) {
      const k = count < burstFrames ? count : burstFrames;
      socket.write(bursts[k]!);
      count -= k;
    }
  }

  /** Parse `chunk[0, end)` from the server. */
  onChunk(chunk: Buffer, end: number): void {
    if (this.failed || phase === 'stopped') return;
    const now = performance.now();
    this.replies = 0;
    let offset = 0;
    const size = config.size;
    while (offset < end) {
      if (this.remaining > 0) {
        const take = this.remaining < end - offset ? this.remaining : end - offset;
        if (this.control) {
          chunk.copy(this.controlPayload, this.controlFilled, offset, offset + take);
          this.controlFilled += take;
        } else if (this.checkContent && this.inFlight > 0) {
          const at = this.messageLength - this.remaining;
          const n = Math.min(take, size - at);
          if (n > 0 && chunk.compare(payload, at, at + n, offset, offset + n) !== 0) {
            this.fail('the server sent back different bytes than it was sent (not an echo server?)');
            return;
          }
        }
        this.remaining -= take;
        offset += take;
        if (this.remaining === 0 && !this.frameDone(now)) return;
        continue;
      }
      this.header[this.headerFilled++] = chunk[offset++]!;
      if (this.headerFilled < 2) continue;
      const b1 = this.header[1]!;
      const len7 = b1 & 0x7f;
      const needed = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
      if (this.headerFilled < needed) continue;
      this.headerFilled = 0;
      const b0 = this.header[0]!;
      if ((b1 & 0x80) !== 0) return this.fail('the server sent a masked frame');
      if ((b0 & 0x70) !== 0) return this.fail('the server sent a frame with reserved bits set');
      this.fin = (b0 & 0x80) !== 0;
      this.frameOpcode = b0 & 0x0f;
      this.control = this.frameOpcode >= 8;
      const length = len7 === 126 ? this.header.readUInt16BE(2) : len7 === 127 ? this.header.readUInt32BE(2) * 0x1_0000_0000 + this.header.readUInt32BE(6) : len7;
      if (this.control) {
        if (length > 125 || !this.fin) return this.fail('the server sent an invalid control frame');
        this.controlFilled = 0;
      } else if (this.frameOpcode === 0) {
        if (!this.inMessage) return this.fail('the server sent a continuation frame outside a message');
        this.messageLength += length;
      } else if (this.frameOpcode === TEXT || this.frameOpcode === BINARY) {
        if (this.inMessage) return this.fail('the server started a message inside another one');
        this.inMessage = true;
        this.messageLength = length;
        if (this.frameOpcode !== opcode && !(phase === 'connecting' && this.inFlight === 0)) {
          const name = (code: number): string => (code === BINARY ? 'binary' : 'text');
          return this.fail(`the server sent back a ${name(this.frameOpcode)} message for a ${name(opcode)} one (not an echo server?)`);
        }
      } else {
        return this.fail(`the server sent a frame with the reserved opcode ${this.frameOpcode}`);
      }
      this.remaining = length;
      if (length === 0 && !this.frameDone(now)) return;
    }
    if (this.replies > 0 && config.rate === undefined && phase !== 'connecting') this.send(this.replies, now);
  }

  /** A frame has been read in full; false when the connection is done for. */
  frameDone(now: number): boolean {
    if (this.control) return this.controlDone();
    if (!this.fin) return true;
    this.inMessage = false;
    // A greeting before we sent anything is allowed.
    if (this.inFlight === 0 && phase === 'connecting') return true;
    if (this.messageLength !== config.size) {
      this.fail(`the server sent back a message of ${this.messageLength} bytes for one of ${config.size} (not an echo server?)`);
      return false;
    }
    if (this.inFlight === 0) {
      this.fail('the server sent more messages than it was sent (not an echo server?)');
      return false;
    }
    this.checkContent = false;
    const sentAt = this.times[this.head]!;
    this.head = (this.head + 1) & (RING - 1);
    this.inFlight--;
    this.received++;
    this.replies++;
    receivedTotal++;
    if (phase === 'measuring') {
      this.receivedMeasured++;
      messages++;
      histogram[bucketOf(now - sentAt)]!++;
    }
    return true;
  }

  controlDone(): boolean {
    if (this.frameOpcode === 0x8) {
      const code = this.controlFilled >= 2 ? this.controlPayload.readUInt16BE(0) : 1005;
      const reason = this.controlPayload.toString('utf8', 2, Math.max(2, this.controlFilled));
      this.fail(`the server closed the connection: code ${code}${reason === '' ? '' : ` "${reason}"`}`);
      return false;
    }
    if (this.frameOpcode === 0x9) {
      // Rare: allocation is fine here.
      this.socket?.write(maskedFrame(0xa, this.controlPayload.subarray(0, this.controlFilled), randomFillSync(Buffer.alloc(4))));
    }
    return true;
  }
}

/** The status line and headers of the handshake response; null until they are complete. */
function checkHandshakeResponse(text: string, key: string): string | null {
  const [statusLine = '', ...lines] = text.split('\r\n');
  if (!/^HTTP\/1\.1 101\b/.test(statusLine)) return `handshake refused: ${statusLine}`;
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  if (headers.get('upgrade')?.toLowerCase() !== 'websocket') return 'handshake failed: the response has no "Upgrade: websocket"';
  if (!(headers.get('connection') ?? '').toLowerCase().split(/\s*,\s*/).includes('upgrade')) return 'handshake failed: the response has no "Connection: Upgrade"';
  if (headers.get('sec-websocket-accept') !== computeAcceptKey(key)) return 'handshake failed: wrong Sec-WebSocket-Accept';
  if (headers.has('sec-websocket-extensions')) return 'handshake failed: the server chose an extension that was not offered';
  if (headers.has('sec-websocket-protocol')) return 'handshake failed: the server chose a subprotocol that was not offered';
  return null;
}

/** Open one connection; resolves to the reason it failed, or null. */
function open(connection: BenchConnection): Promise<string | null> {
  return new Promise((resolve) => {
    const key = randomBytes(16).toString('base64');
    let response: Buffer | null = null;
    let settled = false;
    const settle = (reason: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (reason !== null) socket.destroy();
      resolve(reason);
    };
    /** Bytes before the upgrade completes: gather the response, then hand the rest to the parser. */
    const onHandshakeData = (chunk: Buffer, end: number): void => {
      const piece = Buffer.from(chunk.subarray(0, end)); // the chunk may be the shared buffer
      response = response === null ? piece : Buffer.concat([response, piece]);
      const headersEnd = response.indexOf('\r\n\r\n');
      if (headersEnd === -1) {
        if (response.length > 64 * 1024) settle('handshake failed: response headers too long');
        return;
      }
      const problem = checkHandshakeResponse(response.toString('latin1', 0, headersEnd), key);
      if (problem !== null) return settle(problem);
      connection.open = true;
      connection.socket = socket;
      const rest = response.subarray(headersEnd + 4);
      if (rest.length > 0) connection.onChunk(rest, rest.length);
      settle(connection.failed ? 'the server misbehaved right after the handshake' : null);
    };
    const onData = (chunk: Buffer, end: number): void => {
      if (connection.open) connection.onChunk(chunk, end);
      else if (!settled) onHandshakeData(chunk, end);
    };
    const common = { host: config.host, port: config.port };
    let socket: Socket;
    if (config.tls) {
      socket = tlsConnect({
        ...common,
        ...(isIP(config.host) === 0 && { servername: config.host }),
        rejectUnauthorized: !config.insecure,
        ALPNProtocols: ['http/1.1'],
      });
      socket.on('data', (chunk: Buffer) => onData(chunk, chunk.length));
    } else {
      socket = netConnect({
        ...common,
        onread: {
          buffer: SHARED_READ_BUFFER,
          callback: (bytes: number, buffer: Uint8Array): boolean => {
            onData(buffer as Buffer, bytes);
            return true;
          },
        },
      });
    }
    socket.setNoDelay(true);
    const timer = setTimeout(() => settle(`handshake timed out after ${config.handshakeTimeoutMs / 1000} s`), config.handshakeTimeoutMs);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!settled) settle(error.message);
      else connection.fail(error.message);
    });
    socket.on('close', () => {
      if (!settled) settle('the server closed the connection during the handshake');
      else if (phase !== 'stopped') connection.fail('the server closed the connection');
    });
    socket.once(config.tls ? 'secureConnect' : 'connect', () => {
      socket.write(
        `GET ${config.path} HTTP/1.1\r\nHost: ${config.hostHeader}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: fullduplex-bench\r\n\r\n`,
      );
    });
  });
}

const connections = Array.from({ length: config.connections }, () => new BenchConnection());
const failures = new Map<string, number>();
for (const reason of await Promise.all(connections.map(open))) {
  if (reason !== null) failures.set(reason, (failures.get(reason) ?? 0) + 1);
}
function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}
post({ type: 'connected', connected: connections.filter((c) => c.open).length, failures: [...failures] });

let tick: NodeJS.Timeout | undefined;
let progress: NodeJS.Timeout | undefined;

function start(): void {
  phase = 'running';
  const now = performance.now();
  if (config.rate === undefined) {
    for (const connection of connections) if (connection.open) connection.send(config.window, now);
  } else {
    const period = 1000 / config.rate;
    connections.forEach((connection, i) => {
      // Spread the connections over the period.
      connection.nextDue = now + (period * (config.firstConnection + i)) / config.totalConnections;
    });
    tick = setInterval(() => {
      const time = performance.now();
      for (const connection of connections) {
        if (!connection.open) continue;
        let due = 0;
        while (connection.nextDue <= time) {
          connection.nextDue += period;
          if (connection.inFlight + due >= RING) {
            if (phase === 'measuring') skipped++;
          } else {
            due++;
          }
        }
        connection.send(due, time);
      }
    }, TICK_MS);
  }
  progress = setInterval(() => post({ type: 'progress', messages: receivedTotal, sent: sentTotal }), PROGRESS_MS);
}

function stop(): void {
  const seconds = (performance.now() - measureStart) / 1000;
  phase = 'stopped';
  clearInterval(tick);
  clearInterval(progress);
  for (const connection of connections) {
    if (connection.open && connection.inFlight > 0 && connection.receivedMeasured === 0) {
      connection.fail(`no echo during the ${seconds.toFixed(1)} s measurement (${connection.received === 0 ? 'none at all' : 'it stopped answering'})`);
    }
  }
  const errorCounts: ErrorCounts = [...errors];
  post({ type: 'result', messages, bytes: messages * config.size, sent, skipped, histogram, errors: errorCounts }, [histogram.buffer as ArrayBuffer]);
  // Close politely: the server answers the close frame and closes TCP; drop whoever does not.
  const open = connections.filter((c) => c.open && c.socket !== null);
  for (const connection of open) connection.socket!.write(closeFrame);
  setTimeout(() => {
    for (const connection of open) connection.socket!.destroy();
    port!.close();
  }, CLOSE_WAIT_MS).unref();
  let left = open.length;
  if (left === 0) port!.close();
  for (const connection of open) {
    connection.socket!.once('close', () => {
      if (--left === 0) port!.close();
    });
  }
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'start') start();
  else if (message.type === 'measure') {
    phase = 'measuring';
    measureStart = performance.now();
  } else if (message.type === 'stop') stop();
});
