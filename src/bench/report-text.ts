/** The bench report as terminal lines: one row per scenario and target, then ratios and the seed's targets. */
import type { BenchReport, TargetCheck } from './report-types.ts';

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : '-');
const ratio = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : `${v.toFixed(2)}x`);

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd());
}

function mark(check: TargetCheck): string {
  return check.pass === null ? 'n/a' : check.pass ? 'pass' : 'MISS';
}

export function formatReport(report: BenchReport): string[] {
  const lines: string[] = [''];
  const rows: string[][] = [['scenario', 'target', 'offered/s', 'done/s', 'min', 'p50', 'mean', 'p95', 'p99', 'p99.9', 'errors', 'dropped', 'recall']];
  for (const s of report.scenarios) {
    for (const t of s.targets) {
      rows.push([
        s.name, t.target, String(s.config.targetQps), t.throughputPerSecond.toFixed(1),
        ms(t.latency.minMs), ms(t.latency.medianMs), ms(t.latency.meanMs), ms(t.latency.p95Ms), ms(t.latency.p99Ms), ms(t.latency.p999Ms),
        String(t.errors), String(t.dropped), t.recall === null ? '-' : t.recall.toFixed(3),
      ]);
    }
  }
  lines.push('latency in ms, from scheduled arrival (queueing included)');
  lines.push(...table(rows));

  const searches = report.scenarios.filter((s) => s.ratios.plain || s.ratios.worker);
  if (searches.length) {
    lines.push('', 'dpg / baseline (latency above 1x: dpg slower; throughput above 1x: dpg served more)');
    const ratioRows = [['scenario', 'baseline', 'p50', 'p95', 'p99', 'throughput']];
    for (const s of searches) {
      for (const [name, r] of Object.entries(s.ratios)) {
        ratioRows.push([s.name, name === 'plain' ? 'plain PostgreSQL' : 'worker direct', ratio(r?.medianMs), ratio(r?.p95Ms), ratio(r?.p99Ms), ratio(r?.throughput)]);
      }
    }
    lines.push(...table(ratioRows));
  }

  lines.push('', "dpg against the seed's targets (p50 10 ms, p95 25 ms, p99 50 ms; 10,000 QPS; 5,000 insert rows/s)");
  const checkRows = [['scenario', 'check', 'p50', 'p95', 'p99', 'throughput']];
  for (const s of report.scenarios) {
    const by = (metric: TargetCheck['metric']) => s.checks.find((c) => c.metric === metric);
    const cell = (metric: TargetCheck['metric']) => {
      const c = by(metric);
      return c ? `${mark(c)} (${metric === 'throughput' ? c.actual.toFixed(0) : ms(c.actual)})` : '-';
    };
    checkRows.push([s.name, '', cell('p50'), cell('p95'), cell('p99'), cell('throughput')]);
  }
  lines.push(...table(checkRows));
  if (report.tiers) lines.push('', ...formatTiers(report.tiers));
  const errors = report.scenarios.flatMap((s) => s.targets.flatMap((t) => t.errorSamples.map((e) => `${s.name} on ${t.target}: ${e}`)));
  if (errors.length) lines.push('', 'errors (samples):', ...errors.slice(0, 10).map((e) => `  ${e}`));
  if (report.files) lines.push('', `report: ${report.files.html}`, `json:   ${report.files.json}`);
  return lines;
}

/** The per-tier namespace search table (closed loop, 4 connections). */
export function formatTiers(tiers: NonNullable<BenchReport['tiers']>): string[] {
  const lines = ['namespace tiers: closed loop, 4 connections; plain = one PostgreSQL with every row, iterative scans on'];
  const rows = [['tier', 'target', 'namespaces', 'rows', 'queries', 'p50', 'p99', 'QPS', 'recall', 'rows/query', 'p50 vs plain']];
  for (const g of [...tiers.groups, ...(tiers.single ? [tiers.single] : [])]) {
    for (const [name, t] of [['dpg', g.dpg], ['plain', g.plain]] as const) {
      if (!t) continue;
      rows.push([
        g.tier, name, String(g.namespaces), `${g.rowsMin}-${g.rowsMax}`, String(g.queries), ms(t.p50Ms), ms(t.p99Ms), t.qps.toFixed(0),
        t.recall === null ? '-' : t.recall.toFixed(3), t.meanRows.toFixed(1), name === 'dpg' ? ratio(g.p50Ratio ?? undefined) : '',
      ]);
    }
  }
  lines.push(...table(rows));
  if (tiers.crossToSingleP50 !== null) lines.push(`cross-namespace p50 / single-namespace p50 on dpg: ${ratio(tiers.crossToSingleP50)} (goal: at most 2x)`);
  return lines;
}
