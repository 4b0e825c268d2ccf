import { relationPlaceholder } from '../planner/plan.ts';
import { LIMIT_PLACEHOLDER } from '../planner/merge-select.ts';
import type { TableInfo } from '../topology/snapshot.ts';

/** A hole of a template: relation k of the plan, or the per-shard LIMIT. */
type Slot = { relation: number } | { limit: true };

const PLACEHOLDER = new RegExp(`${relationPlaceholder(0).replace('0', '(\\d+)')}|${LIMIT_PLACEHOLDER}`, 'g');

/**
 * A plan's SQL template compiled once: its text cut at the placeholders the planner
 * left in it (relation k, the per-shard LIMIT), so that filling it for a shard is one
 * concatenation, not a search of the text per placeholder and shard.
 */
export class SqlTemplate {
  private constructor(
    private readonly texts: readonly string[],
    private readonly slots: readonly Slot[],
  ) {}

  private static readonly compiled = new Map<string, SqlTemplate>();
  private static readonly MAX_COMPILED = 10_000;

  /** The compiled form of `template` (kept for the templates seen most recently). */
  static of(template: string): SqlTemplate {
    const known = SqlTemplate.compiled.get(template);
    if (known) return known;
    const texts: string[] = [];
    const slots: Slot[] = [];
    let last = 0;
    for (const match of template.matchAll(PLACEHOLDER)) {
      texts.push(template.slice(last, match.index));
      slots.push(match[1] === undefined ? { limit: true } : { relation: Number(match[1]) });
      last = match.index! + match[0].length;
    }
    texts.push(template.slice(last));
    const compiled = new SqlTemplate(texts, slots);
    if (SqlTemplate.compiled.size >= SqlTemplate.MAX_COMPILED) SqlTemplate.compiled.delete(SqlTemplate.compiled.keys().next().value!);
    SqlTemplate.compiled.set(template, compiled);
    return compiled;
  }

  /**
   * The SQL for one shard index: distributed tables become `<table>_<shardid>` of that
   * index, reference tables their single shard, the LIMIT placeholder `limit`.
   */
  fill(relations: readonly TableInfo[], shardIndex: number, limit?: string): string {
    let sql = this.texts[0]!;
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i]!;
      if ('relation' in slot) {
        const table = relations[slot.relation];
        if (!table) throw new Error(`template names relation ${slot.relation}, the plan has ${relations.length}`);
        const shard = table.kind === 'reference' ? table.shards[0]! : table.shards[shardIndex]!;
        sql += `${table.name}_${shard.shardId}`;
      } else {
        if (limit === undefined) throw new Error('template has a LIMIT placeholder and no limit was given');
        sql += limit;
      }
      sql += this.texts[i + 1]!;
    }
    return sql;
  }
}

/** `template` filled for one shard index (see SqlTemplate.fill). */
export function fillShard(template: string, relations: readonly TableInfo[], shardIndex: number, limit?: string): string {
  return SqlTemplate.of(template).fill(relations, shardIndex, limit);
}
