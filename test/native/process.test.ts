import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { step } from '../../src/sys/index.js';
import { haveBusybox } from '../helpers/rootfs.js';
import { BASE_FLAGS, CLONE, MS, containerPlan, runPlan, tempRootfs } from './util.js';

const skip = !haveBusybox() ? 'busybox-static is not installed' : process.getuid?.() !== 0 ? 'needs root' : false;

function statusField(out: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(out)?.[1];
}

test('user namespace with an id map: uid 0 inside is 100000 outside', { skip }, async (t) => {
  if (!readFileSync('/proc/sys/user/max_user_namespaces', 'utf8').trim().match(/^[1-9]/)) return t.skip('user namespaces disabled');
  const tr = tempRootfs();
  chmodSync(tr.dir, 0o755); // the mapped root (host uid 100000) must reach the rootfs
  try {
    const plan = containerPlan(tr.rootfs, 'cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; cat /proc/self/setgroups', {
      flags: BASE_FLAGS | CLONE.NEWUSER,
      // become root of the new user namespace once the maps are written (runc does setresuid(0,0,0))
      early: [step('user', [0, 0, -1], 'become root in the user namespace')],
      post: [
        step('setgroups', ['deny'], 'deny setgroups'),
        step('idmap', ['uid', '0 100000 65536'], 'write the uid map'),
        step('idmap', ['gid', '0 100000 65536'], 'write the gid map'),
        step('report_pid', [], 'pid'), step('await_go', [], 'go'), step('release', [], 'release'),
        step('await_ready', [], 'ready'), step('wait_exit', [], 'wait'),
      ],
    });
    // the rootfs must be reachable by the mapped ids; mknod is not allowed in a user namespace
    plan.child = plan.child.map((s) => s.op === 'mknod'
      ? step('mount', ['/dev/null', s.args[0] as string, '', MS.BIND, '', 'mkfile'], `bind ${s.args[0]}`, s.args[0] as string)
      : s);
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    const lines = r.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    assert.deepEqual(lines.slice(0, 5), ['0 100000 65536', '0 100000 65536', '0', '0', 'deny']);
  } finally { tr.cleanup(); }
});

test('bounding set and capabilities for root', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const mask = (1n << 0n) | (1n << 5n) | (1n << 10n); // CHOWN, KILL, NET_BIND_SERVICE
    const plan = containerPlan(tr.rootfs, 'grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status', {
      afterPivot: [
        step('bounding', [mask], 'bounding set'),
        step('caps', [mask, mask, mask], 'capabilities'),
        step('no_new_privs', [], 'no_new_privs'),
      ],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(statusField(r.stdout, 'CapBnd'), '0000000000000421');
    assert.equal(statusField(r.stdout, 'CapEff'), '0000000000000421');
    assert.equal(statusField(r.stdout, 'CapPrm'), '0000000000000421');
    assert.equal(statusField(r.stdout, 'CapInh'), '0000000000000421');
  } finally { tr.cleanup(); }
});

test('user with groups, keepcaps and ambient capabilities', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const nbs = 1n << 10n;
    const plan = containerPlan(tr.rootfs, 'id; grep -E "^(Cap(Eff|Amb|Bnd)|NoNewPrivs)" /proc/self/status', {
      afterPivot: [
        step('bounding', [nbs], 'bounding set'),
        step('keepcaps', [1], 'keep capabilities'),
        step('user', [1000, 1000, 2, 1000, 50], 'user 1000:1000'),
        step('keepcaps', [0], 'keepcaps off'),
        step('caps', [nbs, nbs, nbs], 'capabilities'),
        step('ambient', [nbs | (1n << 62n)], 'ambient (a cap past the last is skipped)'),
      ],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.match(r.stdout, /^uid=1000\(user\) gid=1000\(user\) groups=50\(staff\),1000\(user\)\n/);
    assert.equal(statusField(r.stdout, 'CapEff'), '0000000000000400');
    assert.equal(statusField(r.stdout, 'CapAmb'), '0000000000000400');
    assert.equal(statusField(r.stdout, 'CapBnd'), '0000000000000400');
    assert.equal(statusField(r.stdout, 'NoNewPrivs'), '0');
  } finally { tr.cleanup(); }
});

test('user without setgroups (-1) keeps the groups', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const plan = containerPlan(tr.rootfs, 'id -u; id -G', {
      afterPivot: [step('user', [1000, 1000, 0], 'clear groups'), step('user', [1000, 1000, -1], 'user, groups unchanged')],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.stdout, '1000\n1000\n');
  } finally { tr.cleanup(); }
});

test('rlimit sets soft and hard limits', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const plan = containerPlan(tr.rootfs, 'grep "Max open files" /proc/self/limits', {
      afterPivot: [step('rlimit', [7, 256, 512], 'RLIMIT_NOFILE')],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.match(r.stdout, /Max open files\s+256\s+512\s+files/);
    const bad = await runPlan(containerPlan(tr.rootfs, 'true', { afterPivot: [step('rlimit', [7, 1024, 0xffffffffffffffffn], 'raise NOFILE to infinity')] }));
    assert.equal(bad.error?.op, 'rlimit');
    assert.equal(bad.error?.errno, 1, 'raising the hard limit needs CAP_SYS_RESOURCE');
  } finally { tr.cleanup(); }
});

test('seccomp: denied syscalls fail with EPERM, argument rules, unknown names skipped', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const ALLOW = 0x7fff0000;
    const EPERM = 0x00050001;
    // chmod only fails for mode 0777: argument rules (chmod arg 1, fchmodat arg 2, SCMP_CMP_EQ = 4)
    const seccomp = step('seccomp', [
      ALLOW, 1, 'x86_64', 0, '', 4,
      3, 'mkdir', 'mkdirat', 'no_such_syscall_xyz', EPERM, 0,
      1, 'chmod', EPERM, 1, 1, 0o777, 0, 4,
      1, 'fchmodat', EPERM, 1, 2, 0o777, 0, 4,
      1, 'getpid', ALLOW, 0,
    ], 'seccomp filter');
    const plan = containerPlan(tr.rootfs, 'mkdir /tmp/x; echo mkdir=$?; touch /tmp/f; chmod 755 /tmp/f; echo c755=$?; chmod 777 /tmp/f; echo c777=$?; grep Seccomp: /proc/self/status', {
      afterPivot: [seccomp],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.match(r.stdout, /mkdir=1\n/);
    assert.match(r.stderr, /Operation not permitted/);
    assert.match(r.stdout, /c755=0\nc777=1\n/);
    assert.match(r.stdout, /Seccomp:\s+2/);
  } finally { tr.cleanup(); }
});

test('seccomp: an unknown architecture is an error', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const plan = containerPlan(tr.rootfs, 'true', { afterPivot: [step('seccomp', [0x7fff0000, 1, 'vax', 0, '', 0], 'seccomp')] });
    const r = await runPlan(plan);
    assert.equal(r.error?.op, 'seccomp');
    assert.match(r.error?.message ?? '', /unknown seccomp architecture/);
  } finally { tr.cleanup(); }
});

test('close_fds: extra fds are gone in the container unless preserved', { skip }, async () => {
  const tr = tempRootfs();
  const f = join(tr.dir, 'extra');
  writeFileSync(f, 'extra');
  const fd = openSync(f, 'r');
  try {
    // only shell builtins, so that the shell opens no fd of its own while looking
    const script = 'for i in 0 1 2 3 4 5 6 7 8 9; do [ -e /proc/$$/fd/$i ] && echo -n "$i "; done; echo; cat <&3';
    const closed = await runPlan(containerPlan(tr.rootfs, script, { afterPivot: [step('close_fds', [3], 'close fds from 3')] }), { stdio: ['ignore', 'pipe', 'pipe', fd] });
    assert.equal(closed.error, undefined, JSON.stringify(closed.error));
    assert.equal(closed.stdout.split('\n')[0], '0 1 2 ');
    assert.match(closed.stderr, /Bad file descriptor|can't|No such/i);
    const kept = await runPlan(containerPlan(tr.rootfs, script, { afterPivot: [step('close_fds', [4], 'close fds from 4')] }), { stdio: ['ignore', 'pipe', 'pipe', fd] });
    assert.equal(kept.error, undefined, JSON.stringify(kept.error));
    assert.equal(kept.stdout, '0 1 2 3 \nextra');
    // without close_fds the helper's own fds still never leak (control socket, sync, root)
    const none = await runPlan(containerPlan(tr.rootfs, script), { stdio: ['ignore', 'pipe', 'pipe', fd] });
    assert.equal(none.stdout.split('\n')[0], '0 1 2 3 ');
  } finally { closeSync(fd); tr.cleanup(); }
});

test('lookup resolves like execvpe and reports a missing command', { skip }, async () => {
  const tr = tempRootfs();
  try {
    mkdirSync(join(tr.rootfs, 'opt/bin'), { recursive: true });
    writeFileSync(join(tr.rootfs, 'opt/bin/hello'), '#!/bin/sh\necho hello from $0\n', { mode: 0o755 });
    writeFileSync(join(tr.rootfs, 'opt/bin/noexec'), '#!/bin/sh\n', { mode: 0o644 });
    const ok = await runPlan(containerPlan(tr.rootfs, '', {
      exec: step('exec', ['hello', 1, 'hello', 0], 'exec hello'),
      afterPivot: [step('lookup', ['hello', '/usr/bin:/opt/bin:/bin'], 'lookup hello')],
    }));
    assert.equal(ok.error, undefined, JSON.stringify(ok.error));
    assert.equal(ok.stdout, 'hello from /opt/bin/hello\n');
    const missing = await runPlan(containerPlan(tr.rootfs, '', {
      afterPivot: [step('lookup', ['nope', '/bin:/usr/bin'], 'lookup nope', 'nope')],
    }));
    assert.equal(missing.error?.op, 'lookup');
    assert.equal(missing.error?.path, 'nope');
    assert.equal(missing.error?.errno, 2);
    const noexec = await runPlan(containerPlan(tr.rootfs, '', {
      afterPivot: [step('user', [1000, 1000, -1], 'user'), step('lookup', ['noexec', '/opt/bin'], 'lookup noexec')],
    }));
    assert.equal(noexec.error?.errno, 13);
    const dir = await runPlan(containerPlan(tr.rootfs, '', { afterPivot: [step('lookup', ['/opt/bin', ''], 'lookup a dir')] }));
    assert.equal(dir.error?.errno, 13);
  } finally { tr.cleanup(); }
});

test('chdir, umask, sethostname/setdomainname, write, personality and affinity', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const plan = containerPlan(tr.rootfs, 'pwd; umask; hostname; cat /proc/sys/kernel/domainname; cat /proc/self/oom_score_adj; uname -m; grep Cpus_allowed_list /proc/self/status', {
      beforePivot: [
        step('sethostname', ['h1'], 'hostname'),
        step('setdomainname', ['example.test'], 'domainname'),
        step('write', ['/proc/self/oom_score_adj', '123'], 'oom_score_adj'),
      ],
      afterPivot: [
        step('chdir', ['/tmp'], 'chdir /tmp'),
        step('umask', [0o027], 'umask'),
        step('personality', [8], 'PER_LINUX32'),
        step('affinity', ['0'], 'cpu 0'),
      ],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    const lines = r.stdout.split('\n');
    assert.deepEqual(lines.slice(0, 6), ['/tmp', '0027', 'h1', 'example.test', '123', 'i686']);
    assert.match(lines[6]!, /Cpus_allowed_list:\s+0$/);
  } finally { tr.cleanup(); }
});

test('chdir to a missing directory is an error', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const r = await runPlan(containerPlan(tr.rootfs, 'true', { afterPivot: [step('chdir', ['/nope'], 'chdir /nope', '/nope')] }));
    assert.equal(r.error?.op, 'chdir');
    assert.equal(r.error?.errno, 2);
  } finally { tr.cleanup(); }
});

test('mask and readonly', { skip }, async () => {
  const tr = tempRootfs();
  try {
    mkdirSync(join(tr.rootfs, 'secret'));
    writeFileSync(join(tr.rootfs, 'secret/key'), 'k');
    writeFileSync(join(tr.rootfs, 'etc/token'), 'tok');
    mkdirSync(join(tr.rootfs, 'ro'));
    const plan = containerPlan(tr.rootfs, 'ls /secret | wc -l; cat /etc/token | wc -c; touch /ro/x 2>/dev/null; echo ro=$?; touch /secret/y 2>/dev/null; echo sec=$?; touch /tmp/ok; echo tmp=$?', {
      afterPivot: [
        step('mask', ['/secret'], 'mask /secret'),
        step('mask', ['/etc/token'], 'mask /etc/token'),
        step('mask', ['/not/there'], 'mask a missing path'),
        step('readonly', ['/ro'], 'readonly /ro'),
        step('readonly', ['/not/there'], 'readonly a missing path'),
      ],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.stdout.replace(/ +/g, ''), '0\n0\nro=1\nsec=1\ntmp=0\n');
  } finally { tr.cleanup(); }
});

test('keep_locked remount keeps nosuid/nodev/noexec', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const plan = containerPlan(tr.rootfs, 'grep " /data " /proc/self/mountinfo | cut -d" " -f6', {
      beforePivot: [
        step('mount', ['tmpfs', '/data', 'tmpfs', MS.NOSUID | MS.NODEV | MS.NOEXEC, '', 'mkdir'], 'mount /data', '/data'),
        step('mount', ['', '/data', '', MS.REMOUNT | MS.BIND | MS.RDONLY, '', 'keep_locked'], 'remount /data ro', '/data'),
      ],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.stdout.trim(), 'ro,nosuid,nodev,noexec,relatime');
  } finally { tr.cleanup(); }
});

test('ioprio, sched, keyring', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const plan = containerPlan(tr.rootfs, 'cat /proc/self/sched | grep -E "^policy"; grep -c _ses /proc/keys', {
      afterPivot: [
        step('ioprio', [2, 4], 'best effort 4'),
        step('sched', [3, 5, 0, 0, 0, 0, 0], 'SCHED_BATCH nice 5'),
        step('keyring', ['_ses.berth-test'], 'session keyring'),
      ],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.match(r.stdout, /^policy\s+:\s+3\n/);
  } finally { tr.cleanup(); }
});
