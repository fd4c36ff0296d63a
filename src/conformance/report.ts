/**
 * Reports: a summary table for the terminal, `index.json` (one record per case: verdict, expected and
 * observed behaviour, wire log) and a self-contained `index.html` to browse.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaseResult } from './case.js';
import { VERDICTS, type Verdict } from './verdict.js';

export interface ReportInfo {
  /** What was tested ("server ws://127.0.0.1:9001" or "client agent fullduplex"). */
  readonly subject: string;
  readonly mode: 'server' | 'client';
  readonly startedAt: string;
  readonly node: string;
}

export interface Summary {
  readonly total: number;
  readonly counts: Record<Verdict, number>;
  readonly failed: string[];
  readonly nonStrict: string[];
  /** Cases whose verdict came from a wait that ran out (see `CaseResult.timedOut`). */
  readonly timedOut: string[];
}

export function summarize(results: readonly CaseResult[]): Summary {
  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  const failed: string[] = [];
  const nonStrict: string[] = [];
  const timedOut: string[] = [];
  for (const result of results) {
    counts[result.verdict]++;
    if (result.verdict === 'FAILED') failed.push(result.id);
    if (result.verdict === 'NON-STRICT') nonStrict.push(result.id);
    if (result.timedOut !== null) timedOut.push(result.id);
  }
  return { total: results.length, counts, failed, nonStrict, timedOut };
}

/** The summary as a small table: counts per section and verdict, then the failed cases. */
export function formatSummary(results: readonly CaseResult[]): string {
  const sections = new Map<string, Record<Verdict, number>>();
  for (const result of results) {
    const section = result.id.split('.')[0]!;
    let row = sections.get(section);
    if (row === undefined) {
      row = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
      sections.set(section, row);
    }
    row[result.verdict]++;
  }
  const widths = VERDICTS.map((v) => Math.max(v.length, 5));
  const line = (label: string, cells: Array<string | number>): string =>
    label.padEnd(10) + cells.map((cell, i) => String(cell).padStart(widths[i]! + 2)).join('') + '\n';
  let out = line('section', [...VERDICTS]);
  for (const [section, row] of sections) out += line(section, VERDICTS.map((v) => row[v]));
  const summary = summarize(results);
  out += line('total', VERDICTS.map((v) => summary.counts[v]));
  if (summary.failed.length > 0) out += `\nFAILED: ${summary.failed.join(', ')}\n`;
  if (summary.nonStrict.length > 0) out += `NON-STRICT: ${summary.nonStrict.join(', ')}\n`;
  if (summary.timedOut.length > 0) {
    out += `TIMED OUT (a slow peer or a loaded machine; a larger time scale gives more time): ${summary.timedOut.join(', ')}\n`;
    for (const result of results) if (result.timedOut !== null) out += `  ${result.id}: ${result.timedOut}\n`;
  }
  return out;
}

/** Write `index.json` and `index.html` into `dir`. Returns the paths. */
export function writeReport(dir: string, info: ReportInfo, results: readonly CaseResult[]): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'index.json');
  const html = join(dir, 'index.html');
  writeFileSync(json, JSON.stringify({ ...info, summary: summarize(results), cases: results }, null, 1) + '\n');
  writeFileSync(html, renderHtml(info, results));
  return { json, html };
}

const escape = (text: string): string =>
  text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);

/** Autobahn's case texts carry a little HTML (line breaks, bold): keep the breaks, drop the tags. */
const plain = (text: string): string =>
  text
    .replace(/\s*<br\s*\/?>\s*/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/\n{2,}/g, '\n')
    .trim();

const OPCODES: Record<number, string> = { 0: 'CONT', 1: 'TEXT', 2: 'BINARY', 8: 'CLOSE', 9: 'PING', 10: 'PONG' };

function renderCase(result: CaseResult): string {
  const events = (list: readonly CaseResult['received'][number][]): string =>
    list.length === 0
      ? '<i>nothing</i>'
      : list.map((e) => escape(e.type === 'timeout' ? `timeout ${e.tag}` : `${e.type}${e.type === 'message' ? (e.binary ? ' (binary)' : ' (text)') : ''} ${e.length} bytes ${e.preview}`)).join('<br>');
  const expected = Object.entries(result.expected)
    .map(([behavior, list]) => `<div><b>${escape(behavior)}</b>: ${events(list)}</div>`)
    .join('');
  const o = result.observed;
  const wire = result.wirelog
    .map((entry) => {
      let text: string;
      switch (entry.kind) {
        case 'tx-frame':
        case 'rx-frame':
          text = `${entry.kind === 'tx-frame' ? 'TX' : 'RX'} frame ${OPCODES[entry.opcode] ?? `opcode ${entry.opcode}`} fin=${entry.fin} rsv=${entry.rsv} masked=${entry.masked} len=${entry.length} ${entry.preview}${entry.chopsize ? ` chopsize=${entry.chopsize}` : ''}`;
          break;
        case 'tx-octets':
        case 'rx-octets':
          text = `${entry.kind === 'tx-octets' ? 'TX' : 'RX'} ${entry.length} octets ${entry.preview}`;
          break;
        case 'timer':
          text = `timer: ${entry.action} in ${entry.delay} s${entry.tag ? ` (${entry.tag})` : ''}`;
          break;
        case 'timer-fired':
          text = `timer fired: ${entry.action}${entry.tag ? ` (${entry.tag})` : ''}`;
          break;
        default:
          text = entry.text;
      }
      return `<tr><td>${entry.at}</td><td>${escape(text)}</td></tr>`;
    })
    .join('');
  return `<details id="case-${escape(result.id)}" class="${escape(result.verdict)}">
<summary><span class="id">${escape(result.id)}</span> <span class="verdict">${escape(result.verdict)}</span> ${escape(plain(result.description).split('\n')[0]!.slice(0, 160))}</summary>
<dl>
<dt>Description</dt><dd class="text">${escape(plain(result.description))}</dd>
<dt>Expectation</dt><dd class="text">${escape(plain(result.expectation))}</dd>
<dt>Behaviour</dt><dd>${escape(result.behavior)}: ${escape(result.result)}</dd>
<dt>Closing behaviour</dt><dd>${escape(result.behaviorClose)}: ${escape(result.resultClose)}</dd>${result.timedOut === null ? '' : `
<dt>Timed out</dt><dd>${escape(result.timedOut)}</dd>`}
<dt>Expected</dt><dd>${expected || '<i>nothing</i>'}</dd>
<dt>Observed</dt><dd>${events(result.received)}</dd>
<dt>Expected close</dt><dd>${escape(JSON.stringify(result.expectedClose))}</dd>
<dt>Observed close</dt><dd>closedByMe=${o.closedByMe} failedByMe=${o.failedByMe} droppedByMe=${o.droppedByMe} wasClean=${o.wasClean} remoteCloseCode=${o.remoteCloseCode} remoteCloseReason=${escape(JSON.stringify(o.remoteCloseReason))} localCloseCode=${o.localCloseCode}</dd>
<dt>Duration</dt><dd>${result.durationMs} ms</dd>
<dt>Handshake</dt><dd><pre>${escape(result.handshake.request.trim())}\n\n${escape(result.handshake.response.trim())}</pre></dd>
</dl>
<table class="wire"><tr><th>ms</th><th>wire log</th></tr>${wire}</table>
</details>`;
}

function renderHtml(info: ReportInfo, results: readonly CaseResult[]): string {
  const summary = summarize(results);
  const counts = VERDICTS.map((v) => `<span class="pill ${v}">${v}: ${summary.counts[v]}</span>`).join(' ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Conformance: ${escape(info.subject)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d2330;background:#fafbfc}
h1{font-size:1.4rem;margin:0 0 .3rem} .meta{color:#5b6475;margin-bottom:1rem}
.pill{display:inline-block;padding:.15rem .6rem;border-radius:1rem;margin-right:.3rem;font-weight:600;font-size:.85rem}
.OK{--c:#1a7f37}.NON-STRICT{--c:#9a6700}.INFORMATIONAL{--c:#0969da}.UNIMPLEMENTED{--c:#6e7781}.FAILED{--c:#cf222e}
.pill{background:color-mix(in srgb,var(--c) 14%,white);color:var(--c)}
details{background:white;border:1px solid #d8dee4;border-left:4px solid var(--c);border-radius:6px;margin:.35rem 0;padding:.3rem .7rem}
summary{cursor:pointer} .id{font-family:ui-monospace,monospace;font-weight:600;display:inline-block;min-width:4.5rem}
.verdict{color:var(--c);font-weight:700;display:inline-block;min-width:8rem}
dl{display:grid;grid-template-columns:10rem 1fr;gap:.2rem 1rem} dt{color:#5b6475} dd{margin:0;word-break:break-word} dd.text{white-space:pre-line}
pre{white-space:pre-wrap;font-size:12px;margin:0} table.wire{font:12px ui-monospace,monospace;border-collapse:collapse;margin:.5rem 0}
table.wire td{border-top:1px solid #eef0f2;padding:.1rem .5rem;vertical-align:top} table.wire td:first-child{color:#8c959f;text-align:right}
#filter{margin:.5rem 0 1rem;padding:.3rem .5rem;width:20rem}
</style></head><body>
<h1>WebSocket conformance: ${escape(info.subject)}</h1>
<div class="meta">${escape(info.mode === 'server' ? 'Server under test' : 'Client under test')} · ${summary.total} cases · ${escape(info.startedAt)} · Node ${escape(info.node)} · fullduplex conformance (Autobahn|Testsuite numbering)</div>
<div>${counts}</div>
<input id="filter" placeholder="Filter: case id or verdict (e.g. 6.4 or FAILED)">
<div id="cases">${results.map(renderCase).join('\n')}</div>
<script>
document.getElementById('filter').addEventListener('input', (e) => {
  const q = e.target.value.trim().toUpperCase();
  for (const d of document.querySelectorAll('#cases details')) {
    const id = d.id.slice(5);
    d.style.display = !q || id.startsWith(q) || d.className === q ? '' : 'none';
  }
});
</script>
</body></html>
`;
}
