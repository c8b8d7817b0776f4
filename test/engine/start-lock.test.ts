/**
 * The per-container lock between a start and a teardown (src/engine/containers/start-lock.ts):
 * exclusive, waited for by a start, skipped by a clean-up, taken over when its owner is gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineCore } from '../../src/engine/containers/index.js';
import { lockContainer, startLockPath } from '../../src/engine/containers/start-lock.js';

test('start lock: exclusive; a waiter gets it on release; a stale one (dead owner, or empty and old) is taken over', async () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-lock-'));
  // a run root that does not exist yet (made on first use)
  const core = new EngineCore({ root: join(root, 'data'), runRoot: join(root, 'run'), env: {}, bridge: 'none' });
  const id = 'a'.repeat(64);
  try {
    const release = await lockContainer(core, id, false, 'start x');
    assert.ok(release);
    const path = startLockPath(core, id);
    assert.equal(readFileSync(path, 'utf8'), String(process.pid));
    assert.equal(await lockContainer(core, id, false, 'clean up x'), undefined, 'held: a clean-up skips');
    await assert.rejects(lockContainer(core, id, true, 'start x', 100), /start x: the container is busy/);
    let got = false;
    const waiter = lockContainer(core, id, true, 'start x').then((r) => { got = true; return r; });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(got, false, 'waits while held');
    release!();
    const second = await waiter;
    assert.ok(second, 'the waiter holds it now');
    second!();
    assert.equal(existsSync(path), false, 'released: no file left');

    // a dead owner's lock
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    writeFileSync(path, dead.stdout.trim());
    const r1 = await lockContainer(core, id, false, 'start x');
    assert.ok(r1, 'a dead owner\'s lock is taken over');
    r1!();
    // an empty lock: fresh (its maker is writing its pid) is respected, old is stale
    writeFileSync(path, '');
    assert.equal(await lockContainer(core, id, false, 'start x'), undefined);
    utimesSync(path, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const r2 = await lockContainer(core, id, false, 'start x');
    assert.ok(r2);
    r2!();
  } finally {
    await core.close();
    rmSync(root, { recursive: true, force: true });
  }
});
