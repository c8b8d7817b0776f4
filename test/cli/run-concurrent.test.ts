/**
 * `berth run` under concurrency, through the real CLI: many `run --rm` at once leave nothing
 * behind, concurrent runs of one name have exactly one winner. (Races of short-lived containers:
 * run-races.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { berthRaw, cannotRun, messageLines, mountsUnder, withCli, type Cli } from './run-util.js';

const skip = cannotRun();

function ls(d: string): string[] {
  try { return readdirSync(d).sort(); } catch { return []; }
}

/** Container state on disk: data dirs, run dirs, snapshots, mounts. */
function disk(c: Cli): { dataDirs: string[]; runDirs: string[]; snapshots: number; mounts: string[] } {
  return {
    dataDirs: ls(join(c.root, 'containers')),
    runDirs: ls(c.runRoot).filter((e) => /^[0-9a-f]{64}$/.test(e)),
    snapshots: ls(join(c.root, 'snapshots/snapshots')).length,
    mounts: [...mountsUnder(c.root), ...mountsUnder(c.runRoot)],
  };
}

test('20 concurrent `run --rm`: all exit 0, nothing left', { skip, timeout: 120_000 }, () => withCli(async (c) => {
  const before = disk(c);
  // each process lives a little (a process that exits at once: run-races.test.ts)
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    berthRaw(c.env, ['run', '--rm', '-e', `N=${i}`, 'busybox', 'sh', '-c', 'sleep 0.2; test "$N" -ge 0'], { timeoutMs: 90_000 })));
  for (const [i, r] of results.entries()) assert.equal(r.code, 0, `run ${i}: ${r.err}`);
  assert.deepEqual(await c.ids(), [], 'ps -a is empty');
  assert.deepEqual(disk(c), before, 'no data dirs, run dirs, snapshots or mounts left');
}));

test('10 concurrent `run --name same`: exactly one wins, the others get the name conflict', { skip, timeout: 120_000 }, () => withCli(async (c) => {
  const before = disk(c);
  const results = await Promise.all(Array.from({ length: 10 }, () =>
    berthRaw(c.env, ['run', '--name', 'same', 'busybox', 'sh', '-c', 'sleep 0.2'], { timeoutMs: 90_000 })));
  const won = results.filter((r) => r.code === 0);
  const lost = results.filter((r) => r.code !== 0);
  assert.equal(won.length, 1, results.map((r) => `${r.code}: ${r.err}`).join('\n'));
  for (const r of lost) {
    assert.equal(r.code, 125, r.err);
    assert.match(messageLines(r.err)[0] ?? '', /Conflict\. The container name "\/same" is already in use/);
  }
  const ids = await c.ids();
  assert.equal(ids.length, 1);
  assert.equal(await c.ok(['inspect', '-f', '{{.Name}} {{.State.Status}} {{.State.ExitCode}}', 'same']), '/same exited 0');
  const after = disk(c);
  assert.deepEqual(after.dataDirs, ids, 'one data dir: the winner\'s');
  assert.equal(after.snapshots, before.snapshots + 1, 'one container snapshot: the winner\'s');
  assert.deepEqual(after.runDirs, [], 'an exited container keeps no run dir');
  assert.deepEqual(after.mounts, []);
}));
