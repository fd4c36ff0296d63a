/**
 * Child processes for tests (test/helpers/redis.ts, test/helpers/haproxy.ts): a free port to give them,
 * the process with the tail of its output, waiting until it serves, and stopping it. Every process
 * still running is killed when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, type Socket } from 'node:net';

/** A port that was free a moment ago on 127.0.0.1 (for servers that bind by number, not port 0). */
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

/**
 * Connect to 127.0.0.1:`port` and let `talk` say whether the server there is ready (`done(true)`);
 * false on a connection error or after a second without an answer.
 */
export function probePort(port: number, talk: (socket: Socket, done: (ok: boolean) => void) => void): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    talk(socket, done);
  });
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A child process whose stdout and stderr are kept (their last `tail` characters). */
export class TestProcess {
  readonly child: ChildProcess;
  readonly #tail: number;
  #output = '';
  #exited = false;

  constructor(executable: string, args: readonly string[], tail: number) {
    this.#tail = tail;
    const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => this.#keep(chunk.toString());
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', () => {
      this.#exited = true;
      running.delete(child);
    });
    child.once('error', (error) => {
      this.#exited = true;
      this.#keep(`spawn error: ${error.message}\n`);
    });
    this.child = child;
    running.add(child);
  }

  #keep(text: string): void {
    this.#output = (this.#output + text).slice(-this.#tail);
  }

  /** The tail of its output: for error and assertion messages. */
  get output(): string {
    return this.#output;
  }

  /** Whether it has exited (or failed to start). */
  get exited(): boolean {
    return this.#exited;
  }

  /**
   * Ask `ready` every `pollMs` until it says yes. Throws `errors.exited()` when the process exits
   * first, `errors.late()` once past `deadline` (a `Date.now()` time).
   */
  async waitUntil(ready: () => Promise<boolean>, deadline: number, pollMs: number, errors: { exited: () => Error; late: () => Error | Promise<Error> }): Promise<void> {
    for (;;) {
      if (this.#exited) throw errors.exited();
      if (await ready()) return;
      if (Date.now() > deadline) throw await errors.late();
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /** SIGTERM, SIGKILL after `killAfterMs`; resolves once it has exited. */
  async stop(killAfterMs: number): Promise<void> {
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      await exited;
      clearTimeout(timer);
    }
    running.delete(child);
  }
}
