/**
 * `berth run` security options with their real effects inside the container: read-only rootfs,
 * capabilities, seccomp (default, unconfined, a custom profile), --privileged, no-new-privileges,
 * namespaced sysctls, devices and the devices cgroup, Docker's masked and read-only /proc paths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli } from './run-util.js';

const skip = cannotRun();

/** Docker's default capability set (CapEff of a default container). */
const DOCKER_DEFAULT_CAPS = '00000000a80425fb';

test('--read-only: writes to / fail with EROFS; --tmpfs /tmp stays writable', { skip }, () => withCli(async (c) => {
  const r = await c.berth(['run', '--rm', '--read-only', '--tmpfs', '/tmp', 'busybox', 'sh', '-c',
    'touch /x; echo "root=$?"; echo ok > /tmp/y && cat /tmp/y; grep " /tmp " /proc/mounts | cut -d" " -f3']);
  assert.equal(r.out, 'root=1\nok\ntmpfs\n', r.err);
  assert.match(r.err, /\/x: Read-only file system/);
  // without --read-only the same write works
  assert.equal(await c.ok(['run', '--rm', 'busybox', 'sh', '-c', 'touch /x && echo ok']), 'ok');
}));

test('capabilities: Docker\'s default set, --cap-drop CHOWN, --cap-drop ALL --cap-add', { skip }, () => withCli(async (c) => {
  assert.equal(await c.ok(['run', '--rm', 'busybox', 'sh', '-c', 'grep CapEff /proc/self/status | cut -f2; touch /f; chown 1000 /f && echo chowned']),
    `${DOCKER_DEFAULT_CAPS}\nchowned`);
  let r = await c.berth(['run', '--rm', '--cap-drop', 'CHOWN', 'busybox', 'sh', '-c', 'touch /f; chown 1000 /f; echo "rc=$?"']);
  assert.equal(r.out, 'rc=1\n');
  assert.match(r.err, /chown: \/f: Operation not permitted/);
  r = await c.berth(['run', '--rm', '--cap-drop', 'ALL', '--cap-add', 'CHOWN', 'busybox', 'sh', '-c',
    'grep -E "Cap(Eff|Prm|Bnd)" /proc/self/status | cut -f2 | tr "\\n" " "; touch /f; chown 1000 /f && echo chowned; mknod /n c 1 3; echo "mknod=$?"']);
  assert.equal(r.out, '0000000000000001 0000000000000001 0000000000000001 chowned\nmknod=1\n');
  assert.match(r.err, /mknod: \/n: Operation not permitted/);
  // a non-root user has no effective capabilities
  assert.equal(await c.ok(['run', '--rm', '-u', '1000', 'busybox', 'sh', '-c', 'grep CapEff /proc/self/status | cut -f2']), '0000000000000000');
}));

test('seccomp: the default profile denies unshare; seccomp=unconfined allows it; a custom profile applies', { skip }, () => withCli(async (c) => {
  // creating a user namespace needs no capability, only seccomp stands in the way
  let r = await c.berth(['run', '--rm', 'busybox', 'sh', '-c', 'grep "^Seccomp:" /proc/self/status | cut -f2; unshare -U true; echo "rc=$?"']);
  assert.equal(r.out, '2\nrc=1\n');
  assert.match(r.err, /unshare.*Operation not permitted/);
  r = await c.berth(['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'sh', '-c', 'grep "^Seccomp:" /proc/self/status | cut -f2; unshare -U true; echo "rc=$?"']);
  assert.equal(r.out, '0\nrc=0\n', r.err);
  const tmp = mkdtempSync(join(tmpdir(), 'berth-seccomp-'));
  try {
    const profile = join(tmp, 'profile.json');
    writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }));
    r = await c.berth(['run', '--rm', '--security-opt', `seccomp=${profile}`, 'busybox', 'sh', '-c', 'mkdir /x; echo "rc=$?"; touch /y && echo touched']);
    assert.equal(r.out, 'rc=1\ntouched\n');
    assert.match(r.err, /mkdir: can't create directory '\/x': Operation not permitted/);
  } finally { rmSync(tmp, { recursive: true, force: true }); }
}));

test('--privileged: the host\'s devices and capabilities, mount works', {
  skip,
}, () => withCli(async (c) => {
  const hostCaps = /^CapEff:\s+(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1];
  const r = await c.berth(['run', '--rm', '--privileged', 'busybox', 'sh', '-c',
    'grep CapEff /proc/self/status | cut -f2; ls /dev; mkdir -p /mnt; mount -t tmpfs t /mnt && echo mounted; grep "^Seccomp:" /proc/self/status | cut -f2']);
  assert.equal(r.code, 0, r.err);
  const [caps, ...rest] = r.out.trim().split('\n');
  assert.equal(caps, hostCaps);
  if (existsSync('/dev/loop-control')) assert.ok(rest.includes('loop-control'), 'host devices are visible');
  assert.ok(rest.includes('mounted'));
  assert.equal(rest.at(-1), '0', 'no seccomp filter');
}));

test('--security-opt no-new-privileges: NoNewPrivs 1', { skip }, () => withCli(async (c) => {
  assert.equal(await c.ok(['run', '--rm', '--security-opt', 'no-new-privileges', 'busybox', 'sh', '-c', 'grep NoNewPrivs /proc/self/status | cut -f2']), '1');
  assert.equal(await c.ok(['run', '--rm', '--security-opt', 'no-new-privileges:true', 'busybox', 'sh', '-c', 'grep NoNewPrivs /proc/self/status | cut -f2']), '1');
  assert.equal(await c.ok(['run', '--rm', 'busybox', 'sh', '-c', 'grep NoNewPrivs /proc/self/status | cut -f2']), '0');
}));

test('--sysctl: set in the container\'s own namespaces only; net.* refused with --network host', { skip }, () => withCli(async (c) => {
  const hostFwd = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  const hostShm = readFileSync('/proc/sys/kernel/shmmax', 'utf8').trim();
  for (const v of ['0', '1']) {
    assert.equal(await c.ok(['run', '--rm', '--network', 'none', '--sysctl', `net.ipv4.ip_forward=${v}`, 'busybox', 'cat', '/proc/sys/net/ipv4/ip_forward']), v);
  }
  assert.equal(await c.ok(['run', '--rm', '--sysctl', 'kernel.shmmax=123456789', 'busybox', 'cat', '/proc/sys/kernel/shmmax']), '123456789');
  assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), hostFwd, 'the host is untouched');
  assert.equal(readFileSync('/proc/sys/kernel/shmmax', 'utf8').trim(), hostShm, 'the host is untouched');
  const r = await c.berth(['run', '--rm', '--network', 'host', '--sysctl', 'net.ipv4.ip_forward=0', 'busybox', 'true']);
  assert.equal(r.code, 125);
  assert.match(r.err, /net\.ipv4\.ip_forward.*not allowed in host network namespace/);
  assert.deepEqual(await c.ids(), []);
}));

test('--device: the node appears (renamed) and the devices cgroup lets it be opened', { skip }, () => withCli(async (c) => {
  assert.equal(await c.ok(['run', '--rm', '--device', '/dev/null:/dev/mynull', 'busybox', 'sh', '-c',
    'stat -c "%F %t:%T" /dev/mynull; echo hi > /dev/mynull && echo wrote']), 'character special file 1:3\nwrote');
  if (!existsSync('/dev/loop-control')) return;
  // a node made with mknod cannot be opened: the devices cgroup denies it ...
  let r = await c.berth(['run', '--rm', 'busybox', 'sh', '-c', 'test -e /dev/loop-control && echo present; mknod /lc c 10 237 && cat /lc']);
  assert.equal(r.out, '');
  assert.match(r.err, /can't open '\/lc': Operation not permitted/);
  // ... unless --device allows it (the open succeeds; reading loop-control itself is EINVAL)
  r = await c.berth(['run', '--rm', '--device', '/dev/loop-control', 'busybox', 'sh', '-c', 'stat -c "%t:%T" /dev/loop-control; cat /dev/loop-control']);
  assert.equal(r.out, 'a:ed\n');
  assert.doesNotMatch(r.err, /Operation not permitted/);
}));

test('Docker\'s /proc protections: /proc/sys read-only, masked paths empty', { skip }, () => withCli(async (c) => {
  const r = await c.berth(['run', '--rm', 'busybox', 'sh', '-c',
    'echo x > /proc/sys/kernel/domainname; echo "sys=$?"; grep " /proc/sys " /proc/mounts | cut -d" " -f4 | cut -d, -f1; ls /proc/acpi 2>/dev/null | wc -l; cat /proc/timer_list 2>/dev/null | wc -c']);
  assert.equal(r.out, 'sys=1\nro\n0\n0\n');
  assert.match(r.err, /Read-only file system/);
}));
