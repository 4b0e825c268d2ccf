import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initParser, parseSql, unwrapNode } from '../../../src/planner/sql-ast.ts';
import { checkPrivileged } from '../../../src/planner/privileged.ts';

// Role, database and system changes, other roles, dpg's channels and backend signals
// are refused before anything runs.
before(async () => {
  await initParser();
});

function refusal(sql: string): string | undefined {
  const statement = parseSql(sql)[0]!;
  const [kind, body] = unwrapNode(statement.node);
  return checkPrivileged(kind, body, statement.node)?.sqlstate;
}

test('role, database and system statements, SET ROLE and dpg channels: 42501; DO: 0A000', () => {
  for (const sql of [
    "ALTER ROLE CURRENT_USER PASSWORD 'x'",
    'ALTER ROLE CURRENT_USER SET default_transaction_read_only = on',
    'ALTER USER dpg_cluster SET standard_conforming_strings = off',
    "CREATE ROLE intruder LOGIN PASSWORD 'x'",
    'DROP ROLE someone',
    'GRANT pg_read_server_files TO CURRENT_USER',
    "ALTER SYSTEM SET work_mem = '1GB'",
    'ALTER DATABASE distributed_postgres_cluster SET statement_timeout = 1',
    'CREATE DATABASE other',
    'SET ROLE postgres',
    "SET SESSION AUTHORIZATION 'postgres'",
    'LISTEN dpg_catalog_changed',
    'NOTIFY dpg_catalog_changed',
    "SELECT pg_notify('dpg_catalog_changed', '')",
    "SELECT pg_notify($1, '')",
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity',
    'SELECT pg_catalog.pg_cancel_backend(1)',
    'SELECT key FROM memory_entries WHERE pg_reload_conf()',
    "LOAD 'auto_explain'",
  ]) {
    assert.equal(refusal(sql), '42501', sql);
  }
  assert.equal(refusal("DO $$ BEGIN PERFORM 1; END $$"), '0A000');
});

test('ordinary statements, the application\'s own channels and RESET ROLE are not refused', () => {
  for (const sql of [
    "SELECT key FROM memory_entries WHERE namespace = 'a'",
    'LISTEN app_events',
    "NOTIFY app_events, 'hello'",
    "SELECT pg_notify('app_events', 'x')",
    'RESET ROLE',
    'SET ROLE NONE',
    'SELECT my_schema.pg_terminate_backend(1)',
    "SELECT 'pg_terminate_backend(1)'",
  ]) {
    assert.equal(refusal(sql), undefined, sql);
  }
});
