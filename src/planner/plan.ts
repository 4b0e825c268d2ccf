import type { TableInfo } from '../topology/snapshot.ts';
import type { KeyValue } from './shard-key.ts';
import type { ClientError } from '../shared/errors.ts';

/**
 * A SELECT with aggregates, GROUP BY or DISTINCT over several shards, computed in
 * two steps as Citus does: every shard computes partial results (per group: counts,
 * sums, minima, maxima; avg as sum and count), and the control group combines them
 * with one more query over the partial rows, which also applies HAVING, ORDER BY,
 * LIMIT and the output expressions. PostgreSQL itself computes every final value,
 * so types and formatting are PostgreSQL's.
 */
export interface AggregateSpec {
  /** Query run on each shard, relation placeholders still in it; returns columns c0..c(n-1). */
  workerTemplate: string;
  workerColumns: number;
  /**
   * The combine query; PARTIALS_PLACEHOLDER stands for the FROM item that the
   * executor fills with `unnest($k::type[], ...)` over the partial rows.
   */
  combineTemplate: string;
}

/**
 * What the coordinator does with one SQL statement. Plans depend only on the SQL
 * text and the catalog version, so they are cached; parameter values pick the
 * shard when the statement runs (for a prepared statement: at Bind).
 */
export type Plan =
  | ControlPlan
  | DistributedPlan
  | InsertPlan
  | ReferenceWritePlan
  | TransactionPlan
  | SessionSettingPlan
  | EmptyPlan
  | DdlPlan
  | DropIndexPlan
  | DistributionFunctionPlan
  | CopyPlan
  | LocalPlan
  | UnsupportedPlan;

/**
 * A statement the coordinator answers itself with its tag (DISCARD, DEALLOCATE ALL,
 * UNLISTEN): the state it would clear is never kept on pooled node connections.
 */
export interface LocalPlan {
  kind: 'local';
  tag: string;
}

/** set_config(name, value, is_local) taken as a setting of the session (or of its transaction). */
export interface SessionConfigCall {
  name: { value: string } | { param: number };
  value: { value: string } | { param: number };
  local: boolean;
}

/** COPY FROM STDIN / TO STDOUT of a distributed or reference table. */
export interface CopyPlan {
  kind: 'copy';
  direction: 'in' | 'out';
  table: TableInfo;
  /** The column list, or null for all columns in table order. */
  columns: string[] | null;
  format: 'text' | 'csv' | 'binary';
  delimiter: string;
  nullString: string;
  quote: string;
  escape: string;
  header: boolean;
  /** The COPY for one shard, with relation placeholder 0 and without HEADER. */
  template: string;
}

/**
 * DDL on distributed and reference tables: the statement runs on the control
 * group's shell table and, rewritten, on every shard. Names that must be unique
 * per schema (indexes, index-backed constraints) get the shard id as a suffix,
 * as Citus does.
 */
export interface DdlPlan {
  kind: 'ddl';
  /** The statement for the control group (the shell tables), as the client wrote it. */
  shellSql: string;
  /** The tables the statement touches, each with the parse tree to render per shard. */
  tables: TableInfo[];
  /** Statement text per shard: render(shardIndex) for distributed tables, render(0) for reference ones. */
  render: (table: TableInfo, shardIndex: number) => string;
  /** CREATE INDEX CONCURRENTLY, VACUUM: cannot run inside a transaction block. */
  transactional: boolean;
  /** DROP TABLE: the catalog entries go too. */
  dropsTables: string[];
  /** Changes row-level security (policies, ENABLE/DISABLE/FORCE): dpg's tenant isolation owns it while on. */
  rowSecurity?: boolean;
  tag: string;
  /** Notices to send (e.g. an option dpg translated). */
  notices: string[];
}

/** DROP INDEX: the control group knows which table an index is on; the shards' copies go too. */
export interface DropIndexPlan {
  kind: 'drop-index';
  sql: string;
  indexes: string[];
  ifExists: boolean;
  cascade: boolean;
  concurrent: boolean;
}

/** create_distributed_table and the other Citus functions the coordinator runs itself (shard moves, the rebalancer). */
export interface DistributionFunctionPlan {
  kind: 'distribution-function';
  name:
    | 'create_distributed_table'
    | 'create_reference_table'
    | 'alter_distributed_table'
    | 'undistribute_table'
    | 'citus_move_shard_placement'
    | 'master_move_shard_placement'
    | 'rebalance_table_shards'
    | 'get_rebalance_table_shards_plan'
    | 'citus_rebalance_start'
    | 'citus_rebalance_wait'
    | 'citus_split_shard_by_split_points';
  /** Positional arguments, then named ones, as text (NULL as null). */
  args: (string | null)[];
  named: Record<string, string | null>;
}

/** No distributed or reference table involved: the control group runs it as written (catalog queries, functions, shells). */
export interface ControlPlan {
  kind: 'control';
  sql: string;
  /** A utility statement that must not run inside the coordinator's own transaction wrappers. */
  utility: boolean;
  /** Notices to send before running it (e.g. an option dpg dropped). */
  notices?: string[];
  /** COPY FROM STDIN into a control-group table: the client's data is passed through. */
  copyIn?: boolean;
  /** set_config() calls the session keeps once the statement succeeded (planner/session-state.ts). */
  sessionConfig?: SessionConfigCall[];
}

/** The ORDER BY of a multi-shard SELECT, evaluated by the coordinator's merge. */
export interface SortKey {
  /** Column of the worker's result row holding the sort value (hidden columns come after the visible ones). */
  column: number;
  descending: boolean;
  nullsFirst: boolean;
  /** Hidden column holding pg_collation_for() of the sort value (NULL for types without a collation). */
  collationColumn?: number;
}

export interface LimitSpec {
  /** Integer constant, or a 1-based parameter number. */
  limit: { constant: number | null } | { param: number } | null;
  offset: { constant: number } | { param: number } | null;
}

/** How a SELECT spanning several shards is combined. */
export interface MergeSpec {
  /** SQL run on one shard, relation placeholders still in it (see physical/sql-template.ts); has ORDER BY and LIMIT limit+offset. */
  shardTemplate: string;
  /** Number of hidden sort columns appended to the target list, dropped before rows reach the client. */
  hiddenColumns: number;
  sortKeys: SortKey[];
  /** ORDER BY clause to put after a UNION ALL of several shards on one group (names the hidden columns). */
  unionOrderBy: string;
  limit: LimitSpec;
}

/** SELECT/UPDATE/DELETE over co-located distributed tables (and reference tables). */
export interface DistributedPlan {
  kind: 'distributed';
  command: 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';
  /** The distributed table whose shard index every relation follows. */
  anchor: TableInfo;
  /** Values the anchor's distribution column is restricted to; null when every shard is needed. */
  keyValues: KeyValue[] | null;
  /**
   * When the distributed tables are not joined on their distribution column, each is
   * pinned on its own; the statement runs only if all resolve to one and the same shard.
   */
  pinnedEach: KeyValue[][] | null;
  /** The statement with every relation replaced by a placeholder, filled per shard. */
  template: string;
  /** Relation placeholders in the template, in the order physical/sql-template.ts fills them. */
  relations: TableInfo[];
  /** For SELECT over several shards; null when the SELECT cannot be merged (then it must route to one shard). */
  merge: MergeSpec | null;
  /** For SELECT with aggregates, GROUP BY or DISTINCT over several shards. */
  aggregate: AggregateSpec | null;
  /** Why neither `merge` nor `aggregate` applies, for the 0A000 error when the statement does need several shards. */
  mergeUnsupported: string | null;
  /** PostgreSQL's own error for the statement over several shards (e.g. 42803), when it has one. */
  mergeError?: ClientError;
  readOnly: boolean;
  /** A read whose result depends only on the data (no volatile function): the result cache may answer it. */
  cacheable?: boolean;
  /** ORDER BY a vector distance (<=>, <->, <#>, <+>): counted in vector_search_* metrics. */
  vectorSearch?: boolean;
  /**
   * The distributed table whose vector column the ORDER BY ranks, and the name the
   * statement gives it: its namespaces' tiers pick how each shard runs the search
   * (physical/search-route.ts).
   */
  searched?: { table: TableInfo; ref: string; otherFilters: boolean };
}

/**
 * A multi-row INSERT ... VALUES into a distributed table: the rows are grouped by
 * shard and each group is sent as its own INSERT (a one-row INSERT is a
 * DistributedPlan routed by its row's value).
 */
export interface InsertPlan {
  kind: 'insert';
  table: TableInfo;
  /** Per VALUES row, the distribution value. */
  rowKeys: KeyValue[];
  /** The InsertStmt parse tree with relation placeholders; per shard its VALUES list is cut down. */
  node: unknown;
  relations: TableInfo[];
  /** Has RETURNING: rows come back to the client. */
  returning: boolean;
  /**
   * INSERT ... SELECT: the SELECT's own plan, run first on the coordinator; its rows become
   * the VALUES (`node`'s selectStmt is replaced per shard), the distribution value at
   * `keyIndex` of each. rowKeys is then empty.
   */
  source?: { plan: Plan; columns: number; keyIndex: number };
}

/** INSERT/UPDATE/DELETE/TRUNCATE on a reference table: every worker group, atomically. */
export interface ReferenceWritePlan {
  kind: 'reference-write';
  template: string;
  relations: TableInfo[];
}

export interface TransactionPlan {
  kind: 'transaction';
  action: 'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollback-to' | 'prepare' | 'commit-prepared' | 'rollback-prepared';
  /** The statement text, sent to workers where the action needs it (BEGIN options, SAVEPOINT names). */
  sql: string;
  tag: string;
}

export interface SessionSettingPlan {
  kind: 'set';
  /** SET x = y / SET LOCAL / RESET x / RESET ALL / SET SESSION CHARACTERISTICS, sent to every worker connection the session uses. */
  sql: string;
  name: string | null;
  local: boolean;
  reset: boolean;
  tag: string;
}

export interface EmptyPlan {
  kind: 'empty';
}

export interface UnsupportedPlan {
  kind: 'unsupported';
  error: ClientError;
}

/** Placeholder for relation k in a template; never a valid user identifier. */
export function relationPlaceholder(k: number): string {
  return `__dpg_rel_${k}__`;
}

/**
 * The plan with its tables as the catalog has them now. A plan is kept past catalog
 * changes (a prepared statement keeps its plan for good): its SQL template does not
 * depend on where shards are, but routing does, so the executor routes with the current
 * shard list (shards moved to another group, a shard split in two).
 */
export function withCurrentTables<P extends Plan>(plan: P, current: (table: TableInfo) => TableInfo): P {
  // The catalog did not change the tables (the common case): the plan itself, so that what
  // is cached per plan object (search forms, descriptions) stays found.
  const same = (tables: readonly TableInfo[]) => tables.every((t) => current(t) === t);
  switch (plan.kind) {
    case 'distributed':
      if (current(plan.anchor) === plan.anchor && same(plan.relations) && (!plan.searched || current(plan.searched.table) === plan.searched.table)) return plan;
      return { ...plan, anchor: current(plan.anchor), relations: plan.relations.map(current), searched: plan.searched && { ...plan.searched, table: current(plan.searched.table) } };
    case 'insert': {
      const source = plan.source && withCurrentTables(plan.source.plan, current);
      if (current(plan.table) === plan.table && same(plan.relations) && source === plan.source?.plan) return plan;
      return { ...plan, table: current(plan.table), relations: plan.relations.map(current), source: plan.source && { ...plan.source, plan: source! } };
    }
    case 'reference-write':
      return same(plan.relations) ? plan : { ...plan, relations: plan.relations.map(current) };
    case 'copy':
      return current(plan.table) === plan.table ? plan : { ...plan, table: current(plan.table) };
    case 'ddl':
      return same(plan.tables) ? plan : { ...plan, tables: plan.tables.map(current) };
    default:
      return plan;
  }
}
