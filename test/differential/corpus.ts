/**
 * The differential corpus (issue #3): a deterministic data set and the statements
 * that run, in this order, against one plain PostgreSQL 15 + pgvector node and
 * against dpg. test/differential/differential.test.ts runs them and compares.
 *
 * Vector ORDER BY: pgvector's HNSW index gives approximate answers (and skips NULL
 * embeddings), so exact comparison is impossible with it. The corpus turns index
 * scans off for the session on both sides (`SET enable_indexscan = off`, one of its
 * first statements; dpg passes session settings to its shard connections), so every
 * `ORDER BY embedding <=> q` is an exact sort on both sides.
 *
 * Ties: every ORDER BY either sorts on a unique key (ends with the primary or
 * unique key, or with created_at, which is unique in the data) or names its sort
 * columns in `tieColumns`, so rows equal on them may come in any order.
 *
 * Floating point: `confidence` and `weight` (real) are multiples of 1/64 and 1/8,
 * so sums and averages are exact whatever order shards add them in.
 */
import { seededRandom } from '../support/random.ts';
import { EMBEDDING_DIMENSIONS } from '../../src/catalog/seed-schema.ts';

export interface CorpusStatement {
  section: string;
  sql: string;
  /** Bound parameters: the statement then runs over the extended protocol in both formats. */
  params?: unknown[];
  /** A named prepared statement (node-postgres parses it once per session, then only binds it). */
  name?: string;
  /**
   * Runs once, in `format` (default text), instead of once in text and once in
   * binary. Default: anything but SELECT/VALUES/TABLE/SHOW, and SELECTs that call
   * create_distributed_table and its siblings.
   */
  write?: boolean;
  format?: 'text' | 'binary';
  /** Rows compare in order. Default: the statement has an ORDER BY at its top level (RETURNING never is). */
  ordered?: boolean;
  /** With ordered rows: rows equal in these (0-based) columns may come in any order among themselves. */
  tieColumns?: number[];
  /** dpg must reject it with 0A000; it does not run on the plain node. */
  expectUnsupported?: true;
  /** A dpg bug (listed in the report): both sides run it, the comparison is skipped. */
  knownBug?: string;
}

// ---------------------------------------------------------------------------
// Data

export const NAMESPACES = [
  'agent-alpha', 'agent-bravo', 'agent-charlie', 'agent-delta', 'agent-echo', 'agent-foxtrot', 'agent-golf', 'agent-hotel',
  'agent-india', 'agent-juliet', 'agent-kilo', 'agent-lima', 'agent-mike', 'agent-november', 'agent-oscar', 'agent-papa',
  'agent-quebec', 'agent-romeo', 'agent-sierra', 'agent-tango', 'agent-uniform', 'agent-victor', 'agent-whiskey', 'agent-xray',
  'agent-yankee', 'agent-zulu', 'café-ops', '日本語', 'proj/alpha', 'shared',
];

const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;
const pad = (n: number, width = 3) => String(n).padStart(width, '0');
/** Deterministic UUIDs, not monotonic in insertion order. */
const uuid = (table: number, i: number) =>
  `${(Math.imul(i + 1, 0x9e3779b1) >>> 0).toString(16).padStart(8, '0')}-${pad(table, 4)}-4000-8000-${i.toString(16).padStart(12, '0')}`;
const BASE_TIME = Date.UTC(2024, 0, 1);
const timestamp = (minutes: number) => new Date(BASE_TIME + minutes * 60_000).toISOString();

/** A 384-dimension vector with 3-decimal components in [-1, 1], as pgvector's text form. */
function vectorLiteral(random: (bound: number) => number): string {
  return `[${Array.from({ length: EMBEDDING_DIMENSIONS }, () => (random(2001) - 1000) / 1000).join(',')}]`;
}

const queryRandom = seededRandom(9001);
export const Q1 = vectorLiteral(queryRandom);
export const Q2 = vectorLiteral(queryRandom);
const q1 = `${quote(Q1)}::ruvector`;
const q2 = `${quote(Q2)}::ruvector`;

export const rowsInNamespace = (n: number) => 10 + ((n * 37) % 80);

function batches(head: string, rows: string[], size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < rows.length; i += size) out.push(`${head} VALUES\n${rows.slice(i, i + size).join(',\n')}`);
  return out;
}

const KINDS = ['fact', 'episode', 'skill', 'note'];
const TAGS = ['red', 'green', 'blue', 'amber', 'violet'];
const PATTERN_TYPES = ['heuristic', 'strategy', 'anti-pattern', 'workflow', 'insight'];
const LABELS = ['concept', 'entity', 'event', 'tool'];

/**
 * INSERT statements loading the same rows on both sides (on dpg through the
 * coordinator: multi-row INSERTs that it splits by shard). Every column that has a
 * volatile default (id, created_at, updated_at) is given explicitly.
 */
export function dataLoad(): string[] {
  const random = seededRandom(20240603);
  const statements: string[] = [];

  const memory: string[] = [];
  let i = 0;
  NAMESPACES.forEach((namespace, n) => {
    for (let j = 0; j < rowsInNamespace(n); j++, i++) {
      const value = j % 13 === 5 ? 'NULL' : quote(`value ${(i * 7919) % 1000} of ${namespace}`);
      const embedding = i % 23 === 4 ? 'NULL' : `${quote(vectorLiteral(random))}::ruvector`;
      const metadata = i % 11 === 0 ? `{"kind": "${KINDS[i % 4]}"}` : `{"kind": "${KINDS[i % 4]}", "score": ${(i * 31) % 100}, "flag": ${i % 2 === 0}}`;
      const tags = `{${TAGS.filter((_, t) => (i >> t) % 3 === 0).join(',')}}`;
      const created = timestamp(i * 37);
      const updated = timestamp(i * 37 + (i % 5) * 60);
      memory.push(`(${quote(uuid(1, i))}, ${quote(namespace)}, 'k-${pad(j)}', ${value}, ${embedding}, ${quote(metadata)}, ${quote(tags)}, ${quote(created)}, ${quote(updated)})`);
    }
  });
  statements.push(...batches('INSERT INTO memory_entries (id, namespace, key, value, embedding, metadata, tags, created_at, updated_at)', memory, 100));

  const patterns: string[] = [];
  i = 0;
  NAMESPACES.slice(0, 25).forEach((namespace, n) => {
    for (let j = 0; j < 2 + ((n * 7) % 13); j++, i++) {
      const embedding = i % 9 === 0 ? 'NULL' : `${quote(vectorLiteral(random))}::ruvector`;
      patterns.push(
        `(${quote(uuid(2, i))}, ${quote(namespace)}, ${quote(PATTERN_TYPES[(i * 3) % 5]!)}, ${quote(`{"steps": ${i % 5}, "source": "gen"}`)}, ` +
          `${((i * 13) % 65) / 64}, ${(i * 397) % 1000}, ${embedding}, ${quote(timestamp(i * 53))}, ${quote(timestamp(i * 53 + 7))})`,
      );
    }
  });
  statements.push(...batches('INSERT INTO patterns (id, namespace, pattern_type, pattern_data, confidence, usage_count, embedding, created_at, updated_at)', patterns, 100));

  const nodes: string[] = [];
  const edges: string[] = [];
  i = 0;
  let e = 0;
  NAMESPACES.slice(0, 20).forEach((namespace, n) => {
    const count = 6 + (n % 5);
    for (let j = 0; j < count; j++, i++) {
      const embedding = j % 2 === 0 ? `${quote(vectorLiteral(random))}::ruvector` : 'NULL';
      nodes.push(`(${quote(uuid(3, i))}, ${quote(namespace)}, 'n${j}', ${quote(LABELS[i % 4]!)}, ${quote(`{"rank": ${j}}`)}, ${embedding}, ${quote(timestamp(i * 11))})`);
      const targets: [number, string][] = [[(j + 1) % count, 'next'], [(j * 3 + 2) % count, 'depends_on']];
      for (const [target, relation] of targets) {
        if (target === j) continue;
        edges.push(`(${quote(uuid(4, e))}, ${quote(namespace)}, 'n${j}', 'n${target}', '${relation}', ${((e * 5) % 9) / 8}, '{}', ${quote(timestamp(e * 13))})`);
        e++;
      }
    }
  });
  statements.push(...batches('INSERT INTO graph_nodes (id, namespace, node_key, label, properties, embedding, created_at)', nodes, 100));
  statements.push(...batches('INSERT INTO graph_edges (id, namespace, source_key, target_key, relation, weight, properties, created_at)', edges, 200));

  const metadata = NAMESPACES.slice(0, 20).map((namespace, n) => `(${quote(`ns:${namespace}`)}, ${quote(`{"owner": "team-${n % 4}", "tier": ${n % 3}}`)}, ${quote(timestamp(n))})`);
  metadata.push(`('config:max_k', '{"value": 10}', ${quote(timestamp(100))})`, `('config:model', '{"name": "mini", "dims": 384}', ${quote(timestamp(101))})`);
  statements.push(...batches('INSERT INTO metadata (key, value, updated_at)', metadata, 100));
  statements.push(
    `INSERT INTO vector_indexes (index_name, table_name, column_name, metric, dimensions, m, ef_construction, ef_search, created_at) VALUES
     ('idx_memory_embedding_hnsw', 'memory_entries', 'embedding', 'cosine', 384, 16, 100, 50, ${quote(timestamp(0))}),
     ('idx_patterns_embedding_hnsw', 'patterns', 'embedding', 'cosine', 384, 16, 100, 50, ${quote(timestamp(1))}),
     ('idx_graph_nodes_embedding_hnsw', 'graph_nodes', 'embedding', 'l2', 384, 24, 150, 75, ${quote(timestamp(2))})`,
  );
  statements.push(
    `INSERT INTO sessions (session_id, namespace, agent_id, state, started_at, last_active_at, expires_at) VALUES
     ('s-1', 'agent-alpha', 'a1', '{"step": 1}', ${quote(timestamp(10))}, ${quote(timestamp(20))}, NULL),
     ('s-2', 'agent-bravo', 'a2', '{"step": 4}', ${quote(timestamp(11))}, ${quote(timestamp(25))}, ${quote(timestamp(1000))}),
     ('s-3', 'shared', NULL, '{}', ${quote(timestamp(12))}, ${quote(timestamp(12))}, ${quote(timestamp(2000))}),
     ('s-4', NULL, 'a4', '{"step": 2}', ${quote(timestamp(13))}, ${quote(timestamp(30))}, NULL)`,
  );
  return statements;
}

// ---------------------------------------------------------------------------
// Statements

const corpus: CorpusStatement[] = [];
let section = '';
const add = (sql: string, options: Omit<CorpusStatement, 'section' | 'sql'> = {}) => corpus.push({ section, sql, ...options });
const write = (sql: string, options: Omit<CorpusStatement, 'section' | 'sql'> = {}) => add(sql, { ...options, write: true });
const unsupported = (sql: string) => add(sql, { expectUnsupported: true });

const NEW_TIME = `'2025-02-03 04:05:06+00'`;

/** dpg bugs this corpus exposes (each listed in the report of issue #3's differential test). */
const BUG = {
  schemaQualifiedColumns: 'a column qualified with schema and table (public.memory_entries.key) fails with 42P01 "invalid reference to FROM-clause entry"',
  replyShift: 'after a statement fails on several shards (or create_distributed_table fails), pooled connections keep unread replies: later statements, in any session, get another statement\'s reply',
  pinnedSetOperation: 'UNION ALL of SELECTs each pinned to the same namespace is rejected with 0A000, though every distributed table is pinned to one shard',
};

section = 'session';
write(`SET TimeZone = 'UTC'`);
write('SET enable_indexscan = off');
add('SHOW enable_indexscan');

section = 'coordinator-only';
add(`SELECT 1 AS one, 'two'::text AS two, NULL::int AS three, 2.50::numeric(6,2) AS four, true AS five`);
add(`SELECT ARRAY[1, 2, NULL]::int[] AS a, '{"a": [1, 2]}'::jsonb AS j, '2024-02-29'::date AS d, '12:34:56.789'::time AS t, 1.5::float8 AS f, 0.1::real AS r`);
add(`SELECT '[1,2.5,-3]'::ruvector AS v, '[1,2,3]'::ruvector <=> '[3,2,1]'::ruvector AS cosine, '[1,2,3]'::ruvector <-> '[3,2,1]'::ruvector AS l2`);
add('SELECT g, g * g AS square FROM generate_series(1, 6) AS g ORDER BY g DESC');
add(`SELECT 'a' || 'b' AS ab, upper('café') AS up, length('日本語') AS len, '\\x00ff10'::bytea AS bytes, 'a7f1c2d4-0000-4000-8000-000000000001'::uuid AS id`);

section = 'routed reads';
add(`SELECT id, namespace, key, value, embedding, metadata, tags, created_at, updated_at FROM memory_entries WHERE namespace = 'agent-alpha'`);
add(`SELECT * FROM memory_entries WHERE namespace = 'café-ops' ORDER BY key`);
add(`SELECT key, value FROM memory_entries WHERE namespace = '日本語' AND value IS NULL`);
add(`SELECT count(*) FROM memory_entries WHERE namespace = 'proj/alpha'`);
add(`SELECT key, created_at FROM memory_entries WHERE namespace = 'agent-bravo' ORDER BY created_at DESC LIMIT 5`);
add(`SELECT namespace, key FROM memory_entries WHERE namespace = ANY('{agent-alpha,agent-kilo,shared}') ORDER BY namespace, key`);
add(`SELECT namespace, key FROM memory_entries WHERE namespace IN ('agent-delta', 'agent-echo') ORDER BY key DESC, namespace LIMIT 7 OFFSET 3`);
add(`SELECT namespace, key FROM memory_entries WHERE namespace = 'no-such-namespace'`);
add(`SELECT key, value FROM memory_entries WHERE namespace = $1 ORDER BY key LIMIT $2`, { params: ['agent-golf', 6] });
add(`SELECT namespace, count(*) FROM memory_entries WHERE namespace = ANY($1) GROUP BY namespace`, { params: [['agent-hotel', 'agent-india', '日本語']] });
add(`SELECT key, metadata FROM memory_entries WHERE namespace = 'agent-hotel' AND key = 'k-003'`);
add(`SELECT key, metadata->>'score' AS score FROM memory_entries WHERE namespace = 'agent-india' AND metadata->>'kind' = 'fact' ORDER BY key`);
add(`SELECT key, tags FROM memory_entries WHERE namespace = 'agent-juliet' AND 'red' = ANY(tags) ORDER BY key`);
add(`SELECT key FROM memory_entries WHERE namespace = 'agent-kilo' AND key IN (SELECT key FROM memory_entries WHERE namespace = 'agent-kilo' AND value LIKE '%3%') ORDER BY key`);
add(`SELECT m.key FROM memory_entries m WHERE m.namespace = 'agent-kilo' AND EXISTS (SELECT 1 FROM patterns p WHERE p.namespace = 'agent-kilo' AND p.pattern_type = 'insight') ORDER BY m.key`);
add(`WITH recent AS (SELECT key, created_at FROM memory_entries WHERE namespace = 'agent-lima' ORDER BY created_at DESC LIMIT 10) SELECT count(*), min(key), max(key) FROM recent`);
add(`SELECT key, row_number() OVER (ORDER BY created_at) AS rn, lag(key) OVER (ORDER BY created_at) AS previous FROM memory_entries WHERE namespace = 'agent-mike' ORDER BY key`);
add(`SELECT metadata->>'kind' AS kind, count(*), min(created_at) FROM memory_entries WHERE namespace = 'shared' GROUP BY 1 ORDER BY 1`);
add(`SELECT count(DISTINCT pattern_type), string_agg(pattern_type, ',' ORDER BY id) FROM patterns WHERE namespace = 'agent-echo'`);
add(`SELECT namespace, key FROM memory_entries WHERE namespace = 'agent-november' OR namespace = 'agent-oscar' ORDER BY namespace, key LIMIT 12`);
add(`SELECT key, value FROM memory_entries WHERE namespace = 'agent-papa' AND key BETWEEN 'k-010' AND 'k-015' ORDER BY key DESC`);
add(`SELECT key, embedding FROM memory_entries WHERE namespace = 'agent-quebec' AND embedding IS NULL ORDER BY key`);
add(`SELECT namespace, key, updated_at - created_at AS age FROM memory_entries WHERE namespace = 'agent-romeo' AND updated_at > created_at ORDER BY key`);
add(`SELECT KEY FROM MEMORY_ENTRIES WHERE NAMESPACE = 'agent-alpha' ORDER BY KEY`);
add(`SELECT "key" FROM "memory_entries" WHERE "namespace" = 'agent-alpha' ORDER BY "key" DESC LIMIT 3`);
add(`SELECT count(*) FROM public.memory_entries WHERE namespace = 'café-ops'`);
add(`SELECT key FROM memory_entries WHERE 'agent-bravo' = namespace AND key < 'k-004' ORDER BY key`);
add(`SELECT key FROM memory_entries WHERE namespace = 'agent-bravo'::text AND key < 'k-004' ORDER BY key`);
add(`SELECT count(*) FROM memory_entries WHERE namespace = U&'caf\\00e9-ops'`);
add(`SELECT count(*) FROM memory_entries WHERE namespace = E'caf\\u00e9-ops'`);
add(`SELECT count(*) FROM memory_entries WHERE namespace = $$日本語$$`);
add(`SELECT count(*) FROM memory_entries WHERE namespace = 'agent-alpha' AND namespace = 'agent-bravo'`);
add(`SELECT namespace, key FROM memory_entries WHERE namespace = 'agent-alpha' AND namespace = 'agent-bravo'`);
add(`SELECT count(*), max(key) FROM memory_entries WHERE namespace IS NULL`);
add(`SELECT namespace, key FROM memory_entries WHERE namespace = ANY('{}') ORDER BY key`);
add(`SELECT count(*) FROM memory_entries WHERE namespace = lower('AGENT-ALPHA')`);
add(`SELECT count(*) FROM memory_entries WHERE namespace = ANY(ARRAY['agent-alpha', 'shared'])`);
add(`SELECT key, value FROM memory_entries WHERE (namespace, key) = ('agent-alpha', 'k-003')`);
add('SELECT key, value FROM memory_entries WHERE namespace = $1::varchar AND key = $2', { params: ['agent-sierra', 'k-004'] });
add('SELECT count(*) FROM memory_entries WHERE namespace = ANY($1::text[])', { params: ['{shared,proj/alpha}'] });
add(`SELECT memory_entries.key FROM memory_entries WHERE memory_entries.namespace = 'agent-alpha' AND memory_entries.key = 'k-001'`);
add(`SELECT memory_entries.* FROM memory_entries WHERE namespace = 'agent-alpha' ORDER BY key LIMIT 2`);
add(`SELECT public.memory_entries.key FROM public.memory_entries WHERE namespace = 'agent-alpha' ORDER BY 1 LIMIT 2`, { knownBug: BUG.schemaQualifiedColumns });
add(`SELECT count(*) FROM ONLY memory_entries WHERE namespace = 'agent-alpha'`);
add(`SELECT x.key FROM memory_entries x(a, b, key) WHERE x.b = 'agent-alpha' ORDER BY 1 LIMIT 3`);
add(`SELECT key AS memory_entries, 'memory_entries' AS literal FROM memory_entries WHERE namespace = 'agent-bravo' /* memory_entries */ ORDER BY 1 LIMIT 2`);
add(`SELECT count(*) FROM memory_entries WHERE namespace = 'agent-alpha' OR namespace IS NULL`);
add('SELECT count(*) FROM memory_entries WHERE namespace = $1', { params: [null] });
add('SELECT key, value FROM memory_entries WHERE namespace = $1 AND key = $2', { name: 'by_namespace_and_key', params: ['agent-alpha', 'k-004'] });
add('SELECT key, value FROM memory_entries WHERE namespace = $1 AND key = $2', { name: 'by_namespace_and_key', params: ['日本語', 'k-004'] });
add('SELECT key, value FROM memory_entries WHERE namespace = $1 AND key = $2', { name: 'by_namespace_and_key', params: ['shared', 'k-004'] });
add(`SELECT key FROM memory_entries WHERE namespace = 'agent-tango' AND key < 'k-003' UNION ALL SELECT pattern_type FROM patterns WHERE namespace = 'agent-tango' ORDER BY 1`, { knownBug: BUG.pinnedSetOperation });
add('-- only a comment', { write: false });

section = 'multi-shard order';
add('SELECT namespace, key FROM memory_entries ORDER BY namespace, key');
add('SELECT namespace, key, value FROM memory_entries ORDER BY namespace DESC, key DESC LIMIT 20');
add('SELECT namespace, key FROM memory_entries ORDER BY key, namespace LIMIT 25 OFFSET 100');
add('SELECT key, namespace FROM memory_entries ORDER BY 2, 1 LIMIT 40');
add('SELECT namespace AS ns, key AS k FROM memory_entries ORDER BY ns DESC, k LIMIT 30');
add('SELECT namespace, key, length(value) AS len FROM memory_entries ORDER BY length(value) DESC NULLS LAST, namespace, key LIMIT 40');
add('SELECT namespace, key, value FROM memory_entries ORDER BY value NULLS FIRST, namespace, key LIMIT 30');
add('SELECT namespace, key, value FROM memory_entries ORDER BY value DESC NULLS LAST, namespace, key LIMIT 30');
add('SELECT namespace, key, value FROM memory_entries ORDER BY value DESC, namespace, key LIMIT 10');
add('SELECT namespace, key, value FROM memory_entries ORDER BY value ASC NULLS LAST, namespace DESC, key LIMIT 15 OFFSET 5');
add('SELECT key FROM memory_entries ORDER BY created_at DESC LIMIT 10');
add(`SELECT namespace, key, (metadata->>'score')::int AS score FROM memory_entries ORDER BY (metadata->>'score')::int DESC NULLS LAST, created_at LIMIT 15`);
add(`SELECT namespace, key FROM memory_entries ORDER BY metadata->>'kind', created_at DESC LIMIT 12`);
add('SELECT id, namespace FROM memory_entries ORDER BY id LIMIT 20');
unsupported('SELECT id, metadata FROM memory_entries ORDER BY metadata, id LIMIT 10');
add('SELECT namespace, key, value IS NULL AS missing FROM memory_entries ORDER BY value IS NULL DESC, created_at LIMIT 10');
add('SELECT namespace, key FROM memory_entries ORDER BY created_at LIMIT 0');
add('SELECT namespace, key FROM memory_entries ORDER BY created_at OFFSET 1480');
add('SELECT namespace, key FROM memory_entries ORDER BY created_at LIMIT 5 OFFSET 100000');
add('SELECT namespace, key FROM memory_entries ORDER BY created_at DESC LIMIT ALL');
add('SELECT namespace, key FROM memory_entries ORDER BY created_at LIMIT NULL OFFSET 1490');
add('SELECT namespace, key FROM memory_entries ORDER BY created_at DESC FETCH FIRST 7 ROWS ONLY');
add('SELECT namespace, key, created_at FROM memory_entries ORDER BY created_at LIMIT $1 OFFSET $2', { params: [9, 33] });
add(`SELECT namespace, key, value FROM memory_entries WHERE value LIKE '%1 of agent%'`);
add(`SELECT namespace, key, lower(value) AS v, tags[1] AS first_tag, array_length(tags, 1) AS tag_count FROM memory_entries WHERE key = 'k-002'`);
add('SELECT * FROM patterns');
add('SELECT * FROM graph_edges ORDER BY namespace, source_key, relation, target_key LIMIT 50');
add('SELECT namespace, node_key, label, properties FROM graph_nodes ORDER BY label, namespace, node_key');
add('SELECT namespace, pattern_type, confidence, usage_count FROM patterns ORDER BY confidence DESC, usage_count, namespace', { tieColumns: [2, 3, 0] });
unsupported('SELECT namespace, tags FROM memory_entries ORDER BY tags DESC, created_at LIMIT 10');
add(`SELECT namespace, key, created_at FROM memory_entries WHERE created_at >= '2024-01-20' AND created_at < '2024-01-21' ORDER BY created_at`);
add(`SELECT namespace, count(*) FROM memory_entries WHERE namespace LIKE 'agent-%' AND key = 'k-000' GROUP BY namespace ORDER BY namespace`);
add('SELECT namespace AS key, key AS namespace FROM memory_entries ORDER BY key DESC, namespace LIMIT 5');
add(`SELECT namespace, key AS k FROM memory_entries ORDER BY key || '' DESC, namespace LIMIT 5`);
add(`SELECT namespace || '/' || key AS path FROM memory_entries ORDER BY 1 DESC LIMIT 10`);
add('SELECT 1 AS x FROM memory_entries WHERE namespace IN ($1, $2)', { params: ['agent-alpha', 'agent-bravo'] });
add(`SELECT memory_entries.namespace, memory_entries.key FROM memory_entries WHERE memory_entries.key = 'k-001' ORDER BY memory_entries.namespace`);
unsupported(`SELECT namespace, key, metadata->'score' AS score FROM memory_entries ORDER BY metadata->'score', id LIMIT 200`);
unsupported(`SELECT namespace, key, created_at - '2024-01-01'::timestamptz AS age FROM memory_entries WHERE key = 'k-000' ORDER BY 3`);
unsupported('SELECT namespace, key FROM memory_entries ORDER BY embedding, id LIMIT 5');
// Arrays and jsonb: their text forms do not sort like the values, so the merge refuses them.
unsupported('SELECT namespace, key, tags FROM memory_entries ORDER BY tags, created_at LIMIT 40');
// Arrays and jsonb: their text forms do not sort like the values, so the merge refuses them.
unsupported(`SELECT namespace, key, tags FROM memory_entries WHERE tags <> '{}' ORDER BY tags, created_at LIMIT 30`);
unsupported(`SELECT namespace, key FROM memory_entries WHERE key IN ('k-000', 'k-001') ORDER BY CASE WHEN key = 'k-000' THEN ARRAY['x'] ELSE ARRAY['x', 'y'] END DESC, namespace LIMIT 45`);
// Arrays and jsonb: their text forms do not sort like the values, so the merge refuses them.
unsupported(`SELECT namespace, key, metadata FROM memory_entries WHERE metadata ? 'score' ORDER BY metadata, id LIMIT 20`);

section = 'vector';
add(`SELECT namespace, key, embedding <=> ${q1} AS distance FROM memory_entries WHERE namespace = 'agent-alpha' ORDER BY embedding <=> ${q1} LIMIT 5`);
add(`SELECT key, embedding <-> ${q1} AS distance FROM memory_entries WHERE namespace = 'shared' ORDER BY embedding <-> ${q1} LIMIT 5`);
add(`SELECT key, embedding <#> ${q2} AS negative_inner_product FROM memory_entries WHERE namespace = 'agent-kilo' ORDER BY embedding <#> ${q2} LIMIT 5`);
add(`SELECT namespace, key FROM memory_entries ORDER BY embedding <=> ${q1} LIMIT 10`);
add(`SELECT namespace, key, embedding <-> ${q2} AS dist FROM memory_entries ORDER BY dist LIMIT 10`);
add(`SELECT namespace, key, (embedding <#> ${q1}) * -1 AS inner_product FROM memory_entries ORDER BY embedding <#> ${q1} LIMIT 10`);
add(`SELECT namespace, key, 1 - (embedding <=> ${q2}) AS similarity FROM memory_entries ORDER BY embedding <=> ${q2} DESC NULLS LAST LIMIT 5`);
add(`SELECT namespace, key, 1 - (embedding <=> ${q1}) AS similarity FROM memory_entries WHERE namespace = ANY('{agent-alpha,agent-bravo,agent-charlie,café-ops,日本語}') ORDER BY embedding <=> ${q1} LIMIT 20`);
add(`SELECT namespace, key FROM memory_entries WHERE namespace IN ('agent-delta', 'shared') ORDER BY embedding <-> ${q2} LIMIT 8`);
add('SELECT namespace, key, embedding <=> $1::ruvector AS d FROM memory_entries ORDER BY embedding <=> $1::ruvector LIMIT $2', { params: [Q2, 12] });
add(`SELECT *, embedding <=> ${q1} AS d FROM memory_entries ORDER BY d LIMIT 3`);
add('SELECT namespace, key FROM memory_entries WHERE namespace = $2 ORDER BY embedding <-> $1::ruvector LIMIT 4', { params: [Q1, 'proj/alpha'] });
add(`SELECT namespace, key FROM memory_entries WHERE embedding IS NOT NULL ORDER BY embedding <-> ${q1} LIMIT 5 OFFSET 5`);
add(`SELECT namespace, key, embedding FROM memory_entries ORDER BY embedding <=> ${q1} LIMIT 3`);
add(`SELECT namespace, pattern_type, embedding <=> ${q1} AS d FROM patterns WHERE pattern_type = 'insight' ORDER BY d LIMIT 6`);
add(`SELECT namespace, node_key FROM graph_nodes ORDER BY embedding <-> ${q2}, namespace, node_key LIMIT 15`);
add(`SELECT namespace, key, round((embedding <=> ${q1})::numeric, 3) AS d3 FROM memory_entries WHERE key < 'k-003' ORDER BY embedding <=> ${q1}, namespace, key LIMIT 25`);
add(`SELECT count(*) FILTER (WHERE embedding <=> ${q1} < 1) AS near, count(*) AS total FROM memory_entries WHERE namespace = 'agent-golf'`);
add(`SELECT min(embedding <-> ${q1}), max(embedding <-> ${q1}) FROM memory_entries`);

section = 'aggregates';
add('SELECT count(*) FROM memory_entries');
add('SELECT count(*), count(value), count(embedding), count(1) FROM memory_entries');
add('SELECT sum(usage_count), min(usage_count), max(usage_count), avg(usage_count) FROM patterns');
add('SELECT sum(confidence), avg(confidence), min(confidence), max(confidence) FROM patterns');
add('SELECT sum(weight), avg(weight), count(*) FROM graph_edges');
add('SELECT min(key), max(key), min(created_at), max(created_at), min(value), max(value) FROM memory_entries');
add('SELECT namespace, count(*) FROM memory_entries GROUP BY namespace');
add('SELECT namespace, count(*) AS n FROM memory_entries GROUP BY namespace ORDER BY n DESC, namespace LIMIT 10');
add('SELECT namespace, count(*) FROM memory_entries GROUP BY 1 ORDER BY 2, 1');
add('SELECT namespace, count(*) FROM memory_entries GROUP BY namespace HAVING count(*) > 50 ORDER BY namespace');
add('SELECT namespace, avg(usage_count) FROM patterns GROUP BY namespace HAVING avg(usage_count) > 400 ORDER BY namespace');
add('SELECT pattern_type, count(*), avg(confidence)::numeric(10,4) AS avg_confidence, sum(usage_count) FROM patterns GROUP BY pattern_type ORDER BY pattern_type');
add('SELECT pattern_type FROM patterns GROUP BY pattern_type ORDER BY sum(usage_count) DESC');
add('SELECT count(*) FROM memory_entries WHERE value IS NULL');
add('SELECT count(*), sum(usage_count), avg(usage_count), max(pattern_type) FROM patterns WHERE usage_count < 0');
add('SELECT pattern_type, count(*) FROM patterns WHERE false GROUP BY 1');
add(`SELECT metadata->>'kind' AS kind, count(*) FROM memory_entries GROUP BY metadata->>'kind' ORDER BY kind NULLS FIRST`);
add(`SELECT metadata->>'score' IS NULL AS unscored, count(*) FROM memory_entries GROUP BY 1 ORDER BY 1`);
add('SELECT count(*) + 1 AS n1, sum(usage_count) / count(*) AS mean, round(avg(usage_count), 2) AS avg2, max(usage_count) - min(usage_count) AS spread FROM patterns');
add('SELECT relation, sum(weight) AS w, count(*) FROM graph_edges GROUP BY relation HAVING sum(weight) > 10 ORDER BY w DESC');
add('SELECT namespace, max(created_at) - min(created_at) AS span FROM memory_entries GROUP BY namespace ORDER BY span DESC, namespace LIMIT 5');
add('SELECT sum(usage_count::bigint * 1000000000) AS big, avg(usage_count::numeric / 3) AS third, sum(usage_count::numeric / 7) AS sevenths FROM patterns');
add('SELECT avg(usage_count::float8), sum(usage_count::float8) FROM patterns');
add('SELECT namespace, pattern_type, count(*), max(confidence) FROM patterns GROUP BY namespace, pattern_type ORDER BY namespace, pattern_type');
add('SELECT count(*) FROM memory_entries WHERE false');
add(`SELECT max(key), avg(length(value)) FROM memory_entries WHERE namespace = 'nope'`);
add('SELECT count(*) FROM patterns HAVING count(*) > 1000');
add('SELECT count(*) FROM patterns HAVING count(*) > 10');
add('SELECT min(tags), max(tags), min(created_at::date) FROM memory_entries');
add(`SELECT max(CASE WHEN key = 'k-000' THEN ARRAY['x'] ELSE ARRAY['x', 'y'] END) FROM memory_entries WHERE key = 'k-000' OR (key = 'k-001' AND namespace = 'agent-alpha')`);
add(`SELECT avg(confidence), sum(usage_count) FROM patterns WHERE namespace = 'agent-alpha'`);
add(`SELECT namespace, count(*) FROM memory_entries WHERE namespace IN ('agent-alpha', 'agent-bravo') GROUP BY namespace ORDER BY 1`);
add('SELECT sum(usage_count) FROM patterns GROUP BY namespace HAVING sum(usage_count) > 5000 ORDER BY 1');
add('SELECT count(*) AS "Total Rows", max(key) AS "ORDER" FROM memory_entries');
add(`SELECT patterns.pattern_type, count(*) FROM patterns GROUP BY patterns.pattern_type ORDER BY 1`);
add('SELECT count(*) FROM graph_nodes WHERE namespace = $1', { params: ['agent-charlie'] });
add('SELECT pattern_type, count(*) FROM patterns WHERE usage_count > $1 GROUP BY pattern_type ORDER BY pattern_type', { params: [500] });
add('SELECT namespace, count(*) FROM patterns GROUP BY namespace ORDER BY count(*) DESC, namespace LIMIT 3 OFFSET 2');
add('SELECT DISTINCT pattern_type FROM patterns');
add('SELECT DISTINCT namespace, pattern_type FROM patterns ORDER BY 1, 2');
add('SELECT DISTINCT relation FROM graph_edges ORDER BY relation DESC LIMIT 1');
add(`SELECT DISTINCT metadata->>'kind' AS kind FROM memory_entries ORDER BY kind`);
add('SELECT DISTINCT label FROM graph_nodes WHERE namespace = ANY($1) ORDER BY label', { params: [['agent-alpha', 'agent-bravo']] });

section = 'joins';
add('SELECT m.namespace, count(*) FROM memory_entries m JOIN patterns p ON m.namespace = p.namespace GROUP BY m.namespace ORDER BY m.namespace');
add(`SELECT m.namespace, m.key, p.pattern_type, p.id FROM memory_entries m JOIN patterns p ON p.namespace = m.namespace WHERE m.key = 'k-001' ORDER BY m.namespace, p.pattern_type, p.id`);
add(`SELECT m.namespace, count(p.id) AS insights FROM memory_entries m LEFT JOIN patterns p ON p.namespace = m.namespace AND p.pattern_type = 'insight' WHERE m.key = 'k-000' GROUP BY m.namespace ORDER BY 1`);
add(`SELECT m.key, p.pattern_type, p.confidence FROM memory_entries m JOIN patterns p ON p.namespace = m.namespace WHERE m.namespace = 'agent-bravo' AND m.key < 'k-003' ORDER BY m.key, p.id`);
add(`SELECT e.namespace, s.label AS source_label, t.label AS target_label, e.relation, e.weight FROM graph_edges e JOIN graph_nodes s ON s.namespace = e.namespace AND s.node_key = e.source_key JOIN graph_nodes t ON t.namespace = e.namespace AND t.node_key = e.target_key ORDER BY e.namespace, e.source_key, e.relation, e.target_key LIMIT 40`);
add(`SELECT m.namespace, p.pattern_type FROM memory_entries m JOIN patterns p USING (namespace) WHERE m.key = 'k-004' AND p.usage_count > 900`);
add(`SELECT n.namespace, n.node_key, count(e.id) AS out_degree FROM graph_nodes n LEFT JOIN graph_edges e ON e.namespace = n.namespace AND e.source_key = n.node_key GROUP BY n.namespace, n.node_key ORDER BY out_degree DESC, n.namespace, n.node_key LIMIT 10`);
add(`SELECT m.namespace, md.value->>'owner' AS owner, count(*) FROM memory_entries m JOIN metadata md ON md.key = 'ns:' || m.namespace GROUP BY m.namespace, md.value->>'owner' ORDER BY 1`);
add(`SELECT m.key, md.value FROM memory_entries m JOIN metadata md ON md.key = 'ns:' || m.namespace WHERE m.namespace = 'agent-bravo' ORDER BY m.key LIMIT 5`);
add(`SELECT p.namespace, p.pattern_type, md.value->>'tier' AS tier FROM patterns p LEFT JOIN metadata md ON md.key = 'ns:' || p.namespace WHERE p.usage_count < 100 ORDER BY p.namespace, p.id`);
add('SELECT * FROM metadata ORDER BY key');
add('TABLE metadata');
add('TABLE patterns');
unsupported(`SELECT count(*) FROM memory_entries m RIGHT JOIN metadata md ON m.namespace = substr(md.key, 4)`);
add(`SELECT count(*) FROM memory_entries m LEFT JOIN metadata md ON md.key = 'ns:' || m.namespace WHERE md.key IS NULL`);
add(`SELECT count(*) FROM memory_entries m CROSS JOIN metadata md WHERE md.key LIKE 'config:%'`);
add(`SELECT count(*) FROM memory_entries m FULL JOIN patterns p ON m.namespace = p.namespace AND m.key = 'k-000'`);
add('SELECT index_name, metric, m, ef_construction FROM vector_indexes ORDER BY index_name');
add('SELECT s.session_id, s.namespace, md.value FROM sessions s LEFT JOIN metadata md ON md.key = \'ns:\' || s.namespace ORDER BY s.session_id');
add(`SELECT value->>'owner' AS owner, count(*) FROM metadata WHERE key LIKE 'ns:%' GROUP BY 1 ORDER BY 1`);
add(`SELECT metadata.key FROM metadata WHERE metadata.key LIKE 'config:%' ORDER BY 1`);
unsupported(`SELECT md.key, m.key FROM metadata md LEFT JOIN memory_entries m ON m.namespace = substr(md.key, 4) AND m.key = 'k-000' ORDER BY md.key`);

section = 'unsupported';
unsupported('SELECT count(DISTINCT namespace) FROM memory_entries');
unsupported('SELECT namespace FROM memory_entries UNION SELECT namespace FROM patterns');
unsupported('WITH t AS (SELECT namespace FROM patterns) SELECT count(*) FROM t');
unsupported('SELECT key, row_number() OVER (ORDER BY created_at) FROM memory_entries');
unsupported(`INSERT INTO patterns (pattern_type) SELECT 'copied' FROM memory_entries WHERE key = 'k-000'`);
unsupported('SELECT DISTINCT ON (namespace) namespace, key FROM memory_entries ORDER BY namespace, key');
unsupported('SELECT count(*) FROM memory_entries WHERE namespace IN (SELECT namespace FROM patterns)');
unsupported('SELECT string_agg(pattern_type, \',\') FROM patterns');
unsupported('SELECT label, count(*) FILTER (WHERE embedding IS NULL) AS without FROM graph_nodes GROUP BY label');
unsupported('PREPARE by_namespace(text) AS SELECT key FROM memory_entries WHERE namespace = $1');

section = 'writes';
write(`INSERT INTO memory_entries (id, namespace, key, value, created_at, updated_at)
  SELECT md5(namespace || '/copy/' || key)::uuid, namespace || '-copy', key, upper(value), ${NEW_TIME}, ${NEW_TIME} FROM memory_entries WHERE key IN ('k-000', 'k-001')
  RETURNING namespace, key, value`);
write(`INSERT INTO memory_entries (id, namespace, key, value, created_at, updated_at) VALUES ('00000000-0000-4000-8000-00000000a001', 'agent-alpha', 'new-1', 'hello', ${NEW_TIME}, ${NEW_TIME}) RETURNING id, namespace, key, value, metadata, tags`);
write(`INSERT INTO memory_entries (id, namespace, key, value, created_at, updated_at) VALUES
  ('00000000-0000-4000-8000-00000000a002', 'agent-bravo', 'new-2', 'two', ${NEW_TIME}, ${NEW_TIME}),
  ('00000000-0000-4000-8000-00000000a003', 'café-ops', 'new-3', NULL, ${NEW_TIME}, ${NEW_TIME}),
  ('00000000-0000-4000-8000-00000000a004', '日本語', 'new-4', 'four', ${NEW_TIME}, ${NEW_TIME}),
  ('00000000-0000-4000-8000-00000000a005', 'shared', 'new-5', 'five', ${NEW_TIME}, ${NEW_TIME})
  RETURNING namespace, key, value, created_at`, { format: 'binary' });
write(`INSERT INTO patterns (id, namespace, pattern_type, confidence, usage_count, created_at, updated_at) VALUES
  ('00000000-0000-4000-8000-00000000b001', 'agent-zulu', 'strategy', 0.75, 3, ${NEW_TIME}, ${NEW_TIME}),
  ('00000000-0000-4000-8000-00000000b002', 'proj/alpha', 'insight', 0.125, 7, ${NEW_TIME}, ${NEW_TIME}),
  ('00000000-0000-4000-8000-00000000b003', 'agent-zulu', 'insight', 1, 0, ${NEW_TIME}, ${NEW_TIME})`);
add(`SELECT namespace, key, value FROM memory_entries WHERE key LIKE 'new-%' ORDER BY namespace`);
add(`SELECT namespace, pattern_type, confidence, usage_count FROM patterns WHERE namespace IN ('agent-zulu', 'proj/alpha') ORDER BY id`);
write(`INSERT INTO memory_entries (namespace, key, value, created_at, updated_at) VALUES ('agent-alpha', 'new-1', 'ignored', ${NEW_TIME}, ${NEW_TIME}) ON CONFLICT (namespace, key) DO NOTHING RETURNING key`);
write(`INSERT INTO memory_entries (namespace, key, value, created_at, updated_at) VALUES ('agent-alpha', 'new-1', 'upserted', ${NEW_TIME}, ${NEW_TIME}) ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value || '!', updated_at = EXCLUDED.updated_at + interval '1 hour' RETURNING key, value, updated_at`);
write(`INSERT INTO memory_entries (id, namespace, key, value, created_at, updated_at) VALUES
  ('00000000-0000-4000-8000-00000000a006', 'agent-bravo', 'new-2', 'two again', ${NEW_TIME}, ${NEW_TIME}),
  ('00000000-0000-4000-8000-00000000a007', 'agent-charlie', 'new-7', 'seven', ${NEW_TIME}, ${NEW_TIME}),
  ('00000000-0000-4000-8000-00000000a008', 'shared', 'new-5', 'five again', ${NEW_TIME}, ${NEW_TIME})
  ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value || ' (upserted)' RETURNING namespace, key, value`);
write('BEGIN');
write(`INSERT INTO memory_entries (namespace, key, value) VALUES ('agent-bravo', 'new-2', 'x'), ('shared', 'new-5', 'y')
  ON CONFLICT (namespace, key) DO UPDATE SET value = memory_entries.value || ' / ' || EXCLUDED.value RETURNING namespace, key, value`);
write('ROLLBACK');
write(`INSERT INTO memory_entries (id, namespace, key, value, created_at, updated_at) VALUES
  ('00000000-0000-4000-8000-00000000a009', 'agent-delta', 'k-000', 'clash', ${NEW_TIME}, ${NEW_TIME}),
  ('00000000-0000-4000-8000-00000000a00a', 'agent-echo', 'new-10', 'ten', ${NEW_TIME}, ${NEW_TIME})
  ON CONFLICT DO NOTHING`);
write('INSERT INTO memory_entries (id, namespace, key, value, embedding, created_at, updated_at) VALUES ($1, $2, $3, $4, $5::ruvector, $6, $6) RETURNING namespace, key, embedding', {
  params: ['00000000-0000-4000-8000-00000000a00b', 'agent-foxtrot', 'new-11', 'with params', Q2, '2025-03-01 00:00:00+00'],
  format: 'binary',
});
add(`SELECT namespace, key, value, updated_at FROM memory_entries WHERE key LIKE 'new-%' OR value = 'clash' ORDER BY namespace, key`);
write(`UPDATE memory_entries SET value = upper(value) WHERE namespace = 'agent-charlie' AND key <= 'k-005' RETURNING key, value`);
write(`UPDATE patterns SET usage_count = usage_count + 1 WHERE pattern_type = 'insight' RETURNING namespace, usage_count`);
write(`UPDATE patterns SET confidence = confidence / 2 WHERE usage_count > 900`);
write(`UPDATE memory_entries SET tags = array_append(tags, 'touched'), updated_at = ${NEW_TIME} WHERE namespace = ANY('{agent-golf,agent-hotel}') AND key < 'k-004' RETURNING namespace, key, tags`, { format: 'binary' });
add(`SELECT pattern_type, sum(usage_count), sum(confidence) FROM patterns GROUP BY pattern_type ORDER BY pattern_type`);
add(`SELECT namespace, key, tags FROM memory_entries WHERE 'touched' = ANY(tags) ORDER BY namespace, key`);
write(`DELETE FROM memory_entries WHERE namespace = 'agent-lima' AND key > 'k-030' RETURNING key`);
write('DELETE FROM graph_edges WHERE weight < 0.25 RETURNING namespace, source_key, target_key, relation');
write(`DELETE FROM memory_entries WHERE value LIKE 'value 99%'`);
add('SELECT namespace, count(*) FROM memory_entries GROUP BY namespace ORDER BY namespace');
add('SELECT count(*), sum(weight) FROM graph_edges');
write(`UPDATE patterns p SET usage_count = 0 FROM memory_entries m WHERE m.namespace = p.namespace AND m.key = 'k-050' AND p.pattern_type = 'workflow' RETURNING p.namespace, p.usage_count`);
write(`DELETE FROM graph_nodes n USING graph_edges e WHERE e.namespace = n.namespace AND e.target_key = n.node_key AND e.relation = 'depends_on' AND n.namespace = 'agent-india' RETURNING n.node_key`);
// Changing the distribution column would move the row to another shard: refused, as in Citus.
unsupported(`UPDATE memory_entries SET namespace = 'agent-zulu', key = 'moved-1' WHERE namespace = 'agent-yankee' AND key = 'k-001'`);
unsupported(`UPDATE memory_entries SET namespace = 'agent-zulu' WHERE namespace = 'agent-yankee' AND key = 'k-002'`);
write(`INSERT INTO memory_entries (id, namespace, key, value, created_at, updated_at) VALUES
  ('00000000-0000-4000-8000-00000000a00c', 'o''reilly', 'q-1', 'quote', ${NEW_TIME}, ${NEW_TIME}),
  ('00000000-0000-4000-8000-00000000a00d', 123, 'num-1', 'number', ${NEW_TIME}, ${NEW_TIME}),
  ('00000000-0000-4000-8000-00000000a00e', 'agent-kilo', 'k-900', DEFAULT, ${NEW_TIME}, ${NEW_TIME})
  RETURNING namespace, key, value, metadata`);
add(`SELECT namespace, key FROM memory_entries WHERE namespace IN ('o''reilly', '123') ORDER BY namespace, key`);
add(`SELECT key FROM memory_entries WHERE namespace = 'o''reilly'`);
write(`INSERT INTO graph_nodes (id, namespace, node_key, label, created_at) VALUES ($1, $2, 'p1', 'param', $5), ($3, $4, 'p2', 'param', $5) RETURNING namespace, node_key, label, properties`, {
  params: ['00000000-0000-4000-8000-00000000e001', 'agent-uniform', '00000000-0000-4000-8000-00000000e002', 'agent-victor', '2025-04-01 00:00:00+00'],
  format: 'binary',
});
write(`INSERT INTO patterns (id, namespace, pattern_type, confidence, created_at, updated_at) VALUES ('00000000-0000-4000-8000-00000000b004', 'agent-kilo', 'defaulted', DEFAULT, ${NEW_TIME}, ${NEW_TIME}) RETURNING confidence, usage_count, pattern_data`);
add(`SELECT namespace, node_key, label FROM graph_nodes WHERE label = 'param' ORDER BY namespace`);
write('ANALYZE patterns');
write(`UPDATE metadata SET value = value || '{"tier": 9}' WHERE key = 'ns:agent-alpha' RETURNING key, value`);
write(`INSERT INTO metadata (key, value, updated_at) VALUES ('config:new', '{"on": true}', ${NEW_TIME}), ('ns:agent-bravo', '{"owner": "x"}', ${NEW_TIME}) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value RETURNING key, value`);
write(`DELETE FROM metadata WHERE key = 'config:max_k'`);
add('SELECT key, value, updated_at FROM metadata ORDER BY key');
write(`UPDATE sessions SET expires_at = last_active_at + interval '1 day' WHERE expires_at IS NULL RETURNING session_id, expires_at`);

section = 'transactions';
write('BEGIN');
write(`INSERT INTO memory_entries (id, namespace, key, value, created_at, updated_at) VALUES ('00000000-0000-4000-8000-00000000c001', 'agent-mike', 'tx-1', 'in tx', ${NEW_TIME}, ${NEW_TIME}), ('00000000-0000-4000-8000-00000000c002', 'agent-tango', 'tx-2', 'in tx', ${NEW_TIME}, ${NEW_TIME})`);
write(`UPDATE patterns SET usage_count = usage_count + 100 WHERE namespace IN ('agent-mike', 'agent-tango', 'agent-uniform')`);
add(`SELECT namespace, key FROM memory_entries WHERE key LIKE 'tx-%' ORDER BY key`);
add(`SELECT namespace, sum(usage_count) FROM patterns WHERE namespace IN ('agent-mike', 'agent-tango', 'agent-uniform') GROUP BY namespace ORDER BY namespace`);
write('COMMIT');
add(`SELECT namespace, key, value FROM memory_entries WHERE key LIKE 'tx-%' ORDER BY key`);
add(`SELECT namespace, sum(usage_count) FROM patterns WHERE namespace IN ('agent-mike', 'agent-tango', 'agent-uniform') GROUP BY namespace ORDER BY namespace`);
write('BEGIN');
write(`DELETE FROM memory_entries WHERE namespace = 'shared'`);
write('UPDATE patterns SET usage_count = -1');
add(`SELECT count(*) FROM memory_entries WHERE namespace = 'shared'`);
add('SELECT min(usage_count), max(usage_count) FROM patterns');
write('ROLLBACK');
add(`SELECT count(*) FROM memory_entries WHERE namespace = 'shared'`);
add('SELECT min(usage_count), max(usage_count), sum(usage_count) FROM patterns');
write('BEGIN');
write(`INSERT INTO memory_entries (id, namespace, key, value, created_at, updated_at) VALUES ('00000000-0000-4000-8000-00000000c003', 'agent-victor', 'tx-3', 'doomed', ${NEW_TIME}, ${NEW_TIME})`);
write(`INSERT INTO memory_entries (namespace, key, value) VALUES ('agent-alpha', 'k-000', 'duplicate')`);
add('SELECT 1');
write('ROLLBACK');
add(`SELECT namespace, key FROM memory_entries WHERE key = 'tx-3'`);
write('START TRANSACTION');
write(`INSERT INTO memory_entries (id, namespace, key, value, created_at, updated_at) VALUES ('00000000-0000-4000-8000-00000000c004', 'agent-whiskey', 'tx-4', 'kept', ${NEW_TIME}, ${NEW_TIME})`);
write('SAVEPOINT before_second');
write(`INSERT INTO memory_entries (id, namespace, key, value, created_at, updated_at) VALUES ('00000000-0000-4000-8000-00000000c005', 'agent-xray', 'tx-5', 'undone', ${NEW_TIME}, ${NEW_TIME})`);
write('ROLLBACK TO SAVEPOINT before_second');
write(`UPDATE memory_entries SET value = 'kept and updated' WHERE namespace = 'agent-whiskey' AND key = 'tx-4'`);
write('COMMIT');
add(`SELECT namespace, key, value FROM memory_entries WHERE key IN ('tx-4', 'tx-5') ORDER BY key`);
write('BEGIN');
write(`UPDATE metadata SET value = '{"owner": "rolled back"}' WHERE key = 'ns:agent-charlie'`);
write(`INSERT INTO memory_entries (id, namespace, key, created_at, updated_at) VALUES ('00000000-0000-4000-8000-00000000c006', 'agent-charlie', 'tx-6', ${NEW_TIME}, ${NEW_TIME})`);
write('ROLLBACK');
unsupported(`SELECT m.key, md.value FROM metadata md LEFT JOIN memory_entries m ON m.namespace = 'agent-charlie' AND m.key = 'tx-6' WHERE md.key = 'ns:agent-charlie'`);
add(`SELECT md.value, (SELECT count(*) FROM memory_entries m WHERE m.namespace = 'agent-charlie' AND m.key = 'tx-6') AS tx6 FROM metadata md WHERE md.key = 'ns:agent-charlie'`);
add(`SELECT count(*) FROM memory_entries WHERE namespace = 'agent-charlie' AND key = 'tx-6'`);
add(`SELECT value FROM metadata WHERE key = 'ns:agent-charlie'`);
write('BEGIN');
add(`SELECT key, value FROM memory_entries WHERE namespace = 'agent-sierra' AND key < 'k-003' ORDER BY key FOR UPDATE`);
write('TRUNCATE graph_edges');
add('SELECT count(*) FROM graph_edges');
write('DELETE FROM patterns RETURNING namespace, pattern_type, usage_count');
add('SELECT count(*) FROM patterns');
write('ROLLBACK');
add('SELECT count(*), sum(weight) FROM graph_edges');
add('SELECT count(*), sum(usage_count) FROM patterns');
write('BEGIN');
write('SAVEPOINT before_duplicate');
write('INSERT INTO memory_entries (namespace, key, value, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)', { params: ['agent-november', 'k-000', 'duplicate', '2025-05-01 00:00:00+00'] });
write('ROLLBACK TO SAVEPOINT before_duplicate');
write('INSERT INTO memory_entries (namespace, key, value, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)', {
  params: ['agent-november', 'prepared-1', 'after a failed execution', '2025-05-01 00:00:00+00'],
});
write('ROLLBACK');

section = 'ddl';
write('CREATE TABLE user_events (namespace text NOT NULL, id int NOT NULL, kind text, score int, happened date, PRIMARY KEY (namespace, id))');
write(`SELECT create_distributed_table('user_events', 'namespace')`);
write(`INSERT INTO user_events (namespace, id, kind, score, happened) VALUES
  ('agent-alpha', 1, 'click', 5, '2024-03-01'), ('agent-alpha', 2, 'view', NULL, '2024-03-02'),
  ('agent-bravo', 1, 'click', 7, '2024-03-01'), ('shared', 1, 'view', 1, NULL),
  ('日本語', 1, 'click', 3, '2024-03-05'), ('proj/alpha', 9, 'buy', 100, '2024-03-09')`);
write('CREATE INDEX user_events_kind_idx ON user_events (namespace, kind)');
write(`ALTER TABLE user_events ADD COLUMN note text DEFAULT 'none'`);
add('SELECT * FROM user_events ORDER BY namespace, id');
write(`UPDATE user_events SET note = kind || ':' || coalesce(score, 0) WHERE score > 4 RETURNING namespace, id, note`);
add('SELECT kind, count(*), sum(score), avg(score) FROM user_events GROUP BY kind ORDER BY kind');
add('SELECT e.namespace, count(*) FROM user_events e JOIN memory_entries m ON m.namespace = e.namespace GROUP BY e.namespace ORDER BY e.namespace');
write(`INSERT INTO user_events (namespace, id, kind) VALUES ('agent-alpha', 1, 'again')`);
write('ALTER TABLE user_events DROP COLUMN score');
write('ALTER TABLE user_events RENAME COLUMN kind TO event_kind');
add('SELECT namespace, id, event_kind, happened, note FROM user_events ORDER BY namespace, id');
add('SELECT score FROM user_events');
write('TRUNCATE user_events');
add('SELECT count(*) FROM user_events');
write('DROP INDEX user_events_kind_idx');
write('DROP TABLE user_events');
add('SELECT * FROM user_events');
write('CREATE TABLE ref_codes (code text PRIMARY KEY, label text NOT NULL)');
write(`SELECT create_reference_table('ref_codes')`);
write(`INSERT INTO ref_codes (code, label) VALUES ('fact', 'Fact'), ('episode', 'Episode'), ('skill', 'Skill')`);
add(`SELECT r.label, count(*) FROM memory_entries m JOIN ref_codes r ON r.code = m.metadata->>'kind' GROUP BY r.label ORDER BY r.label`);
write(`UPDATE ref_codes SET label = label || '!' WHERE code = 'fact' RETURNING code, label`);
add('SELECT * FROM ref_codes ORDER BY code');
write('DROP TABLE ref_codes');
write('CREATE TABLE local_notes (id int PRIMARY KEY, note text)');
write(`INSERT INTO local_notes VALUES (1, 'one'), (2, NULL) RETURNING *`);
add('SELECT * FROM local_notes ORDER BY id');
unsupported('SELECT n.note, m.key FROM local_notes n JOIN memory_entries m ON m.key = n.note');
write('DROP TABLE local_notes');
write('CREATE TABLE counters (namespace text NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY, label text, PRIMARY KEY (namespace, id))');
unsupported(`SELECT create_distributed_table('counters', 'namespace')`);
write(`INSERT INTO counters (namespace, label) VALUES ('agent-alpha', 'a'), ('agent-bravo', 'b'), ('shared', 'c'), ('agent-alpha', 'd') RETURNING namespace, id, label`);
add('SELECT namespace, id, label FROM counters ORDER BY namespace, id');
write('DROP TABLE counters');
write('CREATE TABLE numbered (namespace text NOT NULL, id bigserial, PRIMARY KEY (namespace, id))');
unsupported(`SELECT create_distributed_table('numbered', 'namespace')`);
write('DROP TABLE numbered');

section = 'errors';
add('SELECT 1/0');
add('SELECT count(*) / 0 FROM memory_entries');
add('SELECT 1000 / count(*) FROM patterns WHERE usage_count < 0');
add('SELECT 1000 / count(*) FROM patterns WHERE usage_count >= 0');
add(`SELECT 10 / (count(*) - count(*)) FROM memory_entries WHERE namespace = 'agent-alpha'`);
write(`INSERT INTO memory_entries (namespace, key, value) VALUES ('agent-alpha', 'k-001', 'duplicate')`);
add(`SELECT no_such_column FROM memory_entries WHERE namespace = 'agent-alpha'`);
add('SELECT * FROM no_such_table');
add('SELEC 1');
add('SELECT * FROM memory_entries WHERE');
write(`INSERT INTO memory_entries (namespace, key) VALUES ('agent-alpha', NULL)`);
write(`INSERT INTO memory_entries (namespace, key) VALUES (NULL, 'no-namespace')`);
write(`INSERT INTO patterns (namespace, pattern_type, confidence) VALUES ('agent-alpha', 'bad', 2)`);
write(`INSERT INTO patterns (namespace, pattern_type, usage_count) VALUES ('agent-alpha', 'bad', 'abc')`);
add(`SELECT '[1,2'::ruvector`);
write(`INSERT INTO memory_entries (namespace, key, embedding) VALUES ('agent-alpha', 'short-vector', '[1,2,3]'::ruvector)`);
add('SELECT no_such_function(1)');
write('DELETE FROM no_such_table');
add(`SELECT (SELECT key FROM memory_entries WHERE namespace = 'agent-alpha')`);
add('SELECT (SELECT key FROM metadata)');
add('SELECT DISTINCT pattern_type FROM patterns ORDER BY usage_count');
add(`SELECT key FROM memory_entries WHERE namespace = 'agent-alpha' AND created_at > 'not a time'`);
add('SELECT namespace, count(*) FROM memory_entries GROUP BY key');

section = 'final state';
add('SELECT namespace, key, value, tags, metadata, updated_at FROM memory_entries ORDER BY namespace, key');
add('SELECT namespace, pattern_type, confidence, usage_count FROM patterns ORDER BY id');
add('SELECT namespace, source_key, target_key, relation, weight FROM graph_edges ORDER BY namespace, source_key, relation, target_key');
add('SELECT namespace, node_key FROM graph_nodes ORDER BY namespace, node_key');

// The multi-shard merge orders rows as PostgreSQL does, or refuses (it compared the text
// of the sort values: dates of another DateStyle, BC years, collations other than the
// database's, bpchar's trailing spaces and rounded floats came out in another order).
section = 'merge order';
write(`CREATE TABLE ordered_values (namespace text NOT NULL, id int NOT NULL, day date, at timestamp, at_tz timestamptz, code char(4), label text, label_c text COLLATE "C", ratio float8, PRIMARY KEY (namespace, id))`);
write(`SELECT create_distributed_table('ordered_values', 'namespace')`);
write(`INSERT INTO ordered_values (namespace, id, day, at, at_tz, code, label, label_c, ratio) VALUES
  ('agent-alpha', 1, '0044-03-15 BC', '0044-03-15 12:00:00 BC', '0044-03-15 12:00:00+00 BC', 'a', 'b', 'b', 0.1 + 0.2),
  ('agent-bravo', 2, '0099-12-31', '0099-12-31 23:59:59.5', '0099-12-31 23:59:59.5+00', 'a	', 'B', 'B', 0.3),
  ('agent-charlie', 3, '2024-02-29', '2024-02-29 00:00:00', '2024-02-29 00:00:00+05:30', 'ab', 'a', 'a', 0.30000000000000004 + 1e-16),
  ('agent-delta', 4, '1970-01-01', '1970-01-01 00:00:00', '1969-12-31 19:00:00-05', 'a ', 'é', 'é', 'NaN'),
  ('agent-echo', 5, 'infinity', 'infinity', 'infinity', '', 'ä', 'ä', '-Infinity'),
  ('agent-foxtrot', 6, '-infinity', '-infinity', '-infinity', 'b', 'Z', 'Z', 1e308),
  ('agent-golf', 7, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  ('agent-hotel', 8, '2000-01-01', '2000-01-01 00:00:00.000001', '2000-01-01 00:00:00.000001+00', 'aa', '😀', '😀', -0.0),
  ('agent-echo', 9, '0010-01-01 BC', '0010-01-01 00:00:00 BC', '0010-01-01 00:00:00+00 BC', 'a\t\t', 'ß', 'ß', 0.3)`);
add('SELECT id, day FROM ordered_values ORDER BY day, id');
add('SELECT id, at FROM ordered_values ORDER BY at DESC, id');
add('SELECT id, at_tz FROM ordered_values ORDER BY at_tz NULLS FIRST, id');
add('SELECT id, code FROM ordered_values ORDER BY code, id');
add('SELECT id, label FROM ordered_values ORDER BY label, id');
add('SELECT id, label_c FROM ordered_values ORDER BY label_c DESC, id');
add('SELECT id, ratio FROM ordered_values ORDER BY ratio, id');
add('SELECT id FROM ordered_values ORDER BY label COLLATE "C", id LIMIT 5');
unsupported('SELECT id, label FROM ordered_values ORDER BY label COLLATE "en-x-icu", id');
write(`SET DateStyle = 'SQL, DMY'`);
unsupported('SELECT id, day FROM ordered_values ORDER BY day, id');
write('RESET DateStyle');
write('SET extra_float_digits = 0');
unsupported('SELECT id, ratio FROM ordered_values ORDER BY ratio, id');
write('RESET extra_float_digits');
add('SELECT id, ratio FROM ordered_values ORDER BY ratio DESC, id');
write('DROP TABLE ordered_values');

// Last: statements that fail on several shards. On dpg they leave pooled worker (or
// control group) connections with replies unread, which corrupts statements after
// them, in every session (BUG.replyShift), so nothing after them is compared.
section = 'errors on several shards';
add('SELECT namespace, 1 / (usage_count - usage_count) FROM patterns');
write(`INSERT INTO memory_entries (id, namespace, key, value, created_at, updated_at) VALUES
  ('00000000-0000-4000-8000-00000000d001', 'agent-oscar', 'err-1', 'not kept', ${NEW_TIME}, ${NEW_TIME}),
  ('00000000-0000-4000-8000-00000000d002', 'agent-papa', 'k-002', 'duplicate', ${NEW_TIME}, ${NEW_TIME})`);
add(`SELECT namespace, key FROM memory_entries WHERE key = 'err-1'`);
add('SELECT no_such_column FROM memory_entries');
add(`SELECT * FROM patterns WHERE usage_count = 'abc'`);
add(`SELECT key FROM memory_entries ORDER BY embedding <=> '[1,2,3]'::ruvector LIMIT 1`);
write('UPDATE memory_entries SET no_such_column = 1');
add('SELECT sum(usage_count * 1000000000) FROM patterns');
add(`SELECT key FROM memory_entries WHERE namespace = 'agent-alpha' AND key = 'k-000'`);
add('SELECT count(*) FROM patterns');
add('SELECT sum(usage_count * 1000000000) FROM patterns');
add(`SELECT key FROM memory_entries WHERE namespace = 'agent-alpha' AND key = 'k-000'`);
add('SELECT count(*) FROM patterns');
write(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`);
write('CREATE TABLE moods (namespace text NOT NULL, id int NOT NULL, feeling mood, PRIMARY KEY (namespace, id))');
unsupported(`SELECT create_distributed_table('moods', 'namespace')`);
write(`INSERT INTO moods (namespace, id, feeling) VALUES ('agent-alpha', 1, 'happy'), ('shared', 2, 'sad'), ('agent-bravo', 3, 'ok')`);
add('SELECT namespace, feeling FROM moods ORDER BY feeling DESC');

export const CORPUS: readonly CorpusStatement[] = corpus;
