import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { allSteps, helperPath, step } from '../../src/sys/index.js';
import { haveBusybox } from '../helpers/rootfs.js';
import { MS, containerPlan, runPlan, tempRootfs, waitGone } from './util.js';

const skip = !haveBusybox() ? 'busybox-static is not installed' : process.getuid?.() !== 0 ? 'needs root' : false;

test('version prints the plan version', () => {
  assert.equal(execFileSync(helperPath(), ['version'], { encoding: 'utf8' }), 'berth-helper 1\n');
});

test('namespaces, mounts, devices, hostname, pivot_root and exec', { skip }, async () => {
  const t = tempRootfs();
  try {
    const plan = containerPlan(t.rootfs, [
      'hostname', 'echo pid=$$', 'grep -E "^(NSpid|PPid)" /proc/$$/status',
      'ls -l /dev/null /dev/zero | cut -c1', 'readlink /dev/fd', 'head -c 4 /dev/zero | wc -c',
      'echo mp=$(cut -d" " -f5 /proc/self/mountinfo | grep -cx /)', 'ls /', 'echo cwd=$(pwd)',
    ].join('; '), {
      beforePivot: [step('sethostname', ['berth-test'], 'set the hostname')],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error) + r.stderr);
    assert.deepEqual(r.msgs.map((m) => m.type), ['pid', 'ready', 'exit']);
    assert.ok(r.pid && r.pid > 1);
    assert.deepEqual(r.exitMsg, { type: 'exit', code: 0 });
    assert.equal(r.exit.code, 0);
    const out = r.stdout.split('\n');
    assert.equal(out[0], 'berth-test');
    assert.equal(out[1], 'pid=1');
    assert.match(r.stdout, /PPid:\t0\nNSpid:\t1\n/);
    assert.match(r.stdout, /^c\nc\n\/proc\/self\/fd\n4\n/m);
    assert.match(r.stdout, /^mp=1\n/m, 'one mount on / (the old root is gone)');
    assert.match(r.stdout, /\bbin\b[\s\S]*\bproc\b/);
    assert.match(r.stdout, /cwd=\/\n/);
    assert.ok(await waitGone(r.pid!), 'the container process is gone');
    assert.ok(!existsSync(join(t.rootfs, 'proc/self')), 'proc is not mounted on the host');
  } finally { t.cleanup(); }
});

test('a mount onto a missing path without mkdir is reported with step, op, path and errno', { skip }, async () => {
  const t = tempRootfs();
  try {
    const plan = containerPlan(t.rootfs, 'echo should-not-run', {
      beforePivot: [step('mount', ['tmpfs', '/missing/dir', 'tmpfs', 0, '', ''], 'mount tmpfs on /missing/dir', '/missing/dir')],
    });
    const r = await runPlan(plan);
    const idx = allSteps(plan).findIndex((s) => s.desc === 'mount tmpfs on /missing/dir');
    assert.ok(r.error, 'an error message');
    assert.equal(r.error.step, idx);
    assert.equal(r.error.op, 'mount');
    assert.equal(r.error.path, '/missing/dir');
    assert.equal(r.error.errno, 2);
    assert.equal(r.error.message, 'No such file or directory');
    assert.equal(r.exit.code, 1);
    assert.equal(r.stdout, '');
    const e = r.session.errorFor(r.error, 'create container');
    assert.match(e.message, /^create container: mount tmpfs on \/missing\/dir: No such file or directory \(ENOENT\)/);
    assert.equal(e.path, '/missing/dir');
    assert.ok(!r.msgs.some((m) => m.type === 'ready'));
    assert.ok(await waitGone(r.pid!), 'the child was reaped');
  } finally { t.cleanup(); }
});

test('mount mkdir creates the target and mkdir/mknod/symlink steps work under the root', { skip }, async () => {
  const t = tempRootfs();
  try {
    const plan = containerPlan(t.rootfs, 'ls -ld /a/b/c | cut -c1-10; grep " /a/b/c " /proc/self/mountinfo | wc -l; ls -ld /made/x/y | cut -c1-10; ls -l /dev/fifo | cut -c1; readlink /link', {
      beforePivot: [
        step('mount', ['tmpfs', '/a/b/c', 'tmpfs', 0, 'mode=700', 'mkdir'], 'mount tmpfs on /a/b/c', '/a/b/c'),
        step('mkdir', ['/made/x/y', 0o711], 'mkdir /made/x/y', '/made/x/y'),
        step('mkdir', ['/made/x/y', 0o711], 'mkdir /made/x/y again', '/made/x/y'),
        step('mknod', ['/dev/fifo', 'p', 0, 0, 0o600, 0, 0], 'mkfifo', '/dev/fifo'),
        step('symlink', ['/target', '/link'], 'symlink', '/link'),
        step('symlink', ['/target', '/link'], 'symlink again', '/link'),
      ],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.stdout, 'drwx------\n1\ndrwx--x--x\np\n/target\n');
  } finally { t.cleanup(); }
});

test('mount options optional and mkfile, and chroot instead of pivot_root', { skip }, async () => {
  const t = tempRootfs();
  try {
    const plan = containerPlan(t.rootfs, 'ls -l /etc/made/file | cut -c1; grep -c " /etc/made/file " /proc/self/mountinfo; ls /nope 2>&1 | wc -l', {
      beforePivot: [
        step('mount', ['tmpfs', '/nope/x', 'tmpfs', 0, '', 'optional'], 'optional mount on a missing path', '/nope/x'),
        step('mount', ['/dev/null', '/etc/made/file', '', MS.BIND, '', 'mkfile'], 'bind a file', '/etc/made/file'),
      ],
    });
    plan.child = plan.child.map((s) => s.op === 'pivot_root' ? step('chroot', [], 'chroot') : s);
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.stdout, 'c\n1\n1\n');
  } finally { t.cleanup(); }
});

test('a symlink in the rootfs used as a mount target resolves inside the rootfs', { skip }, async () => {
  const t = tempRootfs();
  const name = `berth-escape-${process.pid}-${Date.now()}`;
  try {
    symlinkSync('/etc', join(t.rootfs, 'etc2'));
    symlinkSync('../../../../../../../../etc', join(t.rootfs, 'up'));
    mkdirSync(join(t.rootfs, 'etc', name));
    const plan = containerPlan(t.rootfs, `ls /etc/${name}; ls /etc | grep -c passwd; ls -l /etc/${name}-b/marker | cut -c1`, {
      beforePivot: [
        step('mount', ['tmpfs', `/etc2/${name}`, 'tmpfs', 0, '', ''], 'mount through an absolute symlink', `/etc2/${name}`),
        step('mount', ['tmpfs', `/up/${name}-b`, 'tmpfs', 0, '', 'mkdir'], 'mount through a relative escaping symlink', `/up/${name}-b`),
        step('mknod', [`/up/${name}-b/marker`, 'p', 0, 0, 0o600, 0, 0], 'mknod in it', `/up/${name}-b/marker`),
      ],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.ok(existsSync(join(t.rootfs, 'etc', `${name}-b`)), 'the directory was created inside the rootfs');
    assert.ok(!existsSync(`/etc/${name}`) && !existsSync(`/etc/${name}-b`), 'nothing was created on the host');
    assert.equal(r.exit.code, 0);
  } finally { t.cleanup(); }
});

test('abort (A) kills the child and the helper exits 1', { skip }, async () => {
  const t = tempRootfs();
  try {
    const plan = containerPlan(t.rootfs, 'echo never');
    const { HelperSession } = await import('../../src/sys/index.js');
    const s = new HelperSession(plan, { stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = (await s.expect('pid', 'create')).pid!;
    assert.ok(pid > 0);
    assert.ok((await import('./util.js')).alive(pid));
    s.abort();
    assert.equal(await s.next(), null);
    const ex = await s.exited;
    assert.equal(ex.code, 1);
    assert.ok(await waitGone(pid, 1000), 'the child is gone');
  } finally { t.cleanup(); }
});

test('closing the control socket while waiting for go kills the child', { skip }, async () => {
  const t = tempRootfs();
  try {
    const { HelperSession } = await import('../../src/sys/index.js');
    const s = new HelperSession(containerPlan(t.rootfs, 'echo never'), { stdio: ['ignore', 'ignore', 'ignore'] });
    const pid = (await s.expect('pid', 'create')).pid!;
    s.close();
    const ex = await s.exited;
    assert.equal(ex.code, 1);
    assert.ok(await waitGone(pid, 1000));
  } finally { t.cleanup(); }
});

test('the child dies when the helper is killed before release', { skip }, async () => {
  const t = tempRootfs();
  try {
    const { HelperSession } = await import('../../src/sys/index.js');
    const s = new HelperSession(containerPlan(t.rootfs, 'echo never'), { stdio: ['ignore', 'ignore', 'ignore'] });
    const pid = (await s.expect('pid', 'create')).pid!;
    s.child.kill('SIGKILL');
    await s.exited;
    assert.ok(await waitGone(pid, 2000), 'PR_SET_PDEATHSIG killed the child');
  } finally { t.cleanup(); }
});

test('a plan with an unknown step is refused before anything runs', async () => {
  const r = await runPlan({ pre: [step('frobnicate', [], 'frobnicate')], post: [], child: [] });
  assert.equal(r.exit.code, 1);
  assert.equal(r.error?.step, 0);
  assert.equal(r.error?.message, 'bad plan');
  assert.match(r.error?.detail ?? '', /unknown step "frobnicate"/);
});

test('the child list must end in exec', { skip }, async () => {
  const plan = { pre: [step('spawn', [0], 'spawn')], post: [step('await_go', [], 'go'), step('release', [], 'release'), step('await_ready', [], 'ready')], child: [step('await_release', [], 'wait')] };
  const r = await runPlan(plan);
  assert.equal(r.exit.code, 1);
  assert.equal(r.error?.step, 4);
  assert.match(r.error?.detail ?? '', /without exec/);
});

test('exec failure is reported with the path', { skip }, async () => {
  const t = tempRootfs();
  try {
    const plan = containerPlan(t.rootfs, '', { exec: step('exec', ['/bin/nonexistent', 1, 'x', 0], 'exec /bin/nonexistent', '/bin/nonexistent') });
    const r = await runPlan(plan);
    assert.equal(r.error?.op, 'exec');
    assert.equal(r.error?.path, '/bin/nonexistent');
    assert.equal(r.error?.errno, 2);
    assert.equal(r.exit.code, 1);
  } finally { t.cleanup(); }
});
