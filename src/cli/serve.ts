/**
 * `fullduplex serve`: a WebSocket server for trying things out. One mode so far, `echo`. It logs one
 * line per connection opened and closed, and on SIGINT/SIGTERM closes gracefully (1001 Going Away).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocketServer } from '../node/server.js';
import { parseChoice, parseCommandLine, parsePort, UsageError } from './args.js';
import { echoMessages } from './echo.js';
import { ExitCode } from './exit-codes.js';
import { formatClose, formatHostPort } from './format.js';
import type { Output } from './output.js';

const MODES = ['echo'] as const;
const DEFAULT_PORT = 8080;
/** Only this machine, unless asked otherwise: `npm start` is a demo, not a public service. */
const DEFAULT_HOST = '127.0.0.1';
/** Chosen when a client offers it. */
const SUBPROTOCOL = 'chat';

export const SERVE_USAGE = `Usage: fullduplex serve --mode echo [--port PORT] [--host HOST]

Run a WebSocket server until Ctrl-C (SIGINT) or SIGTERM.

Options:
  --mode echo    What to do with messages (required). echo: send every message back to its
                 sender as it came, text as text and binary as binary.
  --port PORT    TCP port to listen on, 0 for any free one (default ${DEFAULT_PORT}).
  --host HOST    Address to listen on (default ${DEFAULT_HOST}: only this machine can connect).
                 Give --host 0.0.0.0 or --host :: to accept connections from other machines.
  -h, --help     Show this help.

The server selects the subprotocol "${SUBPROTOCOL}" when a client offers it, and none otherwise,
and accepts permessage-deflate compression (RFC 7692) when a client offers it.
It prints the address it listens on (with the real port when PORT is 0), then one line when a
connection opens (remote address, path, subprotocol) and one when it closes (code, reason,
wasClean). On SIGINT or SIGTERM it stops accepting, sends every client 1001 Going Away, waits
for their answers (at most 5 s), and exits; a second signal drops the remaining clients at once.

Exit codes:
  0  stopped by SIGINT or SIGTERM after a graceful close
  1  could not listen (port in use, unknown host...), or stopped by a second signal
  2  usage error`;

interface ServeSettings {
  mode: (typeof MODES)[number];
  port: number;
  host: string;
}

/** Parse the command line; `null` when help was asked for (and printed). */
function parseServeArgs(args: readonly string[], output: Output): ServeSettings | null {
  const { values } = parseCommandLine('serve', () =>
    parseArgs({
      args: [...args],
      options: {
        mode: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    }),
  );
  if (values.help === true) {
    output.log(SERVE_USAGE);
    return null;
  }
  if (values.mode === undefined) throw new UsageError(`--mode is required (one mode so far: ${MODES.join(', ')})`, 'serve');
  if (values.host === '') throw new UsageError('--host must not be empty', 'serve');
  return {
    mode: parseChoice(values.mode, MODES, '--mode', 'serve'),
    port: values.port === undefined ? DEFAULT_PORT : parsePort(values.port, 'serve'),
    host: values.host ?? DEFAULT_HOST,
  };
}

export async function serve(args: readonly string[], output: Output): Promise<ExitCode> {
  const settings = parseServeArgs(args, output);
  if (settings === null) return ExitCode.Ok;

  const server = new WebSocketServer({
    port: settings.port,
    host: settings.host,
    handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    // Accept permessage-deflate when offered (every browser offers it).
    perMessageDeflate: true,
  });
  try {
    await once(server, 'listening');
  } catch (error) {
    output.error(`fullduplex serve: cannot listen on ${formatHostPort(settings.host, settings.port)}: ${(error as Error).message}`);
    return ExitCode.Failure;
  }
  server.on('error', (error) => output.error(`server error: ${error.message}`));

  let connections = 0;
  server.on('connection', (socket, request) => {
    const id = ++connections;
    const remote = formatHostPort(request.socket.remoteAddress, request.socket.remotePort);
    output.log(`[#${id}] open remote=${remote} path=${request.url ?? '/'} protocol=${socket.protocol === '' ? '(none)' : socket.protocol}`);
    socket.on('error', (error) => output.error(`[#${id}] error: ${error.message}`));
    socket.on('close', (code, reason) => output.log(`[#${id}] close ${formatClose(code, reason, socket.closeResult?.wasClean ?? false)}`));
    if (settings.mode === 'echo') echoMessages(socket);
  });

  const stopped = new Promise<ExitCode>((resolve) => {
    let stopping = false;
    const stop = (code: ExitCode): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(code);
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        output.log(`${signal} again: dropping ${server.clients.size} client(s)`);
        for (const socket of server.clients) socket.terminate();
        stop(ExitCode.Failure);
        return;
      }
      stopping = true;
      output.log(`${signal}: closing, ${server.clients.size} client(s) get 1001 Going Away`);
      server.close(() => {
        // The server learns of the last close before that connection's own listeners run: let its line go first.
        setImmediate(() => {
          output.log('server closed');
          stop(ExitCode.Ok);
        });
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  // Announce only once the signals are handled: whoever reads the line may stop us at once.
  const address = server.address() as AddressInfo;
  output.log(`fullduplex ${settings.mode} server listening on ws://${formatHostPort(address.address, address.port)}/ (Ctrl-C to stop)`);

  return stopped;
}
