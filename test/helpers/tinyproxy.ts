/**
 * A real HTTP CONNECT proxy for tests: Debian's `tinyproxy` (package `tinyproxy`, 1.11 on bookworm) in
 * the foreground (`-d -c file`), with a configuration written to a temporary folder: 127.0.0.1 only,
 * optional BasicAuth, CONNECT allowed only to the ports given (`ConnectPort`). When the executable is
 * missing, `tinyproxySkipReason()` returns the one-line notice naming the package.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, probePort, TestProcess } from './process.js';
import { scaled } from './time.js';

export const TINYPROXY = '/usr/bin/tinyproxy';
export const TINYPROXY_SKIP = 'tinyproxy is not installed (Debian package: tinyproxy)';

/** For `describe(name, { skip }, ...)`: false when tinyproxy is there, else the notice. */
export function tinyproxySkipReason(): string | false {
  return existsSync(TINYPROXY) ? false : TINYPROXY_SKIP;
}

export class Tinyproxy {
  private constructor(
    readonly process: TestProcess,
    readonly port: number,
    private readonly dir: string,
  ) {}

  /** `http://127.0.0.1:PORT`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(options: { connectPorts: number[]; basicAuth?: { user: string; password: string } }): Promise<Tinyproxy> {
    const dir = mkdtempSync(join(tmpdir(), 'fullduplex-tinyproxy-'));
    const port = await freePort();
    const config = [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 60',
      'MaxClients 50',
      'Allow 127.0.0.1',
      'LogLevel Info',
      'DisableViaHeader Yes',
      ...options.connectPorts.map((connectPort) => `ConnectPort ${connectPort}`),
      ...(options.basicAuth === undefined ? [] : [`BasicAuth ${options.basicAuth.user} ${options.basicAuth.password}`]),
    ].join('\n');
    const file = join(dir, 'tinyproxy.conf');
    writeFileSync(file, `${config}\n`);
    const child = new TestProcess(TINYPROXY, ['-d', '-c', file], 8_000);
    const proxy = new Tinyproxy(child, port, dir);
    try {
      await child.waitUntil(() => probePort(port, (socket, done) => socket.once('connect', () => done(true))), Date.now() + scaled(10_000), 50, {
        exited: () => new Error(`tinyproxy exited:\n${child.output}`),
        late: () => new Error(`tinyproxy did not listen in time:\n${child.output}`),
      });
    } catch (error) {
      await proxy.stop();
      throw error;
    }
    return proxy;
  }

  async stop(): Promise<void> {
    await this.process.stop(scaled(2_000));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
