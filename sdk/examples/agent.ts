/**
 * A small agent that stores what it observes and recalls it later: memories with
 * embeddings in its own namespace, a session for its run, a pattern whose confidence
 * follows the outcomes of using it, and a trajectory of the run.
 *
 *   DPG_URL=postgres://... npx tsx sdk/examples/agent.ts
 */
import { MemoryClient } from '../src/index.ts';
import { dpgUrl, embed } from './embed.ts';

const namespace = `agent-example-${process.pid}`;
const memory = await MemoryClient.connect({ url: dpgUrl(), pool: { min_size: 1, max_size: 4 }, namespaces: ['agent-example-*'] });
try {
  const session = await memory.sessions.start({ namespace, agentId: 'example-agent', state: { step: 0 }, ttlSeconds: 600 });
  const observations = [
    ['deploy', 'the deploy script needs the staging credentials from the vault'],
    ['tests', 'the integration tests fail when postgres is not running'],
    ['oncall', 'page the database oncall when replication lag passes ten seconds'],
    ['style', 'the team prefers small commits with honest messages'],
  ];
  for (const [key, text] of observations) {
    await memory.memories.upsert({ namespace, key: key!, value: text!, embedding: embed(text!), tags: ['observation'], metadata: { source: 'example' } });
  }
  await memory.sessions.touch(session.id, { state: { step: 1 } });

  const question = 'why do the integration tests fail';
  const hits = await memory.memories.search(namespace, { embedding: embed(question), limit: 2, minSimilarity: 0.1 });
  console.log(`recall for "${question}":`);
  for (const hit of hits) console.log(`  ${hit.key} (similarity ${hit.similarity.toFixed(3)}): ${hit.value}`);
  if (hits[0]?.key !== 'tests') throw new Error(`expected the 'tests' memory first, got ${hits[0]?.key}`);

  const pattern = await memory.patterns.create({ namespace, type: 'debugging', data: { rule: 'check that postgres runs before the tests' }, embedding: embed('start postgres before tests') });
  const used = await memory.patterns.recordOutcome(namespace, pattern.id, true);
  await memory.trajectories.record({ namespace, patternId: pattern.id, steps: [{ asked: question }, { recalled: hits.map((h) => h.key) }], outcome: 'answered', reward: 1, embedding: embed(question) });
  console.log(`pattern ${used.type}: confidence ${used.confidence.toFixed(2)} after ${used.successCount} success(es)`);
  console.log(`session ${session.id} at step ${(await memory.sessions.get(session.id))!.state.step}`);

  // Clean up what the example made.
  for (const [key] of observations) await memory.memories.delete(namespace, key!);
  await memory.patterns.delete(namespace, pattern.id);
  await memory.sessions.end(session.id);
} finally {
  await memory.close();
}
