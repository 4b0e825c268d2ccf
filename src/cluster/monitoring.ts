import { copyFileSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { allNodes, type ClusterLayout, type NodeLayout } from './layout.ts';
import type { ClusterSecrets } from './secrets.ts';
import { startDetached, type ProcessRecord } from './processes.ts';

/**
 * `dpg up --monitoring`: Prometheus (Debian's) scraping every coordinator's /metrics
 * and one PostgreSQL exporter per node (for the seed's pg_stat_* metrics), with
 * dpg's alert rules loaded.
 */
export const PROMETHEUS_PROCESS = 'prometheus';
export const PROMETHEUS_BINARY = '/usr/bin/prometheus';
export const EXPORTER_BINARY = '/usr/bin/prometheus-postgres-exporter';
const MONITORING_DIR = fileURLToPath(new URL('../../monitoring/', import.meta.url));

export const exporterProcessName = (node: NodeLayout) => `exporter-${node.name}`;

export function monitoringProcessNames(layout: ClusterLayout): string[] {
  return [PROMETHEUS_PROCESS, ...allNodes(layout).map(exporterProcessName)];
}

function exporterPort(layout: ClusterLayout, index: number): number {
  return layout.prometheusPort + 10 + index;
}

export function monitoringPorts(layout: ClusterLayout): { port: number; what: string; process: string }[] {
  return [
    { port: layout.prometheusPort, what: 'Prometheus', process: PROMETHEUS_PROCESS },
    ...allNodes(layout).map((node, i) => ({ port: exporterPort(layout, i), what: `PostgreSQL exporter of ${node.name}`, process: exporterProcessName(node) })),
  ];
}

function prometheusConfig(layout: ClusterLayout, rulesFile: string): object {
  return {
    global: { scrape_interval: '15s', evaluation_interval: '15s' },
    rule_files: [rulesFile],
    scrape_configs: [
      { job_name: 'dpg-coordinator', static_configs: [{ targets: layout.coordinators.map((c) => `${layout.host}:${c.metricsPort}`) }] },
      {
        job_name: 'postgres',
        static_configs: allNodes(layout).map((node, i) => ({
          targets: [`${layout.host}:${exporterPort(layout, i)}`],
          labels: { group: layout.groups.find((g) => g.id === node.groupId)!.name, node: node.name },
        })),
      },
    ],
  };
}

/** Starts the monitoring processes named in `toStart` (the ones not running). */
export function startMonitoring(layout: ClusterLayout, secrets: ClusterSecrets, database: string, toStart: Set<string>): ProcessRecord[] {
  const dir = join(layout.dataDir, 'monitoring');
  mkdirSync(join(dir, 'prometheus-data'), { recursive: true });
  const rules = join(dir, 'alerts.yml');
  const queries = join(dir, 'postgres-exporter-queries.yaml');
  copyFileSync(join(MONITORING_DIR, 'prometheus', 'alerts.yml'), rules);
  copyFileSync(join(MONITORING_DIR, 'postgres-exporter', 'queries.yaml'), queries);
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, toYaml(prometheusConfig(layout, rules)));
  const started: ProcessRecord[] = [];
  if (toStart.has(PROMETHEUS_PROCESS)) {
    started.push(
      startDetached(layout.runDir, {
        name: PROMETHEUS_PROCESS,
        command: PROMETHEUS_BINARY,
        args: [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${join(dir, 'prometheus-data')}`,
          `--web.listen-address=${layout.host}:${layout.prometheusPort}`,
          '--storage.tsdb.retention.time=2d',
        ],
        logFile: join(layout.dataDir, 'logs', 'prometheus.log'),
        marker: configFile,
      }),
    );
  }
  allNodes(layout).forEach((node, i) => {
    const name = exporterProcessName(node);
    if (!toStart.has(name)) return;
    const dsn = `postgresql://postgres:${encodeURIComponent(secrets.superuserPassword)}@${node.host}:${node.pgPort}/${database}?sslmode=disable`;
    started.push(
      startDetached(layout.runDir, {
        name,
        command: EXPORTER_BINARY,
        args: [`--web.listen-address=${layout.host}:${exporterPort(layout, i)}`, `--extend.query-path=${queries}`],
        logFile: join(layout.dataDir, 'logs', `${name}.log`),
        marker: queries,
        env: { PATH: '/usr/bin:/bin', DATA_SOURCE_NAME: dsn },
      }),
    );
  });
  return started;
}

export function monitoringInstalled(): boolean {
  return existsSync(PROMETHEUS_BINARY) && existsSync(EXPORTER_BINARY);
}
