import { ClientError, SqlState } from '../shared/errors.ts';
import { constantValue, walkBuiltinCalls } from './sql-ast.ts';

/**
 * Statements and functions that would let a client change what the coordinator's own
 * connections get (roles, database and system settings), act as another role, reach
 * dpg's notification channels, or end or signal backends the coordinator uses. They are
 * refused with 42501 before anything runs.
 */
const ROLE_AND_SYSTEM_STATEMENTS: Record<string, string> = {
  AlterRoleStmt: 'ALTER ROLE',
  AlterRoleSetStmt: 'ALTER ROLE ... SET',
  CreateRoleStmt: 'CREATE ROLE',
  DropRoleStmt: 'DROP ROLE',
  GrantRoleStmt: 'GRANT or REVOKE of a role',
  AlterSystemStmt: 'ALTER SYSTEM',
  AlterDatabaseStmt: 'ALTER DATABASE',
  AlterDatabaseSetStmt: 'ALTER DATABASE ... SET',
  AlterDatabaseRefreshCollStmt: 'ALTER DATABASE ... REFRESH COLLATION VERSION',
  CreatedbStmt: 'CREATE DATABASE',
  DropdbStmt: 'DROP DATABASE',
  ReassignOwnedStmt: 'REASSIGN OWNED',
  DropOwnedStmt: 'DROP OWNED',
  LoadStmt: 'LOAD',
  AlterTableSpaceOptionsStmt: 'ALTER TABLESPACE',
  CreateTableSpaceStmt: 'CREATE TABLESPACE',
  DropTableSpaceStmt: 'DROP TABLESPACE',
  CreateSubscriptionStmt: 'CREATE SUBSCRIPTION',
  AlterSubscriptionStmt: 'ALTER SUBSCRIPTION',
  DropSubscriptionStmt: 'DROP SUBSCRIPTION',
  CreatePublicationStmt: 'CREATE PUBLICATION',
  AlterPublicationStmt: 'ALTER PUBLICATION',
  DropPublicationStmt: 'DROP PUBLICATION',
};

/** Functions that end, signal or reconfigure server processes, or touch server files. */
const PRIVILEGED_FUNCTIONS = new Set([
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_signal_backend',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_promote',
  'pg_switch_wal',
  'pg_create_restore_point',
  'pg_create_physical_replication_slot',
  'pg_create_logical_replication_slot',
  'pg_drop_replication_slot',
  'pg_replication_origin_create',
  'pg_replication_origin_drop',
  'pg_read_file',
  'pg_read_binary_file',
  'pg_ls_dir',
  'pg_stat_file',
  'lo_import',
  'lo_export',
  'dblink',
  'dblink_exec',
  'dblink_connect',
]);

/** dpg's own LISTEN/NOTIFY channels (the catalog's, and any later one) start with this. */
const DPG_CHANNEL_PREFIX = 'dpg_';

function denied(what: string): ClientError {
  return new ClientError(SqlState.insufficientPrivilege, `permission denied: ${what} is not allowed through dpg (it would change or reach what the coordinator's own connections use)`);
}

/** The error of a statement this module refuses, or null. */
export function checkPrivileged(kind: string | null, body: any, node: unknown): ClientError | null {
  if (kind && ROLE_AND_SYSTEM_STATEMENTS[kind]) return denied(ROLE_AND_SYSTEM_STATEMENTS[kind]);
  if (kind === 'DoStmt') {
    return new ClientError(SqlState.featureNotSupported, 'DO blocks are not supported by dpg: their statements would run on the control group without being planned; run them as statements');
  }
  const setsRole = body?.name === 'role' && (body.args?.[0] === undefined ? undefined : constantValue(body.args[0]))?.toLowerCase() !== 'none';
  if (kind === 'VariableSetStmt' && body.kind === 'VAR_SET_VALUE' && (setsRole || body.name === 'session_authorization')) {
    return denied(body.name === 'role' ? 'SET ROLE' : 'SET SESSION AUTHORIZATION');
  }
  if ((kind === 'ListenStmt' || kind === 'NotifyStmt' || kind === 'UnlistenStmt') && String(body.conditionname ?? '').startsWith(DPG_CHANNEL_PREFIX)) {
    return denied(`${kind.replace(/Stmt$/, '').toUpperCase()} on dpg's channel ${body.conditionname}`);
  }
  let error: ClientError | null = null;
  walkBuiltinCalls(node, (name, call) => {
    if (PRIVILEGED_FUNCTIONS.has(name)) error = denied(`${name}()`);
    else if (name === 'pg_notify') {
      const channel = call.args?.[0] === undefined ? undefined : (constantValue(call.args[0]) ?? undefined);
      if (channel === undefined || channel.startsWith(DPG_CHANNEL_PREFIX)) error = denied(channel === undefined ? 'pg_notify() on a channel that is not a constant' : `pg_notify() on dpg's channel ${channel}`);
    }
    return error ? false : undefined;
  });
  return error;
}
