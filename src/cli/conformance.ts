/**
 * `fullduplex conformance`: the Autobahn|Testsuite-style conformance suite, without Python or Docker.
 *   server URL  tests a WebSocket server that echoes (we play the fuzzing client)
 *   client      serves the cases to a WebSocket client driver (we play the fuzzing server)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ALL_CASES } from '../conformance/cases/index.js';
import type { CaseResult } from '../conformance/case.js';
import { formatSummary, summarize, writeReport } from '../conformance/report.js';
import { selectCases } from '../conformance/select.js';
import { testServer } from '../conformance/test-server.js';
import { ClientTestServer, type ClientTestHttp2 } from '../conformance/test-client.js';
import { parseCommandLine, parsePort, UsageError } from './args.js';
import { ExitCode } from './exit-codes.js';
import type { Output } from './output.js';

export const CONFORMANCE_USAGE = `Usage: fullduplex conformance server URL [options]
       fullduplex conformance client [--port PORT] [options]

Run the WebSocket conformance suite: the Autobahn|Testsuite's cases (sections 1-7, 9, 10, 12, 13,
same numbering and verdicts), in TypeScript, with no Python or Docker.

  server URL   Test the WebSocket server at URL (ws:// or wss://). The server must send every
               message back with the same opcode. We act as the fuzzing client.
  client       Serve the cases to a WebSocket client under test, speaking Autobahn's fuzzing
               server protocol (/getCaseCount, /runCase?case=N&agent=A, /updateReports?agent=A),
               so existing Autobahn client drivers work unchanged. The client must echo.

Options:
  --cases LIST     Cases to run: comma-separated ids with * wildcards (default "*"), e.g. 1.*,5.*,6.4.1
  --exclude LIST   Cases to leave out, same form (e.g. 9.* to skip the performance section)
  --report DIR     Where to write index.json and index.html (default ./report/<server|client>)
  --parallel N     server: cases run at once (default 1, as Autobahn; more is faster)
  --time-scale X   multiply every wait of the cases by X (default 1: Autobahn's timing); raise
                   it for a slow peer, a slow link or a loaded machine. A case that runs out of
                   time is reported as "Timed out after N s waiting for ..." (and listed as TIMED OUT)
  --http2          run every case over HTTP/2 (RFC 8441): each WebSocket is an extended CONNECT
                   stream. server: ws:// is cleartext HTTP/2 (h2c, prior knowledge), wss:// is TLS
                   with ALPN h2, one session per --parallel worker. client: we serve h2c, or TLS h2
                   with --tls-cert/--tls-key (HTTP/2 only: a client that falls back fails)
  --tls-cert FILE  client --http2: serve TLS with this certificate (PEM)
  --tls-key FILE   client --http2: and this private key (PEM)
  --insecure       server: do not verify the TLS certificate of a wss:// URL
  --ca FILE        server: trust this CA certificate (PEM) for wss://
  --port PORT      client: port to listen on (default 9001)
  --host HOST      client: address to listen on (default 127.0.0.1)
  --once           client: exit after the first /updateReports (exit code as below)
  -h, --help       Show this help.

Output: a progress line while running (on a terminal), a summary table (cases per section and
verdict: OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED, and the failed case ids), and the
report: index.json (one record per case: verdict, expected and observed behaviour, wire log) and a
self-contained index.html.

Examples:
  fullduplex conformance server ws://127.0.0.1:9001/ --parallel 4
  fullduplex conformance server ws://127.0.0.1:9001/ --cases 1.*,5.* --report out
  fullduplex conformance client --port 9001 --once
  fullduplex conformance server ws://127.0.0.1:9001/ --http2 --parallel 4
  fullduplex conformance client --http2 --tls-cert cert.pem --tls-key key.pem --once

Exit codes:
  0  no case FAILED
  1  at least one case FAILED (or the server could not be reached / the port could not be opened)
  2  usage error`;

interface Settings {
  mode: 'server' | 'client';
  url?: string;
  cases?: string;
  exclude?: string;
  report?: string;
  parallel: number;
  timeScale: number;
  insecure: boolean;
  ca?: string;
  port: number;
  host: string;
  once: boolean;
  http2: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

function parse(args: readonly string[], output: Output): Settings | null {
  const { values, positionals } = parseCommandLine('conformance', () =>
    parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        cases: { type: 'string' },
        exclude: { type: 'string' },
        report: { type: 'string' },
        parallel: { type: 'string' },
        'time-scale': { type: 'string' },
        insecure: { type: 'boolean' },
        ca: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        once: { type: 'boolean' },
        http2: { type: 'boolean' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help === true) {
    output.log(CONFORMANCE_USAGE);
    return null;
  }
  const [mode, url, ...extra] = positionals;
  if (mode !== 'server' && mode !== 'client') throw new UsageError('the first argument must be "server" or "client"', 'conformance');
  if (mode === 'server' && url === undefined) throw new UsageError('conformance server needs the URL of the server to test', 'conformance');
  if ((mode === 'client' && url !== undefined) || extra.length > 0) throw new UsageError(`unexpected argument "${mode === 'client' ? url : extra[0]}"`, 'conformance');
  if (mode === 'server' && !/^wss?:\/\//i.test(url!)) throw new UsageError(`the URL must start with ws:// or wss:// (got "${url}")`, 'conformance');
  const parallel = values.parallel === undefined ? 1 : Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) throw new UsageError('--parallel must be a whole number from 1 to 64', 'conformance');
  const timeScaleText = values['time-scale'];
  const timeScale = timeScaleText === undefined ? 1 : Number(timeScaleText);
  if (timeScaleText?.trim() === '' || !Number.isFinite(timeScale) || timeScale <= 0 || timeScale > 1000) {
    throw new UsageError(`--time-scale must be a number above 0, at most 1000 (got "${timeScaleText}")`, 'conformance');
  }
  const tlsCert = values['tls-cert'];
  const tlsKey = values['tls-key'];
  if ((tlsCert !== undefined || tlsKey !== undefined) && (mode !== 'client' || values.http2 !== true)) {
    throw new UsageError('--tls-cert and --tls-key are for "client --http2" (a server under test brings its own TLS)', 'conformance');
  }
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together', 'conformance');
  return {
    mode,
    ...(url !== undefined && { url }),
    ...(values.cases !== undefined && { cases: values.cases }),
    ...(values.exclude !== undefined && { exclude: values.exclude }),
    ...(values.report !== undefined && { report: values.report }),
    parallel,
    timeScale,
    insecure: values.insecure === true,
    ...(values.ca !== undefined && { ca: values.ca }),
    port: values.port === undefined ? 9001 : parsePort(values.port, 'conformance'),
    host: values.host ?? '127.0.0.1',
    once: values.once === true,
    http2: values.http2 === true,
    ...(tlsCert !== undefined && { tlsCert }),
    ...(tlsKey !== undefined && { tlsKey }),
  };
}

export async function conformance(args: readonly string[], output: Output): Promise<ExitCode> {
  const settings = parse(args, output);
  if (settings === null) return ExitCode.Ok;
  const cases = selectCases(ALL_CASES, settings.cases, settings.exclude);
  if (cases.length === 0) throw new UsageError(`no case matches --cases "${settings.cases ?? '*'}"`, 'conformance');
  return settings.mode === 'server' ? runServer(settings, cases, output) : runClient(settings, cases, output);
}

function progress(done: number, total: number, result: CaseResult): void {
  if (!process.stderr.isTTY) return;
  const line = `[${String(done).padStart(String(total).length)}/${total}] ${result.id} ${result.verdict}`;
  process.stderr.write(`\r\x1b[K${line}${done === total ? '\n' : ''}`);
}

async function runServer(settings: Settings, cases: typeof ALL_CASES, output: Output): Promise<ExitCode> {
  const startedAt = new Date().toISOString();
  let ca: Buffer | undefined;
  if (settings.ca !== undefined) {
    try {
      ca = readFileSync(settings.ca);
    } catch (error) {
      output.error(`fullduplex conformance: cannot read --ca ${settings.ca}: ${(error as Error).message}`);
      return ExitCode.Failure;
    }
  }
  output.log(`Testing the server at ${settings.url}${settings.http2 ? ' over HTTP/2 (RFC 8441)' : ''}: ${cases.length} cases`);
  const results = await testServer({
    url: settings.url!,
    cases,
    http2: settings.http2,
    parallel: settings.parallel,
    timeScale: settings.timeScale,
    ...(ca !== undefined && { ca }),
    rejectUnauthorized: !settings.insecure,
    onResult: (result, done, total) => progress(done, total, result),
  });
  if (results.every((result) => !result.observed.connectionWasOpen)) {
    const reason = settings.http2 ? ` (${results[0]?.handshake.response ?? ''})` : '';
    output.error(`fullduplex conformance: no opening handshake with ${settings.url} succeeded: is a WebSocket echo server${settings.http2 ? ' speaking RFC 8441' : ''} running there?${reason}`);
  }
  return finish(settings, results, { subject: `server ${settings.url}${settings.http2 ? ' over HTTP/2' : ''}`, mode: 'server', startedAt, node: process.version }, output);
}

function finish(
  settings: Settings,
  results: readonly CaseResult[],
  info: Parameters<typeof writeReport>[1],
  output: Output,
  directory = settings.report ?? join('report', settings.mode),
): ExitCode {
  output.log(formatSummary(results).trimEnd());
  const { html, json } = writeReport(directory, info, results);
  output.log(`Report: ${html} (${json})`);
  return summarize(results).failed.length > 0 ? ExitCode.Failure : ExitCode.Ok;
}

async function runClient(settings: Settings, cases: typeof ALL_CASES, output: Output): Promise<ExitCode> {
  let http2: ClientTestHttp2 | undefined;
  if (settings.http2) {
    if (settings.tlsCert !== undefined && settings.tlsKey !== undefined) {
      try {
        http2 = { cert: readFileSync(settings.tlsCert), key: readFileSync(settings.tlsKey) };
      } catch (error) {
        output.error(`fullduplex conformance: cannot read --tls-cert/--tls-key: ${(error as Error).message}`);
        return ExitCode.Failure;
      }
    } else {
      http2 = 'h2c';
    }
  }
  const server = new ClientTestServer({ cases, timeScale: settings.timeScale, ...(http2 !== undefined && { http2 }) });
  const startedAt = new Date().toISOString();
  let port: number;
  try {
    port = await server.listen(settings.port, settings.host);
  } catch (error) {
    output.error(`fullduplex conformance: cannot listen on ${settings.host}:${settings.port}: ${(error as Error).message}`);
    return ExitCode.Failure;
  }
  const scheme = http2 !== undefined && http2 !== 'h2c' ? 'wss' : 'ws';
  const how = http2 === undefined ? '' : ` over HTTP/2 (${http2 === 'h2c' ? 'h2c' : 'TLS'}; RFC 8441 extended CONNECT only)`;
  output.log(`Conformance server for clients on ${scheme}://${settings.host}:${port}/${how} (${cases.length} cases)`);
  output.log('Drive it like the Autobahn fuzzing server: /getCaseCount, /runCase?case=N&agent=NAME, /updateReports?agent=NAME');
  return new Promise<ExitCode>((resolve) => {
    let done = 0;
    server.on('result', (_agent, result) => progress(++done, cases.length, result));
    server.on('reports', (agent) => {
      const agents = agent === null ? [...server.results.keys()] : [agent];
      let code: ExitCode = ExitCode.Ok;
      for (const name of agents) {
        const results = server.resultsFor(name);
        output.log(`Agent ${name}:`);
        const directory = join(settings.report ?? join('report', 'client'), safeName(name));
        if (finish(settings, results, { subject: `client ${name}${http2 !== undefined ? ' over HTTP/2' : ''}`, mode: 'client', startedAt, node: process.version }, output, directory) !== ExitCode.Ok) {
          code = ExitCode.Failure;
        }
      }
      if (settings.once) void server.close().then(() => resolve(code));
    });
    const stop = (): void => {
      void server.close().then(() => resolve(ExitCode.Ok));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function safeName(agent: string): string {
  return agent.replace(/[^A-Za-z0-9._-]/g, '_') || 'agent';
}
