/**
 * The load tests' processes: the server and the client fleet each run in a Node process of their own
 * (TypeScript through tsx, `global.gc` exposed), started through `bash` so that their open-file limit
 * can be raised first (10,000 connections need 10,000 descriptors on each side), and driven with typed
 * request/reply messages over the IPC channel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { scaled } from '../../helpers/time.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Commands a process answers: each with the body it takes and the reply it sends. */
export type CommandMap = Record<string, { body: unknown; reply: unknown }>;

interface RequestMessage {
  kind: 'request';
  id: number;
  type: string;
  body: unknown;
}

interface ReplyMessage {
  kind: 'reply';
  id: number;
  ok: boolean;
  body?: unknown;
  error?: string;
}

interface ReadyMessage {
  kind: 'ready';
  body: unknown;
}

type Handlers<C extends CommandMap> = { [K in keyof C]: (body: C[K]['body']) => C[K]['reply'] | Promise<C[K]['reply']> };

/**
 * A child's output goes to our stderr, a line at a time with its name in front, each line cut at 300
 * characters (a crash prints the whole line of tsx's one-line output where it happened).
 */
function forwardOutput(name: string, child: ChildProcess): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) process.stderr.write(`[${name}] ${line.length > 300 ? `${line.slice(0, 300)}...` : line}\n`);
    });
    stream.on('end', () => {
      if (partial !== '') process.stderr.write(`[${name}] ${partial.slice(0, 300)}\n`);
    });
  }
}

/** This process's open-file limit (soft), from /proc; null where that is not available. */
export function openFileLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined ? null : soft === 'unlimited' ? Infinity : Number(soft);
  } catch {
    return null;
  }
}

// --- the child's side ------------------------------------------------------------------------------

/** In a child: answer the parent's requests with `handlers`, then say `ready` with `body`. Exits when the parent goes. */
export function serve<C extends CommandMap>(handlers: Handlers<C>, ready: unknown): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('this script is started by test/load/lib/processes.ts, with an IPC channel');
  process.on('message', (message: RequestMessage) => {
    if (message.kind !== 'request') return;
    const reply = (result: Omit<ReplyMessage, 'kind' | 'id'>): void => {
      if (process.connected) send({ kind: 'reply', id: message.id, ...result } satisfies ReplyMessage);
    };
    const handler = handlers[message.type as keyof C];
    if (handler === undefined) return reply({ ok: false, error: `unknown command ${message.type}` });
    Promise.resolve()
      .then(() => handler(message.body as C[keyof C]['body']))
      .then(
        (body) => reply({ ok: true, body }),
        (error: unknown) => reply({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
  send({ kind: 'ready', body: ready } satisfies ReadyMessage);
}

// --- the parent's side -----------------------------------------------------------------------------

export interface ChildHandle<C extends CommandMap, R> {
  readonly name: string;
  readonly child: ChildProcess;
  /** What the child said when it was ready. */
  readonly ready: R;
  request<K extends keyof C & string>(type: K, body: C[K]['body'], timeoutMs?: number): Promise<C[K]['reply']>;
  /** Disconnect (the child exits), or kill it after 5 s. */
  stop(): Promise<void>;
}

/**
 * Start `script` (relative to the repository) with `config` as its argument, its open-file limit raised
 * to `fileLimit` (or to the hard limit if that is lower), and wait for it to be ready.
 */
export function startChild<C extends CommandMap, R>(name: string, script: string, config: unknown, fileLimit: number, readyTimeoutMs = scaled(30_000)): Promise<ChildHandle<C, R>> {
  // Raise the soft limit only if it is lower; fall back to the hard limit. `exec` keeps the IPC descriptor.
  const wrapper =
    'want=$1; shift; soft=$(ulimit -Sn); ' +
    'if [ "$soft" != unlimited ] && [ "$soft" -lt "$want" ]; then ulimit -Sn "$want" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"; fi; ' +
    'exec "$@"';
  const child = spawn('bash', ['-c', wrapper, 'bash', String(fileLimit), process.execPath, '--import', 'tsx', '--expose-gc', `${root}${script}`, JSON.stringify(config)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  forwardOutput(name, child);
  let nextId = 1;
  const pending = new Map<number, { resolve: (body: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  let exited: string | null = null;

  return new Promise((resolve, reject) => {
    const readyTimer = setTimeout(() => {
      child.kill();
      reject(new Error(`${name} was not ready after ${readyTimeoutMs} ms`));
    }, readyTimeoutMs);
    child.once('error', (error) => {
      clearTimeout(readyTimer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      exited = `${name} exited (${signal ?? code})`;
      clearTimeout(readyTimer);
      reject(new Error(exited));
      for (const request of pending.values()) {
        clearTimeout(request.timer);
        request.reject(new Error(exited));
      }
      pending.clear();
    });
    child.on('message', (message: ReplyMessage | ReadyMessage) => {
      if (message.kind === 'ready') {
        clearTimeout(readyTimer);
        resolve(handle(message.body as R));
        return;
      }
      const request = pending.get(message.id);
      if (request === undefined) return;
      pending.delete(message.id);
      clearTimeout(request.timer);
      if (message.ok) request.resolve(message.body);
      else request.reject(new Error(`${name}: ${message.error ?? 'failed'}`));
    });
  });

  function handle(ready: R): ChildHandle<C, R> {
    return {
      name,
      child,
      ready,
      request<K extends keyof C & string>(type: K, body: C[K]['body'], timeoutMs = scaled(120_000)): Promise<C[K]['reply']> {
        if (exited !== null) return Promise.reject(new Error(exited));
        const id = nextId++;
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            pending.delete(id);
            reject(new Error(`${name}: no answer to ${type} after ${timeoutMs} ms`));
          }, timeoutMs);
          pending.set(id, { resolve: resolve as (body: unknown) => void, reject, timer });
          child.send({ kind: 'request', id, type, body } satisfies RequestMessage);
        });
      },
      stop(): Promise<void> {
        if (exited !== null || child.exitCode !== null) return Promise.resolve();
        return new Promise((resolve) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), scaled(5000));
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          if (child.connected) child.disconnect();
          else child.kill();
        });
      },
    };
  }
}
