/**
 * A data root on a small loop-mounted ext4 filesystem that fills up during pull, commit, load and
 * a container's writes: each berth operation fails with a clear "no space left on device" error
 * naming it (no stack trace), the images listed stay complete, and once space is freed the
 * store works again. Skipped where loop devices or mkfs.ext4 are missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildImage, busyboxLayer, haveRegistry, layerFromTar, pushImageRaw, startRegistry } from '../helpers/registry.js';
import { cannotRun, withCli, type Cli, type Result } from './run-util.js';
import { leftovers, randomFileTar, verifyImages } from '../image/fault-util.js';

function loopUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (loop mounts)';
  if (spawnSync('mkfs.ext4', ['-V']).error) return 'mkfs.ext4 is not installed';
  if (!existsSync('/dev/loop-control')) return 'no loop devices (/dev/loop-control missing)';
  const r = spawnSync('losetup', ['-f']);
  if (r.status !== 0) return `no free loop device (${String(r.stderr).trim()})`;
  return false;
}

const skip = cannotRun() || (haveRegistry() ? false : 'docker-registry is not installed') || loopUnavailable();

/** A 96 MiB ext4 (no reserved blocks) loop-mounted on a temp dir; `close` unmounts and detaches. */
function smallFs(): { dir: string; mnt: string; close(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-smallfs-'));
  const img = join(dir, 'fs.img');
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  execFileSync('truncate', ['-s', '96M', img]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', img]);
  const dev = execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim();
  try {
    execFileSync('mount', [dev, mnt]);
  } catch (e) {
    spawnSync('losetup', ['-d', dev]);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    dir, mnt,
    close() {
      let r = spawnSync('umount', [mnt]);
      if (r.status !== 0) r = spawnSync('umount', ['-l', mnt]);
      spawnSync('losetup', ['-d', dev]);
      const still = execFileSync('losetup', ['-j', img], { encoding: 'utf8' }).trim();
      rmSync(dir, { recursive: true, force: true });
      assert.equal(still, '', `loop device still attached: ${still}`);
    },
  };
}

const free = (p: string) => { const s = statfsSync(p); return s.bavail * s.bsize; };

const fillers: string[] = [];

/** Fill the filesystem of `mnt` so that about `keep` bytes stay free. */
function fill(mnt: string, keep: number): string {
  const f = join(mnt, `filler-${randomBytes(3).toString('hex')}`);
  fillers.push(f);
  const n = free(mnt) - keep;
  if (n > 0) execFileSync('fallocate', ['-l', String(n), f]);
  return f;
}

function clearError(r: Result, op: RegExp): void {
  assert.notEqual(r.code, 0, 'it failed');
  assert.match(r.err, /no space left on device/i, r.err);
  assert.match(r.err, op, r.err);
  assert.doesNotMatch(r.err, /\n\s+at .+:\d+:\d+/, `no stack trace: ${r.err}`);
}

test('a data root that fills up: pull, commit, load and a container\'s writes fail cleanly; freed, the store works', { skip, timeout: 180_000 }, async (t) => {
  const fs = smallFs();
  const reg = await startRegistry();
  const out = mkdtempSync(join(tmpdir(), 'berth-full-out-'));
  let checks = 0;
  try {
    const img = buildImage([busyboxLayer(), layerFromTar(randomFileTar('payload', 8 << 20), 'none')]);
    await pushImageRaw(reg, 'big', 'latest', img);
    const name = `${reg.host}/big:latest`;
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = fs.mnt; // the fixture's data root goes on the small filesystem
    const running = withCli(async (c: Cli) => {
      try { await scenario(c); } finally { for (const f of fillers) rmSync(f, { force: true }); }
    });
    process.env.TMPDIR = saved ?? '';
    if (saved === undefined) delete process.env.TMPDIR;
    await running;
    async function scenario(c: Cli): Promise<void> {
      const check = async (what: string) => {
        checks++;
        assert.deepEqual(await verifyImages(c.root), [], `${what}: the images listed are complete`);
        await c.ok(['images']);
      };
      // pull
      let filler = fill(fs.mnt, 3 << 20);
      let r = await c.berth(['pull', '-q', name]);
      t.diagnostic(`pull: exit ${r.code}: ${r.err.trim()}`);
      clearError(r, /^Error response from daemon: pull \S+\/big:latest: /m);
      await check('pull');
      rmSync(filler);
      await c.ok(['pull', '-q', name]);
      // commit
      await c.ok(['run', '--name', 'writer', 'busybox', 'sh', '-c', 'head -c 8000000 /dev/urandom > /data']);
      filler = fill(fs.mnt, 3 << 20);
      r = await c.berth(['commit', 'writer', 'snap:1']);
      t.diagnostic(`commit: exit ${r.code}: ${r.err.trim()}`);
      clearError(r, /^Error response from daemon: commit writer: /m);
      await check('commit');
      rmSync(filler);
      await c.ok(['commit', 'writer', 'snap:1']);
      // load
      const tar = join(out, 'big.tar');
      await c.ok(['save', '-o', tar, name, 'snap:1']);
      await c.ok(['rmi', name, 'snap:1']);
      await c.ok(['rm', 'writer']);
      filler = fill(fs.mnt, 3 << 20);
      r = await c.berth(['load', '-q', '-i', tar]);
      t.diagnostic(`load: exit ${r.code}: ${r.err.trim()}`);
      clearError(r, /^Error response from daemon: load: /m);
      await check('load');
      rmSync(filler);
      await c.ok(['load', '-q', '-i', tar]);
      // a container writing to its rootfs until the disk is full (detached: the kernel's error is
      // in its log; what berth commands say while the disk is full is checked below)
      filler = fill(fs.mnt, 12 << 20);
      const id = await c.ok(['run', '-d', '--name', 'filler', 'busybox', 'sh', '-c', 'head -c 100000000 /dev/zero > /big; echo rc=$?']);
      const exitFile = join(c.runRoot, id, 'exit.json');
      for (let i = 0; i < 300 && !existsSync(exitFile); i++) await new Promise((res) => setTimeout(res, 100));
      assert.ok(existsSync(exitFile), 'the container exited');
      t.diagnostic(`container: free ${free(fs.mnt)} bytes left`);
      for (const args of [['ps', '-a'], ['images']]) {
        r = await c.berth(args);
        t.diagnostic(`${args.join(' ')} on a full disk: exit ${r.code}: ${r.err.trim()}`);
        assert.ok(r.code === 0 || /no space left on device/.test(r.err), r.err);
        assert.doesNotMatch(r.err, /\n\s+at .+:\d+:\d+/, `no stack trace: ${r.err}`);
      }
      rmSync(filler);
      assert.match(await c.ok(['ps', '-a', '--format', '{{.Names}} {{.Status}}']), /filler Exited \(0\)/);
      const log = await c.ok(['logs', 'filler']).catch((e: Error) => e.message);
      t.diagnostic(`container log (its lines are lost while the disk is full): ${log.trim()}`);
      await check('container');
      await c.ok(['rm', 'filler']);
      // freed: the store works
      await c.ok(['rmi', name]);
      await c.ok(['pull', '-q', name]);
      await c.ok(['run', '--name', 'again', 'busybox', 'sh', '-c', 'echo ok > /f']);
      await c.ok(['commit', 'again', 'snap:2']);
      assert.equal(await c.ok(['run', '--rm', 'snap:1', 'sh', '-c', 'wc -c < /data']), '8000000');
      await c.ok(['image', 'prune', '-f']);
      await check('after');
      const left = leftovers(c.root);
      t.diagnostic(`leftovers: ${left.length}`);
      assert.deepEqual(left, []);
    }
  } finally {
    await reg.stop();
    rmSync(out, { recursive: true, force: true });
    fs.close();
    t.diagnostic(`checks ${checks}`);
  }
});

