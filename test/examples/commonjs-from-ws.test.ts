/**
 * examples/commonjs-from-ws: a CommonJS chat written for `ws` that runs on fullduplex after changing its
 * `require('ws')` line. Differential: the same scenario runs on the example as it is (fullduplex) and on
 * a copy with that one line put back to `require('ws')`, and the outputs of the server and of both
 * client processes must be the same, line for line; the fullduplex run is also checked against the
 * expected lines. The scenario: two chat clients (processes of the same file, typing on stdin), a
 * broadcast from each, a third client (the test's own) that never answers pings and is terminated by
 * the server's heartbeat, a client that leaves (1000), and the server's shutdown on SIGTERM (1001).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { once, openClient, within } from '../helpers/node.js';
import { pollUntil } from '../helpers/wait.js';
import { scaled } from '../helpers/time.js';
import { ROOT, startExample, type RunningExample } from './example-process.js';

const program = join(ROOT, 'examples/commonjs-from-ws/chat.cjs');
const FULLDUPLEX_LINE = "const WebSocket = require('fullduplex');";
const WS_LINE = "const WebSocket = require('ws');";
/** The server's ping interval in both runs (the clients allow twice as much between pings). */
const HEARTBEAT_MS = scaled(300);

/** The example with its one line swapped back, in a temporary folder inside the repository (so that `ws` resolves). */
function wsCopy(): string {
  const source = readFileSync(program, 'utf8');
  assert.equal(source.split(FULLDUPLEX_LINE).length, 2, `the example has exactly one line ${FULLDUPLEX_LINE}`);
  const base = join(ROOT, 'test-output');
  mkdirSync(base, { recursive: true });
  const folder = mkdtempSync(join(base, 'commonjs-from-ws-'));
  const copy = join(folder, 'chat.cjs');
  writeFileSync(copy, source.replace(FULLDUPLEX_LINE, WS_LINE));
  return copy;
}

/** A chat client process of the same file: lines go to its stdin; it must exit 0 without stderr. */
class ChatClient {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  readonly #child;

  constructor(file: string, url: string) {
    this.#child = spawn(process.execPath, [file, url], { cwd: dirname(file), stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.#child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
  }

  type(line: string): void {
    this.#child.stdin.write(`${line}\n`);
  }

  /** Ctrl-D: the end of its input. */
  endInput(): void {
    this.#child.stdin.end();
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }
}

/** Wait until `text` holds `line` as a whole line. */
async function seeLine(what: string, text: () => string, line: string): Promise<void> {
  await pollUntil(`${what} to print "${line}"`, () => text().split('\n').includes(line), text);
}

interface Outputs {
  server: string;
  alice: string;
  bob: string;
}

async function runScenario(file: string): Promise<Outputs> {
  const server: RunningExample = await startExample(file, { env: { PORT: '0', HEARTBEAT_MS: String(HEARTBEAT_MS) } });
  const url = server.urls[0] as string;
  const clients: ChatClient[] = [];
  try {
    const alice = new ChatClient(file, url);
    clients.push(alice);
    await seeLine('alice', () => alice.stdout, 'connected');
    await seeLine('the server', server.output, 'a client joined (1 connected)');
    const bob = new ChatClient(file, url);
    clients.push(bob);
    await seeLine('bob', () => bob.stdout, 'connected');
    await seeLine('the server', server.output, 'a client joined (2 connected)');

    alice.type('hello from alice');
    await seeLine('alice', () => alice.stdout, '< hello from alice');
    await seeLine('bob', () => bob.stdout, '< hello from alice');
    bob.type('hi from bob');
    await seeLine('alice', () => alice.stdout, '< hi from bob');
    await seeLine('bob', () => bob.stdout, '< hi from bob');

    // A client that never answers pings: the heartbeat terminates it within two intervals.
    const silent = await openClient(url, { autoPong: false });
    await seeLine('the server', server.output, 'a client joined (3 connected)');
    const [silentCode] = await once<[number]>(silent, 'close');
    assert.equal(silentCode, 1006);
    await seeLine('the server', server.output, 'a client left with 1006 (2 connected)');

    alice.endInput();
    assert.equal(await within(alice.exited, 'alice to exit'), 0, alice.stderr);
    await seeLine('the server', server.output, 'a client left with 1000 (1 connected)');

    await server.stop();
    assert.equal(await within(bob.exited, 'bob to exit'), 0, bob.stderr);
    assert.equal(alice.stderr + bob.stderr, '');
    const port = new URL(url).port;
    return { server: server.output().replaceAll(port, 'PORT'), alice: alice.stdout, bob: bob.stdout };
  } catch (error) {
    for (const client of clients) client.kill();
    await server.kill();
    throw error;
  }
}

const lines = (...text: string[]): string => text.map((line) => `${line}\n`).join('');

describe('examples/commonjs-from-ws', { timeout: scaled(60_000) }, () => {
  const copies: string[] = [];
  after(() => {
    for (const copy of copies) rmSync(dirname(copy), { recursive: true, force: true });
  });

  it('the chat runs the same on fullduplex and, with its require line put back, on ws', async () => {
    const ours = await runScenario(program);
    assert.deepEqual(ours, {
      server: lines(
        'listening on ws://127.0.0.1:PORT',
        'a client joined (1 connected)',
        'a client joined (2 connected)',
        'a client joined (3 connected)',
        'terminating a client that did not answer a ping',
        'a client left with 1006 (2 connected)',
        'a client left with 1000 (1 connected)',
        'a client left with 1001 (0 connected)',
      ),
      alice: lines('connected', '< hello from alice', '< hi from bob', 'disconnected with 1000'),
      bob: lines('connected', '< hello from alice', '< hi from bob', 'disconnected with 1001'),
    });

    const copy = wsCopy();
    copies.push(copy);
    const theirs = await runScenario(copy);
    assert.deepEqual(ours, theirs);
  });

  it("the example's README shows the one-line diff from the ws program", () => {
    const readme = readFileSync(join(dirname(program), 'README.md'), 'utf8');
    assert.ok(readme.includes(`-${WS_LINE}\n+${FULLDUPLEX_LINE}\n`), 'README.md has the diff');
  });
});
