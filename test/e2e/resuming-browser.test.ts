/**
 * The browser build of ResumingWebSocket in a real browser (Chromium), against the fake resume server
 * (test/helpers/resume-peer.ts): the test compiles src/browser with the build's own settings
 * (tsconfig.build.json) into a temporary dist/, serves it, and a page imports it as a plain ES module
 * from the path the package's "./browser" export names (no bundler). The page subscribes to two topics
 * over the browser's own WebSocket (which must accept the selected subprotocol) while the test
 * publishes; the server drops the connection (1006 for the page), publishes while the page is away,
 * then stops and restarts (1001), publishes again; the page resubscribes each time from its last
 * positions and ends with every message of both topics exactly once, in order, with the idempotent
 * sends it made applied once each. Then the same page against the real server (`WebSocketServer({
 * history, resume })`, MemoryHistory): a replay from 'start', live messages, a resume across a
 * server-side drop without loss or duplicate, an idempotent send applied once, and a server restart
 * (a new memory history: a new epoch) told as a gap, after which messages continue in the new epoch.
 *
 * Skips (with the Debian package to install) when Chromium is not installed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromiumSkipReason } from '../helpers/browser.js';
import { BrowserBuildPage, pagePoller } from '../helpers/browser-build.js';
import { ResumePeer } from '../helpers/resume-peer.js';
import { WebSocketServer } from '../../src/node/index.js';
import type { Position } from '../../src/node/history.js';
import { scaled } from '../helpers/time.js';

const skip = chromiumSkipReason();
const TIMEOUT = scaled(120_000);

/** The page's driver: plain JavaScript; `window.resume` is set by the module script once it has loaded. */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>resuming</title></head><body>
<script type="module">
import { ResumingWebSocket, ResumeMessageEvent, ReconnectingEvent } from '/dist/browser/index.js';
const log = [];
const received = [];
let ws = null;
window.resume = {
  start(url) {
    ws = new ResumingWebSocket(url, { reconnect: { initialDelay: 50, maxDelay: 400, jitter: 0 } });
    ws.addEventListener('open', () => log.push('open ' + ws.readyState));
    ws.addEventListener('error', (event) => log.push('error ' + (event.error ? event.error.code : 'connection')));
    ws.addEventListener('reconnecting', (event) => log.push('reconnecting ' + event.detail.code + ' ' + (event instanceof ReconnectingEvent)));
    ws.addEventListener('reconnected', () => log.push('reconnected'));
    ws.addEventListener('gap', (event) => log.push('gap ' + event.detail.topic + ' ' + event.detail.reason));
    ws.addEventListener('acked', (event) => log.push('acked ' + event.detail.seq));
    ws.addEventListener('subscribed', (event) => log.push('subscribed ' + event.detail.topic + ' ' + event.detail.offset + ' ' + event.detail.gap));
    ws.addEventListener('close', (event) => log.push('close ' + event.code));
    ws.addEventListener('message', (event) => {
      const d = event.detail;
      const data = typeof d.data === 'string' ? d.data : 'bytes ' + Array.from(d.data).join(',');
      received.push(d.topic + ' ' + data + ' ' + d.epoch + ':' + d.offset + (event instanceof ResumeMessageEvent ? '' : ' (not a ResumeMessageEvent)'));
    });
    ws.subscribe('chat', { from: 'start' });
    ws.subscribe('ticks');
  },
  send(text) { return ws.send(text); },
  stop() { if (ws !== null) ws.close(); ws = null; log.length = 0; received.length = 0; },
  state() { return { log: log.slice(), received: received.slice(), readyState: ws.readyState, positions: ws.positions(), unacked: ws.unacked }; },
};
</script></body></html>`;

interface PageState {
  log: string[];
  received: string[];
  readyState: number;
  positions: Record<string, { epoch: string; offset: number } | null>;
  unacked: number;
}

describe('ResumingWebSocket in Chromium (the browser build)', () => {
  const build = new BrowserBuildPage({ html: PAGE, ready: 'window.resume !== undefined', tmpPrefix: 'fullduplex-resume-browser-' });
  before(() => build.open(), { timeout: TIMEOUT });
  after(() => build.close(), { timeout: TIMEOUT });

  it('keeps receiving across a server-side drop and a server restart: every message once, in order, no hole', { skip, timeout: TIMEOUT }, async () => {
    assert.ok(existsSync(join(build.outDir, 'dist/browser/resuming-client.js')));
    const page = build.page;
    const { waitFor } = pagePoller<PageState>(page, 'window.resume.state()');
    const peer = await ResumePeer.start();
    try {
      const expected: string[] = [];
      const publish = (topic: string, data: string | Uint8Array): void => {
        const offset = peer.publish(topic, data);
        expected.push(`${topic} ${typeof data === 'string' ? data : `bytes ${[...data].join(',')}`} e1:${offset}`);
      };
      const live = (topic: string): boolean => peer.connections.some((connection) => connection.closed === null && connection.live.has(topic));

      publish('chat', 'hello'); // before the page subscribes: replayed (from 'start')
      await page.evaluate(`window.resume.start(${JSON.stringify(peer.url)})`);
      await peer.until('both topics live', () => live('chat') && live('ticks'));
      publish('chat', 'c2');
      publish('ticks', 't1');
      publish('ticks', Uint8Array.of(1, 2, 3));
      assert.equal(await page.evaluate(`window.resume.send('first')`), 1);
      await waitFor('the first messages', (s) => s.received.length === 4 && s.log.includes('acked 1'));

      // The server drops the link (no close frame): Chromium reports 1006; messages go on meanwhile.
      peer.autoAck = false;
      peer.connections[0]!.drop();
      publish('chat', 'c3');
      publish('ticks', 't3');
      assert.equal(await page.evaluate(`window.resume.send('while away')`), 2);
      await peer.until('the second connection', () => peer.connections.length === 2 && live('chat') && live('ticks'));
      publish('chat', 'c4');
      await waitFor('the replay', (s) => s.received.length === 7);
      await peer.until('the send', () => peer.sends.length === 2);
      peer.autoAck = true;
      peer.connections[1]!.ack(2);

      // The server restarts (1001 Going Away to the page), and publishes while it is down.
      await peer.stop();
      publish('chat', 'c5');
      publish('ticks', 't5');
      await peer.listen();
      await peer.until('the third connection', () => live('chat') && live('ticks'));
      publish('ticks', 't6');
      const end = await waitFor('everything', (s) => s.received.length === expected.length);

      // Messages of different topics interleave freely; the order within a topic is what is promised.
      for (const topic of ['chat', 'ticks']) {
        const mine = end.received.filter((entry) => entry.startsWith(`${topic} `));
        assert.deepEqual(
          mine,
          expected.filter((entry) => entry.startsWith(`${topic} `)),
          `${topic}: every message once, in order`,
        );
      }
      assert.equal(new Set(end.received).size, end.received.length, 'no duplicate');
      assert.deepEqual(end.positions, { chat: { epoch: 'e1', offset: 5 }, ticks: { epoch: 'e1', offset: 5 } });
      assert.ok(!end.log.some((entry) => entry.startsWith('gap') || entry.startsWith('close') || entry.startsWith('error FD_')), end.log.join('\n'));
      assert.ok(end.log.includes('reconnecting 1006 true'), end.log.join('\n'));
      assert.ok(end.log.includes('reconnecting 1001 true'), end.log.join('\n'));
      assert.equal(end.log.filter((entry) => entry === 'reconnected').length, 2);
      assert.equal(end.readyState, 1);
      assert.equal(end.unacked, 0);
      // Send 2 travelled on the second connection only (acked there): applied once.
      assert.deepEqual(
        peer.applied.map((send) => `${send.seq} ${send.data}`),
        ['1 first', '2 while away'],
      );
      // Every resubscription carried the last position of its topic.
      const froms = peer.connections.map((connection) =>
        connection.log.filter((text) => text.includes('"t":"sub"')).map((text) => JSON.stringify((JSON.parse(text) as { from?: unknown }).from ?? null)),
      );
      assert.deepEqual(froms[0], ['{"epoch":null,"offset":0}', 'null']);
      assert.deepEqual(froms[1], ['{"epoch":"e1","offset":2}', '{"epoch":"e1","offset":2}']);
      assert.deepEqual(froms.at(-1), ['{"epoch":"e1","offset":4}', '{"epoch":"e1","offset":3}']);
    } finally {
      await peer.stop();
    }
  });
  it('against the real server: replay, live, resume across a drop, sends applied once, a restart told as an epoch gap', { skip, timeout: TIMEOUT }, async () => {
    const page = build.page;
    const { waitFor } = pagePoller<PageState>(page, 'window.resume.state()');
    const applied: string[] = [];
    const start = async (port: number): Promise<WebSocketServer> => {
      const wss = new WebSocketServer({ port, host: '127.0.0.1', heartbeat: false, history: { topics: { chat: true, ticks: true } }, resume: { authorize: () => true } });
      wss.on('connection', (ws) => ws.on('message', (data) => void applied.push(String(data))));
      await once(wss, 'listening');
      return wss;
    };
    const stop = (wss: WebSocketServer): Promise<void> => new Promise((resolve) => wss.close(() => resolve()));
    let wss = await start(0);
    const port = (wss.address() as AddressInfo).port;
    const publish = (topic: string, data: string | Uint8Array): Promise<Position> =>
      new Promise((resolve, reject) => wss.publish(topic, typeof data === 'string' ? data : Buffer.from(data), {}, (error, position) => (error ? reject(error) : resolve(position!))));
    try {
      await page.evaluate('window.resume.stop()'); // the previous test's client, if any
      const hello = await publish('chat', 'hello'); // replayed (from 'start')
      const e1 = hello.epoch;
      await page.evaluate(`window.resume.start(${JSON.stringify(`ws://127.0.0.1:${port}`)})`);
      await waitFor('both subscriptions', (s) => s.log.filter((entry) => entry.startsWith('subscribed ')).length === 2);
      await publish('chat', 'c2');
      const t1 = await publish('ticks', 't1');
      await publish('ticks', Uint8Array.of(1, 2, 3));
      assert.equal(await page.evaluate(`window.resume.send('first')`), 1);
      await waitFor('the first messages', (s) => s.received.length === 4 && s.log.includes('acked 1'));

      // The server drops the link (Chromium: 1006); publishes and a send go on meanwhile.
      for (const client of wss.clients) client.terminate();
      await publish('chat', 'c3');
      await publish('ticks', 't3');
      assert.equal(await page.evaluate(`window.resume.send('while away')`), 2);
      const resumed = await waitFor('the resume', (s) => s.received.length === 6 && s.log.includes('acked 2'));
      assert.deepEqual(resumed.received, [
        `chat hello ${e1}:1`,
        `chat c2 ${e1}:2`,
        `ticks t1 ${t1.epoch}:1`,
        `ticks bytes 1,2,3 ${t1.epoch}:2`,
        ...resumed.received.slice(4).sort(), // the two topics' replays may interleave either way
      ]);
      assert.deepEqual(resumed.received.slice(4).sort(), [`chat c3 ${e1}:3`, `ticks t3 ${t1.epoch}:3`]);
      assert.ok(resumed.log.includes('reconnecting 1006 true'), resumed.log.join('\n'));

      // A restart with a new memory history: a new epoch, told as a gap; then messages go on in it.
      await stop(wss);
      wss = await start(port);
      const fresh = await publish('chat', 'n1'); // stored before the server handles any connection
      await waitFor('the epoch gap', (s) => s.log.includes('gap chat epoch'));
      await publish('chat', 'n2');
      const end = await waitFor('the new epoch', (s) => s.received.length === 7);
      assert.equal(end.received[6], `chat n2 ${fresh.epoch}:2`);
      assert.deepEqual(end.positions.chat, { epoch: fresh.epoch, offset: 2 });
      assert.ok(end.log.includes('subscribed chat 1 epoch'), end.log.join('\n'));
      assert.ok(end.log.includes('reconnecting 1001 true'), end.log.join('\n'));
      assert.ok(!end.log.some((entry) => entry.startsWith('error FD_')), end.log.join('\n'));
      assert.deepEqual(applied, ['first', 'while away'], 'each send applied once');
      assert.equal(end.unacked, 0);
    } finally {
      await page.evaluate('window.resume.stop()');
      await stop(wss);
    }
  });
});
