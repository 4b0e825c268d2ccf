import type { CatalogSnapshot } from '../topology/snapshot.ts';
import { OFF_THREAD_PARSE_CHARS, parseSql, parseSqlOffThread, type ParsedStatement } from './sql-ast.ts';
import { planStatement } from './planner.ts';
import type { ControlPlan, Plan } from './plan.ts';
import { normalizeStatement, type NormalizedStatement } from './normalize.ts';
import { isStackOverflow, stackDepthExceeded } from '../shared/errors.ts';

export interface PlannedStatement {
  /** The parse tree; absent for a plan reused across literal values (no parse was needed). */
  statement?: ParsedStatement;
  plan: Plan;
}

/**
 * Statements whose plan holds for any values of their literals: one statement, a
 * SELECT/INSERT/UPDATE/DELETE that calls no function (the planner looks at the literal
 * arguments of some: set_config, pg_notify) and that the planner sent to the control
 * group as written. Their plan is the text itself, whatever the constants in it.
 */
const LITERAL_FREE_COMMANDS = new Set(['select', 'insert', 'update', 'delete']);

function literalShape(sql: string): NormalizedStatement | null {
  if (sql.length > 64 * 1024) return null;
  const shape = normalizeStatement(sql);
  return shape && !shape.calls && LITERAL_FREE_COMMANDS.has(shape.command) ? shape : null;
}

function reusableAcrossLiterals(plan: Plan): plan is ControlPlan {
  return plan.kind === 'control' && !plan.utility && !plan.sessionConfig && !plan.copyIn && !(plan.notices && plan.notices.length > 0);
}

/**
 * Plans by query text, so a statement sent again (or prepared once and executed
 * many times) is parsed once (~100-200 µs with the WASM parser). Entries planned
 * under an older catalog version are planned again. Bounded, least recently used out.
 */
export class PlanCache {
  private readonly entries = new Map<string, { version: number; planned: PlannedStatement[] }>();
  /** Control-group plans by normalized text (literals as markers): see literalShape. */
  private readonly shapes = new Map<string, { version: number; plan: ControlPlan }>();
  private static readonly MAX_SHAPES = 5000;
  hits = 0;
  misses = 0;

  /** Characters of statement text held by the entries. */
  private chars = 0;
  private static readonly MAX_ENTRY_CHARS = 1024 * 1024;
  private static readonly MAX_CHARS = 32 * 1024 * 1024;

  constructor(private readonly capacity = 5000) {}

  /**
   * plan() for a session: a long statement not planned yet is parsed on a worker thread
   * (parseSqlOffThread), so other sessions are not kept waiting while it is.
   */
  async planAsync(sql: string, snapshot: CatalogSnapshot): Promise<PlannedStatement[]> {
    const cached = this.entries.get(sql);
    if (sql.length < OFF_THREAD_PARSE_CHARS || (cached && cached.version === snapshot.version)) return this.plan(sql, snapshot);
    this.misses++;
    let statements: ParsedStatement[];
    try {
      statements = await parseSqlOffThread(sql);
    } catch (error) {
      throw isStackOverflow(error) ? stackDepthExceeded() : error;
    }
    return this.store(sql, snapshot, () => statements.map((statement) => ({ statement, plan: planStatement(statement, snapshot) })));
  }

  plan(sql: string, snapshot: CatalogSnapshot): PlannedStatement[] {
    const cached = this.entries.get(sql);
    if (cached && cached.version === snapshot.version) {
      this.hits++;
      // Refresh its place in the LRU order.
      this.entries.delete(sql);
      this.entries.set(sql, cached);
      return cached.planned;
    }
    const shape = literalShape(sql);
    if (shape) {
      const reused = this.shapes.get(shape.key);
      if (reused && reused.version === snapshot.version) {
        this.hits++;
        return [{ plan: { ...reused.plan, sql: sql.slice(shape.start, shape.end) } }];
      }
    }
    this.misses++;
    const planned = this.store(sql, snapshot, () => parseSql(sql).map((statement) => ({ statement, plan: planStatement(statement, snapshot) })));
    if (shape && planned.length === 1) {
      const plan = planned[0]!.plan;
      // The plan is the statement's own text: then any text of the same shape is planned as itself.
      if (reusableAcrossLiterals(plan) && plan.sql === sql.slice(shape.start, shape.end)) {
        if (this.shapes.size >= PlanCache.MAX_SHAPES) this.shapes.delete(this.shapes.keys().next().value!);
        this.shapes.set(shape.key, { version: snapshot.version, plan });
        // The exact text need not be kept too: its shape answers it.
        this.forget(sql);
      }
    }
    return planned;
  }

  private forget(sql: string): void {
    if (this.entries.delete(sql)) this.chars -= sql.length;
  }

  private store(sql: string, snapshot: CatalogSnapshot, make: () => PlannedStatement[]): PlannedStatement[] {
    let planned: PlannedStatement[];
    try {
      planned = make();
    } catch (error) {
      throw isStackOverflow(error) ? stackDepthExceeded() : error;
    }
    const old = this.entries.get(sql);
    if (old) {
      this.entries.delete(sql);
      this.chars -= sql.length;
    }
    // A statement this long is seldom sent twice: keeping it would let a few of them fill the cache.
    if (sql.length > PlanCache.MAX_ENTRY_CHARS) return planned;
    this.entries.set(sql, { version: snapshot.version, planned });
    this.chars += sql.length;
    // Bounded by entries and by the text they hold (their parse trees grow with it), least recently used out.
    while (this.entries.size > this.capacity || this.chars > PlanCache.MAX_CHARS) {
      const oldest = this.entries.keys().next().value!;
      this.entries.delete(oldest);
      this.chars -= oldest.length;
    }
    return planned;
  }
}
