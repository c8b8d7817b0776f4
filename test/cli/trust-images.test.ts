/**
 * The "Trust" items on images and mounts, through the real CLI: `rmi` never deletes an image a
 * container uses (Docker's conflicts; forced, it only untags), prune skips such images, and a
 * missing `-v` bind source is created while a `--mount` one is refused at create.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli } from './run-util.js';

const skip = cannotRun();

test('rmi refuses an image a container uses; -f only untags it; prune keeps it while used', { skip }, async () => {
  await withCli(async (c) => {
    const id = await c.ok(['create', '--name', 'user', 'busybox', 'true']);
    const img = c.imageId.slice(7, 19);
    let r = await c.berth(['rmi', 'busybox']);
    assert.equal(r.code, 1);
    assert.equal(r.err.trim(), `Error response from daemon: conflict: unable to remove repository reference "busybox" (must force) - container ${id.slice(0, 12)} is using its referenced image ${img}`);
    r = await c.berth(['rmi', img]);
    assert.equal(r.code, 1);
    assert.equal(r.err.trim(), `Error response from daemon: conflict: unable to delete ${img} (must be forced) - image is being used by stopped container ${id.slice(0, 12)}`);
    // forced: untagged, not deleted (Docker's containerd store keeps it dangling too)
    assert.equal(await c.ok(['rmi', '-f', 'busybox']), 'Untagged: busybox:latest');
    assert.equal(await c.ok(['images', '-q', '--no-trunc']), c.imageId);
    assert.match(await c.ok(['image', 'prune', '-a', '-f']), /^Total reclaimed space: 0B$/);
    assert.match(await c.ok(['system', 'prune', '-a', '-f']), /Total reclaimed space/);
    // system prune removes the stopped container first, then the image nobody uses any more
    assert.deepEqual(await c.ids(), []);
    assert.equal(await c.ok(['images', '-q', '--no-trunc']), '', 'no container uses it any more: pruned');
  });
});

test('rmi by id of an image a running container uses cannot be forced; start after rmi -f works', { skip }, async () => {
  await withCli(async (c) => {
    const ctr = await c.run({ cmd: ['sleep', '100'] });
    const img = c.imageId.slice(7, 19);
    const r = await c.berth(['rmi', '-f', img]);
    assert.equal(r.code, 1);
    assert.equal(r.err.trim(), `Error response from daemon: conflict: unable to delete ${img} (cannot be forced) - image is being used by running container ${ctr.id.slice(0, 12)}`);
    await c.ok(['rm', '-f', ctr.id]);
    await c.ok(['create', '--name', 'later', 'busybox', 'true']);
    assert.equal(await c.ok(['rmi', '-f', 'busybox']), 'Untagged: busybox:latest');
    await c.ok(['image', 'prune', '-f']);
    await c.ok(['start', '-a', 'later']);
    assert.equal(await c.ok(['inspect', '-f', '{{.State.ExitCode}}', 'later']), '0');
  });
});

test('-v creates a missing bind source directory; --mount refuses it at create (no container left)', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bindsrc-'));
  try {
    await withCli(async (c) => {
      const src = join(dir, 'missing/deep');
      assert.equal(await c.ok(['run', '--rm', '-v', `${src}:/x`, 'busybox', 'sh', '-c', 'echo hi > /x/f && ls /x']), 'f');
      const st = statSync(src);
      assert.ok(st.isDirectory());
      assert.equal(st.mode & 0o777, 0o755);
      assert.ok(existsSync(join(src, 'f')));
      const gone = join(dir, 'absent');
      const r = await c.berth(['run', '--rm', '--mount', `type=bind,source=${gone},target=/x`, 'busybox', 'true']);
      assert.equal(r.code, 125, r.err);
      assert.match(r.err, new RegExp(`invalid mount config for type "bind": bind source path does not exist: ${gone}`));
      assert.ok(!existsSync(gone));
      assert.deepEqual(await c.ids(), []);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('system df shows a killed writer\'s ingest in its Build Cache row; image prune removes it', { skip }, async () => {
  await withCli(async (c) => {
    // what a commit killed while writing its layer leaves: the ingest and a lock naming a dead pid
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    const dir = join(c.root, 'content/ingest/commit-1-2-abcdef');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'ref'), 'commit-1-2-abcdef');
    writeFileSync(join(dir, 'data'), Buffer.alloc(1_500_000, 7));
    writeFileSync(`${dir}.lock`, String(dead));
    const row = async () => (await c.ok(['system', 'df', '--format', '{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}'])).split('\n').at(-1);
    assert.equal(await row(), 'Build Cache|1|0|1.5MB|1.5MB (100%)');
    const v = JSON.parse(await c.ok(['system', 'df', '-v', '--format', 'json'])) as { BuildCache: { ID: string; CacheType: string; Size: string }[] };
    assert.deepEqual(v.BuildCache.map((b) => [b.ID, b.CacheType, b.Size]), [['commit-1-2-abcdef', 'ingest', '1.5MB']]);
    assert.equal(await c.ok(['image', 'prune', '-f']), 'Total reclaimed space: 1.5MB');
    assert.deepEqual(readdirSync(join(c.root, 'content/ingest')), []);
    assert.equal(await row(), 'Build Cache|0|0|0B|0B');
  });
});
