import { createHash } from 'node:crypto';
import { encodeFrontend, SYNC } from '../protocol/frontend.ts';
import type { BackendConnection } from '../backend/backend-connection.ts';
import type { TypeMap } from '../topology/type-map.ts';

/** One statement to run on a worker, with the client's parameters when it came through the extended protocol. */
export interface WorkerRequest {
  sql: string;
  params?: (Buffer | null)[];
  paramFormats?: number[];
  /** Parameter types as the client declared them (control group OIDs; 0 = unspecified). */
  paramTypes?: number[];
  resultFormats?: number[];
}

/** Statements are prepared once per worker connection, named by a hash of their text and parameter types. */
const preparedNames = new Map<string, string>();

function preparedName(sql: string, types: number[]): string {
  const key = types.length > 0 ? `${types.join(',')}|${sql}` : sql;
  let name = preparedNames.get(key);
  if (!name) {
    name = `dpg_${createHash('sha1').update(key).digest('base64url').slice(0, 20)}`;
    if (preparedNames.size >= 10_000) preparedNames.clear();
    preparedNames.set(key, name);
  }
  return name;
}

const MAX_PREPARED_PER_CONNECTION = 1000;

/**
 * Writes requests to a connection, ending with Sync (extended protocol) or as one
 * simple Query: the caller then reads the responses up to ReadyForQuery.
 * Returns a callback for the reader: told how many ParseComplete it saw before an
 * error, it forgets the statements whose Parse did not complete (the others exist).
 */
export function writeRequests(connection: BackendConnection, requests: WorkerRequest[], extended: boolean, typeMap: TypeMap): (parsed: number) => void {
  if (!extended) {
    connection.write(encodeFrontend({ type: 'Query', sql: requests.map((r) => r.sql).join(';\n') }));
    return () => {};
  }
  const frames: Buffer[] = [];
  const added: string[] = [];
  let leading = 0;
  if (connection.prepared.size > MAX_PREPARED_PER_CONNECTION) {
    leading = 1;
    frames.push(encodeFrontend({ type: 'Parse', name: '', sql: 'DEALLOCATE ALL', parameterTypes: [] }));
    frames.push(encodeFrontend({ type: 'Bind', portal: '', statement: '', parameterFormats: [], parameters: [], resultFormats: [] }));
    frames.push(encodeFrontend({ type: 'Execute', portal: '', maxRows: 0 }));
    connection.prepared.clear();
  }
  for (const request of requests) {
    const types = (request.paramTypes ?? []).map((oid) => typeMap.toWorker(oid));
    const name = preparedName(request.sql, types);
    if (!connection.prepared.has(name)) {
      frames.push(encodeFrontend({ type: 'Parse', name, sql: request.sql, parameterTypes: types }));
      connection.prepared.add(name);
      added.push(name);
    }
    frames.push(
      encodeFrontend({
        type: 'Bind',
        portal: '',
        statement: name,
        parameterFormats: request.paramFormats ?? [],
        parameters: request.params ?? [],
        resultFormats: request.resultFormats ?? [],
      }),
    );
    frames.push(encodeFrontend({ type: 'Describe', kind: 'P', name: '' }));
    frames.push(encodeFrontend({ type: 'Execute', portal: '', maxRows: 0 }));
  }
  frames.push(SYNC);
  connection.write(Buffer.concat(frames));
  return (parsed) => {
    for (const name of added.slice(Math.max(0, parsed - leading))) connection.prepared.delete(name);
  };
}

/** Sums command tags of the same command from several shards: UPDATE 3 + UPDATE 2 = UPDATE 5. */
export function combineTags(tags: string[]): string {
  if (tags.length === 0) return '';
  if (tags.length === 1) return tags[0]!;
  const first = tags[0]!;
  const match = /^(.*?)(\d+)$/.exec(first);
  if (!match) return first;
  const total = tags.reduce((sum, tag) => sum + Number(/(\d+)$/.exec(tag)?.[1] ?? 0), 0);
  return `${match[1]}${total}`;
}
