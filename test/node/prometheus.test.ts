/**
 * `prometheusText` (src/node/prometheus.ts), read back by a strict parser of the text exposition format
 * 0.0.4 written here from the format's description (https://prometheus.io/docs/instrumenting/exposition_formats/):
 * HELP and TYPE once per family and before its samples, samples of a family together, valid names,
 * label values with exactly the three escapes, Go-style float values, counters named `_total`, a final
 * line feed. When Prometheus's own `promtool` is installed (Debian package `prometheus`), it checks the
 * output too.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { HandshakeRejection, prometheusText, PROMETHEUS_CONTENT_TYPE, WebSocket, type ServerStats } from '../../src/node/index.js';
import { RawPeer, nextEvent, startServer, stopServer, upgradeRequest } from '../helpers/net.js';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Family {
  readonly name: string;
  help: string | null;
  type: string | null;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parse text format 0.0.4, strictly: any deviation throws with the line. */
function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the text must end with a line feed');
  const families = new Map<string, Family>();
  const finished = new Set<string>();
  let current: Family | null = null;
  const family = (name: string): Family => {
    if (current?.name === name) return current;
    if (finished.has(name) || families.has(name)) throw new Error(`the lines of ${name} are not together`);
    if (current !== null) finished.add(current.name);
    current = { name, help: null, type: null, samples: [] };
    families.set(name, current);
    return current;
  };
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, index) => {
    const where = `line ${index + 1}: ${JSON.stringify(line)}`;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment !== null) {
      const [, kind, name, rest] = comment as unknown as [string, 'HELP' | 'TYPE', string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name, ${where}`);
      const entry = family(name);
      if (kind === 'HELP') {
        if (entry.help !== null) throw new Error(`a second HELP, ${where}`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`bad escape in HELP, ${where}`);
        entry.help = rest.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
      } else {
        if (entry.type !== null) throw new Error(`a second TYPE, ${where}`);
        if (entry.samples.length > 0) throw new Error(`TYPE after samples, ${where}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type, ${where}`);
        entry.type = rest;
      }
      return;
    }
    if (line.startsWith('#') || line.trim() === '') throw new Error(`unexpected line (we write no other comments or blank lines), ${where}`);
    let at = 0;
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (nameMatch === null) throw new Error(`bad sample name, ${where}`);
    const name = nameMatch[0];
    at = name.length;
    const labels: Record<string, string> = {};
    if (line[at] === '{') {
      at++;
      while (line[at] !== '}') {
        const labelMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(at));
        if (labelMatch === null || !LABEL_NAME.test(labelMatch[0])) throw new Error(`bad label name, ${where}`);
        const label = labelMatch[0];
        at += label.length;
        if (line.slice(at, at + 2) !== '="') throw new Error(`expected =", ${where}`);
        at += 2;
        let value = '';
        for (;;) {
          const c = line[at];
          if (c === undefined) throw new Error(`unterminated label value, ${where}`);
          at++;
          if (c === '"') break;
          if (c === '\\') {
            const e = line[at++];
            if (e === '\\') value += '\\';
            else if (e === '"') value += '"';
            else if (e === 'n') value += '\n';
            else throw new Error(`bad escape \\${String(e)}, ${where}`);
          } else {
            value += c;
          }
        }
        if (label in labels) throw new Error(`label ${label} twice, ${where}`);
        labels[label] = value;
        if (line[at] === ',') at++;
        else if (line[at] !== '}') throw new Error(`expected , or }, ${where}`);
      }
      at++;
    }
    if (line[at] !== ' ') throw new Error(`expected one space before the value, ${where}`);
    const rest = line.slice(at + 1);
    if (!/^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/.test(rest)) throw new Error(`bad value (or a timestamp, which we do not write), ${where}`);
    const value = rest === '+Inf' ? Infinity : rest === '-Inf' ? -Infinity : Number(rest);
    const entry = family(name);
    if (entry.type === null || entry.help === null) throw new Error(`a sample before its HELP and TYPE, ${where}`);
    const key = JSON.stringify(Object.entries(labels).sort());
    if (entry.samples.some((sample) => JSON.stringify(Object.entries(sample.labels).sort()) === key)) throw new Error(`a duplicate sample, ${where}`);
    entry.samples.push({ name, labels, value });
  });
  for (const entry of families.values()) {
    if (entry.type === 'counter' && !entry.name.endsWith('_total')) throw new Error(`the counter ${entry.name} is not named _total`);
    if (entry.type === 'counter') for (const sample of entry.samples) if (!(sample.value >= 0)) throw new Error(`the counter ${entry.name} is negative`);
  }
  return families;
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  return families.get(name)?.samples.find((sample) => JSON.stringify(Object.entries(sample.labels).sort()) === JSON.stringify(Object.entries(labels).sort()))?.value;
}

const STATS: ServerStats = {
  time: 0,
  uptime: 12.5,
  connections: 3,
  pendingHandshakes: 1,
  handshakes: 40,
  handshakesPerSecond: 2.5,
  rejected: 7,
  rejects: [
    { status: 403, code: 'FD_ERR_HANDSHAKE_ORIGIN', count: 5 },
    { status: 429, code: 'weird "code"\\ with\na line feed', count: 2 },
  ],
  closed: 37,
  messagesIn: 1000,
  messagesOut: 2000,
  bytesIn: 123456,
  bytesOut: 2 ** 53,
  bufferedBytes: 0,
  topics: 2,
  subscriptions: 3,
};

describe('prometheusText', () => {
  it('writes every stat as one family with HELP and TYPE, counters as _total, gauges as gauges', () => {
    const families = parseExposition(prometheusText(STATS));
    const types = Object.fromEntries([...families.values()].map((family) => [family.name, family.type]));
    assert.deepEqual(types, {
      fullduplex_connections: 'gauge',
      fullduplex_handshakes_pending: 'gauge',
      fullduplex_handshakes_total: 'counter',
      fullduplex_handshakes_per_second: 'gauge',
      fullduplex_handshake_rejects_total: 'counter',
      fullduplex_connections_closed_total: 'counter',
      fullduplex_messages_received_total: 'counter',
      fullduplex_messages_sent_total: 'counter',
      fullduplex_received_bytes_total: 'counter',
      fullduplex_sent_bytes_total: 'counter',
      fullduplex_buffered_bytes: 'gauge',
      fullduplex_topics: 'gauge',
      fullduplex_topic_subscriptions: 'gauge',
    });
    for (const family of families.values()) assert.ok((family.help ?? '').length > 10, `${family.name} has a HELP text`);
    assert.equal(value(families, 'fullduplex_connections'), 3);
    assert.equal(value(families, 'fullduplex_handshakes_per_second'), 2.5);
    assert.equal(value(families, 'fullduplex_sent_bytes_total'), 2 ** 53);
    assert.equal(value(families, 'fullduplex_topic_subscriptions'), 3);
    assert.equal(value(families, 'fullduplex_handshake_rejects_total', { status: '403', code: 'FD_ERR_HANDSHAKE_ORIGIN' }), 5);
  });

  it('escapes label values (backslash, double quote, line feed) so that they read back as they were', () => {
    const families = parseExposition(prometheusText(STATS));
    assert.equal(value(families, 'fullduplex_handshake_rejects_total', { status: '429', code: 'weird "code"\\ with\na line feed' }), 2);
    const text = prometheusText(STATS);
    assert.ok(text.includes('code="weird \\"code\\"\\\\ with\\na line feed"'), text);
  });

  it('takes a prefix and constant labels, and refuses bad ones with a TypeError', () => {
    const families = parseExposition(prometheusText(STATS, { prefix: 'ws_', labels: { instance_role: 'edge "1"' } }));
    assert.equal(value(families, 'ws_connections', { instance_role: 'edge "1"' }), 3);
    assert.equal(value(families, 'ws_handshake_rejects_total', { status: '403', code: 'FD_ERR_HANDSHAKE_ORIGIN', instance_role: 'edge "1"' }), 5);
    assert.ok(parseExposition(prometheusText(STATS, { prefix: '' })).has('connections'));
    assert.throws(() => prometheusText(STATS, { prefix: '1x' }), TypeError);
    assert.throws(() => prometheusText(STATS, { prefix: 'a-b' }), TypeError);
    assert.throws(() => prometheusText(STATS, { labels: { 'bad-name': 'x' } }), TypeError);
    assert.throws(() => prometheusText(STATS, { labels: { __reserved: 'x' } }), TypeError);
    assert.throws(() => prometheusText(STATS, { labels: { code: 'x' } }), TypeError);
    assert.throws(() => prometheusText(STATS, { labels: { n: 5 as unknown as string } }), TypeError);
  });

  it('writes NaN and the infinities as Go reads them', () => {
    const families = parseExposition(prometheusText({ ...STATS, handshakesPerSecond: NaN, bufferedBytes: Infinity }));
    assert.ok(Number.isNaN(value(families, 'fullduplex_handshakes_per_second')));
    assert.equal(value(families, 'fullduplex_buffered_bytes'), Infinity);
  });

  it("takes a server and writes what its stats() says, after real traffic and a custom refusal's code", async () => {
    let refuse = false;
    const { wss, port, url } = await startServer({
      heartbeat: false,
      authenticate: () => (refuse ? new HandshakeRejection(429, 'quota', {}, 'FD_ERR_QUOTA "x"') : true),
    });
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data as Buffer)));
    const client = new WebSocket(url);
    await nextEvent(client, 'open');
    client.send('hello');
    await nextEvent(client, 'message');
    refuse = true;
    const peer = await RawPeer.connect(port);
    peer.write(upgradeRequest('/'));
    assert.equal((await peer.response()).status, 429);
    peer.destroy();
    const families = parseExposition(prometheusText(wss));
    const stats = wss.stats();
    assert.equal(value(families, 'fullduplex_connections'), 1);
    assert.equal(value(families, 'fullduplex_messages_received_total'), 1);
    assert.equal(value(families, 'fullduplex_messages_sent_total'), 1);
    assert.equal(value(families, 'fullduplex_received_bytes_total'), stats.bytesIn);
    assert.equal(value(families, 'fullduplex_handshake_rejects_total', { status: '429', code: 'FD_ERR_QUOTA "x"' }), 1);
    assert.equal(PROMETHEUS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
    client.close();
    await nextEvent(client, 'close');
    await stopServer(wss);
  });

  it('the strict parser refuses what the format does not allow (so that it can fail)', () => {
    const good = '# HELP a_total x\n# TYPE a_total counter\na_total 1\n';
    assert.ok(parseExposition(good).has('a_total'));
    for (const bad of [
      '# HELP a_total x\n# TYPE a_total counter\na_total 1', // no final line feed
      '# HELP a x\n# TYPE a counter\na 1\n', // a counter without _total
      '# HELP a x\n# TYPE a gauge\na{l="\\t"} 1\n', // an escape the format does not have
      '# HELP a x\n# TYPE a gauge\na{l="x} 1\n', // unterminated
      'a 1\n', // no HELP/TYPE
      '# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na 2\n', // not together
      '# HELP a x\n# TYPE a gauge\na one\n', // not a number
    ]) {
      assert.throws(() => parseExposition(bad), Error, JSON.stringify(bad));
    }
  });

  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  const promtoolMissing = promtool.error !== undefined ? 'promtool is not installed (Debian package prometheus)' : false;
  if (promtoolMissing !== false) console.log(`skipping the promtool check: ${promtoolMissing}`);
  it('passes promtool check metrics (Prometheus itself)', { skip: promtoolMissing }, () => {
    const checked = spawnSync('promtool', ['check', 'metrics'], { input: prometheusText(STATS), encoding: 'utf8' });
    // promtool exits 3 for lint warnings (style), 1 for errors: there must be no error.
    assert.notEqual(checked.status, 1, checked.stderr + checked.stdout);
    assert.doesNotMatch(checked.stderr + checked.stdout, /error/i);
  });
});
