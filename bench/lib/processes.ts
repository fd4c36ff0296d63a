/** Starting the server and generator processes, pinned to different cores where `taskset` exists. */
import { fork, spawn, spawnSync, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Implementation, ServerConfig } from '../servers/server.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const HAS_TASKSET = spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
/** With two cores or more: the server on core 0, load generators on the others. */
const PIN = HAS_TASKSET && (await import('node:os')).availableParallelism() >= 2;

function pin(pid: number | undefined, cores: string): void {
  if (PIN && pid !== undefined) spawnSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' });
}

const PROFILE_DIR = process.env['BENCH_SERVER_PROF'] ?? '';

export const pinning = PIN ? 'server on core 0, load generator on core 1 (taskset)' : 'not pinned';

export interface RunningServer {
  readonly port: number;
  readonly child: ChildProcess;
  /** RSS and heap after a forced GC. */
  stats(): Promise<{ rss: number; heapUsed: number }>;
  /** The server process's CPU time so far (user + system), in seconds. */
  cpu(): Promise<number>;
  /** Memory now, without a GC, and the peak RSS of the process so far (bytes). */
  usage(): Promise<{ rss: number; heapUsed: number; maxRss: number }>;
  stop(): Promise<void>;
}

export function startServer(implementation: Implementation, config: ServerConfig = {}): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const child = fork(`${root}bench/servers/server.ts`, [implementation, JSON.stringify(config)], {
      // BENCH_SERVER_PROF=DIR: each server writes a CPU profile (node --cpu-prof) into DIR when it exits.
      execArgv: ['--import', 'tsx', '--expose-gc', ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      cwd: root,
    });
    pin(child.pid, '0');
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${implementation} server exited (${code}) before it was ready`)));
    child.once('message', (message: { type: string; port: number }) => {
      if (message.type !== 'ready') return;
      resolve({
        port: message.port,
        child,
        stats: () =>
          new Promise((done) => {
            const onMessage = (reply: { type: string; rss: number; heapUsed: number }): void => {
              if (reply.type !== 'stats') return;
              child.off('message', onMessage);
              done({ rss: reply.rss, heapUsed: reply.heapUsed });
            };
            child.on('message', onMessage);
            child.send({ type: 'stats' });
          }),
        usage: () =>
          new Promise((done) => {
            const onMessage = (reply: { type: string; rss: number; heapUsed: number; maxRss: number }): void => {
              if (reply.type !== 'usage') return;
              child.off('message', onMessage);
              done({ rss: reply.rss, heapUsed: reply.heapUsed, maxRss: reply.maxRss });
            };
            child.on('message', onMessage);
            child.send({ type: 'usage' });
          }),
        cpu: () =>
          new Promise((done) => {
            const onMessage = (reply: { type: string; seconds: number }): void => {
              if (reply.type !== 'cpu') return;
              child.off('message', onMessage);
              done(reply.seconds);
            };
            child.on('message', onMessage);
            child.send({ type: 'cpu' });
          }),
        stop: () =>
          new Promise((done) => {
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.kill();
          }),
      });
    });
  });
}

/** A load generator script in its own process, on the generator's core; its stdout is piped. */
function spawnLoad(script: string, config: unknown): ChildProcessByStdio<null, Readable, null> {
  const child = spawn(process.execPath, ['--import', 'tsx', `${root}${script}`, JSON.stringify(config)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  pin(child.pid, PIN ? '1' : '0');
  return child;
}

/**
 * Run a load generator script to completion; resolves with the (last) JSON line it prints. `onLine`
 * sees every line as it comes (generators may announce phases, e.g. when they start measuring).
 */
export function runGenerator<T>(script: string, config: unknown, timeoutMs = 120_000, onLine?: (line: string) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawnLoad(script, config);
    let output = '';
    let seen = 0;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (onLine === undefined) return;
      for (let end = output.indexOf('\n', seen); end !== -1; end = output.indexOf('\n', seen)) {
        onLine(output.slice(seen, end));
        seen = end + 1;
      }
    });
    const timer = setTimeout(() => child.kill(), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const line = output.trim().split('\n').pop();
      if (code !== 0 || line === undefined || line === '') {
        reject(new Error(`${script} exited with ${code}: ${output}`));
        return;
      }
      resolve(JSON.parse(line) as T);
    });
  });
}

/**
 * The server's CPU use (in cores, 1 = busy all the time) while a generator measures: sampled when the
 * generator prints {"phase":"measuring"} and {"phase":"measured"}. Pass `onLine` to runGenerator, then
 * `result()` after it.
 */
export function serverCpuWhileMeasuring(server: RunningServer): { onLine(line: string): void; result(): Promise<number | undefined> } {
  const marks: Promise<{ seconds: number; at: number }>[] = [];
  return {
    onLine(line) {
      if (line.startsWith('{"phase":')) marks.push(server.cpu().then((seconds) => ({ seconds, at: performance.now() })));
    },
    async result() {
      if (marks.length < 2) return undefined;
      const [start, end] = await Promise.all([marks[0]!, marks[1]!]);
      return (end.seconds - start.seconds) / ((end.at - start.at) / 1000);
    },
  };
}

/** Start a long-running load (it prints one JSON line when ready); resolves with that line and a stop function. */
export function startLoad<T>(script: string, config: unknown, timeoutMs = 300_000): Promise<{ ready: T; stop(): void }> {
  return new Promise((resolve, reject) => {
    const child = spawnLoad(script, config);
    let output = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`${script} was not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      const line = output.split('\n')[0];
      if (output.includes('\n') && line !== undefined) {
        clearTimeout(timer);
        resolve({ ready: JSON.parse(line) as T, stop: () => child.kill() });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready`));
    });
  });
}
