import type { LoadedConfig } from '../config/config.ts';
import { join } from 'node:path';
import { buildLayout, type ClusterLayout } from '../cluster/layout.ts';
import { readClusterState, workerGroupIdsOf } from '../cluster/state.ts';
import { ClientError } from '../shared/errors.ts';
import { addGroup, removeGroup } from '../cluster/scale.ts';
import { createMerge, createSplit, equalSplitPoints } from '../rebalance/shard-split.ts';
import { readSecrets } from '../cluster/secrets.ts';
import { onPrimary, type AdminContext } from '../rebalance/admin.ts';
import { layoutAdminContext } from '../cluster/connect.ts';
import { createMove, unfinishedMoves } from '../rebalance/move-catalog.ts';
import { runMove, rollbackMove, type MoveOptions, type MoveProgress, type MoveResult } from '../rebalance/shard-move.ts';
import { rebalance, type RebalanceOptions, type RebalanceResult } from '../rebalance/rebalancer.ts';
import { imbalance, type RebalancePlan, type RebalanceStrategy } from '../rebalance/rebalance-plan.ts';
import { createProgress, type Progress } from './progress.ts';

/** `dpg move-shard`, `dpg rebalance`: their flags, checked by the caller's parser. */
export interface MoveFlags {
  shard?: string;
  to?: string;
  from?: string;
  resume?: string;
  rollback?: string;
  list?: boolean;
  'dry-run'?: boolean;
  strategy?: string;
  threshold?: string;
  'no-rebalance'?: boolean;
  at?: string;
  pieces?: string;
  shards?: string;
  group?: string;
  json?: boolean;
}

export class MoveUsageError extends Error {}

export function adminContext(loaded: LoadedConfig, layout: ClusterLayout, log: (line: string) => void): AdminContext {
  const secrets = readSecrets(layout.secretsFile);
  if (!secrets) throw new MoveUsageError(`no cluster in ${layout.dataDir}: run 'npx dpg up' first`);
  return layoutAdminContext(layout, secrets, {
    database: loaded.config.cluster.database,
    indexBuildMemory: loaded.config.vector.index_build_memory,
    threshold: loaded.config.distribution.shard_rebalancing.threshold,
    log,
  });
}

/** A group given as its id (2) or its name (as in dpg status). */
function groupArg(admin: AdminContext, flag: string, value: string): number {
  const groups = admin.nodes.groups();
  const group = groups.find((g) => String(g.id) === value || g.name === value);
  if (!group) throw new MoveUsageError(`--${flag} ${JSON.stringify(value)}: no such group; worker groups are ${groups.filter((g) => g.kind === 'worker').map((g) => `${g.id} (${g.name})`).join(', ')}`);
  if (group.kind !== 'worker') throw new MoveUsageError(`--${flag} ${value}: ${group.name} is the control group, which holds no shards`);
  return group.id;
}

function moveId(flag: string, value: string): number {
  if (!/^[1-9]\d{0,15}$/.test(value)) throw new MoveUsageError(`--${flag} ${JSON.stringify(value)}: give a move id (see dpg move-shard --list)`);
  return Number(value);
}

/** A progress bar per phase of a move, on stderr. */
function moveProgress(): MoveOptions & { finish(): void } {
  let phase: string | null = null;
  let bar: Progress | null = null;
  const onProgress = (progress: MoveProgress) => {
    const scale = progress.unit === 'bytes' ? 1024 : 1;
    if (phase !== progress.phase) {
      bar?.finish();
      phase = progress.phase;
      process.stderr.write(`${progress.phase === 'copy' ? 'initial copy' : progress.phase === 'index' ? 'building indexes on the target' : 'catching up'}\n`);
      bar = createProgress({ total: Math.max(1, Math.round(progress.total / scale)), unit: progress.unit === 'bytes' ? 'kB' : progress.unit });
    }
    bar!.update(progress.done >= progress.total ? Math.max(1, Math.round(progress.total / scale)) : Math.round(progress.done / scale));
  };
  return { onProgress, finish: () => bar?.finish() };
}

function describeResult(result: MoveResult): string {
  const { move } = result;
  const seconds = Object.values(result.steps).reduce((a, b) => a + b, 0) / 1000;
  const pause = move.pauseMs === null ? '' : `, write pause ${move.pauseMs.toFixed(0)} ms`;
  const rows = move.rowsTotal === null ? '' : `, ${move.rowsTotal} rows (${((move.bytesTotal ?? 0) / 1024 / 1024).toFixed(1)} MB)`;
  const what = move.kind !== 'move' ? `${move.kind} ${move.id} (shards ${move.shardIds.join(', ')} into ${move.newShardIds.join(', ')}): ${move.state}, on group ${move.sourceGroup}` : `move ${move.id} (shards ${move.shardIds.join(', ')}): ${move.state}, group ${move.sourceGroup} -> ${move.targetGroup}`;
  return `${what}${rows}${pause}, ${seconds.toFixed(1)} s`;
}

export async function moveShardCommand(admin: AdminContext, flags: MoveFlags, out: (line: string) => void): Promise<number> {
  const modes = [flags.shard !== undefined, flags.resume !== undefined, flags.rollback !== undefined, !!flags.list].filter(Boolean).length;
  if (modes !== 1) throw new MoveUsageError('move-shard needs one of: --shard ID --to GROUP, --resume ID|all, --rollback ID, --list');
  if (flags.list) {
    const rows = await onPrimary(admin, 0, async (control) => (await control.query('SELECT * FROM public.dpg_shard_moves ORDER BY move_id')).rows);
    out(flags.json ? JSON.stringify(rows, null, 2) : rows.map((r) => `${r.move_id}  ${r.kind.padEnd(5)} ${r.state.padEnd(12)} shards ${r.shard_ids.join(',')}  group ${r.source_group} -> ${r.target_group}${r.pause_ms === null ? '' : `  pause ${Number(r.pause_ms).toFixed(0)} ms`}${r.detail ? `  (${r.detail})` : ''}`).join('\n') || 'no shard moves');
    return 0;
  }
  if (flags.rollback !== undefined) {
    const move = await rollbackMove(admin, moveId('rollback', flags.rollback));
    out(`move ${move.id}: ${move.state}; shards ${move.shardIds.join(', ')} stay on group ${move.sourceGroup}`);
    return 0;
  }
  let ids: number[];
  if (flags.resume !== undefined) {
    ids = flags.resume === 'all' ? await onPrimary(admin, 0, (control) => unfinishedMoves(control)) : [moveId('resume', flags.resume)];
    if (ids.length === 0) out('no unfinished shard moves');
  } else {
    if (flags.to === undefined) throw new MoveUsageError('move-shard --shard ID needs --to GROUP');
    const target = groupArg(admin, 'to', flags.to);
    const source = flags.from === undefined ? undefined : groupArg(admin, 'from', flags.from);
    ids = [await onPrimary(admin, 0, (control) => createMove(control, flags.shard!, target, source))];
  }
  for (const id of ids) await runWithHint(admin, id, out);
  return 0;
}

export function formatPlan(plan: RebalancePlan): string {
  const groups = [...plan.before.keys()].sort((a, b) => a - b);
  const unit = plan.strategy === 'by_disk_size' ? (v: number) => `${(v / 1024 / 1024).toFixed(1)} MB` : plan.strategy === 'by_rows' ? (v: number) => `${v} rows` : (v: number) => `${v} shard groups`;
  const lines = [
    `strategy ${plan.strategy}, threshold ${plan.threshold}: imbalance ${imbalance(plan.before, groups).toFixed(2)} -> ${imbalance(plan.after, groups).toFixed(2)}`,
    ...groups.map((g) => `  group ${g}: ${unit(plan.before.get(g) ?? 0)} -> ${unit(plan.after.get(g) ?? 0)}`),
    plan.moves.length === 0 ? 'no moves needed' : `${plan.moves.length} move(s):`,
    ...plan.moves.map((m, i) => `  ${i + 1}. shard ${m.shardId} (co-location ${m.colocationId}, index ${m.shardIndex}): group ${m.sourceGroup} -> ${m.targetGroup} (${unit(m.cost)})`),
  ];
  return lines.join('\n');
}

export function rebalanceOptions(admin: AdminContext, loaded: LoadedConfig, flags: MoveFlags): { strategy: RebalanceStrategy; threshold: number; maxMoves: number } {
  const strategy = (flags.strategy ?? loaded.config.distribution.shard_rebalancing.strategy) as RebalanceStrategy;
  if (!['by_disk_size', 'by_rows', 'by_shard_count'].includes(strategy)) throw new MoveUsageError(`--strategy ${JSON.stringify(flags.strategy)}: by_disk_size, by_rows or by_shard_count`);
  const threshold = flags.threshold === undefined ? admin.threshold : /^\d+(\.\d+)?$/.test(flags.threshold) ? Number(flags.threshold) : NaN;
  if (!(threshold >= 0 && threshold <= 10)) throw new MoveUsageError(`--threshold ${JSON.stringify(flags.threshold)}: a fraction from 0 to 10 (0.2: 20% from the mean)`);
  return { strategy, threshold, maxMoves: loaded.config.distribution.shard_rebalancing.max_moves };
}

export async function rebalanceCommand(admin: AdminContext, loaded: LoadedConfig, flags: MoveFlags, out: (line: string) => void): Promise<RebalanceResult> {
  const reporting = rebalanceReporting(out);
  try {
    const result = await rebalance(admin, { ...rebalanceOptions(admin, loaded, flags), dryRun: flags['dry-run'], ...reporting });
    reporting.finish();
    if (flags['dry-run'] || result.plan.moves.length === 0) out(formatPlan(result.plan));
    for (const moved of result.results) out(describeResult(moved));
    return result;
  } finally {
    reporting.finish();
  }
}

/** Per-move plan printing and progress bars for a rebalance (dpg rebalance, add-group, remove-group). */
function rebalanceReporting(out: (line: string) => void): Pick<RebalanceOptions, 'onMove' | 'moveOptions'> & { finish(): void } {
  let progress: ReturnType<typeof moveProgress> | null = null;
  return {
    onMove: (index, plan) => {
      if (index === 0) out(formatPlan(plan));
      progress?.finish();
      const move = plan.moves[index]!;
      out(`move ${index + 1}/${plan.moves.length}: shard ${move.shardId}, group ${move.sourceGroup} -> ${move.targetGroup}`);
    },
    moveOptions: () => (progress = moveProgress()),
    finish: () => progress?.finish(),
  };
}

/** `dpg add-group`: a new worker group, its reference tables, then a rebalance onto it (unless --no-rebalance). */
export async function addGroupCommand(loaded: LoadedConfig, flags: MoveFlags, out: (line: string) => void, err: (line: string) => void): Promise<void> {
  const admin = adminContext(loaded, existingLayoutOf(loaded), err);
  const reporting = rebalanceReporting(out);
  try {
    const result = await addGroup(loaded.config, loaded.dataDir, {
      log: err,
      admin: (layout) => adminContext(loaded, layout, err),
      rebalance: flags['no-rebalance'] ? null : { ...rebalanceOptions(admin, loaded, flags), ...reporting },
    });
    reporting.finish();
    out(`added worker group ${result.group.id} (${result.group.name}): ${result.referenceTables} reference tables copied (${result.copiedRows} rows, reference writes paused ${result.pauseMs.toFixed(0)} ms)`);
    if (result.rebalanced) {
      if (result.rebalanced.plan.moves.length === 0) out(formatPlan(result.rebalanced.plan));
      for (const moved of result.rebalanced.results) out(describeResult(moved));
    }
  } finally {
    reporting.finish();
  }
}

/** `dpg remove-group`: drains the last worker group onto the others, then stops and deletes it. */
export async function removeGroupCommand(loaded: LoadedConfig, flags: MoveFlags, out: (line: string) => void, err: (line: string) => void): Promise<void> {
  const admin = adminContext(loaded, existingLayoutOf(loaded), err);
  const reporting = rebalanceReporting(out);
  try {
    const result = await removeGroup(loaded.config, loaded.dataDir, {
      groupId: flags.group === undefined ? undefined : groupArg(admin, 'group', flags.group),
      log: err,
      admin: (layout) => adminContext(loaded, layout, err),
      rebalance: { ...rebalanceOptions(admin, loaded, flags), ...reporting },
    });
    reporting.finish();
    for (const moved of result.drained.results) out(describeResult(moved));
    out(`removed worker group ${result.group.id} (${result.group.name}): ${result.drained.results.length} shard group(s) moved off it; its nodes are stopped and deleted`);
  } finally {
    reporting.finish();
  }
}

function existingLayoutOf(loaded: LoadedConfig): ClusterLayout {
  const state = readClusterState(join(loaded.dataDir, 'cluster.json'));
  return buildLayout(loaded.config, loaded.dataDir, state?.nodesRoot, state?.coordinators ?? loaded.config.coordinator.instances, workerGroupIdsOf(state));
}

/** `dpg split-shard --shard ID [--at HASH,... | --pieces N]`: the shard group splits in place (see src/rebalance/shard-split.ts). */
export async function splitShardCommand(admin: AdminContext, flags: MoveFlags, out: (line: string) => void): Promise<void> {
  if (flags.shard === undefined) throw new MoveUsageError('split-shard needs --shard ID (see npx dpg shards)');
  if (flags.at !== undefined && flags.pieces !== undefined) throw new MoveUsageError('split-shard takes --at or --pieces, not both');
  let points: number[] | undefined;
  if (flags.at !== undefined) {
    points = flags.at.split(',').map((p) => {
      if (!/^-?\d+$/.test(p.trim())) throw new MoveUsageError(`--at ${JSON.stringify(flags.at)}: give hash values (int32) separated by commas`);
      return Number(p);
    });
  }
  const id = await onPrimary(admin, 0, async (control) => {
    if (flags.pieces !== undefined) {
      if (!/^([2-9]|1[0-6])$/.test(flags.pieces)) throw new MoveUsageError(`--pieces ${JSON.stringify(flags.pieces)}: from 2 to 16`);
      const range = (await control.query('SELECT hash_min, hash_max FROM dpg_catalog.shards WHERE shardid = $1', [/^\d+$/.test(flags.shard!) ? flags.shard : null])).rows[0];
      if (range?.hash_min != null) points = equalSplitPoints(Number(range.hash_min), Number(range.hash_max), Number(flags.pieces));
    }
    return createSplit(control, flags.shard!, points);
  });
  await runWithHint(admin, id, out);
}

/** `dpg merge-shards --shards ID,ID[,...]`: adjacent shard groups on one worker group become one (see src/rebalance/reshard.ts). */
export async function mergeShardsCommand(admin: AdminContext, flags: MoveFlags, out: (line: string) => void): Promise<void> {
  const ids = (flags.shards ?? '').split(',').map((id) => id.trim());
  if (ids.length < 2 || ids.some((id) => !/^\d+$/.test(id))) throw new MoveUsageError(`merge-shards needs --shards ID,ID[,...]: two or more shard ids of adjacent shard groups (see npx dpg shards), got ${JSON.stringify(flags.shards ?? '')}`);
  const id = await onPrimary(admin, 0, (control) => createMerge(control, ids));
  await runWithHint(admin, id, out);
}

/** Runs a move, split or merge; when it stops on an error, says where it stopped and how to go on or undo it. */
async function runWithHint(admin: AdminContext, id: number, out: (line: string) => void): Promise<void> {
  const progress = moveProgress();
  try {
    out(describeResult(await runMove(admin, id, progress)));
  } catch (error) {
    progress.finish();
    const state = await onPrimary(admin, 0, async (control) => (await control.query('SELECT state FROM dpg_catalog.shard_moves WHERE move_id = $1', [id])).rows[0]?.state).catch(() => null);
    if (!state || state === 'done' || state === 'rolled-back') throw error;
    const hint = `${id} stopped at its step '${state}': 'npx dpg move-shard --resume ${id}' goes on, '--rollback ${id}' undoes it`;
    throw error instanceof ClientError ? new ClientError(error.sqlstate, `${error.message} (${hint})`) : new Error(`${(error as Error).message} (${hint})`);
  } finally {
    progress.finish();
  }
}
