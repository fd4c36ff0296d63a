/**
 * The parent's handle on the live server process (`server-child.ts`): start it, learn its port,
 * collect its per-connection reports and crash reports, ask how many clients it still holds, stop it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { scaled } from '../../helpers/time.js';

export type ChildMessage =
  | { type: 'listening'; port: number }
  | { type: 'closed'; port: number; code: number }
  | { type: 'error'; port: number; closeCode: number | null; message: string }
  | { type: 'crash'; kind: string; message: string }
  | { type: 'stats'; clients: number };

/** `selftest-crash`: throw from a timer in the server process, to test that crashes are reported. */
export type ParentMessage = { type: 'stats' } | { type: 'stop' } | { type: 'selftest-crash' };

/** What the server reported about one connection. */
export interface ConnectionReport {
  closedWith: number | null;
  errors: Array<{ closeCode: number | null; message: string }>;
}

const CHILD = fileURLToPath(new URL('./server-child.ts', import.meta.url));

export class ServerProcess {
  readonly port: number;
  /** Crash reports, in order (the campaign reads the new ones). */
  readonly crashes: Array<{ kind: string; message: string }> = [];
  exited = false;
  private readonly child: ChildProcess;
  private readonly reports = new Map<number, ConnectionReport>();
  private readonly closeWaiters = new Map<number, () => void>();
  private statsWaiter: ((clients: number) => void) | null = null;

  private constructor(child: ChildProcess, port: number) {
    this.child = child;
    this.port = port;
    child.on('message', (message: ChildMessage) => this.onMessage(message));
    child.on('exit', (code, signal) => {
      this.exited = true;
      if (!this.stopping) this.crashes.push({ kind: 'exit', message: `the server process exited (code ${code}, signal ${signal})` });
      for (const waiter of this.closeWaiters.values()) waiter();
    });
  }

  private stopping = false;

  static start(timeoutMs = scaled(20_000)): Promise<ServerProcess> {
    const child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error('the fuzzed server did not start'));
      }, timeoutMs);
      child.once('message', (message: ChildMessage) => {
        clearTimeout(timer);
        if (message.type === 'listening') resolve(new ServerProcess(child, message.port));
        else reject(new Error(`the fuzzed server said ${JSON.stringify(message)} before listening`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the fuzzed server exited with ${code} before listening`));
      });
    });
  }

  private report(port: number): ConnectionReport {
    let report = this.reports.get(port);
    if (report === undefined) {
      report = { closedWith: null, errors: [] };
      this.reports.set(port, report);
    }
    return report;
  }

  private onMessage(message: ChildMessage): void {
    switch (message.type) {
      case 'closed':
        this.report(message.port).closedWith = message.code;
        this.closeWaiters.get(message.port)?.();
        break;
      case 'error':
        this.report(message.port).errors.push({ closeCode: message.closeCode, message: message.message });
        break;
      case 'crash':
        this.crashes.push({ kind: message.kind, message: message.message });
        break;
      case 'stats':
        this.statsWaiter?.(message.clients);
        this.statsWaiter = null;
        break;
      case 'listening':
        break;
    }
  }

  /** Resolve once the server reported the connection from `port` closed (or the process is gone). */
  serverClosed(port: number): Promise<void> {
    if (this.reports.get(port)?.closedWith != null || this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.closeWaiters.set(port, () => {
        this.closeWaiters.delete(port);
        resolve();
      });
    });
  }

  /** Take (and forget) what the server reported for the connection from `port`. */
  take(port: number): ConnectionReport {
    const report = this.report(port);
    this.reports.delete(port);
    this.closeWaiters.delete(port);
    return report;
  }

  /** How many connections the server still holds. */
  clients(timeoutMs = scaled(5000)): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the fuzzed server did not answer')), timeoutMs);
      this.statsWaiter = (clients) => {
        clearTimeout(timer);
        resolve(clients);
      };
      this.child.send({ type: 'stats' } satisfies ParentMessage);
    });
  }

  /** Self-test: make the server process throw an uncaught exception. */
  selfTestCrash(): void {
    this.child.send({ type: 'selftest-crash' } satisfies ParentMessage);
  }

  /** Stop the server (closing what is left) and wait for the process to exit. */
  async stop(timeoutMs = scaled(10_000)): Promise<void> {
    if (this.exited) return;
    this.stopping = true;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'stop' } satisfies ParentMessage);
    const timer = setTimeout(() => this.child.kill(), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
