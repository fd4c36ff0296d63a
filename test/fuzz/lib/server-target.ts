/**
 * Target 2: a live server over TCP. One raw client connection per input: the opening handshake, then
 * the mutated stream (with the closing tail) written in chunks with small pauses. The reference model,
 * run on the same bytes, says how the connection must end, and the checks are:
 *  - it ends, within the time bound (no hang on either side);
 *  - what the server wrote is legal (RFC 6455 §5, §7.4: unmasked frames, never 1005/1006/1015 on the
 *    wire, close frame last) and what it owed: the echoes of the messages, a pong per ping, and the
 *    close frame: the peer's code echoed (§5.5.1), the failure's code (§7.1.7), or none while open;
 *  - the server closes TCP after its close frame (§7.1.1), and reports the connection closed once,
 *    with the same code, and an `error` event exactly when it failed.
 */
import { connect, type Socket } from 'node:net';
import { modelServerEvents, type ModelNotes } from './model.js';
import { describeEnding, endingOf, type Ending, type WireEvent } from './events.js';
import { compareOutput, lastPongProblem, owedOutput, parseServerOutput } from './wire.js';
import { splitBySizes } from './chunking.js';
import { serverModelOptions, type ServerCase } from './cases.js';
import type { Finding } from './findings.js';
import type { ServerProcess } from './server-process.js';
import { scaled } from '../../helpers/time.js';

/** Per-connection time bound: handshake, writes with pauses, closing. */
export const CONNECTION_TIME_BOUND_MS = scaled(10_000);

/** Answers to pings may be coalesced only once the server's socket buffer is full (Node's 16 KiB). */
const EXACT_PONGS_BELOW = 16 * 1024;

/** The opening handshake (RFC 6455 §4.1), offering permessage-deflate if asked (RFC 7692 §5, §7.1). */
function request(deflate: ServerCase['deflate']): string {
  const offer =
    deflate === null ? '' : `Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover${deflate.clientNoContextTakeover ? '; client_no_context_takeover' : ''}\r\n`;
  return (
    'GET /fuzz HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${offer}\r\n`
  );
}

class RawClient {
  readonly socket: Socket;
  private readonly received: Buffer[] = [];
  private receivedBytes = 0;
  /** The server sent FIN. */
  ended = false;
  closed = false;
  private waiters: Array<() => void> = [];

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.received.push(chunk);
      this.receivedBytes += chunk.length;
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('drain', () => this.wake());
    socket.on('error', () => {}); // ECONNRESET, EPIPE: the outcome is judged on what was received
  }

  get bytes(): Buffer {
    return Buffer.concat(this.received, this.receivedBytes);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Resolve when `condition()` holds (checked on every socket event). */
  until(condition: () => boolean): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (condition()) resolve();
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** Where the frames start, once the HTTP response head is complete. */
  responseEnd(): number {
    return this.bytes.indexOf('\r\n\r\n');
  }
}

function pause(ms: number): Promise<void> {
  return ms < 0 ? new Promise((resolve) => setImmediate(resolve)) : new Promise((resolve) => setTimeout(resolve, ms));
}

function timeout(ms: number): { promise: Promise<'timeout'>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/**
 * When the model allows two codes for the failure (compressed data broken just past the size limit:
 * 1007 or 1009, whichever zlib's output chunks reach first), judge the run by the one the server chose,
 * if it is one of them; every check (close frame, close event, error event) then expects that code.
 */
function settleAlternative(expected: WireEvent[], ending: Ending, closedWith: number | null): [WireEvent[], Ending] {
  const last = expected.at(-1);
  if (last?.type !== 'error' || last.alternative === undefined || closedWith !== last.alternative) return [expected, ending];
  const settled: WireEvent[] = [...expected.slice(0, -1), { type: 'error', closeCode: last.alternative, ...(last.detail !== undefined && { detail: last.detail }) }];
  return [settled, { kind: 'failed', closeCode: last.alternative }];
}

/** The code the server's `close` event must carry for an ending (1006: TCP closed without a close frame). */
function serverCloseCode(ending: Ending): number {
  return ending.kind === 'open' ? 1006 : ending.kind === 'closed' ? ending.code : ending.closeCode;
}

export async function runServerCase(server: ServerProcess, fuzzCase: ServerCase, timeBound = CONNECTION_TIME_BOUND_MS): Promise<Finding[]> {
  const notes: ModelNotes = { streamEnded: false };
  const expected = modelServerEvents(fuzzCase.bytes, serverModelOptions(fuzzCase), notes);
  const ending = endingOf(expected);
  const findings: Finding[] = [];
  const socket = connect({ port: server.port, host: '127.0.0.1' });
  const client = new RawClient(socket);
  const limit = timeout(timeBound);
  let stage = 'connecting';

  const exchange = async (): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const port = socket.localPort!;
    const chunks = splitBySizes(fuzzCase.bytes, fuzzCase.chunks);
    let next = 0;
    stage = 'handshake';
    const opening = request(fuzzCase.deflate);
    if (fuzzCase.withRequest && chunks.length > 0) {
      // A client that does not wait for the 101 (§4.1 says it must): the server gets frames as `head`.
      socket.write(Buffer.concat([Buffer.from(opening, 'latin1'), chunks[next++]!]));
    } else {
      socket.write(opening);
    }
    await client.until(() => client.responseEnd() >= 0 || client.closed);
    const head = client.bytes.subarray(0, Math.max(0, client.responseEnd())).toString('latin1');
    if (!head.startsWith('HTTP/1.1 101 ')) throw new Error(`handshake refused: ${JSON.stringify(head.slice(0, 80))}`);
    if (fuzzCase.deflate !== null && !/^sec-websocket-extensions: permessage-deflate/im.test(head)) {
      throw new Error(`permessage-deflate was not accepted: ${JSON.stringify(head)}`);
    }

    stage = 'writing';
    if (fuzzCase.slowReader) socket.pause();
    // Stop writing once the server has closed (its FIN also ends our side: no half-open sockets here).
    const stopped = (): boolean => client.ended || client.closed || !socket.writable;
    for (; next < chunks.length && !stopped(); next++) {
      if (!socket.write(chunks[next]!) && fuzzCase.slowReader) await client.until(() => !socket.writableNeedDrain || stopped());
      const wait = fuzzCase.pauses[next] ?? 0;
      if (wait !== 0) await pause(wait);
    }
    if (fuzzCase.slowReader) {
      await pause(20);
      socket.resume();
    }
    if (ending.kind === 'open') {
      // The stream leaves the connection open (it stops inside a frame): leave without a close frame.
      stage = 'closing TCP (no close frame due)';
      socket.end();
    } else {
      // The server owes a close frame and closes TCP first (§7.1.1); our socket answers its FIN.
      stage = `waiting for the server to close (${describeEnding(ending)})`;
    }
    await client.until(() => client.closed);
    stage = 'waiting for the server to report the close';
    await server.serverClosed(port);
    if (!timedOut) {
      const report = server.take(port);
      const [settled, settledEnding] = settleAlternative(expected, ending, report.closedWith);
      checkExchange(findings, client, report, settled, settledEnding, fuzzCase.deflate !== null);
    }
  };

  let timedOut = false;

  const outcome = await Promise.race([exchange().then(() => 'done' as const, (error: Error) => error), limit.promise]);
  limit.cancel();
  if (outcome === 'timeout') {
    timedOut = true;
    findings.push({ kind: 'hang', message: `no end after ${timeBound} ms, ${stage} (${client.bytes.length} bytes received, server FIN ${client.ended})` });
  } else if (outcome instanceof Error) {
    findings.push({ kind: 'harness', message: `${stage}: ${outcome.message}` });
  }
  socket.destroy();
  return findings;
}

function checkExchange(
  findings: Finding[],
  client: RawClient,
  report: { closedWith: number | null; errors: Array<{ closeCode: number | null; message: string }> },
  expected: ReturnType<typeof modelServerEvents>,
  ending: Ending,
  deflate: boolean,
): void {
  const start = client.responseEnd() + 4;
  const output = parseServerOutput(client.bytes.subarray(start), deflate);
  const owed = owedOutput(expected, true);
  const owedBytes = owed.reduce((sum, event) => sum + (event.type === 'close' ? 4 : event.data.length + 4), 0);
  const problems = [
    ...output.problems,
    ...compareOutput(owed, output.events, {
      // With the extension, frames after a compressed message wait for its decoding: if the client
      // leaves meanwhile (FIN without a close frame), the server has closed its side before it answers.
      exactPongs: owedBytes < EXACT_PONGS_BELOW && !(deflate && ending.kind === 'open'),
      echoesMayStopShort: deflate && ending.kind !== 'closed',
    }),
  ];
  if (output.trailing > 0) problems.push(`${output.trailing} trailing bytes that are not a whole frame`);
  if (ending.kind !== 'open' && !client.ended) problems.push('the server did not close TCP after its close frame (§7.1.1)');
  if (ending.kind === 'closed') {
    // Coalesced or not, the most recent ping before the close frame is answered (§5.5.2, §5.5.3).
    const issue = lastPongProblem(owed, output.events);
    if (issue !== null) findings.push({ kind: 'bad-output', message: `${issue} before the close frame`, known: 'pong-dropped-on-close' });
  }
  if (problems.length > 0) {
    const illegal = problems.some((p) => p.startsWith('close code'));
    findings.push({ kind: illegal ? 'illegal-close-code' : 'bad-output', message: `${describeEnding(ending)} expected: ${problems.join('; ')}` });
  }

  const code = serverCloseCode(ending);
  if (report.closedWith !== code) {
    findings.push({ kind: 'model-mismatch', message: `the server's close event: ${report.closedWith ?? 'none'}, expected ${code} (${describeEnding(ending)})` });
  }
  const errors = report.errors.map((e) => `${e.closeCode ?? 'not a ProtocolError'}: ${e.message}`);
  const failedWith = ending.kind === 'failed' ? ending.closeCode : null;
  if (failedWith === null ? errors.length > 0 : report.errors.length !== 1 || report.errors[0]!.closeCode !== failedWith) {
    findings.push({ kind: 'model-mismatch', message: `the server's error events: [${errors.join('; ')}], expected ${failedWith === null ? 'none' : `one with ${failedWith}`}` });
  }
}
