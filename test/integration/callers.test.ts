/**
 * berth-runtime driven by the real callers: containerd's runc shim (through `ctr`) and dockerd
 * (`--add-runtime`), detached and interactive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxRootfs } from '../helpers/rootfs.js';
import { runtimeBinary } from '../helpers/runtime.js';
import { haveBinary, startContainerd, startDockerd } from './daemon.js';

function sh(cmd: string, args: string[], timeout = 60000) {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout });
}

/** Run under a pseudo-terminal (script(1)), as a person typing would. */
function inPty(cmdline: string, timeout = 60000) {
  return spawnSync('script', ['-qec', cmdline, '/dev/null'], { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
}

test('containerd (ctr with --runc-binary) runs containers through berth-runtime', async (t) => {
  if (!haveBinary('/usr/bin/containerd') || !haveBinary('/usr/bin/ctr')) return t.skip('containerd is not installed');
  const d = await startContainerd();
  const work = mkdtempSync(join(tmpdir(), 'berth-ctr-'));
  try {
    const rootfs = busyboxRootfs(join(work, 'rootfs'));
    const ctr = (...a: string[]) => sh('ctr', ['--address', d.sock, ...a]);
    const rb = ['--runc-binary', runtimeBinary(), '--rootfs', rootfs];
    let r = ctr('run', '--rm', ...rb, 'c1', '/bin/sh', '-c', 'echo hello-ctr; cat /proc/1/cmdline');
    assert.equal(r.status, 0, r.stderr + d.log().slice(-2000));
    assert.match(r.stdout, /hello-ctr/);
    r = ctr('run', '-d', ...rb, 'c2', '/bin/sleep', '1000');
    assert.equal(r.status, 0, r.stderr);
    r = ctr('task', 'exec', '--exec-id', 'e1', 'c2', '/bin/sh', '-c', 'echo exec-$((40+2))');
    assert.equal(r.stdout.trim(), 'exec-42', r.stderr);
    assert.equal(ctr('task', 'pause', 'c2').status, 0);
    assert.match(ctr('task', 'ls').stdout, /c2\s+\d+\s+PAUSED/);
    assert.equal(ctr('task', 'resume', 'c2').status, 0);
    assert.equal(ctr('task', 'kill', '-s', 'SIGKILL', 'c2').status, 0);
    for (let i = 0; i < 100 && !/STOPPED/.test(ctr('task', 'ls').stdout); i++) await new Promise((res) => setTimeout(res, 50));
    assert.match(ctr('task', 'ls').stdout, /c2\s+\d+\s+STOPPED/);
    assert.equal(ctr('task', 'delete', 'c2').status, 0);
    assert.equal(ctr('container', 'delete', 'c2').status, 0);
    const tty = inPty(`ctr --address ${d.sock} run -t --rm --runc-binary ${runtimeBinary()} --rootfs ${rootfs} c3 /bin/sh -c 'tty; echo tty-ok'`);
    assert.match(tty.stdout, /\/dev\/pts\/\d+/, tty.stderr);
    assert.match(tty.stdout, /tty-ok/);
  } finally {
    await d.stop();
    rmSync(work, { recursive: true, force: true });
  }
});

test('dockerd (--add-runtime) runs containers through berth-runtime', async (t) => {
  if (!haveBinary('/usr/sbin/dockerd') || !haveBinary('/usr/bin/docker')) return t.skip('docker.io (dockerd) is not installed');
  const d = await startDockerd(runtimeBinary());
  const work = mkdtempSync(join(tmpdir(), 'berth-dockerd-'));
  try {
    const rootfs = busyboxRootfs(join(work, 'rootfs'));
    const docker = (...a: string[]) => sh('/usr/bin/docker', ['-H', `unix://${d.sock}`, ...a]);
    const imp = spawnSync('sh', ['-c', `tar -C ${rootfs} -c . | /usr/bin/docker -H unix://${d.sock} import - bb:latest`], { encoding: 'utf8' });
    assert.equal(imp.status, 0, imp.stderr);
    let r = docker('run', '--rm', '--runtime', 'berth', '--network', 'none', 'bb', 'sh', '-c', 'echo hello-dockerd');
    assert.equal(r.status, 0, r.stderr + d.log().slice(-2000));
    assert.equal(r.stdout.trim(), 'hello-dockerd');
    r = docker('run', '-d', '--name', 'd1', '--runtime', 'berth', '--network', 'none', '-m', '64m', 'bb', 'sleep', '1000');
    assert.equal(r.status, 0, r.stderr);
    r = docker('exec', 'd1', 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes');
    assert.equal(r.stdout.trim(), String(64 * 1024 * 1024), r.stderr);
    assert.equal(docker('pause', 'd1').status, 0);
    assert.match(docker('ps', '--format', '{{.Names}} {{.Status}}').stdout, /d1 .*Paused/);
    assert.equal(docker('unpause', 'd1').status, 0);
    assert.match(docker('top', 'd1').stdout, /sleep 1000/);
    assert.equal(docker('rm', '-f', 'd1').status, 0);
    r = docker('run', '--rm', '--runtime', 'berth', '--network', 'none', 'bb', 'sh', '-c', 'exit 3');
    assert.equal(r.status, 3);
    const tty = inPty(`/usr/bin/docker -H unix://${d.sock} run --rm -it --runtime berth --network none bb sh -c 'tty; echo it-ok'`);
    assert.match(tty.stdout, /\/dev\/pts\/\d+/, tty.stderr);
    assert.match(tty.stdout, /it-ok/);
  } finally {
    await d.stop();
    rmSync(work, { recursive: true, force: true });
  }
});
