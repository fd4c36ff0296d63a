/**
 * Helpers for the CLI tests: run `fullduplex` as a real child process (the TypeScript entry through
 * tsx, or the bin), read its output line by line, and make sure no child outlives its test.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scaled } from '../helpers/time.js';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * How long to wait for output or an exit before failing with what the child printed (a hang guard,
 * not a speed test): a child compiles the CLI through tsx first, which is slow on a loaded machine.
 */
const TIMEOUT = scaled(15_000);

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const running = new Set<CliProcess>();

export class CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  #waiters = new Set<() => void>();

  constructor(command: readonly string[], args: readonly string[]) {
    const env = { ...process.env };
    delete env['NODE_TEST_CONTEXT']; // the child is a program under test, not a test file
    delete env['NODE_OPTIONS'];
    const [file, ...rest] = command;
    this.child = spawn(file ?? process.execPath, [...rest, ...args], { cwd: root, env, stdio: 'pipe' });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.stdout += chunk;
      this.#notify();
    });
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
      this.#notify();
    });
    running.add(this);
    this.exited = new Promise<Exit>((resolveExit) => {
      this.child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        running.delete(this);
        this.#notify();
        resolveExit({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  #notify(): void {
    for (const waiter of this.#waiters) waiter();
  }

  /** Wait until stdout (or stderr) matches `pattern`; reject with the output so far on exit or timeout. */
  waitFor(pattern: RegExp, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpMatchArray> {
    return new Promise((resolveMatch, reject) => {
      const check = (): void => {
        const match = this[stream].match(pattern);
        if (match !== null) {
          done();
          resolveMatch(match);
        } else if (!this.running) {
          done();
          reject(new Error(`The CLI exited before printing ${pattern} on ${stream}\n${this.#describe()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`Timed out waiting for ${pattern} on ${stream}\n${this.#describe()}`));
      }, TIMEOUT);
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Wait for the exit; reject (after killing it) if it does not come. */
  async exit(): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const description = this.#describe();
        this.kill();
        reject(new Error(`Timed out waiting for the CLI to exit\n${description}`));
      }, TIMEOUT);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  #describe(): string {
    return `stdout:\n${this.stdout}\nstderr:\n${this.stderr}`;
  }
}

/** `fullduplex ARGS` from the TypeScript source. */
export function startCli(...args: string[]): CliProcess {
  return new CliProcess([process.execPath, '--import', 'tsx', 'src/cli/main.ts'], args);
}

/** `fullduplex ARGS` through bin/fullduplex.mjs, as `npx fullduplex` runs it. */
export function startBin(...args: string[]): CliProcess {
  return new CliProcess([process.execPath, 'bin/fullduplex.mjs'], args);
}

/** Run to completion. */
export function runCliProcess(...args: string[]): Promise<Exit> {
  return startCli(...args).exit();
}

/** Kill every child still running (for `after` hooks) and wait for them to go. */
export async function killAll(): Promise<void> {
  const left = [...running];
  for (const cli of left) cli.kill();
  await Promise.all(left.map((cli) => cli.exited));
}

/** Start `serve --mode echo --port 0 ...` and resolve once it listens, with its port. */
export async function startEchoServer(...extra: string[]): Promise<{ cli: CliProcess; port: number; url: string }> {
  const cli = startCli('serve', '--mode', 'echo', '--port', '0', ...extra);
  const match = await cli.waitFor(/listening on (ws:\/\/\S+:(\d+)\/)/);
  return { cli, port: Number(match[2]), url: match[1]! };
}

/** A TCP port with nothing listening on it (bound once, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** `fullduplex serve --mode inspector` on a free port (plus `extra` arguments), once it printed the page's address. */
export async function startInspector(...extra: string[]): Promise<{ cli: CliProcess; pageUrl: string; port: number }> {
  const cli = startCli('serve', '--mode', 'inspector', '--port', '0', ...extra);
  const match = await cli.waitFor(/Inspector: open (https?:\/\/\S+:(\d+)\/) in a browser/);
  return { cli, pageUrl: match[1]!, port: Number(match[2]) };
}
