import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../support/test-cluster.ts';
import {
  runDemo,
  demoDataset,
  demoNamespaceName,
  singleNamespaceSearch,
  topicOfKey,
  DEMO_TOPICS,
  DEMO_METADATA_KEY,
  DemoError,
  type DemoDataset,
  type DemoReport,
  type SearchReport,
} from '../../src/cli/demo.ts';
import { createProgress, formatProgress } from '../../src/cli/progress.ts';

/**
 * The `npm start` demo against a real cluster: it loads its dataset through the
 * coordinator, a second run finds it and skips the load, a different dataset
 * replaces the old one, and the seed's two searches return ordered, on-topic rows.
 */

const BASE_PORT = 28032;
const ROWS = 3000;

let cluster: TestCluster;
let client: pg.Client;

async function namespaceCounts(dataset: DemoDataset, extraNamespaces = 0): Promise<Map<string, number>> {
  const names = Array.from({ length: dataset.namespaces.length + extraNamespaces }, (_, i) => demoNamespaceName(i));
  const counts = new Map<string, number>();
  for (const name of names) {
    const result = await client.query<{ count: string }>('SELECT count(*) AS count FROM memory_entries WHERE namespace = $1', [name]);
    counts.set(name, Number(result.rows[0]!.count));
  }
  return counts;
}

function assertOrderedBySimilarity(report: SearchReport): void {
  const similarities = report.top.map((hit) => hit.similarity);
  for (let i = 1; i < similarities.length; i++) {
    assert.ok(similarities[i - 1]! >= similarities[i]!, `results out of order at ${i}: ${similarities.join(', ')}`);
  }
}

const quiet = { out: () => {}, progress: false };

describe('demo data set (no cluster)', () => {
  it('gives Zipf-like namespace sizes that add up to the requested rows', () => {
    const dataset = demoDataset({ rows: 20_000 });
    assert.equal(dataset.namespaces.length, 50);
    assert.equal(dataset.namespaces.reduce((sum, ns) => sum + ns.rows, 0), 20_000);
    const sizes = dataset.namespaces.map((ns) => ns.rows);
    assert.deepEqual(sizes, [...sizes].sort((a, b) => b - a), 'largest first');
    assert.ok(sizes[0]! > 40 * sizes.at(-1)!, `skewed: ${sizes[0]} vs ${sizes.at(-1)}`);
    assert.equal(new Set(dataset.namespaces.map((ns) => ns.name)).size, 50);
    assert.match(dataset.namespaces[0]!.name, /^agent-1\/auth-patterns$/);
    assert.deepEqual(demoDataset({ rows: 20_000 }), dataset, 'deterministic');
  });

  it('refuses fewer rows than namespaces with a DemoError', () => {
    assert.throws(() => demoDataset({ rows: 10, namespaces: 50 }), DemoError);
  });
});

describe('progress bar', () => {
  it('formats the bar, percentage, counts and rate', () => {
    assert.equal(formatProgress(8400, 20_000, 'rows', 2710, 10), '[####......]  42% 8,400/20,000 rows 3,100 rows/s');
    assert.equal(formatProgress(20_000, 20_000, 'rows', 1000, 10), '[##########] 100% 20,000/20,000 rows 20,000 rows/s');
  });

  it('redraws a terminal line at most ten times a second', () => {
    let now = 0;
    const writes: string[] = [];
    const progress = createProgress({ total: 1000, unit: 'rows', interactive: true, stream: { write: (t: string) => writes.push(t) }, now: () => now });
    for (let done = 1; done <= 1000; done++) {
      now = done; // one millisecond per row: one second in all
      progress.update(done);
    }
    progress.finish();
    assert.ok(writes.length <= 13, `${writes.length} writes`);
    assert.ok(writes.slice(0, -1).every((w) => w.startsWith('\r') && !w.includes('\n')));
    assert.equal(writes.at(-1), '\n');
    assert.match(writes.at(-2)!, /100% 1,000\/1,000 rows/);
  });

  it('writes a few plain lines when not on a terminal', () => {
    const writes: string[] = [];
    const progress = createProgress({ total: 1000, unit: 'rows', stream: { write: (t: string) => writes.push(t), isTTY: false } });
    for (let done = 10; done <= 1000; done += 10) progress.update(done);
    progress.finish();
    assert.equal(writes.length, 4);
    assert.ok(writes.every((w) => w.endsWith('\n') && !w.includes('\r')));
    assert.match(writes.at(-1)!, /100% 1,000\/1,000 rows/);
  });
});

describe('runDemo against a real cluster', () => {
  let first: DemoReport;

  before(async () => {
    cluster = await startTestCluster({ basePort: BASE_PORT });
    client = new pg.Client({ connectionString: cluster.url });
    await client.connect();
  });

  after(async () => {
    await client?.end().catch(() => {});
    await cluster?.stop();
  });

  it('loads every namespace through the coordinator and marks the load in metadata', async () => {
    const lines: string[] = [];
    first = await runDemo({ url: cluster.url, rows: ROWS, out: (line) => lines.push(line), progress: false });
    assert.equal(first.skipped, false);
    assert.equal(first.loadedRows, ROWS);
    const counts = await namespaceCounts(first.dataset);
    for (const ns of first.dataset.namespaces) assert.equal(counts.get(ns.name), ns.rows, ns.name);
    const marker = await client.query('SELECT value FROM metadata WHERE key = $1', [DEMO_METADATA_KEY]);
    assert.deepEqual(marker.rows[0]?.value, { rows: ROWS, seed: 42, namespaces: 50 });
    assert.ok(lines.some((line) => line.includes(cluster.url)), 'prints the URL to connect to');
  });

  it('skips the load on a second run', async () => {
    const lines: string[] = [];
    const second = await runDemo({ url: cluster.url, rows: ROWS, out: (line) => lines.push(line), progress: false });
    assert.equal(second.skipped, true);
    assert.equal(second.loadedRows, 0);
    assert.ok(lines.some((line) => /already loaded/.test(line)));
    const counts = await namespaceCounts(second.dataset);
    for (const ns of second.dataset.namespaces) assert.equal(counts.get(ns.name), ns.rows, ns.name);
    assert.deepEqual(second.single.top, first.single.top, 'same data, same answers');
  });

  it('finds entries of the query topic first in one namespace, ordered by similarity', async () => {
    const { single } = first;
    assert.equal(single.top.length, 10);
    assert.deepEqual(single.namespaces, [first.dataset.namespaces[0]!.name]);
    assert.ok(single.top.every((hit) => hit.namespace === single.namespaces[0]));
    assert.equal(topicOfKey(single.top[0]!.key), single.topic);
    assert.match(single.top[0]!.value, new RegExp(`^note about ${single.topic} #\\d+$`));
    assertOrderedBySimilarity(single);
    assert.ok(single.p50Ms > 0 && single.p95Ms >= single.p50Ms);

    // Another namespace and topic, through the same code path.
    const second = first.dataset.namespaces[1]!;
    const other = await singleNamespaceSearch(client, first.dataset, second.primaryTopic, second.name);
    assert.equal(other.topic, DEMO_TOPICS[second.primaryTopic]);
    assert.equal(topicOfKey(other.top[0]!.key), other.topic);
    assert.ok(other.top.every((hit) => hit.namespace === second.name));
    assertOrderedBySimilarity(other);
  });

  it('merges the cross-namespace search over five namespaces in similarity order', () => {
    const { cross } = first;
    assert.equal(cross.namespaces.length, 5);
    assert.equal(cross.top.length, 20);
    assert.ok(cross.top.every((hit) => cross.namespaces.includes(hit.namespace)));
    assert.equal(topicOfKey(cross.top[0]!.key), cross.topic);
    assertOrderedBySimilarity(cross);
  });

  it('replaces an earlier demo data set of another size, namespaces it no longer has included', async () => {
    const smaller = await runDemo({ url: cluster.url, rows: 1000, namespaces: 30, seed: 7, ...quiet });
    assert.equal(smaller.skipped, false);
    const counts = await namespaceCounts(smaller.dataset, 20);
    for (const ns of smaller.dataset.namespaces) assert.equal(counts.get(ns.name), ns.rows, ns.name);
    for (const [name, count] of counts) if (!smaller.dataset.namespaces.some((ns) => ns.name === name)) assert.equal(count, 0, name);
    const marker = await client.query('SELECT value FROM metadata WHERE key = $1', [DEMO_METADATA_KEY]);
    assert.deepEqual(marker.rows[0]?.value, { rows: 1000, seed: 7, namespaces: 30 });
  });
});
