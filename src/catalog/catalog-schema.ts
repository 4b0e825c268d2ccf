import { quoteIdentifier } from '../shared/quoting.ts';

/**
 * The catalog, kept in the control group's database: groups and nodes, distributed
 * and reference tables, shards with their hash ranges, and placements (shard ->
 * group). The views answer the questions the seed and Citus users ask
 * (`citus_shards`, `pg_dist_shard`, `pg_dist_placement`, `pg_dist_node`,
 * `pg_dist_partition`); the database's search_path includes dpg_catalog, so the
 * seed's `SELECT ... FROM citus_shards` runs unchanged.
 */
export const FIRST_SHARD_ID = 102008;

export const CATALOG_VIEWS = ['citus_shards', 'pg_dist_shard', 'pg_dist_placement', 'pg_dist_node', 'pg_dist_partition', 'dpg_namespaces', 'dpg_maintenance', 'dpg_shard_moves'];

export const CATALOG_SCHEMA_SQL = `
CREATE SCHEMA IF NOT EXISTS dpg_catalog;

CREATE TABLE dpg_catalog.groups (
  group_id   int PRIMARY KEY,
  name       text NOT NULL UNIQUE,
  kind       text NOT NULL CHECK (kind IN ('control', 'worker'))
);

CREATE TABLE dpg_catalog.nodes (
  node_id      int PRIMARY KEY,
  group_id     int NOT NULL REFERENCES dpg_catalog.groups,
  name         text NOT NULL UNIQUE,
  host         text NOT NULL,
  port         int NOT NULL,
  patroni_port int NOT NULL,
  role         text NOT NULL DEFAULT 'unknown' CHECK (role IN ('leader', 'replica', 'unknown')),
  state        text NOT NULL DEFAULT 'unknown',
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dpg_catalog.colocation_groups (
  colocation_id       int PRIMARY KEY,
  shard_count         int NOT NULL CHECK (shard_count > 0),
  distribution_column_type regtype NOT NULL
);

CREATE TABLE dpg_catalog.tables (
  table_name          text PRIMARY KEY,
  kind                text NOT NULL CHECK (kind IN ('distributed', 'reference')),
  distribution_column text,
  colocation_id       int REFERENCES dpg_catalog.colocation_groups,
  shard_count         int NOT NULL CHECK (shard_count > 0),
  durability          text NOT NULL CHECK (durability IN ('critical', 'audit', 'ephemeral')),
  created_at          timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'distributed') = (distribution_column IS NOT NULL AND colocation_id IS NOT NULL))
);

CREATE SEQUENCE dpg_catalog.shard_id_seq START ${FIRST_SHARD_ID};

CREATE TABLE dpg_catalog.shards (
  shardid     bigint PRIMARY KEY DEFAULT nextval('dpg_catalog.shard_id_seq'),
  table_name  text NOT NULL REFERENCES dpg_catalog.tables ON DELETE CASCADE,
  shard_index int NOT NULL,
  -- Inclusive int32 range of hashtext(distribution value); NULL for reference tables.
  hash_min    int,
  hash_max    int,
  UNIQUE (table_name, shard_index),
  CHECK (hash_min <= hash_max)
);

CREATE TABLE dpg_catalog.placements (
  placementid bigserial PRIMARY KEY,
  shardid     bigint NOT NULL REFERENCES dpg_catalog.shards ON DELETE CASCADE,
  group_id    int NOT NULL REFERENCES dpg_catalog.groups,
  UNIQUE (shardid, group_id)
);

-- Sizes and row counts as last collected from the workers (dpg refreshes them).
CREATE TABLE dpg_catalog.shard_stats (
  shardid      bigint NOT NULL REFERENCES dpg_catalog.shards ON DELETE CASCADE,
  group_id     int NOT NULL REFERENCES dpg_catalog.groups,
  size_bytes   bigint NOT NULL,
  row_count    bigint NOT NULL,
  collected_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shardid, group_id)
);

-- Two-phase commit decisions: a distributed transaction whose row exists here is
-- committed; its prepared parts are committed by the coordinator or, after a crash,
-- by the recovery loop. A prepared part without a row is rolled back.
CREATE TABLE dpg_catalog.commit_records (
  gid         text PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW dpg_catalog.group_leaders AS
  SELECT DISTINCT ON (group_id) group_id, node_id, host, port
  FROM dpg_catalog.nodes
  ORDER BY group_id, (role = 'leader') DESC, node_id;

CREATE VIEW public.citus_shards AS
  SELECT t.table_name::regclass AS table_name,
         s.shardid,
         t.table_name || '_' || s.shardid AS shard_name,
         CASE t.kind WHEN 'distributed' THEN 'distributed' ELSE 'reference' END AS citus_table_type,
         coalesce(t.colocation_id, 0) AS colocation_id,
         l.host AS nodename,
         l.port AS nodeport,
         coalesce(st.size_bytes, 0) AS shard_size
  FROM dpg_catalog.shards s
  JOIN dpg_catalog.tables t USING (table_name)
  JOIN dpg_catalog.placements p USING (shardid)
  JOIN dpg_catalog.group_leaders l USING (group_id)
  LEFT JOIN dpg_catalog.shard_stats st ON st.shardid = s.shardid AND st.group_id = p.group_id;

CREATE VIEW public.pg_dist_shard AS
  SELECT t.table_name::regclass AS logicalrelid,
         s.shardid,
         't'::"char" AS shardstorage,
         s.hash_min::text AS shardminvalue,
         s.hash_max::text AS shardmaxvalue
  FROM dpg_catalog.shards s JOIN dpg_catalog.tables t USING (table_name);

CREATE VIEW public.pg_dist_placement AS
  SELECT p.placementid, p.shardid, 1 AS shardstate, coalesce(st.size_bytes, 0) AS shardlength, p.group_id AS groupid
  FROM dpg_catalog.placements p
  LEFT JOIN dpg_catalog.shard_stats st USING (shardid, group_id);

CREATE VIEW public.pg_dist_node AS
  SELECT n.node_id AS nodeid, n.group_id AS groupid, n.host AS nodename, n.port AS nodeport,
         CASE n.role WHEN 'leader' THEN 'primary' ELSE 'secondary' END AS noderole,
         n.state = 'running' AS isactive, g.name AS nodecluster
  FROM dpg_catalog.nodes n JOIN dpg_catalog.groups g USING (group_id);

CREATE VIEW public.pg_dist_partition AS
  SELECT t.table_name::regclass AS logicalrelid,
         CASE t.kind WHEN 'distributed' THEN 'h' ELSE 'n' END::"char" AS partmethod,
         t.distribution_column AS partkey,
         coalesce(t.colocation_id, 0) AS colocationid,
         CASE t.kind WHEN 'distributed' THEN 's' ELSE 't' END::"char" AS repmodel
  FROM dpg_catalog.tables t;
`;

/**
 * Catalog objects added after the first release, created with IF NOT EXISTS so that
 * \`dpg up\` brings an existing cluster's catalog up to date as well as a new one's.
 *
 * vector_namespaces: the search tier of every namespace of a table with an HNSW
 * index. 'exact' namespaces are searched without an approximate index; a namespace
 * past vector.exact_search_max_rows is 'promoting' while an HNSW index of its own
 * (a partial index, WHERE namespace = '...') is built concurrently, then 'hnsw'. A
 * namespace past vector.split_rows is 'split': its new rows are placed by the seed's
 * composite key (namespace || to_char(created_at, 'YYYY-MM')) and it is read on
 * every shard. shardid is its home shard (by namespace alone); index_names lists
 * the indexes of its own, one per shard piece large enough to have one.
 */
export const CATALOG_UPGRADE_SQL = `
-- A two-phase commit's decision row is also written by a recovery loop that gives up on
-- a transaction (committed = false) before it rolls the parts back: whichever insert of
-- the gid comes first decides, so a commit record that comes late cannot commit parts
-- a recovery loop has rolled back.
ALTER TABLE dpg_catalog.commit_records ADD COLUMN IF NOT EXISTS committed boolean NOT NULL DEFAULT true;

CREATE TABLE IF NOT EXISTS dpg_catalog.vector_namespaces (
  table_name      text NOT NULL REFERENCES dpg_catalog.tables ON DELETE CASCADE,
  namespace       text NOT NULL,
  shardid         bigint NOT NULL REFERENCES dpg_catalog.shards ON DELETE CASCADE,
  row_count       bigint NOT NULL,
  tier            text NOT NULL DEFAULT 'exact' CHECK (tier IN ('exact', 'promoting', 'hnsw', 'split')),
  index_names     text[] NOT NULL DEFAULT '{}',
  m               int,
  ef_construction int,
  counted_at      timestamptz NOT NULL DEFAULT now(),
  tier_changed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name, namespace)
);

-- The seed's hyperbolic mapping (topology/hyperbolic.ts) beside Citus' hash ranges.
ALTER TABLE dpg_catalog.tables ADD COLUMN IF NOT EXISTS distribution_method text NOT NULL DEFAULT 'hash'
  CHECK (distribution_method IN ('hash', 'hyperbolic'));
ALTER TABLE dpg_catalog.colocation_groups ADD COLUMN IF NOT EXISTS distribution_method text NOT NULL DEFAULT 'hash'
  CHECK (distribution_method IN ('hash', 'hyperbolic'));

-- Scheduled maintenance (src/maintenance): one row per job and scheduled minute, so that
-- of several coordinators exactly one runs it (the one whose INSERT wins).
CREATE TABLE IF NOT EXISTS dpg_catalog.maintenance_runs (
  job           text NOT NULL,
  scheduled_for timestamptz NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  result        text NOT NULL DEFAULT 'running' CHECK (result IN ('running', 'ok', 'failed')),
  detail        text,
  PRIMARY KEY (job, scheduled_for)
);

-- Shard moves (src/rebalance): one row per move of a shard group (the shards of one index
-- of a co-location group) from one worker group to another, with the step it reached, so
-- that an interrupted move can be resumed or rolled back. Its state is also the decision
-- of the cutover's two-phase commit: a source transaction prepared as dpg_move_<id>
-- commits once the state is 'cleanup' or 'done', and is rolled back otherwise.
CREATE TABLE IF NOT EXISTS dpg_catalog.shard_moves (
  move_id        bigserial PRIMARY KEY,
  colocation_id  int NOT NULL,
  shard_index    int NOT NULL,
  shard_ids      bigint[] NOT NULL,
  -- No foreign keys: the history outlives a group dpg remove-group took away.
  source_group   int NOT NULL,
  target_group   int NOT NULL,
  state          text NOT NULL DEFAULT 'setup'
                 CHECK (state IN ('setup', 'copying', 'catching-up', 'cutover', 'cleanup', 'done', 'rolling-back', 'rolled-back')),
  rows_total     bigint,
  bytes_total    bigint,
  pause_ms       double precision,
  detail         text,
  started_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz
);
-- Indexes the source got during the move (a namespace's own HNSW index), found at the
-- cutover and built on the target by the cleanup.
ALTER TABLE dpg_catalog.shard_moves ADD COLUMN IF NOT EXISTS late_indexes text[] NOT NULL DEFAULT '{}';
-- A split (dpg split-shard) is recorded the same way: its source and target group are the
-- shard's group, new_shard_ids[k] (per table, in the order of shard_ids) the pieces, and
-- split_points the last hash of every piece but the last.
ALTER TABLE dpg_catalog.shard_moves ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'move' CHECK (kind IN ('move', 'split'));
ALTER TABLE dpg_catalog.shard_moves ADD COLUMN IF NOT EXISTS new_shard_ids bigint[];
ALTER TABLE dpg_catalog.shard_moves ADD COLUMN IF NOT EXISTS split_points int[];
-- A merge (dpg merge-shards, alter_distributed_table(shard_count := N)) of adjacent shard
-- groups on one worker group into one: shard_ids holds every merged shard, new_shard_ids
-- one shard per table, split_points none.
ALTER TABLE dpg_catalog.shard_moves DROP CONSTRAINT IF EXISTS shard_moves_kind_check;
ALTER TABLE dpg_catalog.shard_moves ADD CONSTRAINT shard_moves_kind_check CHECK (kind IN ('move', 'split', 'merge'));

CREATE OR REPLACE VIEW public.dpg_shard_moves AS
  SELECT m.move_id, m.shard_ids, m.source_group, m.target_group, m.state, m.rows_total, m.bytes_total, m.pause_ms,
         m.detail, m.started_at, m.updated_at, m.finished_at, m.finished_at - m.started_at AS duration,
         m.kind, m.new_shard_ids, m.split_points
  FROM dpg_catalog.shard_moves m;
-- One unfinished move, split or merge per shard at a time: checked by claimShards
-- (src/rebalance/move-catalog.ts) under a lock of the table, by shard ids, since a split
-- or merge changes the shard indexes of the shard groups after it.
DROP INDEX IF EXISTS dpg_catalog.shard_moves_one_active;

-- Bumped whenever reference tables gain or lose a placement (dpg add-group, remove-group).
-- A transaction that wrote a reference table commits only if the epoch is still the one
-- its coordinator routed the write with (executor/transaction.ts): a write routed to the
-- old set of groups is rolled back and runs again on the new one.
CREATE TABLE IF NOT EXISTS dpg_catalog.reference_epoch (
  one   boolean PRIMARY KEY DEFAULT true CHECK (one),
  epoch bigint NOT NULL
);
INSERT INTO dpg_catalog.reference_epoch (epoch) VALUES (1) ON CONFLICT DO NOTHING;

-- The shell of a distributed or reference table on the control group holds no rows (they
-- live on the worker groups). A statement the coordinator does not route (SQL inside a
-- function or DO block runs where it is called, the control group for a SELECT f()) would
-- insert into the shell, where no read looks, or update and delete nothing while
-- reporting success: refused instead (SHELL_TRIGGER).
CREATE OR REPLACE FUNCTION dpg_catalog.refuse_shell_write() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
    MESSAGE = format('%I is a distributed or reference table: its rows live on the worker groups, but this %s ran on the control group, unrouted (inside a function or DO block); run it through the coordinator as a statement of its own', TG_TABLE_NAME, TG_OP);
END
$fn$;



CREATE OR REPLACE VIEW public.dpg_maintenance AS
  SELECT job, scheduled_for, started_at, finished_at, finished_at - started_at AS duration, result, detail
  FROM dpg_catalog.maintenance_runs;

CREATE OR REPLACE VIEW public.dpg_namespaces AS
  SELECT v.table_name, v.namespace, v.shardid, v.row_count, v.tier, v.index_names, v.m, v.ef_construction,
         v.counted_at, v.tier_changed_at
  FROM dpg_catalog.vector_namespaces v;
`;

/** The trigger on a shell table that refuses rows (see dpg_catalog.refuse_shell_write). */
export const SHELL_TRIGGER = 'dpg_shell_rows';

export function shellTriggerSql(table: string): string {
  return `CREATE OR REPLACE TRIGGER ${SHELL_TRIGGER} BEFORE INSERT OR UPDATE OR DELETE ON public.${quoteIdentifier(table)} FOR EACH STATEMENT EXECUTE FUNCTION dpg_catalog.refuse_shell_write()`;
}
