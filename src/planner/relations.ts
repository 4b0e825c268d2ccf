/**
 * Finds every relation a statement names (RangeVar nodes), so the planner can look
 * them up in the catalog and rewrite them to shard names, and notes the features
 * that decide how a statement can be distributed.
 */
import { unwrapNode } from './sql-ast.ts';

export interface RelationRef {
  name: string;
  schema: string | null;
  alias: string | null;
  /** Index into the statement's text (as `parseSql` gives it) where the name begins, schema included. */
  location: number;
  /** Named in a FROM list, JOIN, UPDATE ... FROM, DELETE ... USING or MERGE ... USING. */
  inFrom: boolean;
  /** The target of INSERT, UPDATE, DELETE or MERGE. */
  isTarget: boolean;
}

export interface StatementRelations {
  /** In the order of a depth-first walk of the tree (not necessarily text order). */
  relations: RelationRef[];
  /** Every CTE name defined anywhere in the statement. */
  cteNames: Set<string>;
  /** A subquery in FROM (RangeSubselect) or in an expression (SubLink: EXISTS, IN (SELECT), scalar). */
  hasSubqueries: boolean;
  /** A function, XMLTABLE or JSON_TABLE in FROM. */
  functionsInFrom: boolean;
  /** UNION / INTERSECT / EXCEPT at any level. */
  setOperation: boolean;
  /** FOR UPDATE / FOR SHARE / ... at any level. */
  lockingClause: boolean;
  hasCtes: boolean;
  recursiveCte: boolean;
  /** A CTE whose body is INSERT, UPDATE, DELETE or MERGE. */
  modifyingCte: boolean;
  /** A LATERAL subquery or function in FROM. */
  lateral: boolean;
  /** SELECT ... INTO new_table. */
  selectInto: boolean;
  tableSample: boolean;
}

interface Scope {
  /** CTE names visible here. */
  ctes: ReadonlySet<string>;
}

const MODIFYING_STATEMENTS = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/**
 * Collects the relations of one statement node from `parseSql` (its locations must
 * already be relative to the statement's text, as `parseSql` leaves them).
 *
 * A RangeVar in FROM without a schema whose name is a CTE visible at that point is
 * a CTE reference, not a relation, and is left out. CTE visibility follows
 * PostgreSQL: a CTE is visible in the rest of its statement and in nested
 * subqueries; within a non-recursive WITH, a CTE sees only the CTEs before it; in
 * WITH RECURSIVE, all of them. INSERT/UPDATE/DELETE/MERGE targets never refer to a
 * CTE. `FOR UPDATE OF name` names an alias, not a relation, and is left out.
 */
export function collectRelations(statementNode: any): StatementRelations {
  const out: StatementRelations = {
    relations: [],
    cteNames: new Set(),
    hasSubqueries: false,
    functionsInFrom: false,
    setOperation: false,
    lockingClause: false,
    hasCtes: false,
    recursiveCte: false,
    modifyingCte: false,
    lateral: false,
    selectInto: false,
    tableSample: false,
  };

  const record = (rangeVar: any, scope: Scope, inFrom: boolean, isTarget: boolean): void => {
    const name: string = rangeVar.relname;
    const schema: string | null = rangeVar.schemaname ?? null;
    if (inFrom && schema === null && scope.ctes.has(name)) return;
    out.relations.push({
      name,
      schema,
      alias: rangeVar.alias?.aliasname ?? null,
      location: rangeVar.location ?? 0,
      inFrom,
      isTarget,
    });
  };

  /** Visits a node of any kind, dispatching on statements and relation-bearing nodes. */
  const visit = (value: any, scope: Scope): void => {
    if (!value || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const element of value) visit(element, scope);
      return;
    }
    const [type, body] = unwrapNode(value);
    if (type === null) {
      // An unwrapped struct (RangeVar *relation in DDL, IntoClause, Alias, ...).
      if (isRangeVar(value)) record(value, scope, false, false);
      else visitFields(value, scope);
      return;
    }
    switch (type) {
      case 'SelectStmt':
        visitSelect(body, scope);
        return;
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        visitModify(body, scope);
        return;
      case 'RangeVar':
        record(body, scope, false, false);
        return;
      case 'SubLink':
        out.hasSubqueries = true;
        visitFields(body, scope);
        return;
      case 'JoinExpr':
      case 'RangeSubselect':
      case 'RangeFunction':
      case 'RangeTableFunc':
      case 'JsonTable':
      case 'RangeTableSample':
        visitFromItem(value, scope);
        return;
      default:
        visitFields(body, scope);
    }
  };

  const visitFields = (body: any, scope: Scope, skip: ReadonlySet<string> = EMPTY): void => {
    for (const [key, child] of Object.entries(body)) {
      if (!skip.has(key) && child && typeof child === 'object') visit(child, scope);
    }
  };

  const visitFromItem = (item: any, scope: Scope): void => {
    const [type, body] = unwrapNode(item);
    switch (type) {
      case 'RangeVar':
        record(body, scope, true, false);
        return;
      case 'JoinExpr':
        visitFromItem(body.larg, scope);
        visitFromItem(body.rarg, scope);
        visitFields(body, scope, new Set(['larg', 'rarg']));
        return;
      case 'RangeSubselect':
        out.hasSubqueries = true;
        if (body.lateral) out.lateral = true;
        visitFields(body, scope);
        return;
      case 'RangeFunction':
      case 'RangeTableFunc':
      case 'JsonTable':
        out.functionsInFrom = true;
        if (body.lateral) out.lateral = true;
        visitFields(body, scope);
        return;
      case 'RangeTableSample':
        out.tableSample = true;
        visitFromItem(body.relation, scope);
        visitFields(body, scope, new Set(['relation']));
        return;
      default:
        visit(item, scope);
    }
  };

  /** Defines the CTEs of a WITH clause, visiting their bodies; returns the scope for the rest of the statement. */
  const withScope = (withClause: any, outer: Scope): Scope => {
    if (!withClause) return outer;
    const ctes: any[] = (withClause.ctes ?? []).map((cte: any) => unwrapNode(cte)[1]);
    const names: string[] = ctes.map((cte) => cte.ctename);
    out.hasCtes ||= ctes.length > 0;
    if (withClause.recursive) out.recursiveCte = true;
    ctes.forEach((cte, index) => {
      out.cteNames.add(cte.ctename);
      const visible = withClause.recursive ? names : names.slice(0, index);
      const [queryType] = unwrapNode(cte.ctequery);
      if (queryType && MODIFYING_STATEMENTS.has(queryType)) out.modifyingCte = true;
      visit(cte.ctequery, { ctes: new Set([...outer.ctes, ...visible]) });
    });
    return { ctes: new Set([...outer.ctes, ...names]) };
  };

  /** A SelectStmt body; also the unwrapped larg/rarg of a set operation. */
  const visitSelect = (select: any, outer: Scope): void => {
    const scope = withScope(select.withClause, outer);
    if (select.op && select.op !== 'SETOP_NONE') {
      out.setOperation = true;
      visitSelect(select.larg, scope);
      visitSelect(select.rarg, scope);
    }
    for (const item of select.fromClause ?? []) visitFromItem(item, scope);
    if (select.intoClause) {
      out.selectInto = true;
      record(select.intoClause.rel, scope, false, false);
    }
    if (select.lockingClause?.length) {
      out.lockingClause = true;
      // lockedRels name FROM items by alias, not relations: skip them.
    }
    visitFields(select, scope, SELECT_HANDLED);
  };

  const visitModify = (statement: any, outer: Scope): void => {
    const scope = withScope(statement.withClause, outer);
    record(statement.relation, scope, false, true);
    for (const item of statement.fromClause ?? []) visitFromItem(item, scope);
    for (const item of statement.usingClause ?? []) visitFromItem(item, scope);
    if (statement.sourceRelation) visitFromItem(statement.sourceRelation, scope);
    visitFields(statement, scope, MODIFY_HANDLED);
  };

  visit(statementNode, { ctes: new Set() });
  return out;
}

const EMPTY: ReadonlySet<string> = new Set();
const SELECT_HANDLED: ReadonlySet<string> = new Set(['withClause', 'larg', 'rarg', 'fromClause', 'intoClause', 'lockingClause']);
const MODIFY_HANDLED: ReadonlySet<string> = new Set(['withClause', 'relation', 'fromClause', 'usingClause', 'sourceRelation']);

/** An unwrapped RangeVar body: the only raw parse node with both relname and relpersistence. */
function isRangeVar(value: any): boolean {
  return typeof value.relname === 'string' && typeof value.relpersistence === 'string';
}
