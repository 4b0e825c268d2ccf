/**
 * A search across namespaces (shards): three teams' memories, one question asked of all
 * of them; then the two-phase retrieval that re-ranks the candidates by exact cosine
 * similarity of their stored vectors.
 *
 *   DPG_URL=postgres://... npx tsx sdk/examples/cross-namespace.ts
 */
import { MemoryClient } from '../src/index.ts';
import { dpgUrl, embed } from './embed.ts';

const teams = ['search', 'storage', 'billing'].map((t) => `team-${t}-${process.pid}`);
const notes: Record<string, string[]> = {
  [teams[0]!]: ['hnsw recall drops when ef search is too small', 'rerank the merged candidates by exact distance'],
  [teams[1]!]: ['wal archiving keeps replicas able to catch up', 'vacuum the memory table after bulk deletes'],
  [teams[2]!]: ['invoices are generated on the first day of the month', 'refunds need a second approval'],
};
const memory = await MemoryClient.connect({ url: dpgUrl(), pool: { min_size: 1, max_size: 4 } });
try {
  for (const [namespace, texts] of Object.entries(notes)) {
    await memory.memories.storeMany(texts.map((text, i) => ({ namespace, key: `note-${i}`, value: text, embedding: embed(text) })), { onConflict: 'update' });
  }
  const question = embed('how to keep hnsw recall high when searching');
  const hits = await memory.memories.searchAcross(teams, { embedding: question, limit: 3 });
  console.log('across all teams:');
  for (const hit of hits) console.log(`  ${hit.namespace}/${hit.key} ${hit.similarity.toFixed(3)}: ${hit.value}`);
  if (!hits[0]?.namespace.startsWith('team-search-')) throw new Error(`expected team-search first, got ${hits[0]?.namespace}`);
  const reranked = await memory.memories.retrieve(teams, { embedding: question, limit: 2, candidateFactor: 3 });
  console.log('two-phase retrieval (exact re-rank):');
  for (const hit of reranked) console.log(`  ${hit.namespace}/${hit.key} exact ${hit.exactSimilarity.toFixed(4)} (index ${hit.similarity.toFixed(4)})`);
  for (const [namespace, texts] of Object.entries(notes)) for (const [i] of texts.entries()) await memory.memories.delete(namespace, `note-${i}`);
} finally {
  await memory.close();
}
