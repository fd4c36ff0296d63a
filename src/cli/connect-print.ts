/**
 * How `fullduplex connect` prints what happens: as lines for people (with ANSI colours only on a
 * terminal and without NO_COLOR) or, with --json, as one JSON object per line for scripts.
 *
 * Three layouts of the human form:
 *   prompt  interactive: `< text` for what arrives, `> text` for what is sent, notices on stdout
 *   echo    --echo: the connection's lines on stdout, messages not printed (they go back)
 *   script  -x and piped stdin: stdout carries only the messages received, bare (so it can be
 *           redirected or piped on); every notice goes to stderr
 */
import { isUtf8 } from 'node:buffer';
import { formatClose } from './format.js';
import type { Output } from './output.js';

export const BINARY_FORMATS = ['hex', 'base64', 'raw'] as const;
export type BinaryFormat = (typeof BINARY_FORMATS)[number];
export type Layout = 'prompt' | 'echo' | 'script';

export interface PrinterOptions {
  layout: Layout;
  json: boolean;
  binaryAs: BinaryFormat;
  showPing: boolean;
  /** ANSI colours on stdout, and on stderr (each only when that stream is a terminal). */
  color: boolean;
  colorStderr: boolean;
  /** Raw bytes to stdout (for --binary-as raw). */
  writeBytes: (bytes: Buffer) => void;
}

const ANSI = { green: '\x1b[32m', cyan: '\x1b[36m', red: '\x1b[31m', dim: '\x1b[2m', reset: '\x1b[0m' } as const;

/** Colours only for a terminal that has not asked for none (https://no-color.org). */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && (env['NO_COLOR'] === undefined || env['NO_COLOR'] === '');
}

export class Printer {
  readonly #output: Output;
  readonly #options: PrinterOptions;
  /** Called around every line printed while a prompt is shown (to clear and redraw it). */
  beforeLine: () => void = () => {};
  afterLine: () => void = () => {};

  constructor(output: Output, options: PrinterOptions) {
    this.#output = output;
    this.#options = options;
  }

  get json(): boolean {
    return this.#options.json;
  }

  #paint(color: keyof typeof ANSI, text: string, stream: 'stdout' | 'stderr' = 'stdout'): string {
    const enabled = stream === 'stdout' ? this.#options.color : this.#options.colorStderr;
    return enabled ? `${ANSI[color]}${text}${ANSI.reset}` : text;
  }

  #out(line: string): void {
    this.beforeLine();
    this.#output.log(line);
    this.afterLine();
  }

  #err(line: string): void {
    this.beforeLine();
    this.#output.error(line);
    this.afterLine();
  }

  #event(record: Record<string, unknown>): void {
    this.#out(JSON.stringify(record));
  }

  /** A notice about the connection (connected, closing...): stdout, or stderr in the script layout. */
  notice(line: string): void {
    if (this.#options.json) return;
    if (this.#options.layout === 'script') this.#err(this.#paint('dim', line, 'stderr'));
    else this.#out(this.#paint('dim', line));
  }

  /** Something went wrong that the user should read (stderr, red on a terminal; also with --json). */
  problem(line: string): void {
    this.#err(this.#paint('red', line, 'stderr'));
  }

  /** Connected; `http` (the HTTP version used) is printed when the user asked for HTTP/2. */
  open(url: string, protocol: string, extensions: string, http?: '2' | '1.1'): void {
    if (this.#options.json) {
      this.#event({ event: 'open', url, protocol, extensions, ...(http !== undefined && { http }) });
      return;
    }
    const via = http === undefined ? '' : http === '2' ? ' over HTTP/2 (RFC 8441)' : ' over HTTP/1.1';
    this.notice(`connected to ${url} protocol=${protocol === '' ? '(none)' : protocol}${via}`);
  }

  message(data: Buffer, isBinary: boolean): void {
    const { json, layout, binaryAs } = this.#options;
    if (json) {
      this.#event(isBinary ? { event: 'message', isBinary, data: data.toString('base64') } : { event: 'message', isBinary, text: data.toString('utf8') });
      return;
    }
    if (layout === 'echo') return;
    if (isBinary && binaryAs === 'raw') {
      this.beforeLine();
      if (layout === 'prompt') this.#options.writeBytes(Buffer.concat([Buffer.from(`${this.#paint('green', '<')} `), data, Buffer.from('\n')]));
      else this.#options.writeBytes(data);
      this.afterLine();
      return;
    }
    const text = !isBinary ? data.toString('utf8') : binaryAs === 'raw' ? '' : formatBinary(data, binaryAs);
    if (layout === 'prompt') this.#out(`${this.#paint('green', '<')} ${text}`);
    else this.#out(text);
  }

  /** A message we sent, in the prompt layout (a terminal shows typed lines already: `echoInput` false). */
  sent(text: string): void {
    if (this.#options.json || this.#options.layout !== 'prompt') return;
    this.#out(`${this.#paint('cyan', '>')} ${text}`);
  }

  control(kind: 'ping' | 'pong', data: Buffer): void {
    if (this.#options.json) {
      this.#event({ event: kind, data: data.toString('base64') });
      return;
    }
    if (!this.#options.showPing) return;
    const payload = data.length === 0 ? '' : ` ${isUtf8(data) ? data.toString('utf8') : formatBinary(data, this.#options.binaryAs === 'raw' ? 'hex' : this.#options.binaryAs)}`;
    if (this.#options.layout === 'prompt') this.#out(this.#paint('dim', `< ${kind}${payload}`));
    else this.notice(`${kind} received${payload}`);
  }

  /**
   * --reconnect: a connection (or an attempt) ended and another follows after `delay` ms. The error
   * that ended it, if any, and the status of a refused handshake come with it.
   */
  reconnecting(event: { attempt: number; delay: number; code: number; reason: string; error?: Error; status?: number }): void {
    const { attempt, delay, code, reason, error, status } = event;
    if (this.#options.json) {
      this.#event({
        event: 'reconnecting',
        attempt,
        delay,
        code,
        reason,
        ...(error !== undefined && { error: error.message }),
        ...(status !== undefined && { status }),
      });
      return;
    }
    this.notice(`connection lost (${code}${error === undefined ? '' : `: ${error.message}`}); reconnecting in ${delay} ms (attempt ${attempt})`);
  }

  /** --reconnect: a connection opened after a drop (its `open` was printed just before). */
  reconnected(attempt: number): void {
    if (this.#options.json) this.#event({ event: 'reconnected', attempt });
  }

  error(error: Error): void {
    if (this.#options.json) {
      const { code } = error as Error & { code?: unknown };
      this.#event({ event: 'error', message: error.message, ...(typeof code === 'string' && { code }) });
      return;
    }
    this.problem(`error: ${error.message}`);
  }

  /** How the connection ended; `normal` decides stdout (normal) or stderr. */
  close(code: number, reason: Buffer, wasClean: boolean, normal: boolean): void {
    if (this.#options.json) {
      this.#event({ event: 'close', code, reason: reason.toString('utf8'), wasClean });
      return;
    }
    const line = `closed ${formatClose(code, reason, wasClean)}`;
    if (normal) this.notice(line);
    else this.problem(line);
  }
}

export function formatBinary(data: Buffer, format: Exclude<BinaryFormat, 'raw'>): string {
  return data.toString(format);
}
