/** docker-archive round trips with the real Docker: berth save → docker load/run, docker save → berth load. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxRootfs } from '../helpers/rootfs.js';
import { repoRoot } from '../helpers/probe.js';
import { haveBinary, startDockerd } from './daemon.js';

test('an image berth saves, docker loads and runs; what docker saves, berth loads with the same id', async (t) => {
  if (!haveBinary('/usr/sbin/dockerd') || !haveBinary('/usr/bin/docker')) return t.skip('docker.io (dockerd) is not installed');
  const work = mkdtempSync(join(tmpdir(), 'berth-archives-'));
  const d = await startDockerd('/usr/sbin/runc');
  try {
    const berth = (root: string, ...a: string[]) => spawnSync(process.execPath, [join(repoRoot(), 'dist', 'berth.cjs'), ...a], { encoding: 'utf8', env: { ...process.env, BERTH_ROOT: root } });
    const docker = (...a: string[]) => spawnSync('/usr/bin/docker', ['-H', `unix://${d.sock}`, ...a], { encoding: 'utf8' });
    const rootfs = busyboxRootfs(join(work, 'rootfs'));
    const tarPath = join(work, 'rootfs.tar');
    assert.equal(spawnSync('tar', ['-C', rootfs, '-cf', tarPath, '.']).status, 0);
    const r1 = join(work, 'r1');
    let r = berth(r1, 'import', '--change', 'CMD ["/bin/sh"]', tarPath, 'arch-test:v1');
    assert.equal(r.status, 0, r.stderr);
    const id = berth(r1, 'images', '-q', '--no-trunc', 'arch-test:v1').stdout.trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    r = berth(r1, 'save', '-o', join(work, 'berth.tar'), 'arch-test:v1');
    assert.equal(r.status, 0, r.stderr);
    r = docker('load', '-i', join(work, 'berth.tar'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /arch-test:v1/);
    r = docker('run', '--rm', '--network', 'none', 'arch-test:v1', 'sh', '-c', 'echo loaded-by-docker');
    assert.equal(r.stdout.trim(), 'loaded-by-docker', r.stderr);
    assert.equal(docker('image', 'inspect', '-f', '{{.Id}}', 'arch-test:v1').stdout.trim(), id, 'docker computes the same image id');
    assert.equal(docker('save', '-o', join(work, 'docker.tar'), 'arch-test:v1').status, 0);
    const r2 = join(work, 'r2');
    r = berth(r2, 'load', '-i', join(work, 'docker.tar'));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(berth(r2, 'images', '-q', '--no-trunc', 'arch-test:v1').stdout.trim(), id);
  } finally {
    await d.stop();
    rmSync(work, { recursive: true, force: true });
  }
});
