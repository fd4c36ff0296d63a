/**
 * A real Redis for tests: Debian's `redis-server` (package `redis-server`) as a child process on a free
 * port, without persistence, in a temporary directory. When the executable is not on the PATH,
 * `redisSkipReason()` returns the one-line notice naming the package, and the tests skip.
 *
 *   const skip = redisSkipReason();                 // false, or the notice
 *   describe('with Redis', { skip }, () => { let redis: RedisServer; before(async () => { redis = await RedisServer.start(); }); ... });
 */
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { probePort, TestProcess, freePort } from './process.js';
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

/** True when a Redis on `port` answers PING with PONG. */
function pings(port: number): Promise<boolean> {
  return probePort(port, (socket, done) => {
    let reply = '';
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

export class RedisServer {
  readonly port: number;
  readonly dir: string;
  #process: TestProcess | null = null;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  /** `redis://127.0.0.1:<port>` */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#process !== null;
  }

  /**
   * Start a server on a free port (or `port`) and wait until it answers. A test that restarts it on the same
   * port gives a port outside the ephemeral range, so that no outgoing connection takes it while it is down.
   */
  static async start(options: { timeoutMs?: number; port?: number } = {}): Promise<RedisServer> {
    const server = new RedisServer(options.port ?? (await freePort()), mkdtempSync(join(tmpdir(), 'fullduplex-redis-')));
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
    if (this.#process !== null) throw new Error('redis-server is running already');
    const executable = redisServerPath();
    if (executable === null) throw new Error(REDIS_SKIP);
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--daemonize', 'no', '--loglevel', 'warning'];
    const started = new TestProcess(executable, args, 4000);
    started.child.once('exit', () => {
      if (this.#process === started) this.#process = null;
    });
    this.#process = started;
    await started.waitUntil(() => pings(this.port), Date.now() + (options.timeoutMs ?? scaled(10_000)), 25, {
      exited: () => new Error(`redis-server exited at start-up: ${started.output.trim()}`),
      late: async () => {
        await this.stop();
        return new Error(`redis-server did not answer on port ${this.port}: ${started.output.trim()}`);
      },
    });
  }

  /** Stop it (SIGTERM, SIGKILL after 5 s) and wait until it has exited and the port is closed. */
  async stop(): Promise<void> {
    const started = this.#process;
    if (started === null) return;
    await started.stop(scaled(5000));
    this.#process = null;
  }

  /** Stop it and remove its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
