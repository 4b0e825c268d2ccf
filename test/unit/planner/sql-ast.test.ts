import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initParser, parseSql, SqlSyntaxError, walk, nodeType, unwrapNode } from '../../../src/planner/sql-ast.ts';

before(async () => {
  await initParser();
  await initParser(); // idempotent
});

function syntaxError(sql: string): SqlSyntaxError {
  try {
    parseSql(sql);
  } catch (error) {
    assert.ok(error instanceof SqlSyntaxError, `expected SqlSyntaxError, got ${error}`);
    return error;
  }
  assert.fail(`expected a syntax error for ${sql}`);
}

test('an empty query string, or only comments and semicolons, gives no statements', () => {
  for (const sql of ['', '   ', '\n\t', ';', ' ; ; ', '-- just a comment', '/* block */', '/* a */ ; -- b\n']) {
    assert.deepEqual(parseSql(sql), [], JSON.stringify(sql));
  }
});

test('one statement: kind, text without the semicolon, location 0', () => {
  const [statement, ...rest] = parseSql('SELECT 1;');
  assert.equal(rest.length, 0);
  assert.equal(statement.kind, 'SelectStmt');
  assert.equal(statement.text, 'SELECT 1');
  assert.equal(statement.location, 0);
  assert.ok(statement.node.SelectStmt);
});

test('several statements with multi-byte text get their own text and character locations', () => {
  const sql = "  SELECT 'héllo€' AS x;\n SELECT * FROM \"Mïxed\" m WHERE m.a = '😀' ;;\n  -- tail\n INSERT INTO t VALUES ('ü')  ";
  const statements = parseSql(sql);
  assert.deepEqual(
    statements.map((s) => [s.kind, s.text]),
    [
      ['SelectStmt', "SELECT 'héllo€' AS x"],
      ['SelectStmt', "SELECT * FROM \"Mïxed\" m WHERE m.a = '😀'"],
      ['InsertStmt', "-- tail\n INSERT INTO t VALUES ('ü')"],
    ],
  );
  for (const statement of statements) {
    assert.equal(sql.slice(statement.location, statement.location + statement.text.length), statement.text);
  }
  assert.equal(statements[0].location, 2);

  // Node locations are indexes into the statement's own text.
  const second = statements[1];
  const rangeVar = second.node.SelectStmt.fromClause[0].RangeVar;
  assert.equal(rangeVar.relname, 'Mïxed');
  assert.equal(second.text.slice(rangeVar.location, rangeVar.location + 7), '"Mïxed"');
  const constant = second.node.SelectStmt.whereClause.A_Expr.rexpr.A_Const;
  assert.equal(second.text.slice(constant.location), "'😀'");

  const third = statements[2];
  const target = third.node.InsertStmt.relation;
  assert.equal(third.text.slice(target.location, target.location + 1), 't');
  const value = third.node.InsertStmt.selectStmt.SelectStmt.valuesLists[0].List.items[0].A_Const;
  assert.equal(third.text.slice(value.location), "'ü')");
});

test('a statement after a multi-byte one: locations stay right after the first statement', () => {
  const sql = "SELECT '€€€€€€€€€€' ; UPDATE memory_entries SET value = 'ö' WHERE namespace = 'ñ'";
  const [, update] = parseSql(sql);
  assert.equal(update.text, "UPDATE memory_entries SET value = 'ö' WHERE namespace = 'ñ'");
  const relation = update.node.UpdateStmt.relation;
  assert.equal(update.text.slice(relation.location, relation.location + 14), 'memory_entries');
  const where = update.node.UpdateStmt.whereClause.A_Expr;
  assert.equal(update.text.slice(where.lexpr.ColumnRef.location, where.lexpr.ColumnRef.location + 9), 'namespace');
});

test('the last statement without a semicolon runs to the end, trailing comment included', () => {
  const statements = parseSql('select 1; select 2 -- two\n');
  assert.deepEqual(
    statements.map((s) => s.text),
    ['select 1', 'select 2 -- two'],
  );
});

test('a semicolon inside a string, identifier, comment or dollar quote does not split', () => {
  const sql = `SELECT ';' AS "a;b" /* ; */, $$;$$; SELECT 2`;
  assert.deepEqual(
    parseSql(sql).map((s) => s.text),
    [`SELECT ';' AS "a;b" /* ; */, $$;$$`, 'SELECT 2'],
  );
});

test('utility statements report their node kind', () => {
  const kinds = parseSql('BEGIN; SET search_path = public; COMMIT; CREATE TABLE t (a int); SHOW x').map((s) => s.kind);
  assert.deepEqual(kinds, ['TransactionStmt', 'VariableSetStmt', 'TransactionStmt', 'CreateStmt', 'VariableShowStmt']);
});

test('syntax error: PostgreSQL message, SQLSTATE 42601, 1-based character position', () => {
  const error = syntaxError('SELECT * FORM memory_entries');
  assert.equal(error.message, 'syntax error at or near "FORM"');
  assert.equal(error.sqlstate, '42601');
  assert.equal(error.position, 10);
});

test('syntax error position counts characters, not bytes', () => {
  const sql = "SELECT 'é€😀' FROM FROM";
  const error = syntaxError(sql);
  assert.equal(error.message, 'syntax error at or near "FROM"');
  // Code points: S E L E C T ␠ ' é € 😀 ' ␠ F R O M ␠ -> the second FROM is the 19th.
  assert.equal(error.position, [...sql].length - 4 + 1);
});

test('syntax error at end of input points one past the end', () => {
  const error = syntaxError('SELECT (1');
  assert.equal(error.message, 'syntax error at end of input');
  assert.equal(error.position, 10);
});

test('syntax error in the second statement: the position is in the whole query string', () => {
  const error = syntaxError('SELECT 1; SELEC 2');
  assert.equal(error.message, 'syntax error at or near "SELEC"');
  assert.equal(error.position, 11);
});

test('unterminated string', () => {
  const error = syntaxError("SELECT 'abc");
  assert.equal(error.message, 'unterminated quoted string at or near "\'abc"');
  assert.equal(error.position, 8);
});

test('an error at the first character has position 1; grammar errors without a position have none', () => {
  const first = syntaxError('FORM memory_entries');
  assert.equal(first.message, 'syntax error at or near "FORM"');
  assert.equal(first.position, 1);
  const ties = syntaxError('SELECT 1 FETCH FIRST 1 ROWS WITH TIES');
  assert.equal(ties.message, 'WITH TIES cannot be specified without ORDER BY clause');
  assert.equal(ties.position, undefined);
  assert.equal(ties.sqlstate, '42601');
});

test('raw-parser errors that are not syntax errors keep PostgreSQL\'s SQLSTATE', () => {
  const assertion = syntaxError('CREATE ASSERTION a CHECK (true)');
  assert.equal(assertion.message, 'CREATE ASSERTION is not yet implemented');
  assert.equal(assertion.sqlstate, '0A000');
  assert.equal(assertion.position, undefined);
  const unique = syntaxError('SELECT 1 WHERE UNIQUE (SELECT 1)');
  assert.deepEqual([unique.sqlstate, unique.position], ['0A000', 16]);
  const frame = syntaxError('SELECT sum(1) OVER (ROWS UNBOUNDED FOLLOWING)');
  assert.deepEqual([frame.message, frame.sqlstate, frame.position], ['frame start cannot be UNBOUNDED FOLLOWING', '42P20', 26]);
  const escape = syntaxError("SELECT E'\\u00'");
  assert.deepEqual([escape.message, escape.sqlstate, escape.position], ['invalid Unicode escape', '22025', 10]);
});

test('walk visits every node, can skip children, and reports paths', () => {
  const [statement] = parseSql('SELECT a FROM t WHERE b IN (SELECT c FROM u)');
  const relations: string[] = [];
  const paths: string[] = [];
  walk(statement.node, (key, value, _parent, path) => {
    if (key === 'RangeVar') {
      relations.push(value.relname);
      paths.push(path.join('.'));
    }
  });
  assert.deepEqual(relations, ['t', 'u']);
  assert.deepEqual(paths, [
    'SelectStmt.fromClause.0.RangeVar',
    'SelectStmt.whereClause.SubLink.subselect.SelectStmt.fromClause.0.RangeVar',
  ]);

  const skipped: string[] = [];
  walk(statement.node, (key, value) => {
    if (key === 'SubLink') return false;
    if (key === 'RangeVar') skipped.push(value.relname);
  });
  assert.deepEqual(skipped, ['t']);
});

test('nodeType and unwrapNode', () => {
  assert.equal(nodeType({ SelectStmt: {} }), 'SelectStmt');
  assert.throws(() => nodeType({ a: 1, b: 2 }));
  assert.deepEqual(unwrapNode({ A_Const: { ival: {} } }), ['A_Const', { ival: {} }]);
  assert.deepEqual(unwrapNode({ relname: 't' }), [null, { relname: 't' }]);
});
