/**
 * A real SOCKS5 server for tests: Debian's `microsocks` (package `microsocks`, 1.0.3 on bookworm) as a
 * child process on 127.0.0.1 and a free port, with or without required credentials. When the
 * executable is missing, `microsocksSkipReason()` returns the one-line notice naming the package.
 *
 *   const proxy = await Microsocks.start({ username: 'u', password: 'p' });
 *   ... new URL(`socks5h://u:p@127.0.0.1:${proxy.port}`) ...
 *   await proxy.stop();
 */
import { existsSync } from 'node:fs';
import { freePort, probePort, TestProcess } from './process.js';
import { scaled } from './time.js';

export const MICROSOCKS = '/usr/bin/microsocks';
/** The Debian package that provides it (`apt-get install -y microsocks`). */
export const MICROSOCKS_PACKAGE = 'microsocks';
export const MICROSOCKS_SKIP = `microsocks is not installed (Debian package: ${MICROSOCKS_PACKAGE})`;

/** For `describe(name, { skip }, ...)`: false when microsocks is there, else the notice. */
export function microsocksSkipReason(): string | false {
  return existsSync(MICROSOCKS) ? false : MICROSOCKS_SKIP;
}

/** Ready once it answers a SOCKS5 greeting with a method selection (version 5). */
function answers(port: number): Promise<boolean> {
  return probePort(port, (socket, done) => {
    socket.once('connect', () => socket.write(Buffer.from([5, 2, 0, 2])));
    socket.once('data', (data: Buffer) => done(data[0] === 5));
  });
}

export class Microsocks {
  readonly port: number;
  readonly #process: TestProcess;

  private constructor(port: number, process: TestProcess) {
    this.port = port;
    this.#process = process;
  }

  /** The tail of its output: for assertion messages. */
  get log(): string {
    return this.#process.output;
  }

  static async start(credentials?: { username: string; password: string }): Promise<Microsocks> {
    const port = await freePort();
    const args = ['-i', '127.0.0.1', '-p', String(port)];
    if (credentials !== undefined) args.push('-u', credentials.username, '-P', credentials.password);
    const started = new TestProcess(MICROSOCKS, args, 4000);
    const proxy = new Microsocks(port, started);
    try {
      await started.waitUntil(() => answers(port), Date.now() + scaled(10_000), 50, {
        exited: () => new Error(`microsocks exited at start-up:\n${started.output.trim()}`),
        late: () => new Error(`microsocks does not answer on port ${port}:\n${started.output.trim()}`),
      });
    } catch (error) {
      await proxy.stop();
      throw error;
    }
    return proxy;
  }

  async stop(): Promise<void> {
    await this.#process.stop(scaled(3_000));
  }
}
