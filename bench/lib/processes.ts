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

export const pinning = PIN ? 'server on core 0, load generator on core 1 (taskset)' : 'not pinned';

export interface RunningServer {
  readonly port: number;
  readonly child: ChildProcess;
  /** RSS and heap after a forced GC. */
  stats(): Promise<{ rss: number; heapUsed: number }>;
  stop(): Promise<void>;
}

export function startServer(implementation: Implementation, config: ServerConfig = {}): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const child = fork(`${root}bench/servers/server.ts`, [implementation, JSON.stringify(config)], {
      execArgv: ['--import', 'tsx', '--expose-gc'],
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

/** Run a load generator script to completion; resolves with the JSON line it prints. */
export function runGenerator<T>(script: string, config: unknown, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawnLoad(script, config);
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (output += chunk));
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
