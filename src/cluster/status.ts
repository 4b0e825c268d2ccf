import { MOVE_LOCK_CLASS } from '../rebalance/move-catalog.ts';
import { ETCD_PROCESS, etcdHealthy } from './etcd.ts';
import { HAPROXY_PROCESS } from './haproxy.ts';
import { FAULT_PROXY_PROCESS } from '../chaos/fault-proxy.ts';
import { PROMETHEUS_PROCESS, monitoringPorts } from './monitoring.ts';
import { REDIS_PROCESS } from './redis.ts';
import { patroniProcessName, groupMembers } from './patroni.ts';
import { readProcessRecord, isAlive, postmasterPid } from './processes.ts';
import { connectNode, groupLeader, withClient } from './connect.ts';
import { DEFAULT_CONFIG } from '../config/config.ts';
import type { ClusterLayout } from './layout.ts';
import type { ClusterSecrets } from './secrets.ts';

export interface NodeStatus {
  group: string;
  name: string;
  role: 'leader' | 'sync_standby' | 'replica' | 'unknown';
  /** Patroni's member state (running, streaming, starting, stopped, ...) or 'down'. */
  state: string;
  host: string;
  port: number;
  patroniPort: number;
  patroniPid: number | null;
  postgresPid: number | null;
  /** Bytes of WAL the node is behind its leader (0 for the leader); null when unknown. */
  lagBytes: number | null;
  /** Replay lag in seconds as the leader sees it (pg_stat_replication.replay_lag); null when unknown. */
  lagSeconds: number | null;
  timeline: number | null;
}

export interface ProcessStatus {
  name: string;
  pid: number | null;
  running: boolean;
  ports: Record<string, number>;
  url?: string;
}

export interface ClusterStatus {
  dataDir: string;
  running: boolean;
  healthy: boolean;
  nodes: NodeStatus[];
  processes: ProcessStatus[];
  /** The last run of each scheduled maintenance job (config maintenance), from the catalog. */
  maintenance: { job: string; scheduledFor: string; result: string; seconds: number | null; detail: string | null }[];
  /** Shard moves and splits that have not ended; `running`: a process holds the move's lock. */
  moves: { id: number; kind: string; state: string; shardIds: string[]; sourceGroup: number; targetGroup: number; running: boolean }[];
  problems: string[];
}

/** Everything `dpg status` shows, gathered from pid files, Patroni's REST API and the leaders. */
export async function clusterStatus(layout: ClusterLayout, secrets: ClusterSecrets | null, database = DEFAULT_CONFIG.cluster.database): Promise<ClusterStatus> {
  const problems: string[] = [];
  const processes: ProcessStatus[] = [];
  if (layout.etcd.local) {
    const record = readProcessRecord(layout.runDir, ETCD_PROCESS);
    const running = !!record && isAlive(record.pid, record.marker);
    processes.push({
      name: 'etcd',
      pid: running ? record!.pid : null,
      running,
      ports: { client: layout.etcd.clientPort, peer: layout.etcd.peerPort },
      url: layout.etcd.endpoints[0],
    });
  }
  let coordinatorRunning = true;
  for (const c of layout.coordinators) {
    const record = readProcessRecord(layout.runDir, c.processName);
    const running = !!record && isAlive(record.pid, record.marker);
    coordinatorRunning &&= running;
    processes.push({
      name: layout.coordinators.length === 1 ? 'coordinator' : c.processName,
      pid: running ? record!.pid : null,
      running,
      ports: { client: c.port, metrics: c.metricsPort },
      url: `postgresql://${layout.host}:${c.port}  http://${layout.host}:${c.metricsPort}/metrics`,
    });
  }
  if (layout.haproxy) {
    const record = readProcessRecord(layout.runDir, HAPROXY_PROCESS);
    const running = !!record && isAlive(record.pid, record.marker);
    coordinatorRunning &&= running;
    processes.push({ name: 'haproxy', pid: running ? record!.pid : null, running, ports: { client: layout.clientPort }, url: `postgresql://${layout.host}:${layout.clientPort}` });
  }
  if (layout.faultProxy) {
    const record = readProcessRecord(layout.runDir, FAULT_PROXY_PROCESS);
    const running = !!record && isAlive(record.pid, record.marker);
    processes.push({ name: 'fault-proxy', pid: running ? record!.pid : null, running, ports: { control: layout.faultProxy.controlPort }, url: `http://${layout.host}:${layout.faultProxy.controlPort}/state` });
  }
  // The result cache's Redis, when dpg runs one.
  const redis = readProcessRecord(layout.runDir, REDIS_PROCESS);
  if (redis) {
    const running = isAlive(redis.pid, redis.marker);
    processes.push({ name: 'redis', pid: running ? redis.pid : null, running, ports: { client: layout.redisPort }, url: `redis://${layout.host}:${layout.redisPort}` });
  }
  // Monitoring processes, when dpg up --monitoring started them.
  const prometheus = readProcessRecord(layout.runDir, PROMETHEUS_PROCESS);
  if (prometheus) {
    const running = isAlive(prometheus.pid, prometheus.marker);
    processes.push({ name: 'prometheus', pid: running ? prometheus.pid : null, running, ports: { http: layout.prometheusPort }, url: `http://${layout.host}:${layout.prometheusPort}` });
    for (const { port, process: name } of monitoringPorts(layout).slice(1)) {
      const record = readProcessRecord(layout.runDir, name);
      if (!record) continue;
      const alive = isAlive(record.pid, record.marker);
      processes.push({ name, pid: alive ? record.pid : null, running: alive, ports: { http: port } });
    }
  }
  const etcdUp = (await Promise.all(layout.etcd.endpoints.map(etcdHealthy))).some(Boolean);
  if (!etcdUp) problems.push(`etcd (${layout.etcd.endpoints.join(', ')}) is not answering`);

  const nodes: NodeStatus[] = [];
  for (const group of layout.groups) {
    const members = (await groupMembers(group)) ?? [];
    const lagSeconds = await replayLagSeconds(layout, group.name, members, secrets);
    for (const node of group.nodes) {
      const record = readProcessRecord(layout.runDir, patroniProcessName(node));
      const patroniAlive = !!record && isAlive(record.pid, record.marker);
      const pgPid = postmasterPid(node.pgDataDir);
      const postgresAlive = pgPid !== null && isAlive(pgPid, node.pgDataDir);
      const member = members.find((m) => m.name === node.name);
      const role = member ? (member.role === 'leader' || member.role === 'sync_standby' || member.role === 'replica' ? member.role : 'unknown') : 'unknown';
      const state = member?.state ?? (patroniAlive ? 'starting' : 'down');
      nodes.push({
        group: group.name,
        name: node.name,
        role,
        state,
        host: node.host,
        port: node.pgPort,
        patroniPort: node.restPort,
        patroniPid: patroniAlive ? record!.pid : null,
        postgresPid: postgresAlive ? pgPid : null,
        lagBytes: role === 'leader' ? 0 : typeof member?.lag === 'number' ? member.lag : null,
        lagSeconds: role === 'leader' ? 0 : (lagSeconds.get(node.name) ?? null),
        timeline: member?.timeline ?? null,
      });
      if (!patroniAlive) problems.push(`${node.name}: Patroni is not running (run 'npx dpg up' to start it again)`);
      else if (!postgresAlive) problems.push(`${node.name}: PostgreSQL is not running (Patroni is restarting it, or see ${node.logFile})`);
    }
    if (members.length > 0 && !members.some((m) => m.role === 'leader' && m.state === 'running')) {
      problems.push(`group ${group.name} has no running leader`);
    }
  }
  if (!coordinatorRunning && nodes.some((n) => n.patroniPid !== null)) problems.push(`${layout.haproxy ? 'a coordinator or HAProxy' : 'the coordinator'} is not running (run 'npx dpg up' to start it again)`);
  const anyRunning = processes.some((p) => p.running) || nodes.some((n) => n.patroniPid !== null || n.postgresPid !== null);
  const { maintenance, moves } = anyRunning ? await catalogActivity(layout, secrets, database) : { maintenance: [], moves: [] };
  for (const move of moves.filter((m) => !m.running)) {
    problems.push(`shard ${move.kind} ${move.id} stopped at its step '${move.state}': 'npx dpg move-shard --resume ${move.id}' goes on, '--rollback ${move.id}' undoes it`);
  }
  return { dataDir: layout.dataDir, running: anyRunning, healthy: anyRunning && problems.length === 0, nodes, processes, maintenance, moves, problems };
}

/**
 * From the catalog on the control group's leader: the newest run of each maintenance job,
 * and the shard moves and splits not ended (none of either when it cannot be asked).
 */
async function catalogActivity(layout: ClusterLayout, secrets: ClusterSecrets | null, database: string): Promise<Pick<ClusterStatus, 'maintenance' | 'moves'>> {
  const leader = secrets ? await groupLeader(layout.groups[0]!) : null;
  if (!leader || !secrets) return { maintenance: [], moves: [] };
  try {
    return await withClient(await connectNode(leader, secrets, database), async (client) => {
      const runs = await client.query<{ job: string; scheduled_for: Date; result: string; seconds: number | null; detail: string | null }>(
        `SELECT DISTINCT ON (job) job, scheduled_for, result, extract(epoch FROM finished_at - started_at)::float8 AS seconds, detail
         FROM dpg_catalog.maintenance_runs ORDER BY job, scheduled_for DESC`,
      );
      const moves = await client.query(
        `SELECT m.move_id, m.kind, m.state, m.shard_ids::text[] AS shard_ids, m.source_group, m.target_group,
                EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = m.move_id AND l.granted) AS running
         FROM dpg_catalog.shard_moves m WHERE m.state NOT IN ('done', 'rolled-back') ORDER BY m.move_id`,
        [MOVE_LOCK_CLASS],
      );
      return {
        maintenance: runs.rows.map((r) => ({ job: r.job, scheduledFor: r.scheduled_for.toISOString(), result: r.result, seconds: r.seconds, detail: r.detail })),
        moves: moves.rows.map((r) => ({ id: Number(r.move_id), kind: r.kind, state: r.state, shardIds: r.shard_ids, sourceGroup: r.source_group, targetGroup: r.target_group, running: r.running })),
      };
    });
  } catch {
    return { maintenance: [], moves: [] };
  }
}

/** replay_lag of each standby as its leader reports it, in seconds. */
async function replayLagSeconds(
  layout: ClusterLayout,
  groupName: string,
  members: { name: string; role: string; state: string }[],
  secrets: ClusterSecrets | null,
): Promise<Map<string, number>> {
  const lags = new Map<string, number>();
  const leaderName = members.find((m) => m.role === 'leader' && m.state === 'running')?.name;
  const leader = layout.groups.find((g) => g.name === groupName)?.nodes.find((n) => n.name === leaderName);
  if (!leader || !secrets || members.length < 2) return lags;
  try {
    await withClient(await connectNode(leader, secrets), async (client) => {
      const result = await client.query<{ application_name: string; seconds: number | null }>(
        `SELECT application_name, coalesce(extract(epoch FROM replay_lag), 0)::float8 AS seconds FROM pg_stat_replication`,
      );
      for (const row of result.rows) if (row.seconds !== null) lags.set(row.application_name, row.seconds);
    });
  } catch {
    // The leader may be restarting; lag shows as unknown.
  }
  return lags;
}

function pad(cells: string[][]): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function formatStatus(status: ClusterStatus): string {
  const lines: string[] = [`dpg cluster in ${status.dataDir}: ${!status.running ? 'stopped' : status.healthy ? 'running' : 'DEGRADED'}`, ''];
  const header = ['GROUP', 'NODE', 'ROLE', 'STATE', 'PG PORT', 'PATRONI', 'PATRONI PID', 'POSTGRES PID', 'LAG', 'TL'];
  const rows = status.nodes.map((n) => [
    n.group,
    n.name,
    n.role,
    n.state,
    String(n.port),
    String(n.patroniPort),
    n.patroniPid === null ? '-' : String(n.patroniPid),
    n.postgresPid === null ? '-' : String(n.postgresPid),
    n.role === 'leader' ? '-' : `${n.lagBytes === null ? '?' : `${n.lagBytes} B`} / ${n.lagSeconds === null ? '?' : `${n.lagSeconds.toFixed(3)} s`}`,
    n.timeline === null ? '-' : String(n.timeline),
  ]);
  lines.push(pad([header, ...rows]), '');
  const processRows = status.processes.map((p) => [
    p.name,
    p.running ? 'running' : 'down',
    p.pid === null ? '-' : String(p.pid),
    Object.entries(p.ports).map(([k, v]) => `${k} ${v}`).join(', '),
    p.url ?? '',
  ]);
  if (processRows.length > 0) lines.push(pad([['PROCESS', 'STATE', 'PID', 'PORTS', 'URL'], ...processRows]), '');
  if (status.maintenance.length > 0) {
    const rows = status.maintenance.map((m) => [m.job, m.scheduledFor, m.result, m.seconds === null ? '-' : `${m.seconds.toFixed(1)} s`, m.detail ?? '']);
    lines.push(pad([['MAINTENANCE', 'LAST RUN (UTC)', 'RESULT', 'TOOK', 'DETAIL'], ...rows]), '');
  }
  if (status.moves.length > 0) {
    const rows = status.moves.map((m) => [String(m.id), m.kind, m.state, m.shardIds.join(','), m.kind === 'split' ? `${m.sourceGroup}` : `${m.sourceGroup} -> ${m.targetGroup}`, m.running ? 'running' : 'stopped']);
    lines.push(pad([['SHARD MOVE', 'KIND', 'STEP', 'SHARDS', 'GROUPS', 'PROCESS'], ...rows]), '');
  }
  for (const problem of status.problems) lines.push(`! ${problem}`);
  return lines.join('\n').trimEnd();
}
