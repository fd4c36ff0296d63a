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
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, probePort, TestProcess } from './process.js';
import { scaled } from './time.js';

export { freePort };

export const HAPROXY = '/usr/sbin/haproxy';
/** The Debian package that provides it (`apt-get install -y haproxy`). */
export const HAPROXY_PACKAGE = 'haproxy';
export const HAPROXY_SKIP = `haproxy is not installed (Debian package: ${HAPROXY_PACKAGE})`;

/** For `describe(name, { skip }, ...)`: false when haproxy is there, else the notice. */
export function haproxySkipReason(): string | false {
  return existsSync(HAPROXY) ? false : HAPROXY_SKIP;
}

function accepts(port: number): Promise<boolean> {
  return probePort(port, (socket, done) => socket.once('connect', () => done(true)));
}

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
  #process: TestProcess | null = null;

  private constructor(dir: string, ports: number[], config: string) {
    this.dir = dir;
    this.ports = ports;
    this.config = config;
  }

  /** The tail of HAProxy's output (warnings, errors, one line per request): for assertion messages. */
  get log(): string {
    return this.#process?.output ?? '';
  }

  /**
   * Write `haproxyPreamble(global)` + `sections(ports, dir)` to haproxy.cfg in a new temporary folder (files the
   * configuration names, such as a PEM, can go in `dir` through `files`), start haproxy on it and wait
   * until each of the ports accepts connections. `global` adds lines to the `global` section;
   * `preamble` replaces `haproxyPreamble` altogether (for a TCP-mode configuration, or another `maxconn`).
   */
  static async start(
    sections: (ports: number[], dir: string) => string,
    options: { ports: number; files?: Record<string, string | Buffer>; global?: string; preamble?: string },
  ): Promise<HAProxy> {
    const dir = mkdtempSync(join(tmpdir(), 'fullduplex-haproxy-'));
    const ports: number[] = [];
    for (let i = 0; i < options.ports; i++) ports.push(await freePort());
    for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), content);
    const config = (options.preamble ?? haproxyPreamble(options.global)) + '\n' + sections(ports, dir);
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
    const started = new TestProcess(HAPROXY, ['-f', join(this.dir, 'haproxy.cfg'), '-db'], 8000);
    this.#process = started;
    const deadline = Date.now() + scaled(10_000);
    for (const port of this.ports) {
      await started.waitUntil(() => accepts(port), deadline, 50, {
        exited: () => new Error(`haproxy exited at start-up:\n${started.output.trim()}\nconfiguration:\n${this.config}`),
        late: () => new Error(`haproxy does not listen on port ${port}:\n${started.output.trim()}`),
      });
    }
  }

  /** Stop haproxy (SIGTERM, SIGKILL after a while) and remove the folder. */
  async stop(): Promise<void> {
    await this.#process?.stop(scaled(3_000));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
