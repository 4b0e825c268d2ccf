import { startTestCluster } from '../support/test-cluster.ts';
import { startScratchPostgres } from '../support/scratch-postgres.ts';
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { SEED_TABLES, tableDDL } from '../../src/catalog/seed-schema.ts';
import { dataLoad } from './corpus.ts';
const [cluster, plain] = await Promise.all([startTestCluster({ basePort: 29432, shardCount: 8 }), startScratchPostgres()]);
const a = new pg.Client({ connectionString: plain.url }); await a.connect();
const b = new pg.Client({ connectionString: cluster.url }); await b.connect();
await a.query('CREATE EXTENSION vector'); await a.query('CREATE EXTENSION ruvector');
for (const t of SEED_TABLES) for (const s of tableDDL(t, t.name, '', null)) await a.query(s);
for (const sql of dataLoad()) { await a.query(sql); await b.query(sql); }
await a.end(); await b.end();
writeFileSync('/tmp/diff-dev.json', JSON.stringify({ dpg: cluster.url, plain: plain.url }));
console.log('ready');
process.on('SIGTERM', async () => { await cluster.stop(); await plain.stop(); process.exit(0); });
setInterval(() => {}, 1 << 30);
