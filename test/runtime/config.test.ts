import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { makeBundle, uniqueId } from '../helpers/bundle.js';
import { parseProbe, capsFromHex, type ProbeInfo, type ProbeSyscall } from '../helpers/probe.js';
import { consoleReceiver, Rt } from '../helpers/runtime.js';

let rt: Rt;
before(() => { rt = new Rt('cfg'); });
after(() => rt.cleanup());

function probeRun(name: string, override: object, args: string[] = ['/probe']): ProbeInfo {
  const b = makeBundle(join(rt.work, name), { ...override, process: { args, ...((override as any).process ?? {}) } });
  const r = rt.run(['run', '-b', b.dir, uniqueId(name)]);
  assert.equal(r.status, 0, r.stderr);
  return parseProbe<ProbeInfo>(r.stdout);
}

test('user, groups, umask, capabilities, rlimits, noNewPrivileges, oomScoreAdj', () => {
  const p = probeRun('proc', {
    process: {
      args: ['/probe'], user: { uid: 1000, gid: 1000, additionalGids: [50, 60], umask: 0o077 }, noNewPrivileges: true, oomScoreAdj: 500,
      capabilities: { bounding: ['CAP_KILL', 'CAP_CHOWN'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], inheritable: ['CAP_KILL'], ambient: ['CAP_KILL'] },
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 256, hard: 512 }, { type: 'RLIMIT_NPROC', soft: 100, hard: 100 }],
    },
  });
  assert.equal(p.uid, 1000); assert.equal(p.euid, 1000); assert.equal(p.gid, 1000);
  assert.deepEqual([...p.groups].sort((a, b) => a - b), [50, 60]);
  assert.equal(p.umask, '0077');
  assert.deepEqual(capsFromHex(p.capabilities.bounding).sort(), ['CAP_CHOWN', 'CAP_KILL']);
  assert.deepEqual(capsFromHex(p.capabilities.effective), ['CAP_KILL']);
  assert.deepEqual(capsFromHex(p.capabilities.ambient), ['CAP_KILL']);
  assert.equal(p.noNewPrivs, true);
  assert.deepEqual(p.rlimits.RLIMIT_NOFILE, { soft: 256, hard: 512 });
  assert.deepEqual(p.rlimits.RLIMIT_NPROC, { soft: 100, hard: 100 });
  assert.equal(p.oomScoreAdj, 500);
});

test('an unknown capability is an error', () => {
  const b = makeBundle(join(rt.work, 'badcap'), { process: { args: ['/probe'], capabilities: { bounding: ['CAP_FOO'] } } });
  const r = rt.run(['run', '-b', b.dir, uniqueId('badcap')]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /CAP_FOO/);
});

test('masked and read-only paths, read-only root, sysctl, domainname', () => {
  const p = probeRun('paths', { root: { path: 'rootfs', readonly: true }, domainname: 'example.org', linux: { sysctl: { 'kernel.msgmax': '4096' } } }, ['/probe', '--sysctl', 'kernel.msgmax']);
  assert.equal(p.domainname, 'example.org');
  assert.equal(p.sysctl['kernel.msgmax'], '4096');
  const m = new Map((p.mounts ?? []).map((x) => [x.mountPoint, x]));
  assert.ok(m.get('/')!.options.includes('ro'), 'root is read-only');
  assert.ok(m.get('/proc/sys')!.options.includes('ro'), '/proc/sys is read-only');
  assert.ok(m.has('/proc/keys'), '/proc/keys is masked');
  assert.ok(m.has('/sys/firmware'), '/sys/firmware is masked');
});

test('seccomp: a denied syscall fails with the configured errno', () => {
  const seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] };
  const b = makeBundle(join(rt.work, 'sec'), { process: { args: ['/probe', 'syscall', 'mkdir', '/tmp/x'] }, linux: { seccomp } });
  const r = rt.run(['run', '-b', b.dir, uniqueId('sec')]);
  assert.equal(r.status, 0, r.stderr);
  const s = parseProbe<ProbeSyscall>(r.stdout);
  assert.equal(s.ok, false);
  assert.equal(s.errno, 13);
});

test('user namespace with uid and gid mappings', () => {
  chmodSync(rt.work, 0o755); // the container's root (host uid 100000) must reach the rootfs
  const p = probeRun('userns', {
    linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }],
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] }],
  }, ['/probe', 'read', '/proc/self/uid_map']);
  const text = (p as unknown as { data: string }).data;
  assert.match(text, /^\s*0\s+100000\s+65536/);
});

test('cgroup limits are applied and the cgroup is removed on delete', () => {
  const id = uniqueId('cg');
  const b = makeBundle(join(rt.work, 'cg'), { process: { args: ['/bin/sleep', '1000'] }, linux: { resources: { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 20 }, cpu: { quota: 50000, period: 100000 } } } });
  assert.equal(rt.createTo(id, b.dir).result.status, 0);
  const cgdir = `/sys/fs/cgroup/memory/berth/${id}`;
  assert.equal(readFileSync(join(cgdir, 'memory.limit_in_bytes'), 'utf8').trim(), String(64 * 1024 * 1024));
  assert.equal(readFileSync(`/sys/fs/cgroup/pids/berth/${id}/pids.max`, 'utf8').trim(), '20');
  assert.equal(readFileSync(`/sys/fs/cgroup/cpu/berth/${id}/cpu.cfs_quota_us`, 'utf8').trim(), '50000');
  const pid = rt.state(id).pid;
  assert.ok(readFileSync(join(cgdir, 'cgroup.procs'), 'utf8').split('\n').includes(String(pid)));
  rt.ok(['update', '--memory', '128m', '--pids-limit', '30', id]);
  assert.equal(readFileSync(join(cgdir, 'memory.limit_in_bytes'), 'utf8').trim(), String(128 * 1024 * 1024));
  const ev = JSON.parse(rt.ok(['events', '--stats', id]).stdout);
  assert.equal(ev.type, 'stats');
  rt.ok(['start', id]);
  rt.ok(['pause', id]);
  assert.equal(rt.state(id).status, 'paused');
  rt.ok(['resume', id]);
  assert.equal(rt.state(id).status, 'running');
  rt.ok(['delete', '-f', id]);
  assert.ok(!existsSync(cgdir), 'cgroup removed');
});

test('hooks run in order with the state on stdin; a failing hook fails create and cleans up', () => {
  const log = join(rt.work, 'hooks.log');
  const hook = join(rt.work, 'hook.sh');
  writeFileSync(hook, `#!/bin/sh\nread state\necho "$1 $(echo "$state" | grep -o '"status":"[a-z]*"')" >> ${log}\n`);
  chmodSync(hook, 0o755);
  const h = (name: string) => [{ path: hook, args: ['hook.sh', name] }];
  const id = uniqueId('hooks');
  const b = makeBundle(join(rt.work, 'hk'), {
    process: { args: ['/bin/true'] },
    hooks: { prestart: h('prestart'), createRuntime: h('createRuntime'), poststart: h('poststart'), poststop: h('poststop') },
  });
  assert.equal(rt.createTo(id, b.dir).result.status, 0);
  rt.ok(['start', id]);
  rt.ok(['delete', '-f', id]);
  const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ')[0]);
  assert.deepEqual(lines, ['prestart', 'createRuntime', 'poststart', 'poststop']);
  const bad = makeBundle(join(rt.work, 'hk2'), { process: { args: ['/bin/true'] }, hooks: { createRuntime: [{ path: '/bin/false' }] } });
  const id2 = uniqueId('hookfail');
  const r = rt.createTo(id2, bad.dir).result;
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /createRuntime hook/);
  assert.ok(!existsSync(join(rt.root, id2)));
});

test('terminal: the pty master goes to --console-socket', async () => {
  const sock = join(rt.work, 'console.sock');
  const recv = await consoleReceiver(sock);
  const id = uniqueId('tty');
  const b = makeBundle(join(rt.work, 'tty'), { process: { terminal: true, args: ['/bin/sh', '-c', 'tty; echo hello-tty'] } });
  const c = rt.createTo(id, b.dir, ['--console-socket', sock]);
  assert.equal(c.result.status, 0, c.result.stderr);
  rt.ok(['start', id]);
  await recv.done;
  assert.match(recv.out(), /\/dev\/pts\/\d+/);
  assert.match(recv.out(), /hello-tty/);
  rt.ok(['delete', '-f', id]);
});

test('createContainer hooks run in the container namespaces before pivot_root, startContainer hooks inside the container', () => {
  const log = join(rt.work, 'cc.log');
  const hook = join(rt.work, 'cc.sh');
  writeFileSync(hook, `#!/bin/sh\nread state\necho "createContainer $(hostname) $(readlink /proc/self/ns/mnt)" >> ${log}\n`);
  chmodSync(hook, 0o755);
  const b = makeBundle(join(rt.work, 'cc'), {
    hostname: 'inside',
    process: { args: ['/bin/cat', '/tmp/started-by-hook'] },
    hooks: {
      createContainer: [{ path: hook }],
      startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'echo "startContainer $(hostname)" > /tmp/started-by-hook'] }],
    },
  });
  const r = rt.run(['run', '-b', b.dir, uniqueId('cc')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'startContainer inside', 'the startContainer hook ran in the container, before the process');
  const line = readFileSync(log, 'utf8').trim();
  // Before pivot_root the hostname is not set yet (as in runc), but the mount namespace is the container's.
  assert.match(line, /^createContainer \S+ mnt:\[\d+\]$/);
  assert.notEqual(line.split(' ')[2], readlinkSync('/proc/self/ns/mnt'), 'the hook ran in the container mount namespace');
});

test('masking a file without /dev/null in the container says so', () => {
  const b = makeBundle(join(rt.work, 'nodevnull'), {
    process: { args: ['/bin/true'] },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    linux: { maskedPaths: ['/proc/keys'], readonlyPaths: [] },
  });
  const r = rt.run(['run', '-b', b.dir, uniqueId('nodevnull')]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /mask \/proc\/keys: .*no \/dev\/null/);
});
