/**
 * Event-order scenarios for WHATWG `WebSocket` implementations: one client driver, written as plain
 * JavaScript source so that the very same code runs on fullduplex/web and undici in Node and on the
 * browser's own `WebSocket` in a Chromium page, and the servers the scenarios talk to (our
 * `WebSocketServer` for well-behaved peers, a raw TCP server writing exact bytes for broken ones).
 *
 * The driver records every event as it is dispatched: its type, `readyState` at that moment, the
 * close event's `code`, `reason` and `wasClean`, a message's data, and what each call did (or the
 * name of the exception it threw), with `bufferedAmount` right after each call.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { readFrames } from './frames.js';

/** One call the driver makes on the socket. */
export type Step = { send: string } | { close: [] | [number] | [number, string] };

/** What the driver does, and when. */
export interface Plan {
  protocols?: string[];
  /** Right after the constructor (the socket is CONNECTING). */
  atStart?: Step[];
  onOpen?: Step[];
  /** In the close handler (the socket is CLOSED). */
  onClose?: Step[];
}

/** One entry of the log: an event as dispatched, or a call and its outcome. */
export interface LogEntry {
  type: string;
  readyState?: number;
  code?: number;
  reason?: string;
  wasClean?: boolean;
  data?: string;
  bufferedAmount?: number;
  call?: string;
  threw?: string;
}

/**
 * The driver, as source: `runScenario(WebSocketClass, url, plan)` resolves with the log once the close
 * event was dispatched and a short quiet period passed (so a stray second event would be caught).
 */
export const DRIVER_SOURCE = String.raw`
async function runScenario(WS, url, plan) {
  const log = [];
  const ws = plan.protocols === undefined ? new WS(url) : new WS(url, plan.protocols);
  ws.binaryType = 'arraybuffer';
  function act(steps) {
    for (const step of steps || []) {
      const call = 'send' in step ? 'send(' + JSON.stringify(step.send) + ')' : 'close(' + step.close.map((a) => JSON.stringify(a)).join(', ') + ')';
      try {
        if ('send' in step) ws.send(step.send); else ws.close(...step.close);
        log.push({ type: 'call', call, readyState: ws.readyState, bufferedAmount: ws.bufferedAmount });
      } catch (error) {
        log.push({ type: 'call', call, threw: error.name, readyState: ws.readyState });
      }
    }
  }
  return new Promise((resolve) => {
    let closes = 0;
    ws.onopen = (event) => { log.push({ type: event.type, readyState: ws.readyState }); act(plan.onOpen); };
    ws.onmessage = (event) => {
      const data = typeof event.data === 'string' ? event.data
        : 'bytes:' + Array.from(new Uint8Array(event.data), (b) => b.toString(16).padStart(2, '0')).join('');
      log.push({ type: event.type, readyState: ws.readyState, data });
    };
    ws.onerror = (event) => { log.push({ type: event.type, readyState: ws.readyState }); };
    ws.onclose = (event) => {
      log.push({ type: event.type, readyState: ws.readyState, code: event.code, reason: event.reason, wasClean: event.wasClean, bufferedAmount: ws.bufferedAmount });
      act(plan.onClose);
      if (++closes === 1) setTimeout(() => resolve(log), 100);
    };
    act(plan.atStart);
  });
}
`;

export type Driver = (webSocketClass: unknown, url: string, plan: Plan) => Promise<LogEntry[]>;

/** The driver compiled in this process (for the Node implementations). */
export function nodeDriver(): Driver {
  return new Function(`${DRIVER_SOURCE}; return runScenario;`)() as Driver;
}

// --- a raw server writing exact bytes ----------------------------------------------------------------

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** RFC 6455 §4.2.2: the Sec-WebSocket-Accept for a Sec-WebSocket-Key. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** An unmasked server frame (a server never masks, RFC 6455 §5.1), any header bits a test wants. */
export function serverFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), rsv = 0): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (data.length > 125) throw new RangeError('serverFrame: payloads up to 125 bytes only');
  return Buffer.concat([Buffer.from([0x80 | (rsv << 4) | opcode, data.length]), data]);
}

/** A close frame's payload: the code (2 bytes) and the reason bytes. */
export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const code2 = Buffer.alloc(2);
  code2.writeUInt16BE(code);
  return Buffer.concat([code2, typeof reason === 'string' ? Buffer.from(reason, 'utf8') : reason]);
}

/** What the raw server saw of one connection after the handshake: the client's frames, decoded. */
export interface PeerView {
  /**
   * Each frame the client sent: "text:...", "binary:<hex>", "close:<code>:<reason as hex>", "close:<code>"
   * for a code the implementation chose (its reason is free text), or "close:" when the frame is empty.
   */
  frames: string[];
}

/**
 * How the raw server answers one request (by its path): the response head to write (given the
 * computed accept value and the request's headers) and what to do next. Scripts get the socket and
 * write what they want; `onClientFrame` sees each frame the client sends.
 */
export interface RawScript {
  response(accept: string, headers: Map<string, string>): string;
  /** Called right after the response is written. */
  afterHandshake?(socket: Socket): void;
  /** Called for each decoded client frame (after it is recorded). */
  onClientFrame?(socket: Socket, opcode: number, payload: Buffer): void;
}

/** A 101 response, with extra header lines. */
export function switching(accept: string, extra: string[] = []): string {
  return ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`, ...extra, '', ''].join('\r\n');
}


function describeFrame(opcode: number, payload: Buffer): string {
  if (opcode === 1) return `text:${payload.toString('utf8')}`;
  if (opcode === 2) return `binary:${payload.toString('hex')}`;
  if (opcode === 8) {
    if (payload.length < 2) return 'close:';
    const code = payload.readUInt16BE(0);
    // A code a script can choose (close() takes 1000 and 3000–4999) comes with the script's reason;
    // any other is the implementation's own (failing the connection) and its reason is free text.
    return code === 1000 || (code >= 3000 && code <= 4999) ? `close:${code}:${payload.subarray(2).toString('hex')}` : `close:${code}`;
  }
  return `opcode${opcode}:${payload.toString('hex')}`;
}

export interface RawServer {
  server: Server;
  port: number;
  /** What the connection to `path` sent, once it ended (the path must be unique per run). */
  view(path: string): Promise<PeerView>;
  close(): Promise<void>;
}

/**
 * A raw TCP server: reads each HTTP request, answers with the script for its path (the path without
 * the query), records the client's frames by the full request target, and ends the connection when
 * the client ends it or sends a close frame the script does not handle itself.
 */
export async function rawServer(scripts: Record<string, RawScript>): Promise<RawServer> {
  const views = new Map<string, { view: PeerView; done: Promise<void> }>();
  const waiting = new Map<string, (entry: { view: PeerView; done: Promise<void> }) => void>();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let script: RawScript | null = null;
    const view: PeerView = { frames: [] };
    const done = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (script === null) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buffered.subarray(0, end).toString('latin1').split('\r\n');
        buffered = buffered.subarray(end + 4);
        const target = lines[0]!.split(' ')[1] ?? '/';
        const headers = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
        }
        const path = target.split('?')[0]!;
        const found = scripts[path];
        const entry = { view, done };
        views.set(target, entry);
        waiting.get(target)?.(entry);
        if (found === undefined) {
          socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
          return;
        }
        script = found;
        socket.write(found.response(acceptFor(headers.get('sec-websocket-key') ?? ''), headers), 'latin1');
        found.afterHandshake?.(socket);
      }
      const { frames, used } = readFrames(buffered);
      buffered = buffered.subarray(used);
      for (const frame of frames) {
        view.frames.push(describeFrame(frame.opcode, frame.payload));
        if (script.onClientFrame !== undefined) script.onClientFrame(socket, frame.opcode, frame.payload);
        else if (frame.opcode === 8 && !socket.writableEnded) socket.end();
      }
    });
    socket.on('end', () => {
      if (!socket.writableEnded) socket.end();
    });
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    async view(target: string): Promise<PeerView> {
      const known = views.get(target);
      const entry = known ?? (await new Promise<{ view: PeerView; done: Promise<void> }>((resolve) => waiting.set(target, resolve)));
      await entry.done;
      return entry.view;
    },
    async close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
