import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from '../../src/node/index.js';
import { Heartbeat, type HeartbeatTarget } from '../../src/node/heartbeat.js';
import { handshakenPeer, nextEvent, startServer, stopServer } from '../helpers/net.js';
import { waitFor } from '../helpers/protocol.js';
import { scaled } from '../helpers/time.js';

describe('Heartbeat (unit)', () => {
  function target(): HeartbeatTarget & { pings: number; timedOut: boolean } {
    return {
      active: false,
      lastActivity: 0,
      pingSentAt: 0,
      pings: 0,
      timedOut: false,
      heartbeatPing() {
        this.pings++;
      },
      heartbeatTimeout() {
        this.timedOut = true;
      },
    };
  }

  it('pings a silent target, then times it out; an active one is left alone', async () => {
    // Robust by design on a loaded machine: wait for the timeout itself (a late timer only makes this
    // slower), and check the lower bound (never before interval + timeout of silence).
    const heartbeat = new Heartbeat({ interval: 40, timeout: 40 });
    const silent = target();
    const busy = target();
    const added = Date.now();
    heartbeat.add(silent);
    heartbeat.add(busy);
    const keepBusy = setInterval(() => (busy.active = true), 5);
    await waitFor(() => silent.timedOut, scaled(5000), 'the silent target to time out');
    const elapsed = Date.now() - added;
    clearInterval(keepBusy);
    assert.ok(elapsed >= 80, `timed out after ${elapsed} ms, before interval + timeout`);
    assert.equal(silent.pings, 1);
    assert.equal(busy.pings, 0);
    assert.equal(busy.timedOut, false);
    assert.equal(heartbeat.size, 1);
    heartbeat.delete(busy);
    assert.equal(heartbeat.size, 0);
  });

  it('refuses non-positive settings', () => {
    assert.throws(() => new Heartbeat({ interval: 0, timeout: 10 }), RangeError);
  });
});

describe('heartbeats on real connections', () => {
  it('keeps an idle but responsive client (it answers pings)', async () => {
    // A ping goes out only after `interval` ms of silence, and a second one only if the first was
    // answered (else the peer is terminated): two pings prove an answer was seen. The timeout is long
    // so that a loaded machine answering late is not what this test measures.
    const { wss, url } = await startServer({ heartbeat: { interval: 30, timeout: scaled(2000) } });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const client = new WebSocket(url);
    const [server] = await connected;
    let pings = 0;
    client.on('ping', () => pings++);
    await waitFor(() => pings >= 2, scaled(5000), 'two pings');
    assert.equal(server.readyState, WebSocket.OPEN);
    client.terminate();
    await stopServer(wss);
  });

  it('terminates a peer that stops reading', async () => {
    const { wss, url } = await startServer({ heartbeat: { interval: 30, timeout: 60 } });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    // Before the connection exists, so before its last sign of life: the termination comes at least
    // interval + timeout later, however late the timers run.
    const before = Date.now();
    const client = new WebSocket(url);
    await nextEvent(client, 'open');
    const [server] = await connected;
    client.pause(); // reads nothing, so it never answers
    const [code] = await nextEvent<[number]>(server, 'close', scaled(3000));
    assert.equal(code, 1006);
    assert.ok(Date.now() - before >= 90, `terminated ${Date.now() - before} ms after connecting`);
    client.terminate();
    await stopServer(wss);
  });

  it('terminates a peer whose link silently died (a raw socket that went quiet)', async () => {
    const { wss, port } = await startServer({ heartbeat: { interval: 30, timeout: 30 } });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const peer = await handshakenPeer(port);
    const [server] = await connected;
    peer.socket.pause();
    const [code] = await nextEvent<[number]>(server, 'close', scaled(3000));
    assert.equal(code, 1006);
    peer.destroy();
    await stopServer(wss);
  });

  it('can be turned off', async () => {
    const { wss, url } = await startServer({ heartbeat: false });
    const client = new WebSocket(url);
    let pings = 0;
    client.on('ping', () => pings++);
    await nextEvent(client, 'open');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(pings, 0);
    client.terminate();
    await stopServer(wss);
  });

  it('clients can have heartbeats too', async () => {
    const { wss, url } = await startServer({ heartbeat: false });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const client = new WebSocket(url, { heartbeat: { interval: 30, timeout: 30 } });
    const [server] = await connected;
    const [data] = await nextEvent<[Buffer]>(server, 'ping', scaled(2000));
    assert.equal(data.length, 0);
    client.terminate();
    await stopServer(wss);
  });
});
