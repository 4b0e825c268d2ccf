import pg from 'pg';
import { readFileSync } from 'node:fs';
const url = readFileSync('/tmp/explore/url','utf8').trim();
const warm = new pg.Client({ connectionString: url });
await warm.connect();
for (let i = 0; i < 3; i++) console.log((await warm.query(`SELECT key, embedding <=> '[${Array(384).fill(0.5).join(',')}]'::ruvector AS d FROM memory_entries WHERE namespace = 'a' ORDER BY 2 LIMIT 1`)).rows);
await warm.end();
const c = new pg.Client({ connectionString: url });
await c.connect();
c.on('notice', (n) => console.log('NOTICE', n.severity, n.code, n.message));
for (const [sql, params] of [
 ['SET hnsw.ef_search = 0', []],
 ['SHOW hnsw.ef_search', []],
 [`SELECT current_setting('hnsw.ef_search') FROM memory_entries WHERE namespace = 'a' LIMIT 1`, []],
 [`SELECT key, embedding <=> '[${Array(384).fill(0.5).join(',')}]'::ruvector AS d FROM memory_entries WHERE namespace = 'a' ORDER BY 2 LIMIT 1`, []],
 ['SELECT key FROM memory_entries WHERE namespace = $1 LIMIT 1', ['a']],
 ['SHOW hnsw.ef_search', []],
] as [string, unknown[]][]) {
  try { const r = await c.query(sql, params); console.log('OK', sql.slice(0,60), r.rows); } catch (e: any) { console.log('ERR', sql.slice(0,60), e.code, e.message); }
}
await c.end();
