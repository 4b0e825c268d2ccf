import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { loadConfig, validateConfig, ConfigError, ConfigFileError, type LoadedConfig } from '../config/config.ts';
import { readFileSync } from 'node:fs';
import { runCoordinator } from '../server/main.ts';
import { runDemo, DemoError } from './demo.ts';
import { runBench, parseBenchFlags, BenchConfigError } from '../bench/bench.ts';
import { parseDuration } from '../bench/scenarios.ts';
import { runOverhead } from '../bench/overhead.ts';
import { runChaos, formatChaos, CHAOS_SCENARIOS, type ChaosScenario } from '../chaos/chaos.ts';
import { FaultProxy } from '../chaos/fault-proxy.ts';
import { planShards, formatShardPlan } from './plan-shards.ts';
import { buildLayout, type ClusterLayout } from '../cluster/layout.ts';
import { readClusterState, DataFolderError, workerGroupIdsOf } from '../cluster/state.ts';
import { nodePassword, readSecrets, userUrl, UnknownUserError } from '../cluster/secrets.ts';
import { setup, SetupError } from '../cluster/setup.ts';
import { upCluster, ClusterStartError } from '../cluster/up.ts';
import { stopCluster } from '../cluster/down.ts';
import { clusterStatus, formatStatus } from '../cluster/status.ts';
import { connectNode, withClient } from '../cluster/connect.ts';
import { groupLeaders, refreshNodeRoles, BootstrapError } from '../cluster/bootstrap.ts';
import { MissingSystemUserError } from '../cluster/system-user.ts';
import { adminContext, moveShardCommand, rebalanceCommand, addGroupCommand, removeGroupCommand, splitShardCommand, mergeShardsCommand, MoveUsageError, type MoveFlags } from './move-commands.ts';
import { ClientError } from '../shared/errors.ts';
import { checkCluster, formatCheckReport } from './check.ts';
import { toolUrl, withTls } from '../cluster/certificates.ts';

const USAGE = `usage: dpg <command> [options]

commands:
  setup              install PostgreSQL 15, pgvector, Patroni, etcd, HAProxy, Redis, Prometheus (idempotent)
  up                 start the local cluster (creates it on first run); reuses a running one
  down               stop every process of the local cluster
  status [--json]    every node and process: group, role, state, lag, ports, PIDs
  url                the client connection URL (with TLS on: sslmode=verify-full and the cluster's CA); --user NAME for a user of the config's users
  shards [--json]    the shard map (citus_shards): table, shard, node, size
  check [--json]     consistency: every placement exists, every row hashes into its shard's range,
                     co-located shards share a group (exit 1 on a problem)
  demo [--rows N]    load demo memories through the coordinator and run the seed's searches
  plan-shards        the seed's shard count guidance: --vectors N [--per-shard M] [--json]
  move-shard         move a shard (with its co-located shards) to another worker group, online:
                     --shard ID --to GROUP [--from GROUP] | --resume ID|all | --rollback ID | --list [--json]
  rebalance          plan and make the moves that even out the worker groups' load;
                     [--dry-run] [--strategy by_disk_size|by_rows|by_shard_count] [--threshold 0.2]
  split-shard        split a shard group in place into pieces of its hash range: --shard ID [--at HASH,... | --pieces N]
  merge-shards       merge adjacent shard groups on one worker group into one: --shards ID,ID[,...]
  add-group          start one more worker group, copy the reference tables to it and rebalance onto it [--no-rebalance]
  remove-group       move every shard off a worker group (the last, or --group G), then stop and delete it
  chaos              faults under a load with a ledger of acknowledged writes, checked afterwards;
                     --scenarios worker-primary,worker-node,partition,coordinator,control-primary,coordinator-2pc,spike --duration 15s
  bench [--quick]    the seed's benchmark scenarios against dpg, one plain PostgreSQL node and the workers;
                     --rows N --seed N --bench-config FILE --scenarios a,b --duration 30s --ramp-up 5s
                     --qps N --concurrency N --out DIR --no-baseline --no-tiers --recall-sample N --arrival poisson|uniform
  bench overhead     the coordinator's own cost: pgbench -S (prepared, simple; 1 and 4 clients) straight to the
                     control primary, through PgBouncer and through dpg, and the top-10 search straight to its
                     worker and through dpg (1, 2, 8 clients), with CPU µs per statement; --duration 10s --namespace NS

options:
  --config FILE      config file (default: ./dpg.yaml when present, else built-in defaults)
  --data-dir DIR     data folder (default: ./.dpg)
  --base-port N      first port of the cluster's port range (default 15432)
  --reset            with up: delete the data folder first and create a new cluster
  --coordinators N   with up: run N coordinators (1-9) behind HAProxy on the client port (kept by later ups)
  --monitoring       with up: also run Prometheus (with dpg's alert rules) and PostgreSQL exporters
  --json             machine-readable output
  -h, --help         this text`;

class UsageError extends Error {}

interface Options {
  config?: string;
  'data-dir'?: string;
  'base-port'?: string;
  reset?: boolean;
  monitoring?: boolean;
  coordinators?: string;
  instance?: string;
  vectors?: string;
  'per-shard'?: string;
  user?: string;
  namespace?: string;
  json?: boolean;
  rows?: string;
  help?: boolean;
  /** dpg bench's own flags, read by parseBenchFlags. */
  [benchFlag: string]: string | boolean | undefined;
}

function parse(argv: string[]): { command: string | undefined; options: Options } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string' },
        user: { type: 'string' },
        'data-dir': { type: 'string' },
        'base-port': { type: 'string' },
        reset: { type: 'boolean' },
        monitoring: { type: 'boolean' },
        coordinators: { type: 'string' },
        vectors: { type: 'string' },
        'per-shard': { type: 'string' },
        instance: { type: 'string' },
        json: { type: 'boolean' },
        rows: { type: 'string' },
        quick: { type: 'boolean' },
        seed: { type: 'string' },
        'bench-config': { type: 'string' },
        scenarios: { type: 'string' },
        duration: { type: 'string' },
        'ramp-up': { type: 'string' },
        qps: { type: 'string' },
        concurrency: { type: 'string' },
        out: { type: 'string' },
        'no-baseline': { type: 'boolean' },
        'no-tiers': { type: 'boolean' },
        'recall-sample': { type: 'string' },
        arrival: { type: 'string' },
        shard: { type: 'string' },
        to: { type: 'string' },
        from: { type: 'string' },
        resume: { type: 'string' },
        rollback: { type: 'string' },
        list: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        strategy: { type: 'string' },
        threshold: { type: 'string' },
        'no-rebalance': { type: 'boolean' },
        at: { type: 'string' },
        pieces: { type: 'string' },
        shards: { type: 'string' },
        group: { type: 'string' },
        namespace: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    // `dpg bench overhead`: the one command with a sub-command.
    const command = positionals[0] === 'bench' && positionals[1] === 'overhead' ? 'bench-overhead' : positionals[0];
    const extra = command === 'bench-overhead' ? 2 : 1;
    if (positionals.length > extra) throw new UsageError(`unexpected argument '${positionals[extra]}'`);
    return { command, options: values as Options };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError((error as Error).message);
  }
}

function load(options: Options): LoadedConfig {
  let basePort: number | undefined;
  if (options['base-port'] !== undefined) {
    basePort = Number(options['base-port']);
    if (!/^\d+$/.test(options['base-port'])) throw new UsageError(`--base-port ${JSON.stringify(options['base-port'])} is not a port number`);
  }
  return loadConfig({ path: options.config, dataDir: options['data-dir'], basePort });
}

/** The layout of an existing data folder (node folders may live outside it). */
function existingLayout(loaded: LoadedConfig): ClusterLayout {
  const state = readClusterState(join(loaded.dataDir, 'cluster.json'));
  return buildLayout(loaded.config, loaded.dataDir, state?.nodesRoot, state?.coordinators ?? loaded.config.coordinator.instances, workerGroupIdsOf(state));
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

function plainUrl(loaded: LoadedConfig, layout: ClusterLayout, user?: string): string {
  const secrets = readSecrets(layout.secretsFile);
  if (!secrets) throw new ClusterStartError(`no cluster in ${layout.dataDir}: run 'npx dpg up' first`);
  return userUrl(loaded.config.users, secrets, layout.secretsFile, layout.host, layout.clientPort, loaded.config.cluster.database, user);
}

/** The node login of a client URL's role (the worker-direct baseline of dpg bench). */
function workerLoginFor(layout: ClusterLayout, url: string): { user: string; password: string } {
  const secrets = readSecrets(layout.secretsFile);
  if (!secrets) throw new ClusterStartError(`no cluster in ${layout.dataDir}: run 'npx dpg up' first`);
  const user = decodeURIComponent(new URL(url).username);
  return { user, password: nodePassword(secrets, user) };
}

/** The URL dpg's own tools use (demo, bench, chaos): see toolUrl. */
async function clientUrl(loaded: LoadedConfig, layout: ClusterLayout): Promise<string> {
  return toolUrl(plainUrl(loaded, layout), loaded.config, layout);
}

/** The URL to give people: with TLS on, verify-full against the cluster's CA (see withTls). */
async function verifiedUrl(loaded: LoadedConfig, layout: ClusterLayout, user?: string): Promise<string> {
  return withTls(plainUrl(loaded, layout, user), loaded.config, layout);
}

async function shardMap(loaded: LoadedConfig, layout: ClusterLayout): Promise<Record<string, unknown>[]> {
  const secrets = readSecrets(layout.secretsFile);
  if (!secrets) throw new ClusterStartError(`no cluster in ${layout.dataDir}: run 'npx dpg up' first`);
  const leaders = await groupLeaders(layout);
  const database = loaded.config.cluster.database;
  return withClient(await connectNode(leaders.get(0)!, secrets, database), async (control) => {
    await refreshNodeRoles(control, layout.groups);
    const result = await control.query(
      `SELECT s.table_name, s.shardid, s.table_name || '_' || s.shardid AS shard_name, s.hash_min, s.hash_max,
              g.name AS group_name, l.host AS nodename, l.port AS nodeport, coalesce(st.size_bytes, 0) AS shard_size
       FROM dpg_catalog.shards s
       JOIN dpg_catalog.placements p USING (shardid)
       JOIN dpg_catalog.groups g USING (group_id)
       JOIN dpg_catalog.group_leaders l USING (group_id)
       LEFT JOIN dpg_catalog.shard_stats st USING (shardid, group_id)
       ORDER BY s.shardid, g.name`,
    );
    return result.rows;
  });
}

function formatShardMap(rows: Record<string, unknown>[]): string {
  const header = ['TABLE', 'SHARD', 'HASH RANGE', 'GROUP', 'NODE', 'SIZE'];
  const cells = rows.map((r) => [
    String(r.table_name),
    String(r.shard_name),
    r.hash_min === null ? '(reference: every group)' : `[${r.hash_min}, ${r.hash_max}]`,
    String(r.group_name),
    `${r.nodename}:${r.nodeport}`,
    `${Math.round(Number(r.shard_size) / 1024)} kB`,
  ]);
  const all = [header, ...cells];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  return all.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const { command, options } = parse(argv);
  if (options.help || !command) {
    out(USAGE);
    return command || options.help ? 0 : 2;
  }
  if (options.reset && command !== 'up') throw new UsageError('--reset goes with up only');
  if (options.monitoring && command !== 'up') throw new UsageError('--monitoring goes with up only');
  if (options.coordinators !== undefined && command !== 'up') throw new UsageError('--coordinators goes with up only');
  for (const flag of ['vectors', 'per-shard'] as const) {
    if (options[flag] !== undefined && command !== 'plan-shards') throw new UsageError(`--${flag} goes with plan-shards only`);
  }
  let coordinators: number | undefined;
  if (options.coordinators !== undefined) {
    coordinators = Number(options.coordinators);
    if (!/^[1-9]$/.test(options.coordinators)) throw new UsageError(`--coordinators ${JSON.stringify(options.coordinators)}: give a number of coordinators from 1 to 9`);
  }
  if (options.rows !== undefined && command !== 'demo' && command !== 'bench') throw new UsageError('--rows goes with demo or bench only');
  const benchFlags = ['quick', 'seed', 'bench-config', 'scenarios', 'duration', 'ramp-up', 'qps', 'concurrency', 'out', 'no-baseline', 'no-tiers', 'recall-sample', 'arrival'];
  const chaosFlags = ['scenarios', 'duration'];
  const misplaced = benchFlags.find((flag) => options[flag] !== undefined && command !== 'bench' && !(command === 'chaos' && chaosFlags.includes(flag)) && !(command === 'bench-overhead' && flag === 'duration'));
  if (misplaced) throw new UsageError(`--${misplaced} goes with ${chaosFlags.includes(misplaced) ? 'bench or chaos' : 'bench'} only`);
  if (options.namespace !== undefined && command !== 'bench-overhead') throw new UsageError('--namespace goes with bench overhead only');
  const moveFlags: Record<string, string[]> = {
    shard: ['move-shard', 'split-shard'],
    at: ['split-shard'],
    pieces: ['split-shard'],
    shards: ['merge-shards'],
    group: ['remove-group'],
    to: ['move-shard'],
    from: ['move-shard'],
    resume: ['move-shard'],
    rollback: ['move-shard'],
    list: ['move-shard'],
    'dry-run': ['rebalance'],
    strategy: ['rebalance', 'add-group', 'remove-group'],
    threshold: ['rebalance', 'add-group', 'remove-group'],
    'no-rebalance': ['add-group'],
  };
  for (const [flag, owners] of Object.entries(moveFlags)) {
    if (options[flag] !== undefined && !owners.includes(command)) throw new UsageError(`--${flag} goes with ${owners.join(' or ')} only`);
  }
  switch (command) {
    case 'setup': {
      const report = setup(out);
      out(
        report.installedPackages.length === 0 && !report.builtPgvector && !report.installedRuvector
          ? `everything is installed (checked in ${report.seconds.toFixed(1)} s)`
          : `setup done in ${report.seconds.toFixed(1)} s`,
      );
      return 0;
    }
    case 'up': {
      const loaded = load(options);
      const result = await upCluster(loaded.config, loaded.dataDir, { reset: options.reset, monitoring: options.monitoring, coordinators, log: err });
      if (result.started.length === 0) out(`the cluster in ${loaded.dataDir} is already running; nothing changed`);
      else out(`cluster ready in ${result.seconds.toFixed(1)} s`);
      out(formatStatus(await clusterStatus(result.layout, result.secrets, loaded.config.cluster.database)));
      out(`\nurl: ${await verifiedUrl(loaded, result.layout)}`);
      return 0;
    }
    case 'down': {
      const loaded = load(options);
      const layout = existingLayout(loaded);
      const result = await stopCluster(layout, { log: err });
      if (result.leftBehind.length > 0) {
        err(`processes still running after stop: PIDs ${result.leftBehind.join(', ')}`);
        return 1;
      }
      out(result.stopped.length === 0 ? `nothing was running in ${loaded.dataDir}` : `stopped the cluster in ${loaded.dataDir}`);
      return 0;
    }
    case 'status': {
      const loaded = load(options);
      const layout = existingLayout(loaded);
      const status = await clusterStatus(layout, readSecrets(layout.secretsFile), loaded.config.cluster.database);
      out(options.json ? JSON.stringify(status, null, 2) : formatStatus(status));
      return status.running && !status.healthy ? 1 : 0;
    }
    case 'url': {
      const loaded = load(options);
      out(await verifiedUrl(loaded, existingLayout(loaded), typeof options.user === 'string' ? options.user : undefined));
      return 0;
    }
    case 'fault-proxy': {
      // Internal: the fault-injecting proxy `dpg up` starts with cluster.fault_proxies.
      if (!options.config) throw new UsageError('fault-proxy needs --config (dpg up passes it)');
      const config = validateConfig(JSON.parse(readFileSync(options.config, 'utf8')), options.config);
      const proxy = new FaultProxy(existingLayout({ config, path: options.config, dataDir: config.data_dir }));
      await proxy.start();
      err(`fault proxy running (pid ${process.pid})`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      await proxy.stop();
      return 0;
    }
    case 'coordinator': {
      // Internal: the coordinator process `dpg up` starts, with the config it resolved.
      if (!options.config) throw new UsageError('coordinator needs --config (dpg up passes it)');
      const config = validateConfig(JSON.parse(readFileSync(options.config, 'utf8')), options.config);
      const layout = existingLayout({ config, path: options.config, dataDir: config.data_dir });
      const secrets = readSecrets(layout.secretsFile);
      if (!secrets) throw new ClusterStartError(`no cluster in ${layout.dataDir}`);
      const instance = Number(options.instance ?? '1');
      const coordinator = layout.coordinators.find((c) => c.index === instance);
      if (!coordinator) throw new UsageError(`--instance ${options.instance}: this cluster runs coordinators 1 to ${layout.coordinators.length}`);
      await runCoordinator(config, layout, secrets, coordinator);
      return -1;
    }
    case 'demo': {
      const loaded = load(options);
      let rows: number | undefined;
      if (options.rows !== undefined) {
        rows = Number(options.rows);
        if (!/^\d+$/.test(options.rows)) throw new UsageError(`--rows ${JSON.stringify(options.rows)} is not a whole number`);
      }
      await runDemo({ url: await clientUrl(loaded, existingLayout(loaded)), rows, out, progress: true });
      return 0;
    }
    case 'plan-shards': {
      const count = (flag: 'vectors' | 'per-shard', value: string | undefined): number | undefined => {
        if (value === undefined) return undefined;
        const digits = value.replace(/[_,]/g, '');
        if (!/^[1-9]\d{0,14}$/.test(digits)) throw new UsageError(`--${flag} ${JSON.stringify(value)}: give a whole number of vectors, such as 100000000`);
        return Number(digits);
      };
      const vectors = count('vectors', options.vectors);
      if (vectors === undefined) throw new UsageError('plan-shards needs --vectors N (how many vectors the tables will hold)');
      const plan = planShards(load(options).config, vectors, count('per-shard', options['per-shard']));
      out(options.json ? JSON.stringify(plan, null, 2) : formatShardPlan(plan));
      return 0;
    }
    case 'chaos': {
      let scenarios: ChaosScenario[] | undefined;
      if (typeof options.scenarios === 'string') {
        scenarios = options.scenarios.split(',').map((s) => s.trim()).filter(Boolean) as ChaosScenario[];
        const unknown = scenarios.find((s) => !(CHAOS_SCENARIOS as readonly string[]).includes(s));
        if (unknown) throw new UsageError(`--scenarios: unknown scenario ${JSON.stringify(unknown)}; known: ${CHAOS_SCENARIOS.join(', ')}`);
      }
      let durationSeconds: number | undefined;
      if (options.duration !== undefined) {
        try {
          durationSeconds = parseDuration(options.duration, '--duration');
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        if (durationSeconds < 3 || durationSeconds > 600) throw new UsageError(`--duration ${options.duration}: give 3s to 10m of load per scenario`);
      }
      const loaded = load(options);
      const layout = existingLayout(loaded);
      const secrets = readSecrets(layout.secretsFile);
      if (!secrets) throw new ClusterStartError(`no cluster in ${loaded.dataDir}: run 'npx dpg up' first`);
      const results = await runChaos({ config: loaded.config, dataDir: loaded.dataDir, layout, secrets, url: await clientUrl(loaded, layout), log: err }, { scenarios, durationSeconds });
      out(formatChaos(results));
      const bad = results.some((r) => r.verdict && (r.verdict.lost > 0 || r.verdict.phantom > 0 || r.verdict.torn > 0));
      return bad ? 1 : 0;
    }
    case 'bench': {
      const loaded = load(options);
      const benchOptions = parseBenchFlags(options);
      const url = await clientUrl(loaded, existingLayout(loaded));
      await runBench({ url, workerLogin: workerLoginFor(existingLayout(loaded), url), ...benchOptions, out, progress: true });
      return 0;
    }
    case 'bench-overhead': {
      const loaded = load(options);
      const layout = existingLayout(loaded);
      const secrets = readSecrets(layout.secretsFile);
      if (!secrets) throw new ClusterStartError(`no cluster in ${loaded.dataDir}: run 'npx dpg up' first`);
      const url = new URL(plainUrl(loaded, layout, options.user));
      let seconds = 10;
      if (options.duration !== undefined) {
        try {
          seconds = parseDuration(options.duration, '--duration');
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        if (seconds < 1 || seconds > 600) throw new UsageError(`--duration ${options.duration}: give 1s to 10m per run`);
      }
      await runOverhead({
        layout,
        secrets,
        database: loaded.config.cluster.database,
        user: { name: decodeURIComponent(url.username), password: decodeURIComponent(url.password) },
        seconds,
        namespace: options.namespace ?? 'agent-1/auth-patterns',
        out,
      });
      return 0;
    }
    case 'move-shard': {
      const loaded = load(options);
      return moveShardCommand(adminContext(loaded, existingLayout(loaded), err), options as MoveFlags, out);
    }
    case 'rebalance': {
      const loaded = load(options);
      await rebalanceCommand(adminContext(loaded, existingLayout(loaded), err), loaded, options as MoveFlags, out);
      return 0;
    }
    case 'split-shard': {
      const loaded = load(options);
      await splitShardCommand(adminContext(loaded, existingLayout(loaded), err), options as MoveFlags, out);
      return 0;
    }
    case 'merge-shards': {
      const loaded = load(options);
      await mergeShardsCommand(adminContext(loaded, existingLayout(loaded), err), options as MoveFlags, out);
      return 0;
    }
    case 'add-group': {
      await addGroupCommand(load(options), options as MoveFlags, out, err);
      return 0;
    }
    case 'remove-group': {
      await removeGroupCommand(load(options), options as MoveFlags, out, err);
      return 0;
    }
    case 'check': {
      const loaded = load(options);
      const layout = existingLayout(loaded);
      const secrets = readSecrets(layout.secretsFile);
      if (!secrets) throw new ClusterStartError(`no cluster in ${layout.dataDir}: run 'npx dpg up' first`);
      const report = await checkCluster(layout, secrets, loaded.config.cluster.database);
      out(options.json ? JSON.stringify(report, null, 2) : formatCheckReport(report));
      return report.problems.length === 0 ? 0 : 1;
    }
    case 'shards': {
      const loaded = load(options);
      const rows = await shardMap(loaded, existingLayout(loaded));
      out(options.json ? JSON.stringify(rows, null, 2) : formatShardMap(rows));
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

const expected = [ClientError, BenchConfigError, DemoError, BootstrapError, ConfigFileError, UsageError, ConfigError, DataFolderError, ClusterStartError, SetupError, MissingSystemUserError, UnknownUserError];

main(process.argv.slice(2)).then(
  // -1: a server command that keeps running until signalled.
  (code) => (code >= 0 ? process.exit(code) : undefined),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof MoveUsageError) {
      err(`dpg: ${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    const known = expected.some((kind) => error instanceof kind) || (error instanceof Error && /timed out/.test(error.message));
    err(`dpg: ${error instanceof Error ? error.message : String(error)}`);
    if ((!known || process.env.DPG_DEBUG) && error instanceof Error && error.stack) err(error.stack);
    process.exit(1);
  },
);
