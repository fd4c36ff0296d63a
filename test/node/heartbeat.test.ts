import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from '../../src/node/index.js';
import { Heartbeat, type HeartbeatTarget } from '../../src/node/heartbeat.js';
import { handshakenPeer, nextEvent, startServer, stopServer } from '../helpers/net.js';

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
    const heartbeat = new Heartbeat({ interval: 40, timeout: 40 });
    const silent = target();
    const busy = target();
    heartbeat.add(silent);
    heartbeat.add(busy);
    const keepBusy = setInterval(() => (busy.active = true), 5);
    await new Promise((resolve) => setTimeout(resolve, 250));
    clearInterval(keepBusy);
    assert.equal(silent.pings, 1);
    assert.equal(silent.timedOut, true);
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
    const { wss, url } = await startServer({ heartbeat: { interval: 30, timeout: 60 } });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const client = new WebSocket(url);
    const [server] = await connected;
    let pings = 0;
    client.on('ping', () => pings++);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.ok(pings >= 2, `${pings} pings`);
    assert.equal(server.readyState, WebSocket.OPEN);
    client.terminate();
    await stopServer(wss);
  });

  it('terminates a peer that stops reading', async () => {
    const { wss, url } = await startServer({ heartbeat: { interval: 30, timeout: 60 } });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const client = new WebSocket(url);
    await nextEvent(client, 'open');
    const [server] = await connected;
    client.pause(); // reads nothing, so it never answers
    const started = Date.now();
    const [code] = await nextEvent<[number]>(server, 'close', 3000);
    assert.equal(code, 1006);
    assert.ok(Date.now() - started >= 60);
    client.terminate();
    await stopServer(wss);
  });

  it('terminates a peer whose link silently died (a raw socket that went quiet)', async () => {
    const { wss, port } = await startServer({ heartbeat: { interval: 30, timeout: 30 } });
    const connected = nextEvent<[WebSocket]>(wss, 'connection');
    const peer = await handshakenPeer(port);
    const [server] = await connected;
    peer.socket.pause();
    const [code] = await nextEvent<[number]>(server, 'close', 3000);
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
    const [data] = await nextEvent<[Buffer]>(server, 'ping', 2000);
    assert.equal(data.length, 0);
    client.terminate();
    await stopServer(wss);
  });
});
