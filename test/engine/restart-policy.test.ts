/**
 * Restart policies, the pure part: the docker CLI's parse, the daemon's check, Docker's decision
 * and back-off (100 ms doubling to 1 min, reset after 10 s of running), the boot rule; and the
 * store's schema v2 (manual stop, back-off), migrated from a v1 database without losing records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../src/lib/index.js';
import {
  decideRestart, parseRestartPolicy, startsAtBoot, validateRestartPolicy, MANUAL_CANCEL, MANUAL_SIGNAL,
} from '../../src/engine/index.js';
import { openStore, SCHEMA_VERSION, type Container } from '../../src/engine/store/index.js';

const IMG = 'sha256:' + 'ab'.repeat(32);

function record(policy: string, state: Partial<Container['state']> = {}): Container {
  return {
    id: 'f'.repeat(64), name: 'x', image: 'busybox', imageId: IMG, created: '', config: {}, labels: {}, mounts: [], volumes: [],
    hostConfig: { RestartPolicy: parseRestartPolicy(policy) }, logPath: '', bundleDir: '', snapshotKey: '', driver: '', platform: 'linux', updated: '',
    state: {
      status: 'running', pid: 1, exitCode: 0, error: '', startedAt: new Date(Date.now() - 1000).toISOString(), finishedAt: null,
      oomKilled: false, restartCount: 0, monitorPid: 0, manualStop: 0, restartTimeoutMs: 0, ...state,
    },
  };
}

test('parse and check: the CLI\'s and the daemon\'s messages', () => {
  assert.deepEqual(parseRestartPolicy('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.deepEqual(parseRestartPolicy('always'), { Name: 'always', MaximumRetryCount: 0 });
  assert.throws(() => parseRestartPolicy('on-failure:x'), /^BerthError: invalid restart policy format: maximum retry count must be an integer$/);
  assert.throws(() => parseRestartPolicy(':1'), /no policy provided before colon/);
  const inv = (p: string, re: RegExp) => assert.throws(() => validateRestartPolicy(parseRestartPolicy(p)), (e) => e instanceof BerthError && e.kind === 'invalid' && re.test(e.message));
  inv('bogus', /^invalid restart policy: unknown policy 'bogus'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'$/);
  inv('on-failure:-1', /^invalid restart policy: maximum retry count cannot be negative$/);
  inv('always:2', /^invalid restart policy: maximum retry count can only be used with 'on-failure'$/);
  inv('no:-2', /^invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative$/);
  for (const ok of ['no', 'always', 'unless-stopped', 'on-failure', 'on-failure:5']) validateRestartPolicy(parseRestartPolicy(ok));
});

test('decide: the back-off doubles from 100 ms to 1 minute and resets after a run of 10 s', () => {
  let timeout = 0;
  const seen: number[] = [];
  for (let i = 0; i < 12; i++) {
    const d = decideRestart(record('always', { restartTimeoutMs: timeout }), 1);
    assert.equal(d.restart, true);
    seen.push(d.timeoutMs);
    timeout = d.timeoutMs;
  }
  assert.deepEqual(seen, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000]);
  const long = record('always', { restartTimeoutMs: 60000, startedAt: new Date(Date.now() - 11_000).toISOString() });
  assert.equal(decideRestart(long, 0).timeoutMs, 100, 'a run of 10 s or more starts the back-off again');
  assert.deepEqual(decideRestart(record('no'), 1), { restart: false, timeoutMs: 0 });
});

test('decide: on-failure counts and ignores clean exits; manual stops', () => {
  assert.equal(decideRestart(record('on-failure:2', { restartCount: 1 }), 1).restart, true);
  assert.equal(decideRestart(record('on-failure:2', { restartCount: 2 }), 1).restart, false, 'MaximumRetryCount reached');
  assert.equal(decideRestart(record('on-failure', { restartCount: 99 }), 1).restart, true, '0: no maximum');
  assert.equal(decideRestart(record('on-failure'), 0).restart, false);
  assert.equal(decideRestart(record('always'), 0).restart, true);
  for (const p of ['always', 'unless-stopped', 'on-failure']) {
    assert.equal(decideRestart(record(p, { manualStop: MANUAL_CANCEL }), 137).restart, false, `${p}: a user's stop cancels`);
  }
  // a user's other signal: Docker's HasBeenManuallyStopped only
  assert.equal(decideRestart(record('unless-stopped', { manualStop: MANUAL_SIGNAL }), 1).restart, false);
  assert.equal(decideRestart(record('always', { manualStop: MANUAL_SIGNAL }), 1).restart, true);
  assert.equal(decideRestart(record('on-failure', { manualStop: MANUAL_SIGNAL }), 1).restart, true);
});

test('boot: which stopped containers start', () => {
  const exited = (p: string, s: Partial<Container['state']> = {}) => record(p, { status: 'exited', pid: 0, ...s });
  assert.equal(startsAtBoot(exited('always')), true);
  assert.equal(startsAtBoot(exited('always', { manualStop: MANUAL_CANCEL })), true, 'Docker: always comes back when the daemon starts');
  assert.equal(startsAtBoot(exited('unless-stopped')), true);
  assert.equal(startsAtBoot(exited('unless-stopped', { manualStop: MANUAL_CANCEL })), false);
  assert.equal(startsAtBoot(exited('on-failure:3', { exitCode: 1, restartCount: 1 })), true);
  assert.equal(startsAtBoot(exited('on-failure:3', { exitCode: 1, restartCount: 3 })), false);
  assert.equal(startsAtBoot(exited('on-failure', { exitCode: 0 })), false);
  assert.equal(startsAtBoot(exited('no', { exitCode: 1 })), false);
  assert.equal(startsAtBoot(exited('always', { startedAt: null })), false, 'never started: not by boot');
  assert.equal(startsAtBoot(record('always', { status: 'restarting' })), true);
  assert.equal(startsAtBoot(record('always')), false, 'running');
});

test('store: schema 2 adds the restart bookkeeping to a v1 database, records kept', () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-store-'));
  try {
    let s = openStore(root);
    const c = s.containers.create({ name: 'old', image: 'busybox', imageId: IMG, hostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } } });
    // back to version 1, as an older berth left it
    s.db.exec('DROP TABLE ports; DROP TABLE leases; DROP TABLE endpoints; DROP TABLE networks; ALTER TABLE containers DROP COLUMN manual_stop; ALTER TABLE containers DROP COLUMN restart_timeout_ms; DELETE FROM schema_version WHERE version > 1');
    s.close();
    s = openStore(root);
    try {
      assert.equal(s.schemaVersion(), SCHEMA_VERSION);
      const got = s.containers.get('old');
      assert.equal(got.id, c.id);
      assert.equal(got.state.manualStop, 0);
      assert.equal(got.state.restartTimeoutMs, 0);
      s.containers.update('old', { manualStop: MANUAL_CANCEL, restartTimeoutMs: 400 });
      const r = s.containers.setState('old', 'running', { pid: 5, resetRestartCount: true });
      assert.equal(r.state.manualStop, 0, 'a start clears the manual stop');
      assert.equal(r.state.restartTimeoutMs, 0, 'a manual start resets the back-off');
      const x = s.containers.setState('old', 'restarting', { exitCode: 1, restartTimeoutMs: 100 });
      assert.equal(x.state.restartCount, 1);
      assert.equal(x.state.restartTimeoutMs, 100);
      const y = s.containers.setState('old', 'running', { pid: 6, expect: ['restarting'] });
      assert.equal(y.state.restartCount, 1, 'a policy restart keeps the count');
      assert.equal(y.state.restartTimeoutMs, 100, 'and the back-off');
    } finally { s.close(); }
  } finally { rmSync(root, { recursive: true, force: true }); }
});
