/**
 * `fullduplex connect URL --echo`: a client for trying servers out. One mode so far, `--echo`. The
 * exit code says how the connection ended, so scripts can use it.
 */
import { parseArgs } from 'node:util';
import { CloseCode } from '../protocol/close-codes.js';
import { WebSocket } from '../node/websocket.js';
import { parseCommandLine, UsageError } from './args.js';
import { echoMessages } from './echo.js';
import { ExitCode } from './exit-codes.js';
import { formatClose } from './format.js';
import type { Output } from './output.js';

/** Close codes that end a session normally. Any other code, or an unclean close, is a failure. */
const NORMAL_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.Normal, CloseCode.GoingAway, CloseCode.NoStatusReceived]);

export const CONNECT_USAGE = `Usage: fullduplex connect URL --echo [-s PROTOCOL]...

Connect to the WebSocket server at URL (ws://, wss://, http:// or https://) and run until the
connection closes.

Options:
  --echo                      What to do with messages (required, the one mode so far): send
                              every message back as it came, text as text, binary as binary.
  -s, --subprotocol PROTOCOL  Offer this subprotocol; repeat to offer several, in order of
                              preference.
  -h, --help                  Show this help.

It offers permessage-deflate compression (RFC 7692), as browsers do.
It prints a line when connected (URL, the subprotocol the server chose) and one when the
connection closes (code, reason, wasClean). Ctrl-C (SIGINT) or SIGTERM starts the closing
handshake with 1000 Normal Closure; a second one drops the connection.

Exit codes:
  0  the closing handshake completed (wasClean=true) with 1000 Normal Closure,
     1001 Going Away (e.g. the server shut down) or no status code (1005)
  1  any other ending, with the close code printed on stderr: connection refused, handshake
     refused, connection dropped (1006), or closed with another code (1002-1015, 3000-4999)
  2  usage error, including an invalid URL or subprotocol`;

interface ConnectSettings {
  url: string;
  protocols: string[];
}

/** Parse the command line; `null` when help was asked for (and printed). */
function parseConnectArgs(args: readonly string[], output: Output): ConnectSettings | null {
  const { values, positionals } = parseCommandLine('connect', () =>
    parseArgs({
      args: [...args],
      options: {
        echo: { type: 'boolean' },
        subprotocol: { type: 'string', short: 's', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    }),
  );
  if (values.help === true) {
    output.log(CONNECT_USAGE);
    return null;
  }
  const [url, ...extra] = positionals;
  if (url === undefined) throw new UsageError('the URL to connect to is missing', 'connect');
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" (only one URL)`, 'connect');
  if (values.echo !== true) throw new UsageError('--echo is required (the one mode so far)', 'connect');
  return { url, protocols: values.subprotocol ?? [] };
}

export async function connect(args: readonly string[], output: Output): Promise<ExitCode> {
  const settings = parseConnectArgs(args, output);
  if (settings === null) return ExitCode.Ok;

  let socket: WebSocket;
  try {
    socket = new WebSocket(settings.url, settings.protocols);
  } catch (error) {
    // An invalid URL or subprotocol list is a mistake on the command line.
    if (error instanceof SyntaxError) throw new UsageError(error.message, 'connect');
    throw error;
  }

  socket.on('open', () => {
    output.log(`connected to ${socket.url} protocol=${socket.protocol === '' ? '(none)' : socket.protocol}`);
  });
  socket.on('error', (error) => output.error(`error: ${error.message}`));
  echoMessages(socket);

  return new Promise<ExitCode>((resolve) => {
    let interrupted = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (interrupted) {
        output.error(`${signal} again: dropping the connection`);
        socket.terminate();
        return;
      }
      interrupted = true;
      output.log(`${signal}: closing with 1000 Normal Closure`);
      socket.close(CloseCode.Normal, 'Interrupted');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    socket.on('close', (code, reason) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const wasClean = socket.closeResult?.wasClean ?? false;
      const line = `closed ${formatClose(code, reason, wasClean)}`;
      if (wasClean && NORMAL_CLOSE_CODES.has(code)) {
        output.log(line);
        resolve(ExitCode.Ok);
      } else {
        output.error(line);
        resolve(ExitCode.Failure);
      }
    });
  });
}
