/**
 * The bench report as one self-contained HTML file: tables plus inline SVG charts
 * (latency distribution, throughput over time, dpg against its baselines). No
 * scripts, no external styles or fonts, so it opens anywhere and can be attached.
 */
import type { BenchReport, ScenarioResult } from './report-types.ts';

const COLORS: Record<string, string> = { dpg: '#1f77b4', plain: '#ff7f0e', worker: '#2ca02c' };
const LABELS: Record<string, string> = { dpg: 'dpg', plain: 'plain PostgreSQL', worker: 'worker direct' };
const W = 560;
const H = 240;
const PAD = { left: 56, right: 12, top: 16, bottom: 40 };

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const fmt = (v: number) => (!Number.isFinite(v) ? '-' : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

interface Series {
  name: string;
  points: [number, number][];
}

function legend(names: string[]): string {
  return names.map((name, i) => `<rect x="${PAD.left + i * 140}" y="${H - 12}" width="10" height="10" fill="${COLORS[name] ?? '#777'}"/><text x="${PAD.left + 14 + i * 140}" y="${H - 3}" font-size="11">${esc(LABELS[name] ?? name)}</text>`).join('');
}

function axes(xLabel: string, yLabel: string, yMax: number, xTicks: { x: number; label: string }[]): string {
  const plotH = H - PAD.top - PAD.bottom;
  const parts = [`<line x1="${PAD.left}" y1="${H - PAD.bottom}" x2="${W - PAD.right}" y2="${H - PAD.bottom}" stroke="#333"/>`, `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${H - PAD.bottom}" stroke="#333"/>`];
  for (let i = 0; i <= 4; i++) {
    const y = H - PAD.bottom - (i / 4) * plotH;
    parts.push(`<line x1="${PAD.left}" y1="${y}" x2="${W - PAD.right}" y2="${y}" stroke="#eee"/><text x="${PAD.left - 4}" y="${y + 4}" font-size="10" text-anchor="end">${fmt((yMax * i) / 4)}</text>`);
  }
  for (const t of xTicks) parts.push(`<text x="${t.x}" y="${H - PAD.bottom + 13}" font-size="10" text-anchor="middle">${esc(t.label)}</text>`);
  parts.push(`<text x="${(PAD.left + W - PAD.right) / 2}" y="${H - PAD.bottom + 26}" font-size="11" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text x="12" y="${(PAD.top + H - PAD.bottom) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${(PAD.top + H - PAD.bottom) / 2})">${esc(yLabel)}</text>`);
  return parts.join('');
}

/** Lines over x in [0, xMax]; `xTickLabel` names the ticks at each whole x. */
function lineChart(title: string, series: Series[], xLabel: string, yLabel: string, xTickLabel: (x: number) => string, xTickEvery = 1): string {
  const xMax = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[0])));
  const yMax = Math.max(1e-9, ...series.flatMap((s) => s.points.map((p) => p[1]))) * 1.1;
  const sx = (x: number) => PAD.left + (x / xMax) * (W - PAD.left - PAD.right);
  const sy = (y: number) => H - PAD.bottom - (y / yMax) * (H - PAD.top - PAD.bottom);
  const ticks: { x: number; label: string }[] = [];
  const step = Math.max(xTickEvery, Math.ceil(xMax / 10 / xTickEvery) * xTickEvery);
  for (let x = 0; x <= xMax; x += step) ticks.push({ x: sx(x), label: xTickLabel(x) });
  const lines = series.map((s) => `<polyline fill="none" stroke="${COLORS[s.name] ?? '#777'}" stroke-width="1.8" points="${s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`);
  return `<figure><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${axes(xLabel, yLabel, yMax, ticks)}${lines.join('')}${legend(series.map((s) => s.name))}</svg></figure>`;
}

/** Groups of bars (one group per label, one bar per target). */
function barChart(title: string, groups: { label: string; bars: { name: string; value: number }[] }[], yLabel: string): string {
  const yMax = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)))) * 1.15;
  const plotW = W - PAD.left - PAD.right;
  const groupW = plotW / Math.max(1, groups.length);
  const names = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.name)))];
  const barW = (groupW * 0.8) / Math.max(1, names.length);
  const sy = (y: number) => H - PAD.bottom - (y / yMax) * (H - PAD.top - PAD.bottom);
  const bars = groups.flatMap((g, gi) => g.bars.map((b) => {
    const x = PAD.left + gi * groupW + groupW * 0.1 + names.indexOf(b.name) * barW;
    const v = Number.isFinite(b.value) ? b.value : 0;
    return `<rect x="${x.toFixed(1)}" y="${sy(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(H - PAD.bottom - sy(v)).toFixed(1)}" fill="${COLORS[b.name] ?? '#777'}"><title>${esc(`${g.label} ${LABELS[b.name] ?? b.name}: ${fmt(b.value)}`)}</title></rect>`;
  }));
  const ticks = groups.map((g, gi) => ({ x: PAD.left + gi * groupW + groupW / 2, label: g.label }));
  return `<figure><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">${axes('', yLabel, yMax, ticks)}${bars.join('')}${legend(names)}</svg></figure>`;
}

function latencyChart(s: ScenarioResult): string {
  const bounds = s.targets[0]!.histogram.boundsMs;
  // Only the buckets that hold requests (plus one each side): the fixed buckets span 0.1 ms to 100 s.
  const used = s.targets.flatMap((t) => t.histogram.counts.flatMap((c, i) => (c > 0 ? [i] : [])));
  const lo = Math.max(0, Math.min(...used, bounds.length - 1) - 1);
  const hi = Math.min(bounds.length - 1, Math.max(...used, 0) + 1);
  const series = s.targets.map((t) => {
    const total = Math.max(1, t.histogram.counts.reduce((a, b) => a + b, 0));
    return { name: t.target, points: t.histogram.counts.slice(lo, hi + 1).map((c, i) => [i, (100 * c) / total] as [number, number]) };
  });
  return lineChart(`${s.name}: latency distribution`, series, 'latency, ms (bucket upper bound)', '% of requests', (i) => (bounds[i + lo]! >= 1e9 ? 'more' : fmt(bounds[i + lo]!)));
}

function throughputChart(s: ScenarioResult): string {
  const series = s.targets.map((t) => ({ name: t.target, points: t.timeline.map((n, i) => [i + 1, n] as [number, number]) }));
  return lineChart(`${s.name}: throughput over time`, series, 'second of the run', 'completed / s', (x) => String(x));
}

function comparisonChart(report: BenchReport): string {
  const searches = report.scenarios.filter((s) => s.kind === 'search');
  if (searches.length === 0) return '';
  const groups = searches.flatMap((s) => (['medianMs', 'p95Ms', 'p99Ms'] as const).map((key) => ({
    label: `${s.name.replace(/_search$/, '')} ${key === 'medianMs' ? 'p50' : key.replace('Ms', '')}`,
    bars: s.targets.map((t) => ({ name: t.target, value: t.latency[key] })),
  })));
  return barChart('dpg vs baselines: latency (ms)', groups, 'ms');
}

function tables(report: BenchReport): string {
  const rows = report.scenarios.flatMap((s) => s.targets.map((t) => `<tr><td>${esc(s.name)}</td><td>${esc(LABELS[t.target]!)}</td><td>${s.config.targetQps}</td><td>${t.concurrency}</td><td>${fmt(t.throughputPerSecond)}</td>${[t.latency.minMs, t.latency.medianMs, t.latency.meanMs, t.latency.p95Ms, t.latency.p99Ms, t.latency.p999Ms].map((v) => `<td>${fmt(v)}</td>`).join('')}<td>${t.errors}</td><td>${t.dropped}</td><td>${t.recall === null ? '-' : t.recall.toFixed(3)}</td></tr>`));
  const ratioRows = report.scenarios.flatMap((s) => Object.entries(s.ratios).map(([name, r]) => `<tr><td>${esc(s.name)}</td><td>${esc(LABELS[name]!)}</td><td>${fmt(r!.medianMs)}x</td><td>${fmt(r!.p95Ms)}x</td><td>${fmt(r!.p99Ms)}x</td><td>${fmt(r!.throughput)}x</td></tr>`));
  const checkRows = report.scenarios.map((s) => `<tr><td>${esc(s.name)}</td>${(['p50', 'p95', 'p99', 'throughput'] as const).map((m) => {
    const c = s.checks.find((x) => x.metric === m);
    if (!c) return '<td>-</td>';
    const cls = c.pass === null ? 'na' : c.pass ? 'pass' : 'miss';
    return `<td class="${cls}">${c.pass === null ? 'n/a' : c.pass ? 'pass' : 'miss'} (${fmt(c.actual)} / ${c.goal})</td>`;
  }).join('')}</tr>`);
  return `<h2>Results</h2><p>Latency in ms from each request's scheduled arrival (open loop: queueing included).</p>
<table><tr><th>scenario</th><th>target</th><th>offered/s</th><th>connections</th><th>done/s</th><th>min</th><th>p50</th><th>mean</th><th>p95</th><th>p99</th><th>p99.9</th><th>errors</th><th>dropped</th><th>recall@k</th></tr>${rows.join('')}</table>
<h2>dpg / baseline</h2><p>Latency above 1x: dpg is slower; throughput above 1x: dpg served more.</p>
<table><tr><th>scenario</th><th>baseline</th><th>p50</th><th>p95</th><th>p99</th><th>throughput</th></tr>${ratioRows.join('')}</table>
${tierTable(report)}<h2>Seed targets (dpg)</h2><table><tr><th>scenario</th><th>p50 ≤ 10 ms</th><th>p95 ≤ 25 ms</th><th>p99 ≤ 50 ms</th><th>throughput</th></tr>${checkRows.join('')}</table>`;
}

export function renderHtml(report: BenchReport): string {
  const d = report.dataset;
  const charts = report.scenarios.map((s) => `<h3>${esc(s.name)}</h3><div class="charts">${latencyChart(s)}${throughputChart(s)}</div>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dpg bench ${esc(report.startedAt)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}td:first-child,td:nth-child(2),th{text-align:left}.pass{background:#e6f4ea}.miss{background:#fde7e9}.na{color:#888}.charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:13px;font-weight:600}</style></head>
<body><h1>dpg bench</h1>
<p>${esc(report.startedAt)}, ${report.quick ? 'quick mode, ' : ''}${report.arrival} arrivals, ${fmt(report.seconds)} s in all.
Data: ${d.rows} rows × 384 dims in ${d.namespaces} namespaces (${d.largestNamespaceRows} … ${d.smallestNamespaceRows} rows), seed ${d.seed}${d.reused ? ', reused from an earlier run' : `, loaded in ${fmt(d.loadSeconds)} s`}.
Baselines: ${report.baseline.plain ? `one plain PostgreSQL + pgvector node (HNSW m=${report.baseline.plain.m}, ef_construction=${report.baseline.plain.efConstruction}, hnsw.iterative_scan=${esc(report.baseline.plain.iterativeScan)})` : 'none'}; ${report.baseline.workers} workers queried directly. Recall measured on ${report.recallSample} queries per search scenario against exact search.</p>
${tables(report)}
<h2>Charts</h2>${comparisonChart(report)}${charts}
</body></html>
`;
}

function tierTable(report: BenchReport): string {
  const tiers = report.tiers;
  if (!tiers) return '';
  const cell = (v: number | null | undefined, digits = 2) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));
  const rows = [...tiers.groups, ...(tiers.single ? [tiers.single] : [])].flatMap((g) =>
    ([['dpg', g.dpg], ['plain', g.plain]] as const)
      .filter(([, t]) => t)
      .map(([name, t]) => `<tr><td>${g.tier}</td><td>${name}</td><td>${g.namespaces}</td><td>${g.rowsMin}-${g.rowsMax}</td><td>${g.queries}</td><td>${cell(t!.p50Ms)}</td><td>${cell(t!.p99Ms)}</td><td>${cell(t!.qps, 0)}</td><td>${cell(t!.recall, 3)}</td><td>${cell(t!.meanRows, 1)}</td><td>${name === 'dpg' ? cell(g.p50Ratio) : ''}</td></tr>`),
  );
  return `<h2>Namespace tiers</h2><p>Closed loop, 4 connections. Plain: one PostgreSQL with every row under one HNSW index, iterative scans on.${tiers.crossToSingleP50 === null ? '' : ` Cross-namespace p50 / single-namespace p50 on dpg: ${cell(tiers.crossToSingleP50)}x.`}</p>
<table><tr><th>tier</th><th>target</th><th>namespaces</th><th>rows</th><th>queries</th><th>p50 ms</th><th>p99 ms</th><th>QPS</th><th>recall</th><th>rows/query</th><th>p50 dpg/plain</th></tr>${rows.join('')}</table>`;
}
