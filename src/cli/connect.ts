/**
 * `fullduplex connect URL`: a command-line WebSocket client (what wscat and websocat are used for).
 * Modes: an interactive prompt (stdin a terminal), lines from a pipe (stdin not a terminal), `-x`
 * (send, print the replies, close) and `--echo` (mirror). The exit code says how the connection
 * ended, so scripts can use it.
 */
import { readFileSync } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import { parseArgs } from 'node:util';
import { CloseCode } from '../protocol/close-codes.js';
import { WebSocket, type ClientOptions } from '../node/websocket.js';
import { proxyFromOption } from '../node/proxy-environment.js';
import { parseChoice, parseCommandLine, UsageError } from './args.js';
import { runExecute, runPipe, runPrompt, type Session } from './connect-modes.js';
import { BINARY_FORMATS, Printer, useColor, type BinaryFormat } from './connect-print.js';
import { echoMessages } from './echo.js';
import { ExitCode } from './exit-codes.js';
import type { Output } from './output.js';

/** Close codes that end a session normally. Any other code, or an unclean close, is a failure. */
const NORMAL_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.Normal, CloseCode.GoingAway, CloseCode.NoStatusReceived]);

export const CONNECT_USAGE = `Usage: fullduplex connect URL --echo [options]     send every message back
       fullduplex connect URL -x MSG [-x MSG]... [options]
       fullduplex connect URL [options]            prompt on a terminal, else lines from stdin

Connect to the WebSocket server at URL (ws://, wss://, http:// or https://).

Modes:
  (default, stdin a terminal)   An interactive prompt with history: each line typed is sent as a
                                text message; received messages are printed as "< text", sent
                                ones as "> text". Commands at the prompt:
                                  /ping [DATA]            send a ping
                                  /pong [DATA]            send an unsolicited pong
                                  /close [CODE [REASON]]  start the closing handshake (default 1000;
                                                          another code makes the exit code 1)
                                  /binary HEX             send a binary message (e.g. /binary 00ff)
                                  /help                   list the commands
                                A line starting with "//" is sent with one "/" less. Empty lines
                                are not sent. Ctrl-D closes with 1000.
  (default, stdin not a terminal)
                                Read stdin line by line and send each line (empty ones too) as
                                one text message, as is. When stdin ends, wait until the server
                                has been quiet for 0.5 s (at most 5 s; -w SECONDS to wait that
                                long instead), then close with 1000. stdout carries only the
                                messages received, one per line; other lines go to stderr.
  -x, --execute MSG             Send MSG once connected, wait for one reply, print it, and close
                                with 1000. Repeat to send several in order, each after the reply
                                to the one before. stdout carries only the replies.
                                With --reconnect, a message whose reply had not come when the
                                connection was lost is sent again on the next connection (once
                                per connection); an answered one never is.
  --echo                        Send every message back as it came, text as text, binary as binary.

Options:
  -H, --header "NAME: VALUE"    Add a request header to the opening handshake; repeatable.
  -s, --subprotocol PROTOCOL    Offer this subprotocol; repeat to offer several, in order of
                                preference.
  --origin URL                  Send this Origin header (as a browser on that page would).
  --compress, --no-compress     Offer permessage-deflate compression (RFC 7692), as browsers do
                                (default), or not. The last one given wins.
  --http2                       Open the WebSocket as a stream of an HTTP/2 connection (RFC 8441
                                extended CONNECT), or fail saying why: wss:// needs the server to
                                offer HTTP/2 (TLS ALPN h2) and extended CONNECT; ws:// uses
                                cleartext HTTP/2 with prior knowledge (h2c), no HTTP/1.1 at all.
                                Through a proxy too (the tunnel carries the HTTP/2 connection).
  --try-http2                   wss://: HTTP/2 when the server allows WebSockets over it, else
                                HTTP/1.1 (what browsers do). ws://: HTTP/1.1 (a client cannot
                                know that a cleartext server speaks HTTP/2). Through a proxy too.
                                With either, the "connected" line says which one was used.
  --reconnect                   Connect again, with backoff (full jitter, 1 s doubling to 30 s),
                                when the connection drops or the server restarts (not after
                                1008, 4000-4999, or a refusal that would only repeat); lines
                                sent meanwhile wait for the next connection (up to 1,000).
  --insecure                    wss://: do not verify the server's certificate.
  --ca FILE                     wss://: also trust this CA certificate (PEM).
  --proxy URL                   Go through this proxy (http://[user:pass@]host:port or https://,
                                CONNECT), for any target, localhost included. Without it, the
                                environment decides: https_proxy (wss://), http_proxy (ws://),
                                all_proxy, no_proxy; localhost never (docs/client.md).
  --no-proxy                    Connect directly, whatever the environment says.
  -w, --wait SECONDS            Close with 1000 this long after connecting (after the -x
                                exchange with -x; after the end of stdin when it is a pipe).
  --binary-as hex|base64|raw    How to print binary messages (default hex). raw writes the bytes
                                unchanged (with nothing added, outside the prompt).
  --show-ping                   Print the pings and pongs received.
  --json                        Print one JSON object per line on stdout for every event, for
                                scripts: {"event":"open","url","protocol","extensions"} (and
                                "http":"2" or "1.1" with --http2 or --try-http2),
                                {"event":"message","isBinary":false,"text"} or
                                {"event":"message","isBinary":true,"data":BASE64},
                                {"event":"ping"|"pong","data":BASE64},
                                {"event":"close","code","reason","wasClean"},
                                {"event":"error","message"}; with --reconnect also
                                {"event":"reconnecting","attempt","delay","code","reason"}
                                (and "error":MESSAGE when one ended the connection or the
                                attempt, "status" of a refused handshake) when a connection is
                                lost, then "open" again and {"event":"reconnected","attempt"}.
  --interactive                 Use the prompt even when stdin is not a terminal (for testing).
  -h, --help                    Show this help.

Without --json it prints a line when connected (URL, the subprotocol the server chose) and one
when the connection closes (code, reason, wasClean). Colours only on a terminal (stdout and
stderr each) and when NO_COLOR is not set. Ctrl-C (SIGINT) or SIGTERM starts the closing
handshake with 1000 Normal Closure; a second one drops the connection. When the reader of
stdout goes away (| head -1), the connection is closed with 1000.

Examples:
  fullduplex connect ws://127.0.0.1:8080/ -s chat -H "Authorization: Bearer abc"
  fullduplex connect wss://example.com/feed -x '{"subscribe":"prices"}' -x '{"get":"last"}'
  printf 'one\\ntwo\\n' | fullduplex connect ws://127.0.0.1:8080/ --json
  fullduplex connect ws://127.0.0.1:8080/ --echo
  fullduplex connect wss://127.0.0.1:8443/ --http2 --ca cert.pem -x hello

Exit codes:
  0  the closing handshake completed (wasClean=true) with 1000 Normal Closure,
     1001 Going Away (e.g. the server shut down) or no status code (1005)
  1  any other ending, with the close code printed on stderr: connection refused, handshake
     refused, connection dropped (1006), or closed with another code (1002-1015, 3000-4999);
     or the --ca file could not be read
  2  usage error, including an invalid URL, subprotocol, header or value`;

export interface ConnectSettings {
  url: string;
  protocols: string[];
  headers: OutgoingHttpHeaders;
  origin?: string;
  compress: boolean;
  /** RFC 8441: `require` (--http2) or `try` (--try-http2); absent, HTTP/1.1. */
  http2?: 'require' | 'try';
  insecure: boolean;
  ca?: string;
  /** --proxy URL, or false for --no-proxy; absent: from the environment. */
  proxy?: string | false;
  execute: string[];
  /** -w, in milliseconds. */
  wait?: number;
  binaryAs: BinaryFormat;
  showPing: boolean;
  echo: boolean;
  json: boolean;
  interactive: boolean;
  /** --reconnect: the client's `reconnect` option (docs/client.md "## Reconnecting"). */
  reconnect?: boolean;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Set by the handshake itself: -H must not change them (use -s and --compress). */
const RESERVED_HEADERS = new Set(['upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions']);

function parseHeaders(values: readonly string[]): OutgoingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  for (const header of values) {
    const colon = header.indexOf(':');
    const name = colon === -1 ? '' : header.slice(0, colon).trim();
    const value = colon === -1 ? '' : header.slice(colon + 1).trim();
    if (!TOKEN.test(name)) throw new UsageError(`-H must be "Name: value" with a valid header name (got "${header}")`, 'connect');
    if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) throw new UsageError(`-H ${name}: the value has characters a header cannot carry`, 'connect');
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw new UsageError(`-H ${name}: the handshake sets this header (use -s for subprotocols, --no-compress for extensions)`, 'connect');
    const key = Object.keys(headers).find((existing) => existing.toLowerCase() === name.toLowerCase()) ?? name;
    const previous = headers[key];
    headers[key] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return headers;
}

function parseWait(value: string): number {
  const seconds = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(seconds) || seconds > 2_147_483) throw new UsageError(`-w must be a number of seconds, 0 or more (got "${value}")`, 'connect');
  return Math.round(seconds * 1000);
}

/** Parse the command line; `null` when help was asked for (and printed). */
export function parseConnectArgs(args: readonly string[], output: Output): ConnectSettings | null {
  const { values, positionals, tokens } = parseCommandLine('connect', () =>
    parseArgs({
      args: [...args],
      options: {
        header: { type: 'string', short: 'H', multiple: true },
        subprotocol: { type: 'string', short: 's', multiple: true },
        origin: { type: 'string' },
        compress: { type: 'boolean' },
        'no-compress': { type: 'boolean' },
        http2: { type: 'boolean' },
        'try-http2': { type: 'boolean' },
        insecure: { type: 'boolean' },
        reconnect: { type: 'boolean' },
        ca: { type: 'string' },
        proxy: { type: 'string' },
        'no-proxy': { type: 'boolean' },
        execute: { type: 'string', short: 'x', multiple: true },
        wait: { type: 'string', short: 'w' },
        'binary-as': { type: 'string' },
        'show-ping': { type: 'boolean' },
        echo: { type: 'boolean' },
        json: { type: 'boolean' },
        interactive: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      tokens: true,
    }),
  );
  if (values.help === true) {
    output.log(CONNECT_USAGE);
    return null;
  }
  const [url, ...extra] = positionals;
  if (url === undefined) throw new UsageError('the URL to connect to is missing', 'connect');
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" (only one URL)`, 'connect');
  const execute = values.execute ?? [];
  const echo = values.echo === true;
  const interactive = values.interactive === true;
  if (echo && execute.length > 0) throw new UsageError('--echo and -x cannot be used together', 'connect');
  if (interactive && (echo || execute.length > 0)) throw new UsageError(`--interactive cannot be used with ${echo ? '--echo' : '-x'}`, 'connect');
  if (values.origin === '') throw new UsageError('--origin must not be empty', 'connect');
  if (values.ca === '') throw new UsageError('--ca needs a file name', 'connect');
  if (values.http2 === true && values['try-http2'] === true) throw new UsageError('--http2 and --try-http2 contradict each other', 'connect');
  if (values.proxy !== undefined && values['no-proxy'] === true) throw new UsageError('--proxy and --no-proxy contradict each other', 'connect');
  if (values.proxy !== undefined) {
    try {
      proxyFromOption(values.proxy);
    } catch (error) {
      throw new UsageError(`--proxy: ${(error as Error).message}`, 'connect');
    }
  }
  const http2 = values.http2 === true ? 'require' : values['try-http2'] === true ? 'try' : undefined;
  if (http2 !== undefined && /^ws\+unix:/i.test(url)) throw new UsageError(`--${http2 === 'require' ? '' : 'try-'}http2 is not for ws+unix: URLs`, 'connect');
  const lastCompress = tokens.filter((token) => token.kind === 'option' && (token.name === 'compress' || token.name === 'no-compress')).at(-1);
  return {
    url,
    protocols: values.subprotocol ?? [],
    headers: parseHeaders(values.header ?? []),
    ...(values.origin !== undefined && { origin: values.origin }),
    compress: lastCompress === undefined || (lastCompress.kind === 'option' && lastCompress.name === 'compress'),
    ...(http2 !== undefined && { http2 }),
    insecure: values.insecure === true,
    ...(values.ca !== undefined && { ca: values.ca }),
    ...(values.proxy !== undefined && { proxy: values.proxy }),
    ...(values['no-proxy'] === true && { proxy: false as const }),
    execute,
    ...(values.wait !== undefined && { wait: parseWait(values.wait) }),
    binaryAs: values['binary-as'] === undefined ? 'hex' : parseChoice(values['binary-as'], BINARY_FORMATS, '--binary-as', 'connect'),
    showPing: values['show-ping'] === true,
    echo,
    json: values.json === true,
    interactive,
    ...(values.reconnect === true && { reconnect: true }),
  };
}

/**
 * The client's `http2` option for a flag and a URL: --http2 is `'require'` on a secure URL and `'h2c'`
 * (prior knowledge) on a cleartext one; --try-http2 is `true` (HTTP/2 when the server allows it).
 */
export function http2Mode(url: string, flag: 'require' | 'try'): true | 'require' | 'h2c' {
  if (flag === 'try') return true;
  return /^(wss|https):/i.test(url) ? 'require' : 'h2c';
}

/** Which HTTP a connected client WebSocket went over: its socket is an HTTP/2 stream, or not. */
function httpVersionOf(socket: WebSocket): '2' | '1.1' {
  const transport = socket.socket as { session?: unknown } | null;
  return transport !== null && transport.session !== undefined ? '2' : '1.1';
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.alloc(0);
}

export async function connect(args: readonly string[], output: Output): Promise<ExitCode> {
  const settings = parseConnectArgs(args, output);
  if (settings === null) return ExitCode.Ok;

  let ca: Buffer | undefined;
  if (settings.ca !== undefined) {
    try {
      ca = readFileSync(settings.ca);
    } catch (error) {
      output.error(`fullduplex connect: cannot read --ca ${settings.ca}: ${(error as Error).message}`);
      return ExitCode.Failure;
    }
  }

  const mode = settings.echo ? 'echo' : settings.execute.length > 0 ? 'execute' : settings.interactive || process.stdin.isTTY === true ? 'prompt' : 'pipe';
  const printer = new Printer(output, {
    layout: mode === 'echo' ? 'echo' : mode === 'prompt' ? 'prompt' : 'script',
    json: settings.json,
    binaryAs: settings.binaryAs,
    showPing: settings.showPing,
    color: !settings.json && useColor(process.stdout),
    colorStderr: useColor(process.stderr),
    writeBytes: (bytes) => {
      process.stdout.write(bytes);
    },
  });

  const options: ClientOptions = {
    headers: settings.headers,
    perMessageDeflate: settings.compress,
    rejectUnauthorized: !settings.insecure,
    ...(settings.origin !== undefined && { origin: settings.origin }),
    ...(ca !== undefined && { ca }),
    ...(settings.proxy !== undefined && { proxy: settings.proxy }),
    ...(settings.http2 !== undefined && { http2: http2Mode(settings.url, settings.http2) }),
    ...(settings.reconnect === true && { reconnect: true }),
  };
  let socket: WebSocket;
  try {
    socket = new WebSocket(settings.url, settings.protocols, options);
  } catch (error) {
    // An invalid URL, subprotocol list or header is a mistake on the command line.
    if (error instanceof SyntaxError || (error instanceof TypeError && /^ERR_(INVALID_HTTP_TOKEN|INVALID_CHAR)/.test(String((error as { code?: unknown }).code)))) {
      throw new UsageError(error.message, 'connect');
    }
    throw error;
  }

  socket.on('open', () => printer.open(socket.url, socket.protocol, socket.extensionsHeader, settings.http2 === undefined ? undefined : httpVersionOf(socket)));
  socket.on('error', (error) => printer.error(error));
  socket.on('message', (data, isBinary) => printer.message(toBuffer(data), isBinary));
  socket.on('ping', (data) => printer.control('ping', data));
  socket.on('pong', (data) => printer.control('pong', data));
  socket.on('reconnecting', (event) => printer.reconnecting(event));
  socket.on('reconnected', (attempt) => printer.reconnected(attempt));

  // Whoever reads stdout went away (`... | head -1`): end the session cleanly instead of crashing.
  process.stdout.on('error', (error: Error & { code?: unknown }) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') printer.problem(`stdout: ${error.message}`);
    if (socket.readyState === WebSocket.OPEN) socket.close(CloseCode.Normal);
  });

  let waitTimer: NodeJS.Timeout | undefined;
  /** Close with 1000 after -w (or `ms`), unless already closing. */
  const closeAfter = (ms: number): void => {
    clearTimeout(waitTimer);
    waitTimer = setTimeout(() => {
      if (socket.readyState === WebSocket.OPEN) socket.close(CloseCode.Normal);
    }, ms);
  };
  const session: Session = { socket, printer, settings, closeAfter };

  let stopMode: () => void = () => {};
  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  if (mode === 'echo') {
    echoMessages(socket);
    if (settings.wait !== undefined) socket.on('open', () => closeAfter(settings.wait!));
  } else if (mode === 'execute') {
    stopMode = runExecute(session);
  } else if (mode === 'pipe') {
    stopMode = runPipe(session);
  } else {
    stopMode = runPrompt(session, (signal) => onSignal(signal));
  }

  return new Promise<ExitCode>((resolve) => {
    let interrupted = false;
    onSignal = (signal: NodeJS.Signals): void => {
      if (interrupted || socket.readyState !== WebSocket.OPEN) {
        printer.problem(`${signal}${interrupted ? ' again' : ''}: dropping the connection`);
        socket.terminate();
        return;
      }
      interrupted = true;
      printer.notice(`${signal}: closing with 1000 Normal Closure`);
      socket.close(CloseCode.Normal, 'Interrupted');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    socket.on('close', (code, reason) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      clearTimeout(waitTimer);
      const wasClean = socket.closeResult?.wasClean ?? false;
      const normal = wasClean && NORMAL_CLOSE_CODES.has(code);
      printer.close(code, reason, wasClean, normal);
      stopMode();
      resolve(normal ? ExitCode.Ok : ExitCode.Failure);
    });
  });
}
