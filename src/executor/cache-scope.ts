import type { DistributedPlan, Plan } from '../planner/plan.ts';
import { resolveKeyValues, type KeyValue } from '../planner/shard-key.ts';
import type { CacheScope, Invalidation } from './result-cache.ts';
import type { Bindings } from './run-plan.ts';
import { routingParams } from '../physical/distributed-tasks.ts';

function namespacesOf(values: KeyValue[] | null, bindings: Bindings): string[] | null {
  if (!values) return null;
  const resolved = resolveKeyValues(values, routingParams(bindings, [values]));
  return resolved === 'unknown' ? null : resolved.filter((v): v is string => v !== null);
}

/** The tables (and namespaces) a SELECT reads: its cached result is keyed by their generations. */
export function readScope(plan: DistributedPlan, bindings: Bindings): CacheScope {
  const scope: CacheScope = { distributed: [], whole: [] };
  const distributed = plan.relations.filter((t) => t.kind === 'distributed');
  for (const table of plan.relations) if (table.kind === 'reference') scope.whole.push(table.name);
  distributed.forEach((table, i) => {
    const values = plan.pinnedEach ? (plan.pinnedEach[i] ?? null) : plan.keyValues;
    scope.distributed.push({ table: table.name, namespaces: namespacesOf(values, bindings) });
  });
  return scope;
}

/** What a statement may change, for the result cache; null when it changes no table the cache holds results of. */
export function writeInvalidation(plan: Plan, bindings: Bindings): Invalidation | null {
  switch (plan.kind) {
    case 'distributed': {
      if (plan.readOnly) return null;
      const distributed = plan.relations.filter((t) => t.kind === 'distributed');
      if (plan.anchor.kind === 'reference') return { distributed: [], whole: plan.relations.map((t) => t.name) };
      return { distributed: distributed.map((t, i) => ({ table: t.name, namespaces: namespacesOf(plan.pinnedEach ? (plan.pinnedEach[i] ?? null) : plan.keyValues, bindings) })), whole: [] };
    }
    case 'insert':
      // INSERT ... SELECT: its namespaces are known only once the SELECT ran.
      if (plan.source) return { distributed: [], whole: [plan.table.name] };
      return { distributed: [{ table: plan.table.name, namespaces: namespacesOf(plan.rowKeys, bindings) }], whole: [] };
    case 'reference-write':
      return { distributed: [], whole: plan.relations.map((t) => t.name) };
    case 'copy':
      return plan.direction === 'in' ? { distributed: [], whole: [plan.table.name] } : null;
    case 'ddl':
    case 'drop-index':
    case 'distribution-function':
      return 'everything';
    default:
      return null;
  }
}
