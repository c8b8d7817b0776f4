import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOCKER_DEFAULT_CAPS, DOCKER_DEFAULT_DEVICE_RULES, validateConfig, type Mount, type Spec } from '../../src/oci/index.js';
import { allCapabilities, buildSpec, buildSpecAndConfig, parseMount, parseTmpfs, parseVolume, STOP_SIGNAL_ANNOTATION, type RunOptions } from '../../src/engine/spec/index.js';
import { BUSYBOX, ID, fixture } from './spec-util.js';

function build(opts: RunOptions, tweak?: (ctx: ReturnType<typeof fixture>) => void): Spec {
  const f = fixture();
  try {
    tweak?.(f);
    const s = buildSpec(BUSYBOX, opts, f.ctx);
    validateConfig(s);
    return JSON.parse(JSON.stringify(s).replaceAll(f.dir, '/F')) as Spec;
  } finally { f.cleanup(); }
}

const mount = (s: Spec, dest: string): Mount | undefined => s.mounts!.find((m) => m.destination === dest);
const nsTypes = (s: Spec) => s.linux!.namespaces!.map((n) => n.type).sort();
const rejects = (opts: RunOptions, message: RegExp | string, kind = 'invalid') => {
  const f = fixture();
  try {
    assert.throws(() => buildSpec(BUSYBOX, opts, f.ctx), (e: any) => {
      assert.equal(e.kind, kind);
      if (typeof message === 'string') assert.equal(e.message, message); else assert.match(e.message, message);
      return true;
    });
  } finally { f.cleanup(); }
};

test('run -it --rm -m 256m busybox sh', () => {
  const s = build({ tty: true, openStdin: true, memory: 256 * 1024 * 1024, cmd: ['sh'] });
  assert.deepEqual(s.process!.args, ['sh']);
  assert.equal(s.process!.terminal, true);
  assert.deepEqual(s.process!.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `HOSTNAME=${ID.slice(0, 12)}`, 'TERM=xterm', 'HOME=/root']);
  assert.equal(s.process!.cwd, '/');
  assert.deepEqual(s.process!.user, { uid: 0, gid: 0, additionalGids: [0, 10] });
  assert.equal(s.hostname, ID.slice(0, 12));
  assert.deepEqual(s.root, { path: '/F/rootfs', readonly: false });
  assert.deepEqual(s.linux!.resources!.memory, { limit: 268435456, swap: 536870912 });
  assert.deepEqual(s.linux!.resources!.devices, DOCKER_DEFAULT_DEVICE_RULES);
  assert.equal(s.linux!.resources!.pids, undefined);
  assert.deepEqual(s.process!.capabilities, { bounding: [...DOCKER_DEFAULT_CAPS], effective: [...DOCKER_DEFAULT_CAPS], permitted: [...DOCKER_DEFAULT_CAPS] });
  assert.equal(s.linux!.seccomp!.defaultAction, 'SCMP_ACT_ERRNO');
  assert.ok(s.linux!.seccomp!.syscalls!.some((r) => r.names.includes('read')));
  assert.deepEqual(nsTypes(s), ['ipc', 'mount', 'network', 'pid', 'uts']);
  assert.equal(s.linux!.cgroupsPath, `/berth/${ID}`);
  assert.equal(s.process!.oomScoreAdj, 0);
  assert.equal(s.process!.rlimits, undefined);
  assert.ok(s.linux!.maskedPaths!.includes('/proc/kcore'));
  assert.deepEqual(s.linux!.readonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  assert.deepEqual(s.mounts!.map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/etc/resolv.conf', '/etc/hostname', '/etc/hosts', '/dev/shm']);
  assert.deepEqual(mount(s, '/etc/hosts'), { destination: '/etc/hosts', type: 'bind', source: '/F/hosts', options: ['rbind', 'rprivate'] });
  assert.deepEqual(mount(s, '/dev/shm'), { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'] });
  assert.deepEqual(s.annotations, { [STOP_SIGNAL_ANNOTATION]: 'SIGTERM' });
});

test('--privileged: all caps, no seccomp, nothing masked, host devices, rw /sys and cgroup', () => {
  const s = build({ privileged: true });
  assert.deepEqual(s.process!.capabilities!.bounding, allCapabilities());
  assert.ok(s.process!.capabilities!.effective!.includes('CAP_SYS_ADMIN'));
  assert.equal(s.linux!.seccomp, undefined);
  assert.equal(s.linux!.maskedPaths, undefined);
  assert.equal(s.linux!.readonlyPaths, undefined);
  assert.deepEqual(s.linux!.resources!.devices!.at(-1), { allow: true, access: 'rwm' });
  const nul = s.linux!.devices!.find((d) => d.path === '/dev/null');
  assert.deepEqual(nul && { type: nul.type, major: nul.major, minor: nul.minor }, { type: 'c', major: 1, minor: 3 });
  assert.ok(!s.linux!.devices!.some((d) => d.path.startsWith('/dev/pts/')));
  assert.deepEqual(mount(s, '/sys')!.options, ['nosuid', 'noexec', 'nodev']);
  assert.deepEqual(mount(s, '/sys/fs/cgroup')!.options, ['nosuid', 'noexec', 'nodev']);
});

test('--cap-drop ALL --cap-add NET_ADMIN, and the other cap rules', () => {
  const s = build({ capDrop: ['ALL'], capAdd: ['NET_ADMIN'] });
  assert.deepEqual(s.process!.capabilities, { bounding: ['CAP_NET_ADMIN'], effective: ['CAP_NET_ADMIN'], permitted: ['CAP_NET_ADMIN'] });
  // seccomp rules gated on caps follow the bounding set: no CAP_SYS_ADMIN, so clone3 gets ENOSYS.
  assert.ok(s.linux!.seccomp!.syscalls!.some((r) => r.names.includes('clone3') && r.errnoRet === 38));
  const t = build({ capAdd: ['sys_admin', 'CAP_CHOWN'], capDrop: ['net_raw'] });
  assert.deepEqual(t.process!.capabilities!.bounding, [...DOCKER_DEFAULT_CAPS.filter((c) => c !== 'CAP_NET_RAW'), 'CAP_SYS_ADMIN']);
  assert.ok(!t.linux!.seccomp!.syscalls!.some((r) => r.names.includes('clone3') && r.errnoRet === 38));
  const all = build({ capAdd: ['ALL'], capDrop: ['MKNOD'] });
  assert.deepEqual(all.process!.capabilities!.bounding, allCapabilities().filter((c) => c !== 'CAP_MKNOD'));
  rejects({ capAdd: ['BOGUS'] }, 'unknown capability: "CAP_BOGUS"');
});

test('--read-only --tmpfs /tmp', () => {
  const s = build({ readOnly: true, tmpfs: { '/tmp': '' } });
  assert.equal(s.root!.readonly, true);
  assert.deepEqual(mount(s, '/tmp'), { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'rprivate'] });
  assert.deepEqual(mount(s, '/etc/hosts')!.options, ['rbind', 'rro', 'rprivate']);
  assert.deepEqual(mount(s, '/dev/mqueue')!.options, ['nosuid', 'noexec', 'nodev']);
  assert.deepEqual(mount(s, '/sys/fs/cgroup')!.options, ['ro', 'nosuid', 'noexec', 'nodev']);
  const t = build({ tmpfs: { '/run': 'rw,exec,size=64m', '/a/b': 'mode=1770' } });
  assert.deepEqual(mount(t, '/run')!.options, ['nosuid', 'nodev', 'rprivate', 'rw', 'exec', 'size=64m']);
  const order = t.mounts!.map((m) => m.destination);
  assert.ok(order.indexOf('/run') < order.indexOf('/a/b'), 'parents before children');
  rejects({ tmpfs: { '/x': 'bogus' } }, 'invalid tmpfs option ["bogus"]');
  const old = build({ readOnly: true }, (f) => { f.ctx.kernel = [5, 4]; });
  assert.deepEqual(mount(old, '/etc/hosts')!.options, ['rbind', 'ro', 'rprivate']);
});

test('-u nobody, -u 1000:1000 --group-add 50, names, and missing users', () => {
  assert.deepEqual(build({ user: 'nobody' }).process!.user, { uid: 65534, gid: 65534, additionalGids: [65534] });
  assert.deepEqual(build({ user: '1000:1000', groupAdd: ['50'] }).process!.user, { uid: 1000, gid: 1000, additionalGids: [1000, 50] });
  assert.deepEqual(build({ user: 'user' }).process!.user, { uid: 1000, gid: 1000, additionalGids: [1000, 10, 50] });
  assert.deepEqual(build({ user: 'user:users', groupAdd: ['staff', '4242'] }).process!.user, { uid: 1000, gid: 100, additionalGids: [100, 50, 4242] });
  assert.deepEqual(build({ user: '4000' }).process!.user, { uid: 4000, gid: 0, additionalGids: [0] });
  rejects({ user: 'foo' }, 'unable to find user foo: no matching entries in passwd file');
  rejects({ user: 'user:nope' }, 'unable to find group nope: no matching entries in group file');
  rejects({ groupAdd: ['nope'] }, 'Unable to find group nope: no matching entries in group file');
});

test('the image user, and passwd read inside the rootfs only', () => {
  const f = fixture();
  try {
    const img = structuredClone(BUSYBOX);
    img.config!.User = 'daemon';
    assert.deepEqual(buildSpec(img, {}, f.ctx).process!.user, { uid: 1, gid: 1, additionalGids: [1] });
    // /etc/passwd as an absolute link to the host's: followed inside the rootfs, where it is missing.
    mkdirSync(join(f.rootfs, 'host/etc'), { recursive: true });
    writeFileSync(join(f.rootfs, 'host/etc/passwd'), 'root:x:0:0::/:/bin/sh\nlinked:x:77:77::/:/bin/sh\n');
    rmSync(join(f.rootfs, 'etc/passwd'));
    symlinkSync('/host/etc/passwd', join(f.rootfs, 'etc/passwd'));
    assert.deepEqual(buildSpec(BUSYBOX, { user: 'linked' }, f.ctx).process!.user, { uid: 77, gid: 77, additionalGids: [77] });
    // Links that would escape (relative or absolute) stay inside: the file outside is never read.
    writeFileSync(join(f.dir, 'outside'), 'escaped:x:99:99::/:/bin/sh\n');
    for (const target of ['../../outside', '/../../outside']) {
      rmSync(join(f.rootfs, 'etc/passwd'));
      symlinkSync(target, join(f.rootfs, 'etc/passwd'));
      assert.throws(() => buildSpec(BUSYBOX, { user: 'escaped' }, f.ctx), /unable to find user escaped: no matching entries in passwd file/);
    }
    // A link loop is an error, not a hang.
    rmSync(join(f.rootfs, 'etc/passwd'));
    symlinkSync('../../../../etc/passwd', join(f.rootfs, 'etc/passwd'));
    assert.throws(() => buildSpec(BUSYBOX, { user: 'x' }, f.ctx), /too many levels of symbolic links/);
  } finally { f.cleanup(); }
});

test('--entrypoint, Cmd and Env merge', () => {
  const f = fixture();
  try {
    const img = structuredClone(BUSYBOX);
    img.config = { Entrypoint: ['/entry', '-x'], Cmd: ['default'], Env: ['PATH=/img/bin', 'A=1', 'B=2'], WorkingDir: '/work', StopSignal: 'SIGQUIT' };
    const run = (o: RunOptions) => buildSpecAndConfig(img, o, f.ctx);
    assert.deepEqual(run({}).spec.process!.args, ['/entry', '-x', 'default']);
    assert.deepEqual(run({ cmd: ['ls', '-l'] }).spec.process!.args, ['/entry', '-x', 'ls', '-l']);
    assert.deepEqual(run({ entrypoint: '/bin/echo' }).spec.process!.args, ['/bin/echo']);
    assert.deepEqual(run({ entrypoint: '/bin/echo', cmd: ['hi'] }).spec.process!.args, ['/bin/echo', 'hi']);
    assert.deepEqual(run({ entrypoint: '', cmd: ['echo', 'hi'] }).spec.process!.args, ['echo', 'hi']);
    assert.throws(() => run({ entrypoint: '' }), (e: any) => e.kind === 'invalid' && e.message === 'no command specified');
    const r = run({ env: ['B=3', 'C=4', 'A'], tty: false, hostname: 'box' });
    assert.deepEqual(r.spec.process!.env, ['PATH=/img/bin', 'HOSTNAME=box', 'B=3', 'C=4', 'HOME=/root']);
    assert.deepEqual(r.config.env, ['B=3', 'C=4', 'A', 'PATH=/img/bin']);
    assert.equal(r.spec.process!.cwd, '/work');
    assert.equal(run({ workdir: '/a/b/' }).spec.process!.cwd, '/a/b');
    assert.equal(r.spec.annotations![STOP_SIGNAL_ANNOTATION], 'SIGQUIT');
    assert.equal(run({ stopSignal: '9' }).spec.annotations![STOP_SIGNAL_ANNOTATION], 'SIGKILL');
    assert.throws(() => run({ stopSignal: 'NOPE' }), /Invalid signal: NOPE/);
    assert.throws(() => run({ workdir: 'rel' }), /the working directory 'rel' is invalid, it needs to be an absolute path/);
    assert.throws(() => run({ hostname: 'bad_name' }), /invalid hostname format: bad_name/);
  } finally { f.cleanup(); }
});

test('--init prefixes the init and mounts it read-only (private pid namespace only)', () => {
  const s = build({ init: true, cmd: ['sleep', '1'] });
  assert.deepEqual(s.process!.args, ['/sbin/docker-init', '--', 'sleep', '1']);
  assert.deepEqual(mount(s, '/sbin/docker-init'), { destination: '/sbin/docker-init', type: 'bind', source: '/F/docker-init', options: ['bind', 'ro'] });
  const h = build({ init: true, pid: 'host', cmd: ['sleep', '1'] });
  assert.deepEqual(h.process!.args, ['sleep', '1']);
  assert.deepEqual(nsTypes(h), ['ipc', 'mount', 'network', 'uts']);
});

test('--pids-limit, --cpus and other resources', () => {
  assert.deepEqual(build({ pidsLimit: 100 }).linux!.resources!.pids, { limit: 100 });
  assert.deepEqual(build({ pidsLimit: 0 }).linux!.resources!.pids, { limit: -1 });
  const s = build({ nanoCpus: 1_500_000_000, cpuShares: 1, cpusetCpus: '0-1', memory: 64 << 20, memorySwap: -1, memoryReservation: 32 << 20, oomKillDisable: true, oomScoreAdj: 500, blkioWeight: 300 });
  assert.deepEqual(s.linux!.resources!.cpu, { shares: 2, cpus: '0-1', period: 100000, quota: 150000 });
  assert.deepEqual(s.linux!.resources!.memory, { limit: 64 << 20, reservation: 32 << 20, swap: -1, disableOOMKiller: true });
  assert.deepEqual(s.linux!.resources!.blockIO, { weight: 300 });
  assert.equal(s.process!.oomScoreAdj, 500);
  const u = build({ ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }, { name: 'core', soft: -1, hard: -1 }] });
  assert.deepEqual(u.process!.rlimits!.map((r) => [r.type, r.soft]), [['RLIMIT_NOFILE', 1024], ['RLIMIT_CORE', 18446744073709551615]]);
  rejects({ memory: 1024 }, 'Minimum memory limit allowed is 6MB');
  rejects({ memory: 64 << 20, memorySwap: 32 << 20 }, 'Minimum memoryswap limit should be larger than memory limit, see usage');
  rejects({ memorySwap: 64 << 20 }, 'You should always set the Memory limit when using Memoryswap limit, see usage');
  rejects({ nanoCpus: 3e9 }, 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available');
  rejects({ nanoCpus: 1e9, cpuQuota: 50000 }, 'Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  rejects({ cpuPeriod: 10 }, 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  rejects({ cpusetCpus: '1-0' }, 'Invalid value 1-0 for cpuset cpus');
  rejects({ blkioWeight: 5 }, 'Range of blkio weight is from 10 to 1000');
  rejects({ oomScoreAdj: 1001 }, 'Invalid value 1001, range for oom score adj is [-1000, 1000]');
  const warnings: string[] = [];
  build({ oomKillDisable: true }, (f) => { f.ctx.warn = (m) => warnings.push(m); });
  assert.match(warnings[0] ?? '', /OOM killer is disabled/);
});

test('--network none / host / container:, --ipc host, --uts host, --cgroupns private', () => {
  const none = build({ network: 'none' });
  assert.ok(nsTypes(none).includes('network'));
  assert.equal(none.linux!.sysctl!['net.ipv4.ip_unprivileged_port_start'], '0');
  const host = build({ network: 'host' });
  assert.deepEqual(nsTypes(host), ['ipc', 'mount', 'pid', 'uts']);
  assert.equal(host.hostname, 'thehost');
  assert.equal(host.linux!.sysctl, undefined);
  const joined = build({ network: 'container:1234', pid: 'container:/proc/1234/ns/pid' });
  assert.deepEqual(joined.linux!.namespaces!.find((n) => n.type === 'network'), { type: 'network', path: '/proc/1234/ns/net' });
  assert.deepEqual(joined.linux!.namespaces!.find((n) => n.type === 'pid'), { type: 'pid', path: '/proc/1234/ns/pid' });
  const ipc = build({ ipc: 'host' });
  assert.ok(!nsTypes(ipc).includes('ipc'));
  assert.deepEqual(mount(ipc, '/dev/shm'), { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] });
  assert.equal(mount(build({ ipc: 'none' }), '/dev/shm'), undefined);
  assert.deepEqual(mount(build({ shmSize: 1 << 20 }), '/dev/shm')!.options!.at(-1), 'size=1048576');
  const uts = build({ uts: 'host' });
  assert.ok(!nsTypes(uts).includes('uts'));
  assert.equal(uts.hostname, undefined);
  assert.ok(nsTypes(build({ cgroupns: 'private' })).includes('cgroup'));
  rejects({ ipc: 'bogus' }, 'invalid IPC mode: bogus');
  rejects({ uts: 'host', hostname: 'x' }, 'conflicting options: hostname and the UTS mode');
  rejects({ network: 'container:1', hostname: 'x' }, 'conflicting options: hostname and the network mode');
});

test('--sysctl net.ipv4.ip_forward=1 with and without --network host; ipc sysctls; --domainname', () => {
  assert.equal(build({ sysctls: { 'net.ipv4.ip_forward': '1' } }).linux!.sysctl!['net.ipv4.ip_forward'], '1');
  rejects({ network: 'host', sysctls: { 'net.ipv4.ip_forward': '1' } }, 'sysctl "net.ipv4.ip_forward" not allowed in host network namespace');
  rejects({ network: 'container:/proc/self/ns/net', sysctls: { 'net.core.somaxconn': '1' } }, 'sysctl "net.core.somaxconn" not allowed in host network namespace');
  assert.equal(build({ sysctls: { 'kernel.shmmax': '1000' } }).linux!.sysctl!['kernel.shmmax'], '1000');
  rejects({ ipc: 'host', sysctls: { 'kernel.shmmax': '1000' } }, 'sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace');
  rejects({ sysctls: { 'vm.swappiness': '1' } }, 'sysctl "vm.swappiness" is not in a separate kernel namespace');
  rejects({ sysctls: { 'kernel.hostname': 'x' } }, 'sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field');
  assert.equal(build({ domainname: 'example.org' }).linux!.sysctl!['kernel.domainname'], 'example.org');
});

test('security options: seccomp unconfined / custom, no-new-privileges, systempaths', () => {
  assert.equal(build({ securityOpt: ['seccomp=unconfined'] }).linux!.seccomp, undefined);
  const custom = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] });
  assert.deepEqual(build({ securityOpt: [`seccomp=${custom}`] }).linux!.seccomp, { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] });
  assert.equal(build({ securityOpt: ['no-new-privileges'] }).process!.noNewPrivileges, true);
  assert.equal(build({ securityOpt: ['no-new-privileges=false'] }).process!.noNewPrivileges, undefined);
  const sp = build({ securityOpt: ['systempaths=unconfined', 'label=disable', 'apparmor=unconfined'] });
  assert.equal(sp.linux!.maskedPaths, undefined);
  rejects({ securityOpt: ['bogus'] }, 'invalid --security-opt 1: "bogus"');
  rejects({ securityOpt: ['foo=bar'] }, 'invalid --security-opt 2: "foo=bar"');
});

test('--device and blkio throttles take numbers from the host node', () => {
  const s = build({ devices: [{ pathOnHost: '/dev/null', pathInContainer: '/dev/mynull', cgroupPermissions: 'rw' }], deviceReadBps: [{ path: '/dev/zero', rate: 1 << 20 }] });
  const d = s.linux!.devices!.find((x) => x.path === '/dev/mynull')!;
  assert.deepEqual({ type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode }, { type: 'c', major: 1, minor: 3, fileMode: 0o666 });
  assert.deepEqual(s.linux!.resources!.devices!.at(-1), { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' });
  assert.deepEqual(s.linux!.resources!.blockIO!.throttleReadBpsDevice, [{ major: 1, minor: 5, rate: 1 << 20 }]);
  rejects({ devices: [{ pathOnHost: '/dev/nonexistent-x', pathInContainer: '/dev/x', cgroupPermissions: 'rwm' }] }, /error gathering device information while adding custom device "\/dev\/nonexistent-x"/);
});

test('user mounts: -v, --mount, tmpfs, network file override, depth order, duplicates', () => {
  const f = fixture();
  try {
    mkdirSync(join(f.dir, 'data'));
    writeFileSync(join(f.dir, 'myhosts'), '');
    const mounts = [
      parseVolume(`${f.dir}/data:/data/deep:ro`),
      parseMount(`type=bind,source=${f.dir}/data,target=/data,bind-propagation=rslave`),
      { ...parseVolume('vol:/vol'), source: `${f.dir}/data` },
      parseMount('type=tmpfs,target=/scratch,tmpfs-size=64m,tmpfs-mode=1770'),
      parseVolume(`${f.dir}/myhosts:/etc/hosts:ro`),
    ];
    const spec = buildSpec(BUSYBOX, { mounts, tmpfs: Object.fromEntries([parseTmpfs('/run:size=1m')]) }, f.ctx);
    validateConfig(spec);
    const user = spec.mounts!.slice(6).map((m) => [m.destination, m.type, m.options?.join(',')]);
    assert.deepEqual(user, [
      ['/data', 'bind', 'rbind,rslave'],
      ['/vol', 'bind', 'rbind'],
      ['/scratch', 'tmpfs', 'noexec,nosuid,nodev,rprivate,mode=1770,size=64m'],
      ['/run', 'tmpfs', 'noexec,nosuid,nodev,rprivate,size=1m'],
      ['/data/deep', 'bind', 'rbind,rro,rprivate'],
      ['/etc/resolv.conf', 'bind', 'rbind,rprivate'],
      ['/etc/hostname', 'bind', 'rbind,rprivate'],
      ['/etc/hosts', 'bind', 'rbind,rro,rprivate'],
      ['/dev/shm', 'tmpfs', 'nosuid,noexec,nodev,mode=1777,size=67108864'],
    ]);
    assert.equal(mount(spec, '/etc/hosts')!.source, join(f.dir, 'myhosts'));
    assert.equal(spec.linux!.rootfsPropagation, 'slave');
    assert.throws(() => buildSpec(BUSYBOX, { mounts: [mounts[1], mounts[1]] }, f.ctx), /Duplicate mount point: \/data/);
  } finally { f.cleanup(); }
});


test('--sysctl net.* with another container\'s network namespace is allowed', async (t) => {
  const child = spawn('unshare', ['--net', 'sleep', '30'], { stdio: 'ignore' });
  try {
    const path = `/proc/${child.pid}/ns/net`;
    let other = false;
    for (let i = 0; i < 100 && !other; i++) {
      try { other = statSync(path).ino !== statSync('/proc/self/ns/net').ino; } catch { /* not yet */ }
      if (!other) await new Promise((r) => setTimeout(r, 20));
    }
    if (!other) return t.skip('cannot create a network namespace here (unshare --net)');
    assert.equal(build({ network: `container:${child.pid}`, sysctls: { 'net.core.somaxconn': '1' } }).linux!.sysctl!['net.core.somaxconn'], '1');
  } finally { child.kill('SIGKILL'); }
});
