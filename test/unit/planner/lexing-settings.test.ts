import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initParser, parseSql, unwrapNode } from '../../../src/planner/sql-ast.ts';
import { checkLexingSetting, checkSetConfigCalls, checkSetStatement } from '../../../src/planner/lexing-settings.ts';

// The coordinator lexes SQL as a node with standard_conforming_strings = on and UTF-8 text
// does: the direct ways to change either are refused before anything runs.
before(async () => {
  await initParser();
});

function setError(sql: string): string | undefined {
  const [, body] = unwrapNode(parseSql(sql)[0]!.node);
  return checkSetStatement(body)?.sqlstate;
}

const setConfigError = (sql: string) => checkSetConfigCalls(parseSql(sql)[0]!.node)?.sqlstate;

test('SET of standard_conforming_strings or client_encoding to another value: 0A000; to dpg\'s value, RESET and DEFAULT: allowed', () => {
  for (const sql of [
    'SET standard_conforming_strings = off',
    "SET standard_conforming_strings TO 'false'",
    'SET SESSION standard_conforming_strings = 0',
    'SET LOCAL standard_conforming_strings = no',
    "SET client_encoding = 'SJIS'",
    "SET client_encoding TO 'LATIN1'",
    "SET NAMES 'GBK'",
  ]) {
    assert.equal(setError(sql), '0A000', sql);
  }
  for (const sql of [
    'SET standard_conforming_strings = on',
    "SET standard_conforming_strings = 'true'",
    'SET standard_conforming_strings TO DEFAULT',
    'RESET standard_conforming_strings',
    "SET client_encoding = 'UTF8'",
    "SET client_encoding = 'utf-8'",
    "SET NAMES 'UNICODE'",
    'SET search_path = public',
    'RESET ALL',
  ]) {
    assert.equal(setError(sql), undefined, sql);
  }
});

test('set_config() anywhere in a statement: refused for a lexing setting or a name that is not a constant', () => {
  for (const sql of [
    "SELECT set_config('standard_conforming_strings', 'off', false)",
    "SELECT pg_catalog.set_config('Standard_Conforming_Strings', 'off', true)",
    "SELECT key FROM memory_entries WHERE namespace = 'a' AND set_config('client_encoding', 'SJIS', false) IS NOT NULL",
    "SELECT set_config('standard_conforming_strings', $1, false)",
    "SELECT set_config(name, 'off', false) FROM pg_settings",
  ]) {
    assert.equal(setConfigError(sql), '0A000', sql);
  }
  for (const sql of [
    "SELECT set_config('search_path', 'public', false)",
    "SELECT set_config($1, 'off', false)",
    "SELECT set_config('standard_conforming_strings', 'on', false)",
    "SELECT my_schema.set_config('standard_conforming_strings', 'off')",
    "SELECT 'set_config(''standard_conforming_strings'', ''off'', false)'",
  ]) {
    assert.equal(setConfigError(sql), undefined, sql);
  }
});

test('startup parameters (options -c) are checked the same way', () => {
  assert.equal(checkLexingSetting('standard_conforming_strings', 'off')?.sqlstate, "0A000");
  assert.equal(checkLexingSetting('CLIENT_ENCODING', 'EUC_JP')?.sqlstate, "0A000");
  assert.equal(checkLexingSetting('standard_conforming_strings', 'on'), null);
  assert.equal(checkLexingSetting('DateStyle', 'SQL, DMY'), null);
});
