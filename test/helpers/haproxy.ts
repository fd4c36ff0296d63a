/**
 * A real HAProxy for tests: Debian's `haproxy` (package `haproxy`, 2.6 on bookworm) as a child process in
 * the foreground (`-db`), with a configuration the test writes to a temporary folder. Its log goes to
 * stderr (`log stderr format raw`), and `log` keeps the tail of it for assertion messages. When the
 * executable is missing, `haproxySkipReason()` returns the one-line notice naming the package.
 *
 *   const proxy = await HAProxy.start((ports) => `frontend fe\n  bind 127.0.0.1:${ports[0]}\n ...`, 1);
 *   ... proxy.ports[0] ...
 *   await proxy.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scaled } from './time.js';

export const HAPROXY = '/usr/sbin/haproxy';
/** The Debian package that provides it (`apt-get install -y haproxy`). */
export const HAPROXY_PACKAGE = 'haproxy';
export const HAPROXY_SKIP = `haproxy is not installed (Debian package: ${HAPROXY_PACKAGE})`;

/** For `describe(name, { skip }, ...)`: false when haproxy is there, else the notice. */
export function haproxySkipReason(): string | false {
  return existsSync(HAPROXY) ? false : HAPROXY_SKIP;
}

/** A port that was free a moment ago on 127.0.0.1 (HAProxy binds by number, not port 0). */
export function freePort(): Promise<number> {
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

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => done(true));
  });
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * The `global` and `defaults` sections every test configuration starts with: HTTP mode, the log on
 * stderr (one line per request, with the HTTP version HAProxy saw), `X-Forwarded-For` to the backends
 * (proof that a request came through HAProxy), generous timeouts, and
 * `timeout tunnel` for the WebSockets (HAProxy's timeout once a connection is upgraded).
 */
export const haproxyPreamble = (globalLines = ''): string => `global
  log stderr format raw local0 info
  maxconn 200
  ${globalLines}

defaults
  mode http
  log global
  option httplog
  option forwardfor
  timeout connect 10s
  timeout client 60s
  timeout server 60s
  timeout tunnel 120s
`;

export class HAProxy {
  readonly dir: string;
  readonly ports: number[];
  readonly config: string;
  #child: ChildProcess | null = null;
  #log = '';

  private constructor(dir: string, ports: number[], config: string) {
    this.dir = dir;
    this.ports = ports;
    this.config = config;
  }

  /** The tail of HAProxy's output (warnings, errors, one line per request): for assertion messages. */
  get log(): string {
    return this.#log;
  }

  /**
   * Write `haproxyPreamble(global)` + `sections(ports, dir)` to haproxy.cfg in a new temporary folder (files the
   * configuration names, such as a PEM, can go in `dir` through `files`), start haproxy on it and wait
   * until each of the ports accepts connections. `global` adds lines to the `global` section.
   */
  static async start(
    sections: (ports: number[], dir: string) => string,
    options: { ports: number; files?: Record<string, string | Buffer>; global?: string },
  ): Promise<HAProxy> {
    const dir = mkdtempSync(join(tmpdir(), 'fullduplex-haproxy-'));
    const ports: number[] = [];
    for (let i = 0; i < options.ports; i++) ports.push(await freePort());
    for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), content);
    const config = haproxyPreamble(options.global) + '\n' + sections(ports, dir);
    writeFileSync(join(dir, 'haproxy.cfg'), config);
    const proxy = new HAProxy(dir, ports, config);
    try {
      await proxy.#run();
    } catch (error) {
      await proxy.stop();
      throw error;
    }
    return proxy;
  }

  async #run(): Promise<void> {
    const child = spawn(HAPROXY, ['-f', join(this.dir, 'haproxy.cfg'), '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      this.#log = (this.#log + chunk.toString()).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited = false;
    child.once('exit', () => {
      exited = true;
      running.delete(child);
    });
    child.once('error', (error) => {
      exited = true;
      keep(Buffer.from(`spawn error: ${error.message}\n`));
    });
    this.#child = child;
    running.add(child);
    const deadline = Date.now() + scaled(10_000);
    for (const port of this.ports) {
      for (;;) {
        if (exited) throw new Error(`haproxy exited at start-up:\n${this.#log.trim()}\nconfiguration:\n${this.config}`);
        if (await accepts(port)) break;
        if (Date.now() > deadline) throw new Error(`haproxy does not listen on port ${port}:\n${this.#log.trim()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** Stop haproxy (SIGTERM, SIGKILL after a while) and remove the folder. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), scaled(3_000));
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
