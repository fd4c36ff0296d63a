/**
 * The `fullduplex` tool: find the command, run it, and turn mistakes on the command line into usage
 * on stderr and exit code 2.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { connect, CONNECT_USAGE } from './connect.js';
import { ExitCode } from './exit-codes.js';
import type { Output } from './output.js';
import { serve, SERVE_USAGE } from './serve.js';
import { conformance, CONFORMANCE_USAGE } from './conformance.js';
import { bench, BENCH_USAGE } from './bench.js';

interface Command {
  readonly summary: string;
  readonly usage: string;
  run(args: readonly string[], output: Output): Promise<ExitCode>;
}

const COMMANDS: ReadonlyMap<string, Command> = new Map([
  ['serve', { summary: 'Run a WebSocket server: --mode echo, broadcast, chat, or inspector (web page)', usage: SERVE_USAGE, run: serve }],
  ['connect', { summary: 'Connect to a WebSocket server: a prompt, lines from a pipe, -x MSG, or --echo', usage: CONNECT_USAGE, run: connect }],
  ['conformance', { summary: 'Autobahn-style conformance suite for a server or a client', usage: CONFORMANCE_USAGE, run: conformance }],
  ['bench', { summary: 'Load an echo server: messages/s, MB/s, latency percentiles', usage: BENCH_USAGE, run: bench }],
]);

export const USAGE = `Usage: fullduplex <command> [options]

WebSocket (RFC 6455) tools built on the fullduplex library.

Commands:
${[...COMMANDS].map(([name, command]) => `  ${name.padEnd(12)} ${command.summary}`).join('\n')}

Options:
  -h, --help     Show this help; "fullduplex <command> --help" shows a command's
  -v, --version  Print the version

Examples:
  fullduplex serve --mode echo --port 8080
  fullduplex connect ws://127.0.0.1:8080/ --echo -s chat
  fullduplex conformance server ws://127.0.0.1:8080/ --parallel 4
  fullduplex bench ws://127.0.0.1:8080/ --connections 100 --duration 30

Exit codes:
  0  success
  1  failure at run time: the server could not listen; the connection was refused,
     failed, or did not end with a normal close (see "fullduplex connect --help")
  2  usage error: unknown command or option, missing or invalid value (usage on stderr)`;

function version(): string {
  // Two levels up from src/cli/ and from dist/cli/ alike.
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  const { version: value } = JSON.parse(text) as { version?: unknown };
  return typeof value === 'string' ? value : 'unknown';
}

/** Run the tool on `argv` (without the node and script paths); resolves to the exit code. */
export async function runCli(argv: readonly string[], output: Output): Promise<ExitCode> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined) throw new UsageError('a command is required');
    if (first === '-h' || first === '--help') {
      output.log(USAGE);
      return ExitCode.Ok;
    }
    if (first === '-v' || first === '--version') {
      output.log(version());
      return ExitCode.Ok;
    }
    if (first === 'help') {
      const topic = rest[0] === undefined ? undefined : COMMANDS.get(rest[0]);
      if (rest[0] !== undefined && topic === undefined) throw new UsageError(`unknown command "${rest[0]}"`);
      output.log(topic?.usage ?? USAGE);
      return ExitCode.Ok;
    }
    if (first.startsWith('-')) throw new UsageError(`unknown option "${first}" (options go after the command)`);
    const command = COMMANDS.get(first);
    if (command === undefined) throw new UsageError(`unknown command "${first}"`);
    return await command.run(rest, output);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const name = error.command === undefined ? 'fullduplex' : `fullduplex ${error.command}`;
    const usage = (error.command === undefined ? undefined : COMMANDS.get(error.command)?.usage) ?? USAGE;
    output.error(`${name}: ${error.message}\n\n${usage}`);
    return ExitCode.Usage;
  }
}
