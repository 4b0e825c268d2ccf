// A worker thread that runs PostgreSQL's parser (libpg-query) for long statements, so
// that parsing one does not stall every other session on the coordinator's event loop
// (sql-ast.ts, parseSqlOffThread). Plain JavaScript: it needs no TypeScript loader.
import { parentPort } from 'node:worker_threads';
import { loadModule, parseSync } from 'libpg-query';

await loadModule();
parentPort.on('message', ({ id, sql }) => {
  try {
    parentPort.postMessage({ id, result: parseSync(sql) });
  } catch (error) {
    parentPort.postMessage({ id, error: { name: String(error?.name ?? 'Error'), message: String(error?.message ?? error), sqlDetails: error?.sqlDetails ?? null } });
  }
});
parentPort.postMessage({ ready: true });
