/**
 * docs/benchmarks.svg: one bar per scenario (and one per extra line of a scenario), fullduplex's ratio
 * to ws, with its target marked. A line without a target (shown for information) is drawn in grey; one
 * without ws to compare with (no ratio) has no bar, only fullduplex's own figure, in grey. Where the
 * run measured the raw ceiling (a raw node:net or tls server doing the same work on the wire), a
 * dotted mark labelled "raw" shows where raw stands on the same scale (raw against ws).
 */

interface ChartLine {
  title: string;
  /** NaN, or null from the JSON, without ws. */
  ratio: number | null;
  target?: number;
  met?: boolean;
  unit?: string;
  medians?: { fullduplex?: number; ws?: number };
  /** fullduplex as a share of the raw ceiling (see bench/run.ts), when raw was measured. */
  ofRaw?: { fullduplex?: number };
}

interface ChartRecord {
  date: string;
  machine: { cores: number; cpu: string; node: string; pinning: string };
  scenarios: Record<string, ChartLine & { lines?: Record<string, ChartLine> }>;
}

const escape = (text: string): string => text.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch]!);

export function renderChart(record: ChartRecord): string {
  const entries: [string, ChartLine][] = [];
  for (const [name, scenario] of Object.entries(record.scenarios)) {
    entries.push([name, scenario]);
    for (const [lineName, line] of Object.entries(scenario.lines ?? {})) entries.push([`${name} · ${lineName}`, line]);
  }
  const width = 760;
  const labelWidth = 300;
  const barArea = width - labelWidth - 90;
  const rowHeight = 34;
  const top = 58;
  const height = top + entries.length * rowHeight + 46;
  const finite = (value: number | null | undefined): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  // One outlier (a 30x) would squash every other bar: the scale stops at 8x (or the largest target) and
  // longer bars are cut there, their label still giving the value.
  const CLIP = Math.max(8, ...entries.map(([, s]) => finite(s.target)));
  const maxRatio = Math.max(2, ...entries.map(([, s]) => Math.max(Math.min(finite(s.ratio), CLIP), finite(s.target)))) * 1.1;
  const x = (ratio: number): number => labelWidth + (Math.min(ratio, maxRatio) / maxRatio) * barArea;
  let rows = '';
  entries.forEach(([name, scenario], index) => {
    const y = top + index * rowHeight;
    const color = scenario.met === undefined ? '#8c959f' : scenario.met ? '#1a7f37' : '#bc4c00';
    rows +=
      `<text x="${labelWidth - 10}" y="${y + 15}" text-anchor="end" font-size="12" fill="#1d2330">${escape(name)}</text>` +
      `<text x="${labelWidth - 10}" y="${y + 28}" text-anchor="end" font-size="9.5" fill="#6e7781">${escape(scenario.title.length > 52 ? `${scenario.title.slice(0, 51)}…` : scenario.title)}</text>`;
    if (typeof scenario.ratio !== 'number' || !Number.isFinite(scenario.ratio)) {
      const ours = scenario.medians?.fullduplex;
      const figure = ours === undefined || scenario.medians?.ws !== undefined ? 'n/a' : `fullduplex only: ${ours >= 100 ? Math.round(ours).toLocaleString('en-US') : ours.toFixed(2)} ${scenario.unit ?? ''} (no ws to compare)`;
      // Right of the 1x line, which would cross the text.
      rows += `<text x="${(x(1) + 8).toFixed(1)}" y="${y + 19}" font-size="12" fill="${color}">${escape(figure)}</text>`;
      return;
    }
    const ratio = scenario.ratio;
    // raw against ws, on the bar's scale: (fullduplex against ws) / (fullduplex against raw).
    const rawRatio = ratio / finite(scenario.ofRaw?.fullduplex);
    const hasRaw = Number.isFinite(rawRatio) && rawRatio > 0;
    if (hasRaw) {
      const at = x(rawRatio).toFixed(1);
      rows +=
        `<line x1="${at}" x2="${at}" y1="${y + 3}" y2="${y + 27}" stroke="#57606a" stroke-width="1.5" stroke-dasharray="1 2"/>` +
        `<text x="${at}" y="${y + 3}" text-anchor="middle" font-size="8" fill="#57606a">raw${rawRatio > maxRatio ? ' ›' : ''}</text>`;
    }
    rows +=
      `<rect x="${labelWidth}" y="${y + 6}" width="${Math.max(1, x(ratio) - labelWidth).toFixed(1)}" height="18" rx="3" fill="${color}"/>` +
      (scenario.target === undefined
        ? ''
        : `<line x1="${x(scenario.target).toFixed(1)}" x2="${x(scenario.target).toFixed(1)}" y1="${y + 2}" y2="${y + 28}" stroke="#1d2330" stroke-width="2" stroke-dasharray="3 2"/>`) +
      `<text x="${(x(Math.max(ratio, finite(scenario.target), hasRaw ? rawRatio : 0)) + 6).toFixed(1)}" y="${y + 19}" font-size="12" font-weight="600" fill="${color}">${ratio.toFixed(2)}x</text>`;
  });
  const one = x(1).toFixed(1);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="20" y="26" font-size="16" font-weight="700" fill="#1d2330">fullduplex vs ws: how many times better (higher is better)</text>
<text x="20" y="44" font-size="11" fill="#5b6475">${escape(`${record.machine.cores} cores (${record.machine.cpu}), Node ${record.machine.node}, ${record.machine.pinning}; ${record.date.slice(0, 10)}. Dashed: target; grey: no target.`)}</text>
<line x1="${one}" x2="${one}" y1="${top}" y2="${top + entries.length * rowHeight}" stroke="#8c959f" stroke-width="1"/>
<text x="${one}" y="${top + entries.length * rowHeight + 14}" text-anchor="middle" font-size="10" fill="#5b6475">1x = ws</text>
${entries.some(([, line]) => line.ofRaw?.fullduplex !== undefined) ? `<text x="20" y="${top + entries.length * rowHeight + 32}" font-size="10" fill="#5b6475">Dotted "raw": a bare node:net or tls server doing the same work on the wire (no HTTP parser, no WebSocket library), against ws.</text>` : ''}
${rows}
</svg>
`;
}
