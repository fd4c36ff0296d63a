/** docs/benchmarks.svg: one bar per scenario, fullduplex's ratio to ws, with its target marked. */

interface ChartRecord {
  date: string;
  machine: { cores: number; cpu: string; node: string; pinning: string };
  scenarios: Record<string, { title: string; ratio: number; target: number; met: boolean }>;
}

const escape = (text: string): string => text.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch]!);

export function renderChart(record: ChartRecord): string {
  const entries = Object.entries(record.scenarios);
  const width = 760;
  const labelWidth = 300;
  const barArea = width - labelWidth - 90;
  const rowHeight = 34;
  const top = 58;
  const height = top + entries.length * rowHeight + 46;
  const maxRatio = Math.max(2, ...entries.map(([, s]) => Math.max(s.ratio, s.target))) * 1.1;
  const x = (ratio: number): number => labelWidth + (ratio / maxRatio) * barArea;
  let rows = '';
  entries.forEach(([name, scenario], index) => {
    const y = top + index * rowHeight;
    const color = scenario.met ? '#1a7f37' : '#bc4c00';
    rows +=
      `<text x="${labelWidth - 10}" y="${y + 15}" text-anchor="end" font-size="12" fill="#1d2330">${escape(name)}</text>` +
      `<text x="${labelWidth - 10}" y="${y + 28}" text-anchor="end" font-size="9.5" fill="#6e7781">${escape(scenario.title.slice(0, 52))}</text>` +
      `<rect x="${labelWidth}" y="${y + 6}" width="${Math.max(1, x(scenario.ratio) - labelWidth).toFixed(1)}" height="18" rx="3" fill="${color}"/>` +
      `<line x1="${x(scenario.target).toFixed(1)}" x2="${x(scenario.target).toFixed(1)}" y1="${y + 2}" y2="${y + 28}" stroke="#1d2330" stroke-width="2" stroke-dasharray="3 2"/>` +
      `<text x="${(x(scenario.ratio) + 6).toFixed(1)}" y="${y + 19}" font-size="12" font-weight="600" fill="${color}">${scenario.ratio.toFixed(2)}x</text>`;
  });
  const one = x(1).toFixed(1);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="20" y="26" font-size="16" font-weight="700" fill="#1d2330">fullduplex vs ws: how many times better (higher is better)</text>
<text x="20" y="44" font-size="11" fill="#5b6475">${escape(`${record.machine.cores} cores (${record.machine.cpu}), Node ${record.machine.node}, ${record.machine.pinning}; ${record.date.slice(0, 10)}. Dashed line: target.`)}</text>
<line x1="${one}" x2="${one}" y1="${top}" y2="${top + entries.length * rowHeight}" stroke="#8c959f" stroke-width="1"/>
<text x="${one}" y="${top + entries.length * rowHeight + 14}" text-anchor="middle" font-size="10" fill="#5b6475">1x = ws</text>
${rows}
</svg>
`;
}
