import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { postgresBinary } from './postgres-binaries.ts';

/**
 * The `ruvector` extension (extension/ruvector/) gives the seed's RuVector SQL
 * (`::ruvector`, `ruvector(384)`, `ruvector_cosine_ops`) pgvector's implementation.
 * It is SQL only (its C functions are pgvector's, from `$libdir/vector`), so
 * installing it means placing two files where PostgreSQL looks for extensions:
 * `$(pg_config --sharedir)/extension`.
 */
const EXTENSION_SOURCE_FILES = ['ruvector.control', 'ruvector--0.1.0.sql'];

/** Absolute paths of the extension's control file and install script in this checkout. */
export function ruvectorExtensionFiles(): string[] {
  return EXTENSION_SOURCE_FILES.map((name) =>
    fileURLToPath(new URL(`../../extension/ruvector/${name}`, import.meta.url)),
  );
}

export function postgresShareDir(): string {
  return execFileSync(postgresBinary('pg_config'), ['--sharedir'], { encoding: 'utf8' }).trim();
}

/**
 * Copies the extension files into `<sharedir>/extension` where any is missing or
 * differs. `installed` is true when this call wrote at least one file; `dir` is
 * the extension folder. Safe to call repeatedly; a running server picks the files
 * up at the next CREATE EXTENSION, no restart needed.
 */
export function installRuvectorExtension(sharedir: string = postgresShareDir()): { installed: boolean; dir: string } {
  const dir = join(sharedir, 'extension');
  mkdirSync(dir, { recursive: true });
  let installed = false;
  for (const source of ruvectorExtensionFiles()) {
    const wanted = readFileSync(source);
    const target = join(dir, basename(source));
    if (existsSync(target) && readFileSync(target).equals(wanted)) continue;
    // Write beside the target and rename, so a concurrent CREATE EXTENSION never
    // reads a half-written script.
    const staging = `${target}.${process.pid}.tmp`;
    writeFileSync(staging, wanted, { mode: 0o644 });
    renameSync(staging, target);
    installed = true;
  }
  return { installed, dir };
}
