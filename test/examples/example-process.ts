/**
 * An example of examples/ as a real process, as its README runs it (`node server.mjs`): the tests start
 * it with this Node (`process.execPath`), in its own folder, wait for its `listening on <url>` line, drive
 * it with a real client, then stop it. The examples import the package by its name ('fullduplex',
 * 'fullduplex/browser', 'fullduplex/redis'), which Node resolves through package.json "exports" to the
 * built dist/ (self-reference): run `npm run build` first.
 *
 *   const server = await startExample('examples/token-auth', { env: { PORT: '0' } });
 *   const [url] = server.urls;           // from the `listening on <url>` lines, in order
 *   ...
 *   await server.stop();                 // SIGTERM; throws unless it exits 0 with nothing on stderr
 *
 * `dir` is the example's folder (relative to the repository's root, or absolute): the program is its
 * `server.mjs` (else the first of `index.mjs`, `main.mjs`, `server.cjs`, `index.cjs`, `main.cjs`,
 * `server.js`, `index.js` that exists); `dir` may also name the program file itself. Every example still
 * running is killed when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scaled } from '../helpers/time.js';

/** The repository's root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The program a folder runs, in this order of preference. */
const ENTRY_FILES = ['server.mjs', 'index.mjs', 'main.mjs', 'server.cjs', 'index.cjs', 'main.cjs', 'server.js', 'index.js'];

/** The line an example prints on stdout for each endpoint it serves, once it accepts connections. */
const LISTENING = /^listening on (\S+)\s*$/;

export interface StartExampleOptions {
  /** Arguments after the program's path. */
  readonly args?: string[];
  /** Added to (and overriding) this process's environment. */
  readonly env?: Record<string, string>;
}

export interface RunningExample {
  /** The urls of its `listening on <url>` lines so far, in order (at least one once started). */
  readonly urls: string[];
  /** Its stdout so far. */
  output(): string;
  /** SIGTERM, and wait for its exit; throws if the exit code is not 0 or it wrote anything on stderr. */
  stop(): Promise<void>;
  /** SIGKILL, and wait for its exit (no checks: for tests that crash it on purpose). */
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** The program to run for `dir` (see the file's comment). */
export function exampleProgram(dir: string): string {
  const path = isAbsolute(dir) ? dir : join(ROOT, dir);
  if (!existsSync(path)) throw new Error(`startExample: ${path} does not exist`);
  if (!statSync(path).isDirectory()) return path;
  for (const file of ENTRY_FILES) if (existsSync(join(path, file))) return join(path, file);
  throw new Error(`startExample: ${path} has none of ${ENTRY_FILES.join(', ')}`);
}

/**
 * Start the example in `dir` and resolve once it printed its first `listening on <url>` line (rejects
 * if it exits before, or after scaled(30 s) without one, with what it wrote).
 */
export async function startExample(dir: string, options: StartExampleOptions = {}): Promise<RunningExample> {
  const program = exampleProgram(dir);
  const child = spawn(process.execPath, [basename(program), ...(options.args ?? [])], {
    cwd: dirname(program),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const urls: string[] = [];
  let stdout = '';
  let stderr = '';
  let pending = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const describe = (): string => `${program}\n--- stdout ---\n${stdout}--- stderr ---\n${stderr}`;

  let onListening: () => void = () => {};
  const listening = new Promise<void>((resolve) => {
    onListening = resolve;
  });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const match = LISTENING.exec(line);
      if (match !== null) {
        urls.push(match[1] as string);
        onListening();
      }
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), scaled(30_000));
  });
  const first = await Promise.race([listening.then(() => 'listening' as const), exited.then(() => 'exited' as const), spawnError, late]);
  clearTimeout(timer);
  if (first !== 'listening') {
    child.kill('SIGKILL');
    await exited;
    const why = first instanceof Error ? `could not start: ${first.message}` : first === 'exited' ? `exited before listening (code ${String(child.exitCode)}, signal ${String(child.signalCode)})` : `printed no "listening on <url>" line within ${scaled(30_000)} ms`;
    throw new Error(`example ${why}\n${describe()}`);
  }

  const end = async (signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return {
    urls,
    output: () => stdout,
    async stop() {
      // A clean shutdown has a bound too: SIGKILL after scaled(20 s), and that is a failure.
      const guard = setTimeout(() => child.kill('SIGKILL'), scaled(20_000));
      const result = await end('SIGTERM');
      clearTimeout(guard);
      if (result.code !== 0 || stderr !== '') {
        throw new Error(`example did not stop cleanly on SIGTERM (exit code ${String(result.code)}, signal ${String(result.signal)})\n${describe()}`);
      }
    },
    async kill() {
      await end('SIGKILL');
    },
  };
}
