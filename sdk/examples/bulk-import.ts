/**
 * A bulk import: N memories (default 2,000; argument 1) in multi-row INSERTs, then read
 * back by streaming the namespace page by page.
 *
 *   DPG_URL=postgres://... npx tsx sdk/examples/bulk-import.ts 10000
 */
import { MemoryClient, type NewMemory } from '../src/index.ts';
import { dpgUrl, embed } from './embed.ts';

const count = Number(process.argv[2] ?? 2000);
if (!Number.isInteger(count) || count < 1) {
  console.error(`the number of memories must be a whole number of at least 1, got ${process.argv[2]}`);
  process.exit(2);
}
const namespace = `bulk-example-${process.pid}`;
const memory = await MemoryClient.connect({ url: dpgUrl(), pool: { min_size: 1, max_size: 4 } });
try {
  const entries: NewMemory[] = Array.from({ length: count }, (_, i) => {
    const text = `note ${i} about topic ${i % 17} and item ${i % 101}`;
    return { namespace, key: `note-${String(i).padStart(6, '0')}`, value: text, embedding: embed(text), tags: [`topic-${i % 17}`] };
  });
  const started = performance.now();
  const written = await memory.memories.storeMany(entries, { chunkSize: 500, onConflict: 'update' });
  const seconds = (performance.now() - started) / 1000;
  console.log(`imported ${written} memories in ${seconds.toFixed(2)} s (${Math.round(written / seconds)} rows/s)`);
  let streamed = 0;
  for await (const entry of memory.memories.stream(namespace, { batchSize: 1000 })) if (entry.namespace === namespace) streamed++;
  console.log(`streamed back ${streamed} memories`);
  if (streamed !== count) throw new Error(`expected ${count} memories back, got ${streamed}`);
  const page = await memory.memories.list(namespace, { tag: 'topic-3', limit: 5 });
  console.log(`first memories tagged topic-3: ${page.items.map((m) => m.key).join(', ')}`);
  // Clean up.
  for await (const entry of memory.memories.stream(namespace, { batchSize: 1000 })) await memory.memories.delete(namespace, entry.key);
} finally {
  await memory.close();
}
