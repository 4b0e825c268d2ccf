import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { METRICS } from '../../src/metrics/metric-names.ts';

/**
 * The monitoring files (monitoring/): alert rules and their promtool unit tests,
 * Grafana dashboards and provisioning. promtool is the real one (Debian's
 * prometheus package); every metric an expression names must be one dpg exports.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const monitoring = join(root, 'monitoring');
const alertsFile = join(monitoring, 'prometheus/alerts.yml');
const alertTestsFile = join(monitoring, 'prometheus/alerts.test.yml');
const dashboardsDir = join(monitoring, 'grafana/dashboards');

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile('promtool', args, { cwd: root }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error); // promtool missing: the test fails
      resolve({ code: error ? Number(error.code) : 0, output: stdout + stderr });
    });
  });
}

// ---- PromQL metric names

/** PromQL aggregation operators: followed by "(" or by a by/without clause. */
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile']);
/** PromQL functions and aggregation operators: identifiers that are followed by "(". */
const FUNCTIONS = new Set([
  ...AGGREGATIONS,
  ...`abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week day_of_year
   days_in_month delta deriv exp floor histogram_count histogram_sum histogram_fraction histogram_quantile
   holt_winters hour idelta increase irate label_join label_replace ln log2 log10 minute month predict_linear
   rate resets round scalar sgn sort sort_desc sqrt time timestamp vector year avg_over_time min_over_time
   max_over_time sum_over_time count_over_time quantile_over_time stddev_over_time stdvar_over_time
   last_over_time present_over_time acos acosh asin asinh atan atanh cos cosh sin sinh tan tanh deg rad pi
   start end`.split(/\s+/),
]);
/** Keywords followed by a list of label names in parentheses (none of them metrics). */
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'atan2', 'inf', 'nan', ...LABEL_LIST_KEYWORDS]);

/** Index just past the bracket that closes the one at `open`. */
function skipBalanced(text: string, open: number, close: string): number {
  const opener = text[open]!;
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === opener) depth++;
    else if (text[i] === close && --depth === 0) return i + 1;
  }
  throw new Error(`unbalanced "${opener}" at ${open} in: ${text}`);
}

/**
 * The metric names a PromQL expression selects. Strings, Grafana variables, label
 * matchers ({...}), ranges ([...]) and label lists after by/without/on/ignoring/
 * group_left/group_right are skipped; every other identifier not followed by "(" and
 * not a keyword is a metric. An unknown function name is an error.
 */
function metricNamesIn(expr: string): string[] {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' 0 ')
    .replace(/#.*$/gm, ' ')
    .replace(/\$\{[^}]*\}|\$\w+|\[\[\w+\]\]/g, ' 0 ');
  const names = new Set<string>();
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '{') {
      const end = skipBalanced(text, i, '}');
      if (text.slice(i, end).includes('__name__')) throw new Error(`selector by __name__ cannot be checked: ${expr}`);
      i = end;
    } else if (c === '[') {
      i = skipBalanced(text, i, ']');
    } else if (/[0-9.]/.test(c)) {
      i += /^[0-9.]+(?:[eE][+-]?[0-9]+)?[0-9A-Za-z_]*/.exec(text.slice(i))![0].length;
    } else if (/[A-Za-z_:]/.test(c)) {
      const word = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(text.slice(i))![0];
      i += word.length;
      while (/\s/.test(text[i] ?? '')) i++;
      const lower = word.toLowerCase();
      if (LABEL_LIST_KEYWORDS.has(lower) && text[i] === '(') i = skipBalanced(text, i, ')');
      else if (KEYWORDS.has(lower)) continue;
      else if (text[i] === '(') assert.ok(FUNCTIONS.has(word), `unknown PromQL function ${word} in: ${expr}`);
      else if (AGGREGATIONS.has(word) && /^(by|without)\s*\(/i.test(text.slice(i))) continue; // sum by (le) (...)
      else names.add(word);
    } else {
      i++;
    }
  }
  return [...names];
}

/** Why `name` is not a metric dpg, the PostgreSQL exporter or Prometheus exports; null when it is. */
function unknownMetric(name: string): string | null {
  if (name === 'up' || name.startsWith('pg_')) return null;
  const metrics: Record<string, { type: string }> = METRICS;
  if (name in metrics) {
    return metrics[name]!.type === 'histogram' ? `${name} is a histogram: select ${name}_bucket, _sum or _count` : null;
  }
  const series = /^(.+)_(bucket|sum|count)$/.exec(name);
  if (series && metrics[series[1]!]?.type === 'histogram') return null;
  return `${name} is not in METRICS (src/metrics/metric-names.ts)`;
}

describe('metricNamesIn', () => {
  test('histogram_quantile over a rate, by le', () => {
    assert.deepEqual(metricNamesIn('histogram_quantile(0.95, sum by (le) (rate(vector_search_duration_seconds_bucket[5m])))'), [
      'vector_search_duration_seconds_bucket',
    ]);
  });
  test('label names in matchers, by(), without(), on() and group_left() are not metrics', () => {
    assert.deepEqual(
      metricNamesIn('sum without (datid, datname) (a{job="x", le=~"0.5"}) / on (instance) group_left (shard_id) b > bool 0 and c unless d'),
      ['a', 'b', 'c', 'd'],
    );
    assert.deepEqual(metricNamesIn('sum(rate(x_total[5m])) by (route)'), ['x_total']);
  });
  test('Grafana variables, strings, numbers, durations, offset and comments', () => {
    assert.deepEqual(
      metricNamesIn('label_replace(m1{shard_id=~"$shard"}, "dst", "$1", "src", "(.*)") + rate(m2[$__rate_interval] offset 1h30m) * 1e-9 + 0x1F # m3'),
      ['m1', 'm2'],
    );
  });
  test('a metric followed by an operator or a parenthesis', () => {
    assert.deepEqual(metricNamesIn('(m1+m2)-m3>0'), ['m1', 'm2', 'm3']);
  });
  test('an unknown function is an error', () => {
    assert.throws(() => metricNamesIn('rates(m1[5m])'), /unknown PromQL function rates/);
  });
  test('metric names are checked against METRICS', () => {
    assert.equal(unknownMetric('shard_query_latency_seconds_bucket'), null);
    assert.equal(unknownMetric('dpg_statements_total'), null);
    assert.equal(unknownMetric('pg_stat_database_numbackends'), null);
    assert.equal(unknownMetric('up'), null);
    assert.match(unknownMetric('vector_search_duration_seconds')!, /is a histogram/);
    assert.match(unknownMetric('dpg_statements_total_count')!, /not in METRICS/);
    assert.match(unknownMetric('hnsw_index_build_duration_seconds_bucket')!, /not in METRICS/);
  });
});

// ---- Alert rules

type Rule = { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
const alertGroups = (YAML.parse(readFileSync(alertsFile, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups;
const alertRules = alertGroups.flatMap((g) => g.rules);

describe('alert rules (monitoring/prometheus/alerts.yml)', () => {
  test('promtool check rules passes', async () => {
    const { code, output } = await promtool('check', 'rules', alertsFile);
    assert.equal(code, 0, output);
    assert.match(output, /SUCCESS: \d+ rules found/);
    assert.doesNotMatch(output, /duplicate/i);
  });

  test('promtool test rules passes', async () => {
    const { code, output } = await promtool('test', 'rules', alertTestsFile);
    assert.equal(code, 0, output);
    assert.match(output, /SUCCESS/);
  });

  test('the seed alerts and dpg own, in group distributed_postgres_alerts, each with a severity, summary and description', () => {
    assert.deepEqual(alertGroups.map((g) => g.name), ['distributed_postgres_alerts']);
    const names = new Set(alertRules.map((r) => r.alert));
    for (const name of ['HighVectorSearchLatency', 'HighReplicationLag', 'ShardImbalance', 'ConnectionPoolExhaustion', 'IndexBloat', 'GroupWithoutLeader', 'CoordinatorDown']) {
      assert.ok(names.has(name), `missing alert ${name}`);
    }
    for (const rule of alertRules) {
      assert.match(rule.labels?.severity ?? '', /^(warning|critical)$/, `${rule.alert}: severity`);
      assert.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert}: summary and description`);
    }
  });

  test('every alert has a unit test where it fires and one where it does not', () => {
    const tests = (YAML.parse(readFileSync(alertTestsFile, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] }).tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const name of new Set(alertRules.map((r) => r.alert!))) {
      assert.ok(cases.some((c) => c.alertname === name && (c.exp_alerts ?? []).length > 0), `${name}: no case where it fires`);
      assert.ok(cases.some((c) => c.alertname === name && (c.exp_alerts ?? []).length === 0), `${name}: no case where it does not fire`);
    }
  });

  test('every metric an alert expression selects is exported', () => {
    for (const rule of alertRules) {
      const names = metricNamesIn(rule.expr);
      assert.ok(names.length > 0, `${rule.alert}: no metric in ${rule.expr}`);
      for (const name of names) assert.equal(unknownMetric(name), null, `${rule.alert}: ${unknownMetric(name)}`);
    }
  });
});

// ---- Grafana dashboards and provisioning

type Target = { refId: string; expr: string; datasource?: { type: string; uid: string } };
type Panel = { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: { type: string; uid: string }; targets?: Target[]; panels?: Panel[] };
type Variable = { name: string; type: string; query: unknown; current?: { value: unknown }; datasource?: { type: string; uid: string } };
type Dashboard = { id: null; uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: Variable[] } };

const DATASOURCE = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };
const dashboardFiles = readdirSync(dashboardsDir).filter((f) => f.endsWith('.json'));
const dashboards = dashboardFiles.map((file) => ({ file, dashboard: JSON.parse(readFileSync(join(dashboardsDir, file), 'utf8')) as Dashboard }));
const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
/** The PromQL selector of a Grafana `label_values(selector, label)` variable query, if it has one. */
const variableSelector = (v: Variable): string | null => {
  const query = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | null)?.query ?? '';
  return /^\s*label_values\(\s*(.+),\s*\w+\s*\)\s*$/.exec(query)?.[1] ?? null;
};

describe('Grafana dashboards (monitoring/grafana/dashboards)', () => {
  test('the Overview and Shard Details dashboards, with distinct uids', () => {
    assert.deepEqual(dashboards.map((d) => d.dashboard.title).sort(), ['Distributed PostgreSQL - Overview', 'Distributed PostgreSQL - Shard Details']);
    assert.equal(new Set(dashboards.map((d) => d.dashboard.uid)).size, dashboards.length);
    for (const { file, dashboard } of dashboards) {
      assert.match(dashboard.uid, /^[a-zA-Z0-9_-]{1,40}$/, file);
      assert.equal(dashboard.id, null, `${file}: provisioned dashboards have no id`);
      assert.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 39, `${file}: schemaVersion ${dashboard.schemaVersion}`);
    }
  });

  for (const { file, dashboard } of dashboards) {
    describe(file, () => {
      const panels = allPanels(dashboard.panels);

      test('unique panel ids; every panel has targets with an expression and a unique refId', () => {
        assert.ok(panels.length > 0);
        assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'panel ids');
        for (const panel of panels) {
          assert.ok(Number.isInteger(panel.id) && panel.title, `panel ${panel.id}: id and title`);
          assert.ok(panel.targets && panel.targets.length > 0, `${panel.title}: no targets`);
          assert.equal(new Set(panel.targets.map((t) => t.refId)).size, panel.targets.length, `${panel.title}: refIds`);
          for (const t of panel.targets) assert.ok(t.expr.trim(), `${panel.title} ${t.refId}: empty expr`);
        }
      });

      test('panels lie inside the 24-column grid and do not overlap', () => {
        for (const { title, gridPos: g } of panels) {
          assert.ok([g.x, g.y, g.w, g.h].every(Number.isInteger), `${title}: gridPos ${JSON.stringify(g)}`);
          assert.ok(g.x >= 0 && g.y >= 0 && g.w > 0 && g.h > 0 && g.x + g.w <= 24, `${title}: gridPos ${JSON.stringify(g)}`);
        }
        for (const [i, a] of panels.entries()) {
          for (const b of panels.slice(i + 1)) {
            const apart = a.gridPos.x + a.gridPos.w <= b.gridPos.x || b.gridPos.x + b.gridPos.w <= a.gridPos.x
              || a.gridPos.y + a.gridPos.h <= b.gridPos.y || b.gridPos.y + b.gridPos.h <= a.gridPos.y;
            assert.ok(apart, `${a.title} overlaps ${b.title}`);
          }
        }
      });

      test('every panel and query uses the DS_PROMETHEUS datasource variable', () => {
        const dsVariable = dashboard.templating.list.find((v) => v.name === 'DS_PROMETHEUS');
        assert.equal(dsVariable?.type, 'datasource');
        assert.equal(dsVariable?.query, 'prometheus');
        for (const panel of panels) {
          assert.deepEqual(panel.datasource, DATASOURCE, panel.title);
          for (const t of panel.targets ?? []) assert.deepEqual(t.datasource, DATASOURCE, `${panel.title} ${t.refId}`);
        }
        for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) assert.deepEqual(v.datasource, DATASOURCE, v.name);
      });

      test('every metric a panel or variable selects is exported', () => {
        const exprs = [
          ...panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `${p.title} ${t.refId}`, expr: t.expr }))),
          ...dashboard.templating.list.flatMap((v) => (variableSelector(v) ? [{ where: `variable ${v.name}`, expr: variableSelector(v)! }] : [])),
        ];
        for (const { where, expr } of exprs) {
          const names = metricNamesIn(expr);
          assert.ok(names.length > 0, `${where}: no metric in ${expr}`);
          for (const name of names) assert.equal(unknownMetric(name), null, `${where}: ${unknownMetric(name)}`);
        }
      });
    });
  }

  test('every panel expression is valid PromQL (promtool check rules, Grafana variables substituted)', async () => {
    const rules = dashboards.flatMap(({ dashboard }) =>
      allPanels(dashboard.panels).flatMap((p) =>
        (p.targets ?? []).map((t) => ({
          record: `dashboard:${dashboard.uid.replace(/\W/g, '_')}:panel_${p.id}_${t.refId}`,
          expr: t.expr.replace(/\$__\w+/g, '5m').replace(/\$\{?\w+\}?/g, '.*'),
        })),
      ),
    );
    const dir = mkdtempSync(join(tmpdir(), 'dpg-dashboards-'));
    tempDirs.push(dir);
    const file = join(dir, 'dashboard-exprs.yml');
    writeFileSync(file, YAML.stringify({ groups: [{ name: 'dashboard_expressions', rules }] }));
    const { code, output } = await promtool('check', 'rules', file);
    assert.equal(code, 0, output);
    assert.match(output, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  test('provisioning: the datasource the dashboards default to, and a file provider', () => {
    const sources = YAML.parse(readFileSync(join(monitoring, 'grafana/provisioning/datasources/dpg.yml'), 'utf8')) as { apiVersion: number; datasources: { uid: string; type: string; url: string }[] };
    assert.equal(sources.apiVersion, 1);
    const prometheus = sources.datasources.find((d) => d.type === 'prometheus');
    assert.equal(prometheus?.url, '${PROMETHEUS_URL}');
    for (const { file, dashboard } of dashboards) {
      assert.equal(dashboard.templating.list.find((v) => v.name === 'DS_PROMETHEUS')?.current?.value, prometheus?.uid, file);
    }
    const providers = YAML.parse(readFileSync(join(monitoring, 'grafana/provisioning/dashboards/dpg.yml'), 'utf8')) as { apiVersion: number; providers: { type: string; options: { path: string } }[] };
    assert.equal(providers.apiVersion, 1);
    assert.equal(providers.providers.length, 1);
    assert.equal(providers.providers[0]!.type, 'file');
    assert.equal(providers.providers[0]!.options.path, '${DPG_DASHBOARDS_DIR}');
  });
});
