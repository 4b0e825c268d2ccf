import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresBinary, POSTGRES_MAJOR } from './postgres-binaries.ts';
import { installRuvectorExtension } from './ruvector-extension.ts';

/**
 * `dpg setup`: installs what a cluster needs from Debian's archive, and pgvector
 * built from Debian's source package. Every step first checks for an existing
 * install, so a second run takes well under a second.
 */
interface Requirement {
  what: string;
  packages: string[];
  present: () => boolean;
}

const DEBIAN_PYTHON = '/usr/bin/python3';
const PG_CONFIG = postgresBinary('pg_config');
const TRIXIE_SOURCES = '/etc/apt/sources.list.d/dpg-trixie-src.sources';

const fileExists = (...paths: string[]) => () => paths.every((p) => existsSync(p));

const REQUIREMENTS: Requirement[] = [
  { what: `PostgreSQL ${POSTGRES_MAJOR}`, packages: [`postgresql-${POSTGRES_MAJOR}`, 'postgresql-contrib'], present: fileExists(postgresBinary('postgres'), postgresBinary('initdb')) },
  {
    what: `PostgreSQL ${POSTGRES_MAJOR} server headers`,
    packages: [`postgresql-server-dev-${POSTGRES_MAJOR}`],
    present: fileExists(`/usr/include/postgresql/${POSTGRES_MAJOR}/server/postgres.h`, PG_CONFIG),
  },
  { what: 'Patroni', packages: ['patroni'], present: fileExists('/usr/bin/patroni') },
  { what: 'etcd server and client', packages: ['etcd-server', 'etcd-client'], present: fileExists('/usr/bin/etcd', '/usr/bin/etcdctl') },
  { what: 'HAProxy', packages: ['haproxy'], present: fileExists('/usr/sbin/haproxy') },
  { what: 'Redis', packages: ['redis-server'], present: fileExists('/usr/bin/redis-server') },
  { what: 'Prometheus (promtool)', packages: ['prometheus'], present: fileExists('/usr/bin/prometheus', '/usr/bin/promtool') },
  { what: "Prometheus' PostgreSQL exporter", packages: ['prometheus-postgres-exporter'], present: fileExists('/usr/bin/prometheus-postgres-exporter') },
  {
    what: "Python's asyncpg and psycopg2 (Debian's interpreter)",
    packages: ['python3-asyncpg', 'python3-psycopg2'],
    present: () => existsSync(DEBIAN_PYTHON) && spawnSync(DEBIAN_PYTHON, ['-c', 'import asyncpg, psycopg2']).status === 0,
  },
  { what: 'PgBouncer (the baseline of dpg bench overhead)', packages: ['pgbouncer'], present: fileExists('/usr/sbin/pgbouncer') },
  { what: 'a C toolchain and dpkg-source (to build pgvector)', packages: ['build-essential', 'dpkg-dev'], present: fileExists('/usr/bin/gcc', '/usr/bin/make', '/usr/bin/dpkg-source') },
];

function sharedir(): string {
  return run(PG_CONFIG, ['--sharedir']).trim();
}

function pkglibdir(): string {
  return run(PG_CONFIG, ['--pkglibdir']).trim();
}

export function vectorExtensionInstalled(): boolean {
  if (!existsSync(PG_CONFIG)) return existsSync(`/usr/share/postgresql/${POSTGRES_MAJOR}/extension/vector.control`);
  return existsSync(join(sharedir(), 'extension', 'vector.control')) && existsSync(join(pkglibdir(), 'vector.so')) &&
    existsSync(join(sharedir(), 'extension', 'ruvector.control'));
}

export class SetupError extends Error {}

function run(command: string, args: string[], options: { cwd?: string; quiet?: boolean } = {}): string {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw new SetupError(`${command} could not run: ${result.error.message}`);
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new SetupError(`'${command} ${args.join(' ')}' failed (exit ${result.status}):\n${output}`);
  }
  return result.stdout ?? '';
}

export interface SetupReport {
  installedPackages: string[];
  builtPgvector: boolean;
  installedRuvector: boolean;
  seconds: number;
}

export function setup(log: (line: string) => void = () => {}): SetupReport {
  const startedAt = Date.now();
  const missing = REQUIREMENTS.filter((r) => !r.present());
  const packages = missing.flatMap((r) => r.packages);
  let aptUpdated = false;
  const requireRoot = (why: string) => {
    if (process.getuid?.() !== 0) throw new SetupError(`${why} needs root: run 'sudo npx dpg setup'`);
  };
  if (packages.length > 0) {
    requireRoot(`installing ${missing.map((r) => r.what).join(', ')}`);
    log(`installing from Debian: ${packages.join(' ')}`);
    run('apt-get', ['update', '-q']);
    aptUpdated = true;
    run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages]);
    const stillMissing = REQUIREMENTS.filter((r) => !r.present());
    if (stillMissing.length > 0) throw new SetupError(`still missing after apt-get install: ${stillMissing.map((r) => r.what).join(', ')}`);
  }

  let builtPgvector = false;
  if (!existsSync(join(sharedir(), 'extension', 'vector.control')) || !existsSync(join(pkglibdir(), 'vector.so'))) {
    requireRoot('building pgvector');
    buildPgvector(log, aptUpdated);
    builtPgvector = true;
  }
  const ruvector = installRuvectorExtension(sharedir());
  if (ruvector.installed) log(`installed the ruvector extension into ${ruvector.dir}`);
  return { installedPackages: packages, builtPgvector, installedRuvector: ruvector.installed, seconds: (Date.now() - startedAt) / 1000 };
}

/**
 * pgvector has no Debian 12 binary package, but Debian 13 ("trixie") has its source
 * package: fetch that source only (no trixie binaries) and build it against
 * PostgreSQL 15's pg_config.
 */
function buildPgvector(log: (line: string) => void, aptUpdated: boolean): void {
  if (!existsSync(TRIXIE_SOURCES)) {
    log(`adding a deb-src entry for Debian trixie main (source packages only): ${TRIXIE_SOURCES}`);
    writeFileSync(
      TRIXIE_SOURCES,
      [
        '# Added by dpg setup: source packages only, to build pgvector for PostgreSQL 15.',
        'Types: deb-src',
        'URIs: http://deb.debian.org/debian',
        'Suites: trixie',
        'Components: main',
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
        '',
      ].join('\n'),
    );
    aptUpdated = false;
  }
  if (!aptUpdated) run('apt-get', ['update', '-q']);
  const work = mkdtempSync(join(tmpdir(), 'dpg-pgvector-'));
  try {
    log('fetching the pgvector source package');
    run('apt-get', ['source', '-q', 'pgvector'], { cwd: work });
    const dir = readdirSync(work).find((f) => f.startsWith('pgvector-') && !f.includes('.'.repeat(2)) && !/\.(dsc|tar\.\w+)$/.test(f));
    if (!dir) throw new SetupError(`apt-get source pgvector produced no source folder in ${work}`);
    log(`building ${dir} against ${PG_CONFIG}`);
    // with_llvm=no: skip the JIT bitcode, which would need clang.
    const make = ['-C', join(work, dir), `PG_CONFIG=${PG_CONFIG}`, 'with_llvm=no'];
    run('make', [...make, '-j2']);
    run('make', [...make, 'install']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
