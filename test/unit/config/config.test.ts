import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  validateConfig,
  loadConfig,
  hnswProfileFor,
  ConfigError,
  DEFAULT_CONFIG,
  CONFIG_FILE_NAME,
} from '../../../src/config/config.ts';

const tempDirs: string[] = [];
const tempDir = () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'dpg-config-')));
  tempDirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Asserts that `run` throws a ConfigError for `key` whose message names the key,
 * the value as written in the error (JSON) and what is allowed.
 */
function assertConfigError(run: () => unknown, key: string, value: unknown, allowed: RegExp): ConfigError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError for ${key}, got ${String(caught)}`);
  assert.equal(caught.key, key);
  assert.deepEqual(caught.value, value);
  assert.ok(caught.message.includes(`${key} = `), `message names the key ${key}: ${caught.message}`);
  if (value !== undefined) {
    assert.ok(caught.message.includes(JSON.stringify(value)), `message names the value ${JSON.stringify(value)}: ${caught.message}`);
  }
  assert.match(caught.message, allowed);
  return caught;
}

const invalid = (document: unknown, key: string, value: unknown, allowed: RegExp) =>
  assertConfigError(() => validateConfig(document), key, value, allowed);

describe('validateConfig defaults', () => {
  test('an empty document is the default config', () => {
    assert.deepEqual(validateConfig({}), DEFAULT_CONFIG);
  });

  test('null and undefined documents (an empty YAML file) are the default config', () => {
    assert.deepEqual(validateConfig(null), DEFAULT_CONFIG);
    assert.deepEqual(validateConfig(undefined), DEFAULT_CONFIG);
  });

  test('a partial section keeps the defaults of the keys it does not give', () => {
    const config = validateConfig({ distribution: { shard_count: 32 } });
    assert.equal(config.distribution.shard_count, 32);
    assert.equal(config.distribution.key, 'namespace');
    assert.equal(config.distribution.method, 'hash');
    assert.equal(config.distribution.replication_factor, DEFAULT_CONFIG.distribution.replication_factor);
    assert.deepEqual(config.distribution.shard_rebalancing, DEFAULT_CONFIG.distribution.shard_rebalancing);
    assert.deepEqual(config.cluster, DEFAULT_CONFIG.cluster);
  });

  test('a nested partial section keeps its siblings', () => {
    const config = validateConfig({ distribution: { shard_rebalancing: { enabled: false } } });
    assert.deepEqual(config.distribution.shard_rebalancing, { ...DEFAULT_CONFIG.distribution.shard_rebalancing, enabled: false });
  });

  test('PostgreSQL parameters add to the defaults', () => {
    const config = validateConfig({ postgres: { parameters: { work_mem: '32MB', log_min_duration_statement: 250 } } });
    assert.equal(config.postgres.parameters.work_mem, '32MB');
    assert.equal(config.postgres.parameters.log_min_duration_statement, 250);
    assert.equal(config.postgres.parameters.shared_buffers, DEFAULT_CONFIG.postgres.parameters.shared_buffers);
  });

  test('a list replaces the default list instead of merging into it', () => {
    const config = validateConfig({ replication: { tables: { ephemeral: ['sessions', 'scratch'] } } });
    assert.deepEqual(config.replication.tables.ephemeral, ['sessions', 'scratch']);
    assert.deepEqual(config.replication.tables.critical, DEFAULT_CONFIG.replication.tables.critical);
  });

  test('validating does not change DEFAULT_CONFIG', () => {
    const before = structuredClone(DEFAULT_CONFIG);
    validateConfig({ distribution: { shard_count: 64 }, postgres: { parameters: { work_mem: '1GB' } } });
    assert.deepEqual(DEFAULT_CONFIG, before);
  });
});

describe('validateConfig errors name the key, the value and what is allowed', () => {
  test('unknown top-level key', () => {
    invalid({ shards: 12 }, 'shards', 12, /not a known key; known keys here: data_dir, ports, cluster, distribution/);
  });

  test('unknown nested key', () => {
    invalid({ distribution: { shard_cnt: 32 } }, 'distribution.shard_cnt', 32, /not a known key; known keys here: .*shard_count/);
  });

  test('keys that are names of Object.prototype members are unknown keys, not accepted', () => {
    invalid({ distribution: { toString: 5 } }, 'distribution.toString', 5, /not a known key/);
    invalid({ constructor: 1 }, 'constructor', 1, /not a known key/);
    invalid({ cluster: { hasOwnProperty: true } }, 'cluster.hasOwnProperty', true, /not a known key/);
  });

  test('wrong type', () => {
    invalid({ distribution: { shard_count: '32' } }, 'distribution.shard_count', '32', /an integer from 1 to 4096/);
    invalid({ distribution: { shard_rebalancing: { enabled: 'yes' } } }, 'distribution.shard_rebalancing.enabled', 'yes', /true or false/);
    invalid({ distribution: { shard_count: 2.5 } }, 'distribution.shard_count', 2.5, /an integer from 1 to 4096/);
  });

  test('out of range', () => {
    invalid({ distribution: { shard_count: 0 } }, 'distribution.shard_count', 0, /an integer from 1 to 4096/);
    invalid({ ports: { base: 80 } }, 'ports.base', 80, /an integer from 1024 to 65135/);
    invalid({ distribution: { replication_factor: 9 } }, 'distribution.replication_factor', 9, /an integer from 1 to 5/);
    invalid({ cluster: { worker_groups: { count: 99 } } }, 'cluster.worker_groups.count', 99, /an integer from 1 to 8/);
    invalid(
      { distribution: { shard_rebalancing: { threshold: -0.1 } } },
      'distribution.shard_rebalancing.threshold',
      -0.1,
      /a number from 0 to 10/,
    );
  });

  test('bad enum', () => {
    invalid({ distribution: { method: 'range' } }, 'distribution.method', 'range', /one of "hash"/);
    invalid({ cluster: { host: '0.0.0.0' } }, 'cluster.host', '0.0.0.0', /one of "127.0.0.1"/);
  });

  test('bad identifier', () => {
    invalid({ distribution: { key: 'Name Space' } }, 'distribution.key', 'Name Space', /a lower-case SQL identifier/);
    invalid({ cluster: { database: 'a'.repeat(64) } }, 'cluster.database', 'a'.repeat(64), /at most 63 bytes/);
    invalid(
      { replication: { tables: { audit: ['pattern_history', 'Bad-Table'] } } },
      'replication.tables.audit[1]',
      'Bad-Table',
      /a lower-case SQL identifier/,
    );
  });

  test('bad cron schedule', () => {
    invalid(
      { distribution: { shard_rebalancing: { schedule: 'every sunday' } } },
      'distribution.shard_rebalancing.schedule',
      'every sunday',
      /a cron schedule of five fields, e.g. "0 2 \* \* 0"/,
    );
    invalid(
      { distribution: { shard_rebalancing: { schedule: '0 2 * *' } } },
      'distribution.shard_rebalancing.schedule',
      '0 2 * *',
      /a cron schedule of five fields/,
    );
  });

  test('bad memory size of dpg\'s own index builds', () => {
    for (const bad of ['2 GB', '512', '0MB', '512mb', 2048, '2000GB']) {
      invalid({ vector: { index_build_memory: bad } }, 'vector.index_build_memory', bad, /a memory size from "1MB" to "1024GB"/);
    }
    assert.equal(validateConfig({ vector: { index_build_memory: '512MB' } }).vector.index_build_memory, '512MB');
    assert.equal(validateConfig({}).vector.index_build_memory, '2GB');
  });

  test('bad etcd endpoint', () => {
    invalid(
      { cluster: { etcd: { endpoints: ['http://127.0.0.1:2379', '127.0.0.1:2379'] } } },
      'cluster.etcd.endpoints[1]',
      '127.0.0.1:2379',
      /an etcd client URL such as "http:\/\/127.0.0.1:2379"/,
    );
    invalid({ cluster: { etcd: { endpoints: 'http://127.0.0.1:2379' } } }, 'cluster.etcd.endpoints', 'http://127.0.0.1:2379', /a list/);
  });

  test('a list where a mapping is expected', () => {
    invalid({ distribution: [1, 2] }, 'distribution', [1, 2], /a mapping with keys method, key, shard_count/);
    invalid({ ports: [15432] }, 'ports', [15432], /a mapping with keys base/);
    invalid({ postgres: { parameters: ['work_mem'] } }, 'postgres.parameters', ['work_mem'], /a mapping of PostgreSQL setting names/);
  });

  test('a document that is not a mapping names the top level', () => {
    invalid([1, 2], '(top level)', [1, 2], /a mapping with keys data_dir, ports/);
    invalid('shard_count', '(top level)', 'shard_count', /a mapping with keys/);
  });

  test('bad PostgreSQL setting name and value', () => {
    invalid({ postgres: { parameters: { 'Work Mem': '1MB' } } }, 'postgres.parameters.Work Mem', '1MB', /a PostgreSQL setting name/);
    invalid({ postgres: { parameters: { work_mem: ['1MB'] } } }, 'postgres.parameters.work_mem', ['1MB'], /a string, number or boolean/);
  });

  test('an HNSW profile missing a key is an error, not a profile with undefined parameters', () => {
    const error = invalid(
      { hnsw: { profiles: [{ max_vectors: null, m: 16, ef_search: 40 }] } },
      'hnsw.profiles[0].ef_construction',
      undefined,
      /missing; every entry needs max_vectors, m, ef_construction, ef_search/,
    );
    assert.ok(error.message.startsWith('hnsw.profiles[0].ef_construction'));
    invalid({ hnsw: { profiles: [{ m: 16, ef_construction: 100, ef_search: 40 }] } }, 'hnsw.profiles[0].max_vectors', undefined, /missing/);
  });

  describe('cross-key rules', () => {
    test('pool min_size greater than max_size', () => {
      invalid(
        { pools: { coordinator_pool: { min_size: 60 } } },
        'pools.coordinator_pool.min_size',
        60,
        /at most pools\.coordinator_pool\.max_size \(50\)/,
      );
      invalid(
        { pools: { worker_pool_per_shard: { min_size: 5, max_size: 4 } } },
        'pools.worker_pool_per_shard.min_size',
        5,
        /at most pools\.worker_pool_per_shard\.max_size \(4\)/,
      );
    });

    test('HNSW profiles not ascending', () => {
      invalid(
        {
          hnsw: {
            profiles: [
              { max_vectors: 1_000_000, m: 16, ef_construction: 100, ef_search: 50 },
              { max_vectors: 500_000, m: 24, ef_construction: 150, ef_search: 75 },
              { max_vectors: null, m: 48, ef_construction: 300, ef_search: 150 },
            ],
          },
        },
        'hnsw.profiles[1].max_vectors',
        500_000,
        /greater than the previous profile's \(1000000\)/,
      );
    });

    test('last HNSW profile with a max_vectors', () => {
      invalid(
        {
          hnsw: {
            profiles: [
              { max_vectors: 1_000_000, m: 16, ef_construction: 100, ef_search: 50 },
              { max_vectors: 5_000_000, m: 24, ef_construction: 150, ef_search: 75 },
            ],
          },
        },
        'hnsw.profiles[1].max_vectors',
        5_000_000,
        /null on the last profile/,
      );
    });

    test('an HNSW profile without max_vectors before the last', () => {
      invalid(
        {
          hnsw: {
            profiles: [
              { max_vectors: null, m: 16, ef_construction: 100, ef_search: 50 },
              { max_vectors: null, m: 48, ef_construction: 300, ef_search: 150 },
            ],
          },
        },
        'hnsw.profiles[0].max_vectors',
        null,
        /a number on every profile but the last/,
      );
    });

    test('no HNSW profiles', () => {
      invalid({ hnsw: { profiles: [] } }, 'hnsw.profiles', [], /at least one profile/);
    });

    test('a table in two replication classes', () => {
      // `sessions` is ephemeral by default.
      invalid({ replication: { tables: { audit: ['pattern_history', 'sessions'] } } }, 'replication.tables.ephemeral', 'sessions', /already audit/);
      invalid({ replication: { tables: { critical: ['patterns', 'patterns'] } } }, 'replication.tables.critical', 'patterns', /already critical/);
    });

    test('Patroni ttl shorter than loop_wait + 2 * retry_timeout', () => {
      invalid({ patroni: { ttl: 20, loop_wait: 10, retry_timeout: 8 } }, 'patroni.ttl', 20, /at least loop_wait \+ 2 \* retry_timeout \(26\)/);
      assert.equal(validateConfig({ patroni: { ttl: 26, loop_wait: 10, retry_timeout: 8 } }).patroni.ttl, 26);
    });
  });

  test('validateConfig with a source puts the file in the message', () => {
    const error = assertConfigError(
      () => validateConfig({ distribution: { shard_count: 0 } }, '/etc/dpg.yaml'),
      'distribution.shard_count',
      0,
      /^\/etc\/dpg\.yaml: distribution\.shard_count = 0 is not valid: an integer from 1 to 4096$/,
    );
    assert.equal(error.source, '/etc/dpg.yaml');
  });
});

describe('loadConfig', () => {
  test('reads a YAML file; data_dir is relative to the file\'s folder', () => {
    const dir = tempDir();
    const file = join(dir, 'conf', 'cluster.yaml');
    mkdirSync(join(dir, 'conf'));
    writeFileSync(file, 'data_dir: ./data\nports:\n  base: 41000\ndistribution:\n  shard_count: 32\n');
    const loaded = loadConfig({ path: file });
    assert.equal(loaded.path, file);
    assert.equal(loaded.dataDir, join(dir, 'conf', 'data'));
    assert.equal(loaded.config.ports.base, 41000);
    assert.equal(loaded.config.distribution.shard_count, 32);
    assert.equal(loaded.config.distribution.key, 'namespace');
  });

  test('an absolute data_dir is kept', () => {
    const dir = tempDir();
    const file = join(dir, 'dpg.yaml');
    writeFileSync(file, `data_dir: ${join(dir, 'elsewhere')}\n`);
    assert.equal(loadConfig({ path: file }).dataDir, join(dir, 'elsewhere'));
  });

  test('a missing explicit file is an error naming it', () => {
    const file = join(tempDir(), 'missing.yaml');
    assert.throws(() => loadConfig({ path: file }), (error: Error) => {
      assert.equal(error.message, `config file ${file} does not exist`);
      return true;
    });
  });

  test('invalid YAML is an error naming the file', () => {
    const file = join(tempDir(), 'broken.yaml');
    writeFileSync(file, 'distribution:\n  shard_count: [1, 2\n');
    assert.throws(() => loadConfig({ path: file }), (error: Error) => {
      assert.ok(!(error instanceof ConfigError));
      assert.ok(error.message.startsWith(`${file}: not valid YAML: `), error.message);
      return true;
    });
  });

  test('a YAML scalar at top level is a ConfigError naming the file', () => {
    const file = join(tempDir(), 'scalar.yaml');
    writeFileSync(file, 'just some text\n');
    const error = assertConfigError(() => loadConfig({ path: file }), '(top level)', 'just some text', /a mapping of sections/);
    assert.equal(error.source, file);
    assert.ok(error.message.startsWith(`${file}: `));
  });

  test('a YAML list at top level is a ConfigError', () => {
    const file = join(tempDir(), 'list.yaml');
    writeFileSync(file, '- distribution\n- ports\n');
    assertConfigError(() => loadConfig({ path: file }), '(top level)', ['distribution', 'ports'], /a mapping of sections/);
  });

  test('a wrong value in the file is a ConfigError naming the file and the key', () => {
    const file = join(tempDir(), 'bad.yaml');
    writeFileSync(file, 'distribution: {shard_count: -1}\n');
    const error = assertConfigError(() => loadConfig({ path: file }), 'distribution.shard_count', -1, /an integer from 1 to 4096/);
    assert.ok(error.message.startsWith(`${file}: distribution.shard_count = -1`));
  });

  test('overrides (dataDir, basePort) win over the file', () => {
    const dir = tempDir();
    const file = join(dir, 'dpg.yaml');
    writeFileSync(file, 'data_dir: ./from-file\nports: {base: 20000}\n');
    const loaded = loadConfig({ path: file, dataDir: join(dir, 'from-flag'), basePort: 41000 });
    assert.equal(loaded.dataDir, join(dir, 'from-flag'));
    assert.equal(loaded.config.data_dir, join(dir, 'from-flag'));
    assert.equal(loaded.config.ports.base, 41000);
  });

  test('a relative dataDir override is relative to the working directory, not the file', () => {
    const dir = tempDir();
    const file = join(dir, 'dpg.yaml');
    writeFileSync(file, 'ports: {base: 20000}\n');
    assert.equal(loadConfig({ path: file, dataDir: 'rel-data' }).dataDir, join(process.cwd(), 'rel-data'));
  });

  test('an out-of-range basePort override is a ConfigError for ports.base', () => {
    const file = join(tempDir(), 'dpg.yaml');
    writeFileSync(file, 'ports: {base: 20000}\n');
    assertConfigError(() => loadConfig({ path: file, basePort: 70000 }), 'ports.base', 70000, /an integer from 1024 to 65135/);
  });

  test('an empty config file still applies the --data-dir and --base-port overrides', () => {
    const dir = tempDir();
    for (const text of ['', '# nothing configured yet\n']) {
      const file = join(dir, 'empty.yaml');
      writeFileSync(file, text);
      const loaded = loadConfig({ path: file, dataDir: join(dir, 'flag-data'), basePort: 41000 });
      assert.equal(loaded.dataDir, join(dir, 'flag-data'));
      assert.equal(loaded.config.ports.base, 41000);
      const plain = loadConfig({ path: file });
      assert.deepEqual(plain.config, DEFAULT_CONFIG);
      assert.equal(plain.dataDir, join(dir, '.dpg'));
    }
  });

  test('without --config, ./dpg.yaml is used when present and defaults apply when not', () => {
    const dir = tempDir();
    const previous = process.cwd();
    process.chdir(dir);
    try {
      const defaults = loadConfig();
      assert.equal(defaults.path, null);
      assert.deepEqual(defaults.config, DEFAULT_CONFIG);
      assert.equal(defaults.dataDir, join(dir, '.dpg'));

      writeFileSync(join(dir, CONFIG_FILE_NAME), 'distribution: {shard_count: 24}\n');
      const found = loadConfig();
      assert.equal(found.path, join(dir, CONFIG_FILE_NAME));
      assert.equal(found.config.distribution.shard_count, 24);
    } finally {
      process.chdir(previous);
    }
  });
});

describe('hnswProfileFor (the seed\'s table)', () => {
  const config = validateConfig({});
  const cases: [vectors: number, m: number, efConstruction: number, efSearch: number][] = [
    [0, 16, 100, 50],
    [999_999, 16, 100, 50],
    [1_000_000, 24, 150, 75],
    [4_999_999, 24, 150, 75],
    [5_000_000, 32, 200, 100],
    [7_000_000, 32, 200, 100],
    [10_000_000, 48, 300, 150],
    [50_000_000, 48, 300, 150],
  ];
  for (const [vectors, m, efConstruction, efSearch] of cases) {
    test(`${vectors} vectors -> m ${m}`, () => {
      const { m: gotM, ef_construction, ef_search } = hnswProfileFor(config, vectors);
      assert.deepEqual({ m: gotM, ef_construction, ef_search }, { m, ef_construction: efConstruction, ef_search: efSearch });
    });
  }

  test('a single profile takes every shard size', () => {
    const one = validateConfig({ hnsw: { profiles: [{ max_vectors: null, m: 12, ef_construction: 64, ef_search: 40 }] } });
    assert.equal(hnswProfileFor(one, 0).m, 12);
    assert.equal(hnswProfileFor(one, 1e12).m, 12);
  });
});
