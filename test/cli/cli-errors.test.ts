import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, readFileSync, readdirSync, existsSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDpg as runCli, type CliResult } from '../support/dpg-cli.ts';
import { DATA_FORMAT, type ClusterState } from '../../src/cluster/state.ts';

// These tests only feed the CLI bad input: every case fails before a process could start
// (`up` refuses the data folder in openClusterState, before etcd or Patroni), and the
// unusual base port keeps any mistake away from a real cluster's ports.
const BASE_PORT = 41000;

const runDpg = (args: string[], cwd: string) => runCli(args, { cwd, timeoutMs: 60_000 });

const tempDirs: string[] = [];
const tempDir = () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'dpg-cli-')));
  tempDirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function assertNoStackTrace(result: CliResult): void {
  assert.doesNotMatch(result.stderr, /^\s{4}at /m, `no stack trace expected:\n${result.stderr}`);
}

function assertUsage(text: string): void {
  assert.match(text, /^usage: dpg <command> \[options\]/m);
  for (const command of ['setup', 'up', 'down', 'status', 'url', 'shards']) {
    assert.match(text, new RegExp(`^  ${command}\\b`, 'm'), `usage lists ${command}`);
  }
}

/** Every file under `dir` with its content, to show a command left the folder untouched. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    files[path] = entry.isFile() ? readFileSync(path, 'utf8') : '(folder)';
  }
  return files;
}

function clusterState(dataDir: string, changes: Partial<ClusterState>): ClusterState {
  return {
    format: DATA_FORMAT,
    clusterId: 'a1b2c3d4e5f6',
    createdAt: '2024-05-01T10:00:00.000Z',
    nodesRoot: join(dataDir, 'nodes'),
    basePort: BASE_PORT,
    controlNodes: 1,
    workerGroups: 3,
    nodesPerWorkerGroup: 2,
    bootstrapped: true,
    ...changes,
  };
}

/** A data folder holding only cluster.json with `state`. */
function dataFolderWithState(changes: Partial<ClusterState>): { cwd: string; dataDir: string } {
  const cwd = tempDir();
  const dataDir = join(cwd, 'data');
  mkdirSync(dataDir);
  writeFileSync(join(dataDir, 'cluster.json'), JSON.stringify(clusterState(dataDir, changes), null, 2));
  return { cwd, dataDir };
}

describe('dpg command line errors', { concurrency: true }, () => {
  test('unknown command exits 2, names it and prints the usage', async () => {
    const result = await runDpg(['bogus'], tempDir());
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^dpg: unknown command 'bogus'$/m);
    assertUsage(result.stderr);
    assertNoStackTrace(result);
  });

  test('no command exits 2 with the usage', async () => {
    const result = await runDpg([], tempDir());
    assert.equal(result.code, 2);
    assertUsage(result.stdout);
  });

  test('unknown flag exits 2 and names it', async () => {
    const result = await runDpg(['status', '--bogus'], tempDir());
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--bogus/);
    assertUsage(result.stderr);
    assertNoStackTrace(result);
  });

  test('a second positional argument exits 2', async () => {
    const result = await runDpg(['status', 'extra'], tempDir());
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unexpected argument 'extra'/);
  });

  test('--base-port that is not a number is refused, naming --base-port', async () => {
    const result = await runDpg(['status', '--base-port', 'abc'], tempDir());
    assert.ok(result.code === 2 || result.code === 1, `exit code ${result.code}`);
    assert.match(result.stderr, /--base-port "abc" is not a port number/);
    assertNoStackTrace(result);
  });

  test('--base-port out of range is a config error naming ports.base', async () => {
    const result = await runDpg(['status', '--base-port', '80'], tempDir());
    assert.equal(result.code, 1);
    assert.match(result.stderr, /ports\.base = 80 is not valid: an integer from 1024 to 65135/);
    assertNoStackTrace(result);
  });

  test('--reset with status exits 2', async () => {
    const result = await runDpg(['status', '--reset'], tempDir());
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--reset goes with up only/);
  });

  test('--coordinators must be 1 to 9 and goes with up only', async () => {
    for (const bad of ['0', '10', 'two']) {
      const result = await runDpg(['up', '--coordinators', bad, '--base-port', String(BASE_PORT)], tempDir());
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /--coordinators .*from 1 to 9/);
    }
    const misplaced = await runDpg(['status', '--coordinators', '2'], tempDir());
    assert.equal(misplaced.code, 2);
    assert.match(misplaced.stderr, /--coordinators goes with up only/);
  });

  test('chaos refuses an unknown scenario or duration, naming the known ones', async () => {
    const unknown = await runDpg(['chaos', '--scenarios', 'worker-primary,meteor', '--base-port', String(BASE_PORT)], tempDir());
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown scenario "meteor"; known: worker-primary, worker-node, partition, coordinator, control-primary, coordinator-2pc, spike/);
    const duration = await runDpg(['chaos', '--duration', 'forever', '--base-port', String(BASE_PORT)], tempDir());
    assert.equal(duration.code, 2);
    assert.match(duration.stderr, /--duration "forever"/);
    const misplaced = await runDpg(['status', '--duration', '5s'], tempDir());
    assert.equal(misplaced.code, 2);
    assert.match(misplaced.stderr, /--duration goes with bench or chaos only/);
  });

  test('a config with a wrong value exits 1 naming the key, the value and the allowed range, without a stack trace', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'bad.yaml'), 'distribution: {shard_count: -1}\n');
    const result = await runDpg(['status', '--config', 'bad.yaml', '--base-port', String(BASE_PORT)], cwd);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /distribution\.shard_count/);
    assert.match(result.stderr, /-1/);
    assert.match(result.stderr, /an integer from 1 to 4096/);
    assert.ok(result.stderr.includes(join(cwd, 'bad.yaml')), 'names the file');
    assertNoStackTrace(result);
    assert.equal(result.stdout, '');
  });

  test('./dpg.yaml with a wrong value is found and refused without --config', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'dpg.yaml'), 'distribution:\n  method: range\n');
    const result = await runDpg(['status', '--base-port', String(BASE_PORT)], cwd);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /distribution\.method = "range" is not valid: one of "hash"/);
    assertNoStackTrace(result);
  });

  test('a missing --config file exits 1 naming it, without a stack trace', async () => {
    const cwd = tempDir();
    const result = await runDpg(['status', '--config', 'nope.yaml'], cwd);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`config file ${join(cwd, 'nope.yaml')} does not exist`));
    assertNoStackTrace(result);
  });

  test('invalid YAML exits 1 naming the file, without a stack trace', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'broken.yaml'), 'distribution: {shard_count: 3\n');
    const result = await runDpg(['status', '--config', 'broken.yaml'], cwd);
    assert.equal(result.code, 1);
    assert.ok(result.stderr.includes(`${join(cwd, 'broken.yaml')}: not valid YAML`), result.stderr);
    assertNoStackTrace(result);
  });

  test('up refuses a non-empty folder without cluster.json and deletes nothing', async () => {
    const cwd = tempDir();
    const dataDir = join(cwd, 'mine');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'keep.txt'), 'my own file\n');
    const before = snapshot(dataDir);
    const result = await runDpg(['up', '--data-dir', dataDir, '--base-port', String(BASE_PORT)], cwd);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /is not empty and holds no dpg cluster \(no cluster\.json\)/);
    assert.ok(result.stderr.includes(dataDir));
    assertNoStackTrace(result);
    assert.equal(readFileSync(join(dataDir, 'keep.txt'), 'utf8'), 'my own file\n');
    assert.deepEqual(snapshot(dataDir), before);
  });

  test('up refuses a data folder of another data format, mentioning --reset, and leaves it untouched', async () => {
    const { cwd, dataDir } = dataFolderWithState({ format: 999 });
    const before = snapshot(dataDir);
    const result = await runDpg(['up', '--data-dir', dataDir, '--base-port', String(BASE_PORT)], cwd);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /data format 999/);
    assert.match(result.stderr, /--reset/);
    assertNoStackTrace(result);
    assert.deepEqual(snapshot(dataDir), before);
  });

  test('up refuses a cluster whose group size differs from the config, naming distribution.replication_factor', async () => {
    // (Its number of worker groups is the cluster's own: dpg add-group and remove-group change it.)
    const { cwd, dataDir } = dataFolderWithState({ nodesPerWorkerGroup: 5 });
    const before = snapshot(dataDir);
    const result = await runDpg(['up', '--data-dir', dataDir, '--base-port', String(BASE_PORT)], cwd);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /distribution\.replication_factor: data folder has 5, config says 2/);
    assert.match(result.stderr, /--reset/);
    assertNoStackTrace(result);
    assert.deepEqual(snapshot(dataDir), before);
  });

  test('url without a cluster exits 1 telling to run npx dpg up, and creates nothing', async () => {
    const cwd = tempDir();
    const dataDir = join(cwd, 'new');
    const result = await runDpg(['url', '--data-dir', dataDir, '--base-port', String(BASE_PORT)], cwd);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no cluster in .*: run 'npx dpg up' first/);
    assertNoStackTrace(result);
    assert.equal(existsSync(dataDir), false);
  });

  test('status of an empty data folder prints stopped and exits 0', async () => {
    const cwd = tempDir();
    const dataDir = join(cwd, 'empty');
    mkdirSync(dataDir);
    const result = await runDpg(['status', '--data-dir', dataDir, '--base-port', String(BASE_PORT)], cwd);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^dpg cluster in ${dataDir}: stopped$`, 'm'));
    assert.deepEqual(readdirSync(dataDir), []);
  });

  test('--help exits 0 with the usage listing every command', async () => {
    const result = await runDpg(['--help'], tempDir());
    assert.equal(result.code, 0);
    assertUsage(result.stdout);
    assert.equal(result.stderr, '');
  });
});
