/**
 * TunnelAttempt on its own, against a loopback server that plays the proxy: one callback, never
 * synchronous; the connection destroyed on failure and on cancel before the callback; cancel after
 * a delivered socket does nothing; the target's bytes that came with the answer are read first.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TunnelAttempt, type ProxyConversation } from '../../src/node/tunnel-attempt.js';
import { ProxyError } from '../../src/node/proxy-tunnel-types.js';
import { delay, listen, within } from '../helpers/node.js';

type Outcome = { error: ProxyError | null; socket?: Socket | Duplex };

const proxyUrl = new URL('http://127.0.0.1:1');

/** A conversation in which the proxy's answer "OK\n" opens the tunnel and "NO\n" refuses it. */
function lineConversation(socket: Socket): ProxyConversation {
  let text = '';
  return {
    connectEvent: 'connect',
    connected: () => socket.write('HELLO\n'),
    receive: (chunk) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\n');
      if (end === -1) return null;
      if (text.slice(0, end) !== 'OK') throw new ProxyError('FD_ERR_PROXY_STATUS', proxyUrl, `answered ${text.slice(0, end)}`);
      return Buffer.from(text.slice(end + 1), 'latin1');
    },
    failed: (cause) => new ProxyError('FD_ERR_PROXY_CONNECT', proxyUrl, cause.message),
    closed: () => new ProxyError('FD_ERR_PROXY_CLOSED', proxyUrl, 'closed'),
  };
}

describe('TunnelAttempt', () => {
  let server: Server;
  let port: number;
  /** What the fake proxy answers to HELLO. */
  let answer = 'OK\nfirst';
  const open = new Set<Socket>();

  before(async () => {
    server = createServer((socket) => {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => {});
      socket.once('data', () => {
        if (answer !== '') socket.write(answer);
      });
    });
    port = await listen(server);
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function start(callback: (error: ProxyError | null, socket?: Socket | Duplex) => void): { attempt: TunnelAttempt; socket: Socket } {
    const attempt = new TunnelAttempt(callback);
    const socket = connect({ host: '127.0.0.1', port });
    attempt.converse(socket, lineConversation(socket));
    return { attempt, socket };
  }

  async function closedAtServer(): Promise<void> {
    await within(
      (async () => {
        while (open.size > 0) await delay(10);
      })(),
      'the connection to close at the fake proxy',
    );
  }

  it('delivers the socket with the bytes that came after the answer, and cancel afterwards leaves it alone', async () => {
    answer = 'OK\nfirst';
    let calls = 0;
    let attempt!: TunnelAttempt;
    const outcome = await within(
      new Promise<Outcome>((resolve) => {
        ({ attempt } = start((error, socket) => {
          calls += 1;
          resolve({ error, socket });
        }));
      }),
      'the tunnel',
    );
    assert.equal(outcome.error, null);
    attempt.cancel();
    assert.equal(outcome.socket!.destroyed, false);
    const [chunk] = (await within(new Promise((resolve) => outcome.socket!.once('data', (data: Buffer) => resolve([data]))), 'the first bytes')) as [Buffer];
    assert.equal(chunk.toString(), 'first');
    outcome.socket!.destroy();
    await delay(20);
    assert.equal(calls, 1);
  });

  it('a refusal calls back once with the ProxyError and destroys the connection', async () => {
    answer = 'NO\n';
    const outcomes: Outcome[] = [];
    const outcome = await within(new Promise<Outcome>((resolve) => start((error, socket) => (outcomes.push({ error, socket }), resolve({ error, socket })))), 'the refusal');
    assert.equal(outcome.error?.code, 'FD_ERR_PROXY_STATUS');
    assert.equal(outcome.socket, undefined);
    await closedAtServer();
    assert.equal(outcomes.length, 1, 'the close that follows does not call back again');
  });

  it('cancel before the answer destroys the connection and never calls back', async () => {
    answer = '';
    let called = false;
    const { attempt, socket } = start(() => (called = true));
    await within(
      (async () => {
        while (open.size === 0) await delay(10);
      })(),
      'the connection at the fake proxy',
    );
    attempt.cancel();
    assert.equal(socket.destroyed, true);
    await closedAtServer();
    await delay(50);
    assert.equal(called, false);
  });

  it('failSoon calls back on a later tick, and not at all when cancelled first', async () => {
    const calls: string[] = [];
    new TunnelAttempt((error) => calls.push(error!.message)).failSoon(new ProxyError('FD_ERR_PROXY_URL', proxyUrl, 'first'));
    new TunnelAttempt((error) => calls.push(error!.message)).failSoon(new ProxyError('FD_ERR_PROXY_URL', proxyUrl, 'second'))();
    assert.deepEqual(calls, []);
    await delay(20);
    assert.deepEqual(calls, ['Proxy http://127.0.0.1:1: first']);
  });
});
