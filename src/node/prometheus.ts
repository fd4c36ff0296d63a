/**
 * `prometheusText(wss | stats)`: a server's stats in the Prometheus text exposition format, version
 * 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/): per metric a `# HELP` line
 * (backslash and line feed escaped), a `# TYPE` line (`counter` or `gauge`), then its samples
 * `name{label="value"} number`, label values escaped (backslash, double quote, line feed). Counters end
 * in `_total`. Serve it as `text/plain; version=0.0.4; charset=utf-8` (`PROMETHEUS_CONTENT_TYPE`).
 */
import type { ServerStats } from './stats.js';

/** The Content-Type of the text format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The options of {@link prometheusText}. */
export interface PrometheusOptions {
  /** Put before every metric name. Default `fullduplex_`. */
  prefix?: string;
  /** Labels added to every sample (e.g. `{ server: 'eu-1' }`), after the metric's own. */
  labels?: Readonly<Record<string, string>>;
}

/** Anything with `stats()`: a `WebSocketServer`. */
export interface StatsProvider {
  /** The counters and gauges now ({@link ServerStats}). */
  stats(): ServerStats;
}

type Labels = ReadonlyArray<readonly [string, string]>;

interface Metric {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  readonly samples: ReadonlyArray<{ readonly labels: Labels; readonly value: number }>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The stats of `source` (a server, or stats already taken) as Prometheus text, ending with a line feed. */
export function prometheusText(source: ServerStats | StatsProvider, options: PrometheusOptions = {}): string {
  const stats = isProvider(source) ? source.stats() : source;
  const prefix = options.prefix ?? 'fullduplex_';
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_NAME.test(prefix))) {
    throw new TypeError(`prometheusText: the prefix must match ${String(METRIC_NAME)} (or be ""); got ${JSON.stringify(prefix)}`);
  }
  const constant = constantLabels(options.labels);
  const one = (value: number): Metric['samples'] => [{ labels: [], value }];
  const metrics: Metric[] = [
    { name: 'connections', type: 'gauge', help: 'Open WebSocket connections.', samples: one(stats.connections) },
    { name: 'handshakes_pending', type: 'gauge', help: 'Opening handshakes waiting on verifyClient or authenticate.', samples: one(stats.pendingHandshakes) },
    { name: 'handshakes_total', type: 'counter', help: 'Opening handshakes completed (a connection was made).', samples: one(stats.handshakes) },
    { name: 'handshakes_per_second', type: 'gauge', help: 'Opening handshakes completed per second, over the last 10 seconds.', samples: one(stats.handshakesPerSecond) },
    {
      name: 'handshake_rejects_total',
      type: 'counter',
      help: 'Opening handshakes refused (or abandoned: status 0), by HTTP status and reason code.',
      samples: stats.rejects.map((reject) => ({ labels: [['status', String(reject.status)], ['code', reject.code]] as const, value: reject.count })),
    },
    { name: 'connections_closed_total', type: 'counter', help: 'WebSocket connections closed.', samples: one(stats.closed) },
    { name: 'messages_received_total', type: 'counter', help: 'Whole messages received (control frames not included).', samples: one(stats.messagesIn) },
    { name: 'messages_sent_total', type: 'counter', help: 'Messages accepted for sending, a broadcast or publish once per connection.', samples: one(stats.messagesOut) },
    { name: 'received_bytes_total', type: 'counter', help: 'Bytes read from the connections\' sockets (handshake included; HTTP/2 streams not counted).', samples: one(stats.bytesIn) },
    { name: 'sent_bytes_total', type: 'counter', help: 'Bytes written to the connections\' sockets (handshake included; HTTP/2 streams not counted).', samples: one(stats.bytesOut) },
    { name: 'buffered_bytes', type: 'gauge', help: 'Bytes accepted for sending and not yet handed to the operating system.', samples: one(stats.bufferedBytes) },
    { name: 'topics', type: 'gauge', help: 'Topics with at least one subscriber on this server.', samples: one(stats.topics) },
    { name: 'topic_subscriptions', type: 'gauge', help: 'Subscriptions on this server, summed over the topics.', samples: one(stats.subscriptions) },
  ];
  let text = '';
  for (const metric of metrics) {
    const name = prefix + metric.name;
    text += `# HELP ${name} ${escapeHelp(metric.help)}\n# TYPE ${name} ${metric.type}\n`;
    for (const sample of metric.samples) text += `${name}${formatLabels([...sample.labels, ...constant])} ${formatValue(sample.value)}\n`;
  }
  return text;
}

function isProvider(source: ServerStats | StatsProvider): source is StatsProvider {
  return typeof (source as Partial<StatsProvider>).stats === 'function';
}

function constantLabels(labels: Readonly<Record<string, string>> | undefined): Labels {
  if (labels === undefined) return [];
  if (typeof labels !== 'object' || labels === null) throw new TypeError('prometheusText: labels must be an object of strings');
  const out: Array<readonly [string, string]> = [];
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new TypeError(`prometheusText: invalid label name ${JSON.stringify(name)} (it must match ${String(LABEL_NAME)} and not start with "__")`);
    if (name === 'status' || name === 'code') throw new TypeError(`prometheusText: the label ${name} is the rejects' own`);
    if (typeof value !== 'string') throw new TypeError(`prometheusText: the value of label ${name} must be a string`);
    out.push([name, value]);
  }
  return out;
}

/** HELP text: backslash and line feed escaped. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A label value: backslash, double quote and line feed escaped. */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`;
}

/** Numbers as Go's ParseFloat reads them: integers as they are, NaN and the infinities spelled out. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
