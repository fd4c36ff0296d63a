/**
 * A real Redis for tests: Debian's `redis-server` (package `redis-server`) as a child process on a free
 * port, without persistence, in a temporary directory. When the executable is not on the PATH,
 * `redisSkipReason()` returns the one-line notice naming the package, and the tests skip.
 *
 *   const skip = redisSkipReason();                 // false, or the notice
 *   describe('with Redis', { skip }, () => { let redis: RedisServer; before(async () => { redis = await RedisServer.start(); }); ... });
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { scaled } from './time.js';

/** The Debian package that provides the server (`apt-get install -y redis-server`). */
export const REDIS_PACKAGE = 'redis-server';

/** The skip notice when the server is missing. */
export const REDIS_SKIP = `redis-server is not installed (Debian package: ${REDIS_PACKAGE})`;

/** The `redis-server` executable on the PATH, or null. */
export function redisServerPath(): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(dir, 'redis-server');
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

/** For `it(name, { skip }, ...)`: false when redis-server is there, else the notice. */
export function redisSkipReason(): string | false {
  return redisServerPath() === null ? REDIS_SKIP : false;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when a Redis on `port` answers PING with PONG. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class RedisServer {
  readonly port: number;
  readonly dir: string;
  #child: ChildProcess | null = null;
  #output = '';

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  /** `redis://127.0.0.1:<port>` */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** Start a server on a free port and wait until it answers. */
  static async start(options: { timeoutMs?: number } = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), 'fullduplex-redis-')));
    try {
      await server.restart(options);
    } catch (error) {
      rmSync(server.dir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  /** Start it (again) on the same port, and wait until it answers. */
  async restart(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#child !== null) throw new Error('redis-server is running already');
    const executable = redisServerPath();
    if (executable === null) throw new Error(REDIS_SKIP);
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--daemonize', 'no', '--loglevel', 'warning'];
    const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#output = '';
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited = false;
    child.once('exit', () => {
      exited = true;
      running.delete(child);
      if (this.#child === child) this.#child = null;
    });
    child.once('error', () => {
      exited = true;
    });
    this.#child = child;
    running.add(child);
    const deadline = Date.now() + (options.timeoutMs ?? scaled(10_000));
    for (;;) {
      if (exited) throw new Error(`redis-server exited at start-up: ${this.#output.trim()}`);
      if (await pings(this.port)) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`redis-server did not answer on port ${this.port}: ${this.#output.trim()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Stop it (SIGTERM, SIGKILL after 5 s) and wait until it has exited and the port is closed. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), scaled(5000));
      await exited;
      clearTimeout(timer);
    }
    this.#child = null;
    running.delete(child);
  }

  /** Stop it and remove its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
