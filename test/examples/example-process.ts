/**
 * Runs an example of examples/ as a user would: `node <program>` in its own process (the package's
 * built dist/ through its own name, so `npm run build` first). An example prints one line
 * `listening on <url>` on stdout per endpoint once it serves, and shuts down cleanly on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scaled } from '../helpers/time.js';

/** The repository's root folder. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The program a folder runs, in this order of preference. */
const ENTRY_FILES = ['server.mjs', 'index.mjs', 'main.mjs', 'server.cjs', 'index.cjs', 'main.cjs', 'server.js', 'index.js'];

export interface RunningExample {
  /**
   * The URLs of the `listening on <url>` lines, in order. Holds at least one when `startExample`
   * resolves; later lines are appended as they come.
   */
  readonly urls: string[];
  /** Everything the example printed on stdout so far. */
  output(): string;
  /** SIGTERM, then wait for the exit; throws when it exits with a code other than 0 or wrote to stderr. */
  stop(): Promise<void>;
  /** SIGKILL, then wait for the exit (no checks: for a test that failed half-way). */
  kill(): Promise<void>;
}

export interface StartExampleOptions {
  /** Command-line arguments after the program. */
  args?: string[];
  /** Environment variables added to the test process's own. */
  env?: Record<string, string>;
}

const LISTENING = /^listening on (\S+)\s*$/gm;
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * The program to run for `dir`: an example's folder (its first file of ENTRY_FILES that exists) or a
 * program file; absolute or relative to the repository's root.
 */
export function exampleProgram(dir: string): string {
  const path = isAbsolute(dir) ? dir : resolve(ROOT, dir);
  if (!existsSync(path)) throw new Error(`startExample: ${path} does not exist`);
  if (!statSync(path).isDirectory()) return path;
  for (const file of ENTRY_FILES) if (existsSync(join(path, file))) return join(path, file);
  throw new Error(`startExample: ${path} has none of ${ENTRY_FILES.join(', ')}`);
}

/**
 * Start the example at `dir` (`examples/async-iterator`, `examples/share-a-port/express.mjs`: see
 * `exampleProgram`) with `process.execPath`, in the program's folder. Resolves once it has printed its
 * first `listening on <url>` line; rejects if it exits first or stays silent too long.
 */
export async function startExample(dir: string, options: StartExampleOptions = {}): Promise<RunningExample> {
  const program = exampleProgram(dir);
  const cwd = dirname(program);
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  // The test runner marks its children; an example is not one of its test files.
  delete env['NODE_TEST_CONTEXT'];
  const child = spawn(process.execPath, [program, ...(options.args ?? [])], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);

  let stdout = '';
  let stderr = '';
  const urls: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolveExit({ code, signal });
    });
  });
  const describe = (): string => `${dir}${options.args?.length ? ` ${options.args.join(' ')}` : ''}`;
  const outputs = (): string => `\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;

  const listening = new Promise<void>((resolveListening, rejectListening) => {
    const timer = setTimeout(() => rejectListening(new Error(`${describe()} printed no "listening on" line in time${outputs()}`)), scaled(30_000));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const before = stdout.length;
      stdout += chunk;
      // Whole lines only: look again from the start of the line the last chunk ended in.
      const from = stdout.lastIndexOf('\n', before - 1) + 1;
      const complete = stdout.slice(0, stdout.lastIndexOf('\n') + 1);
      LISTENING.lastIndex = from;
      for (let match = LISTENING.exec(complete); match !== null; match = LISTENING.exec(complete)) urls.push(match[1] as string);
      if (urls.length > 0) {
        clearTimeout(timer);
        resolveListening();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      rejectListening(error);
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rejectListening(new Error(`${describe()} exited (code ${code}, signal ${signal}) before listening${outputs()}`));
    });
  });
  try {
    await listening;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }

  const waitForExit = async (signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const guard = setTimeout(() => child.kill('SIGKILL'), scaled(10_000));
    try {
      return await exited;
    } finally {
      clearTimeout(guard);
    }
  };

  return {
    urls,
    output: () => stdout,
    async stop() {
      const exit = await waitForExit('SIGTERM');
      if (exit.code !== 0 || stderr !== '') {
        throw new Error(`${describe()} did not shut down cleanly on SIGTERM (code ${exit.code}, signal ${exit.signal})${outputs()}`);
      }
    },
    async kill() {
      await waitForExit('SIGKILL');
    },
  };
}
