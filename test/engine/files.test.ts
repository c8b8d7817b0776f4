import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync,
  readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, utimesSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../src/lib/index.js';
import { lgetxattr, lsetxattr, mknod, mount, umount2, S_IFCHR, S_IFIFO } from '../../src/sys/index.js';
import {
  hostnameContent, hostsContent, buildHosts, parseAddHost, writeContainerFiles, containerFilePaths,
  parseResolvConf, filterResolvConf, buildResolvConf, writeFileAtomic,
  createVolumeDir, removeVolumeDir, volumeDataPath, validateVolumeName, copyUp,
} from '../../src/engine/files/index.js';

const DEFAULTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n'
  + 'ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';

function withTmp(fn: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-files-'));
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
}

const isBerth = (kind: string, re: RegExp) => (e: unknown) => e instanceof BerthError && e.kind === kind && re.test(e.message);

test('hostname file is the hostname and a newline', () => {
  assert.equal(hostnameContent('abc123def456'), 'abc123def456\n');
  assert.throws(() => hostnameContent(''), isBerth('invalid', /hostname/));
  assert.throws(() => hostnameContent('a b'), isBerth('invalid', /hostname/));
});

test('hosts: Docker defaults, then --add-host records, then the own address line', () => {
  assert.equal(hostsContent({ hostname: 'c1' }), DEFAULTS);
  assert.equal(
    hostsContent({ hostname: 'web', domainname: 'example.com', addresses: ['172.17.0.2'], extraHosts: [{ host: 'db', ip: '10.0.0.5' }, { host: 'v6', ip: '::2' }] }),
    DEFAULTS + '10.0.0.5\tdb\n::2\tv6\n172.17.0.2\tweb.example.com web\n',
  );
  assert.equal(hostsContent({ hostname: 'a.b.c', addresses: ['10.1.1.1'] }), DEFAULTS + '10.1.1.1\ta.b.c a\n');
  assert.equal(hostsContent({ hostname: 'x', ipv6Defaults: false }), '127.0.0.1\tlocalhost\n');
});

test('--add-host parsing', () => {
  assert.deepEqual(parseAddHost('db:10.0.0.5'), { host: 'db', ip: '10.0.0.5' });
  assert.deepEqual(parseAddHost('db=10.0.0.5'), { host: 'db', ip: '10.0.0.5' });
  assert.deepEqual(parseAddHost('v6:::1'), { host: 'v6', ip: '::1' });
  assert.deepEqual(parseAddHost('v6=[fe80::1]'), { host: 'v6', ip: 'fe80::1' });
  assert.deepEqual(parseAddHost('gw:host-gateway'), { host: 'gw', ip: 'host-gateway' });
  assert.throws(() => parseAddHost('nohost'), isBerth('invalid', /bad format for add-host/));
  assert.throws(() => parseAddHost('db:notanip'), isBerth('invalid', /invalid IP address/));
});

test('hosts with --network host: the host file as it is plus --add-host', withTmp(async (dir) => {
  const hostHosts = join(dir, 'hosts');
  writeFileSync(hostHosts, '127.0.0.1 localhost\n192.168.1.9 myhost');
  assert.equal(await buildHosts({ hostname: 'h', hostHostsPath: hostHosts, addresses: ['1.2.3.4'], extraHosts: [{ host: 'db', ip: '10.0.0.5' }] }),
    '127.0.0.1 localhost\n192.168.1.9 myhost\n10.0.0.5\tdb\n');
  await assert.rejects(buildHosts({ hostname: 'h', hostHostsPath: join(dir, 'missing') }), isBerth('notfound', /read host hosts file/));
}));

test('resolv.conf parsing', () => {
  const p = parseResolvConf('# c\nnameserver 1.1.1.1\nnameserver 9.9.9.9 # x\ndomain a\nsearch b c\noptions ndots:2\noptions rotate\n');
  assert.deepEqual(p, { nameservers: ['1.1.1.1', '9.9.9.9'], search: ['b', 'c'], options: ['ndots:2', 'rotate'] });
});

test('resolv.conf filtering: loopback and IPv6 nameservers dropped, fallback when none remain', () => {
  assert.equal(filterResolvConf('# gen\nnameserver 10.0.0.1\nsearch lan\n'), '# gen\nnameserver 10.0.0.1\nsearch lan\n');
  assert.equal(filterResolvConf('nameserver 127.0.0.1\nnameserver 10.0.0.1\nnameserver ::1\nnameserver 2001:db8::1\n'), 'nameserver 10.0.0.1\n');
  assert.equal(filterResolvConf('nameserver 2001:db8::1\nnameserver 10.0.0.1\n', true), 'nameserver 2001:db8::1\nnameserver 10.0.0.1\n');
  assert.equal(filterResolvConf('search lan\nnameserver 127.0.0.53\noptions edns0\n'), 'search lan\noptions edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(filterResolvConf(''), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(filterResolvConf('nameserver ::1\n', true),
    'nameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844\n');
});

test('resolv.conf source: systemd-resolved stub, its upstream file, host network, overrides', withTmp(async (dir) => {
  const host = join(dir, 'resolv.conf');
  const sysd = join(dir, 'systemd-resolv.conf');
  const stub = '# managed by systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp\n';
  writeFileSync(host, stub);
  // Stub only, upstream file missing: loopback stripped, Docker's fallback servers.
  assert.equal(await buildResolvConf({ network: 'bridge', hostResolvConf: host, systemdResolvConf: sysd }),
    '# managed by systemd-resolved\noptions edns0 trust-ad\nsearch corp\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  // Upstream file present: used instead (and filtered).
  writeFileSync(sysd, 'nameserver 192.168.1.1\nnameserver fd00::1\nsearch corp\n');
  assert.equal(await buildResolvConf({ network: 'none', hostResolvConf: host, systemdResolvConf: sysd }), 'nameserver 192.168.1.1\nsearch corp\n');
  assert.equal(await buildResolvConf({ network: 'bridge', ipv6: true, hostResolvConf: host, systemdResolvConf: sysd }),
    'nameserver 192.168.1.1\nnameserver fd00::1\nsearch corp\n');
  // Host network: the host's file as it is.
  assert.equal(await buildResolvConf({ network: 'host', hostResolvConf: host, systemdResolvConf: sysd }), stub);
  // Overrides: search, nameservers, options rebuilt; unspecified lists from the source.
  assert.equal(await buildResolvConf({ network: 'bridge', hostResolvConf: host, systemdResolvConf: sysd, dns: ['1.1.1.1', '127.0.0.1'] }),
    'search corp\nnameserver 1.1.1.1\nnameserver 127.0.0.1\n');
  assert.equal(await buildResolvConf({ network: 'bridge', hostResolvConf: host, systemdResolvConf: sysd, dnsSearch: ['a.example', 'b.example'], dnsOptions: ['ndots:3'] }),
    'search a.example b.example\nnameserver 192.168.1.1\noptions ndots:3\n');
  assert.equal(await buildResolvConf({ network: 'bridge', hostResolvConf: host, dnsSearch: ['.'] }),
    'nameserver 8.8.8.8\nnameserver 8.8.4.4\noptions edns0 trust-ad\n');
  assert.equal(await buildResolvConf({ network: 'host', hostResolvConf: host, dnsOptions: ['rotate'] }),
    'search corp\nnameserver 127.0.0.53\noptions rotate\n');
  // A stub that is not the only nameserver is not systemd-resolved's: the host file is used.
  writeFileSync(host, 'nameserver 127.0.0.53\nnameserver 10.9.9.9\n');
  assert.equal(await buildResolvConf({ network: 'bridge', hostResolvConf: host, systemdResolvConf: sysd }), 'nameserver 10.9.9.9\n');
  // Missing host file: fallback.
  assert.equal(await buildResolvConf({ network: 'bridge', hostResolvConf: join(dir, 'nope') }), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
}));

test('writeContainerFiles writes all three files atomically, mode 0644, no temp files left', withTmp(async (dir) => {
  const cdir = join(dir, 'c');
  mkdirSync(cdir);
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 10.0.0.1\n');
  writeFileSync(join(dir, 'hosts'), '127.0.0.1 hostbox\n');
  const host = { resolvConf: join(dir, 'resolv.conf'), systemdResolvConf: join(dir, 'none'), hosts: join(dir, 'hosts') };
  const old = process.umask(0o077);
  try {
    const p = await writeContainerFiles(cdir, { hostname: 'abc', network: 'bridge', addresses: ['172.17.0.3'], extraHosts: [{ host: 'db', ip: '10.0.0.5' }] }, host);
    assert.deepEqual(p, containerFilePaths(cdir));
    assert.equal(readFileSync(p.hostname, 'utf8'), 'abc\n');
    assert.equal(readFileSync(p.hosts, 'utf8'), DEFAULTS + '10.0.0.5\tdb\n172.17.0.3\tabc\n');
    assert.equal(readFileSync(p.resolvConf, 'utf8'), 'nameserver 10.0.0.1\n');
    for (const f of [p.hostname, p.hosts, p.resolvConf]) assert.equal(statSync(f).mode & 0o777, 0o644);
    // --network none: no own address line; --network host: the host's hosts.
    await writeContainerFiles(cdir, { hostname: 'abc', network: 'none', addresses: ['172.17.0.3'] }, host);
    assert.equal(readFileSync(p.hosts, 'utf8'), DEFAULTS);
    await writeContainerFiles(cdir, { hostname: 'abc', network: 'host' }, host);
    assert.equal(readFileSync(p.hosts, 'utf8'), '127.0.0.1 hostbox\n');
  } finally {
    process.umask(old);
  }
  assert.deepEqual(readdirSync(cdir).sort(), ['hostname', 'hosts', 'resolv.conf']);
}));

test('writeFileAtomic replaces a file and leaves nothing behind on failure', withTmp(async (dir) => {
  const f = join(dir, 'f');
  writeFileSync(f, 'old');
  await writeFileAtomic(f, 'new', 0o600);
  assert.equal(readFileSync(f, 'utf8'), 'new');
  assert.equal(statSync(f).mode & 0o777, 0o600);
  await assert.rejects(writeFileAtomic(join(dir, 'missing', 'x'), 'y'), (e: unknown) => e instanceof BerthError && /missing\/x/.test(e.message));
  // Target is a non-empty directory: rename fails, the temp file is removed.
  mkdirSync(join(dir, 'd', 'sub'), { recursive: true });
  await assert.rejects(writeFileAtomic(join(dir, 'd'), 'y'), (e: unknown) => e instanceof BerthError);
  assert.deepEqual(readdirSync(dir).sort(), ['d', 'f']);
}));

test('volume directories: layout, modes, idempotent create, remove, name validation', withTmp(async (dir) => {
  const root = join(dir, 'root');
  const old = process.umask(0o077);
  let r;
  try { r = await createVolumeDir(root, 'myvol'); } finally { process.umask(old); }
  assert.deepEqual(r, { data: join(root, 'volumes', 'myvol', '_data'), created: true });
  assert.equal(r.data, volumeDataPath(root, 'myvol'));
  assert.equal(statSync(join(root, 'volumes')).mode & 0o7777, 0o701);
  assert.equal(statSync(join(root, 'volumes', 'myvol')).mode & 0o7777, 0o701);
  assert.equal(statSync(r.data).mode & 0o7777, 0o755);
  writeFileSync(join(r.data, 'keep'), 'x');
  assert.deepEqual(await createVolumeDir(root, 'myvol'), { data: r.data, created: false });
  assert.ok(existsSync(join(r.data, 'keep')));
  for (const bad of ['a', '../x', '/abs', 'a/b', '-x', '.x', 'a b', '']) {
    assert.throws(() => validateVolumeName(bad), isBerth('invalid', /includes invalid characters for a local volume name/), bad);
    await assert.rejects(createVolumeDir(root, bad), isBerth('invalid', /invalid characters/));
    await assert.rejects(removeVolumeDir(root, bad), isBerth('invalid', /invalid characters/));
  }
  validateVolumeName('a1_b.c-d');
  assert.equal(await removeVolumeDir(root, 'myvol'), true);
  assert.equal(existsSync(join(root, 'volumes', 'myvol')), false);
  assert.equal(await removeVolumeDir(root, 'myvol'), false);
}));

function xattrsWork(path: string): boolean {
  try { lsetxattr(path, 'user.berth.probe', 'x'); return true; } catch { return false; }
}

test('copyUp copies ownership, modes, times, xattrs, symlinks, hard links, nodes', withTmp(async (dir) => {
  // xattrs are checked when the temp filesystem takes user.* attributes (ext4, tmpfs do).
  const rootfs = join(dir, 'rootfs');
  const src = join(rootfs, 'var', 'data');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'suid'), '#!/bin/sh\n');
  chownSync(join(src, 'suid'), 1234, 5678);
  chmodSync(join(src, 'suid'), 0o4750);
  chownSync(join(src, 'sub'), 42, 43);
  chmodSync(join(src, 'sub'), 0o1750);
  writeFileSync(join(src, 'sub', 'a'), 'hello');
  linkSync(join(src, 'sub', 'a'), join(src, 'b-hardlink'));
  symlinkSync('/etc/passwd', join(src, 'abs-link'));
  symlinkSync('../../../../outside', join(src, 'rel-link'));
  mknod(join(src, 'null'), S_IFCHR | 0o666, 1, 3);
  mknod(join(src, 'fifo'), S_IFIFO | 0o640, 0, 0);
  chmodSync(join(src, 'null'), 0o666); // mknod's mode went through the umask
  utimesSync(join(src, 'sub', 'a'), new Date('2001-02-03T04:05:06.789Z'), new Date('2002-03-04T05:06:07.123Z'));
  const haveX = xattrsWork(join(src, 'sub', 'a'));
  chownSync(src, 7, 8);
  chmodSync(src, 0o750);
  const vol = await createVolumeDir(join(dir, 'root'), 'cu');

  const res = await copyUp(rootfs, '/var/data', vol.data);
  assert.deepEqual(res, { copied: true, source: src });
  const d = vol.data;
  assert.deepEqual(readdirSync(d).sort(), ['abs-link', 'b-hardlink', 'fifo', 'null', 'rel-link', 'sub', 'suid']);
  const s = lstatSync(join(d, 'suid'));
  assert.equal(s.uid, 1234); assert.equal(s.gid, 5678); assert.equal(s.mode & 0o7777, 0o4750);
  const sub = lstatSync(join(d, 'sub'));
  assert.equal(sub.uid, 42); assert.equal(sub.gid, 43); assert.equal(sub.mode & 0o7777, 0o1750);
  assert.equal(readFileSync(join(d, 'sub', 'a'), 'utf8'), 'hello');
  const a = lstatSync(join(d, 'sub', 'a'), { bigint: true });
  const srcA = lstatSync(join(src, 'sub', 'a'), { bigint: true });
  assert.equal(a.mtimeNs, srcA.mtimeNs);
  assert.equal(a.ino, lstatSync(join(d, 'b-hardlink'), { bigint: true }).ino, 'hard link kept');
  assert.equal(a.nlink, 2n);
  assert.notEqual(a.ino, srcA.ino);
  assert.equal(readlinkSync(join(d, 'abs-link')), '/etc/passwd');
  assert.equal(readlinkSync(join(d, 'rel-link')), '../../../../outside');
  const n = lstatSync(join(d, 'null'));
  assert.ok(n.isCharacterDevice()); assert.equal(n.rdev, lstatSync(join(src, 'null')).rdev); assert.equal(n.mode & 0o777, 0o666);
  assert.ok(lstatSync(join(d, 'fifo')).isFIFO()); assert.equal(lstatSync(join(d, 'fifo')).mode & 0o777, 0o640);
  if (haveX) assert.equal(lgetxattr(join(d, 'sub', 'a'), 'user.berth.probe')?.toString(), 'x');
  // The volume root takes the image directory's owner and mode.
  const root = lstatSync(d);
  assert.equal(root.uid, 7); assert.equal(root.gid, 8); assert.equal(root.mode & 0o7777, 0o750);

  // Not empty any more: a second mount copies nothing.
  writeFileSync(join(src, 'late'), 'x');
  assert.equal((await copyUp(rootfs, '/var/data', d)).copied, false);
  assert.equal(existsSync(join(d, 'late')), false);
}));

test('copyUp resolves the mount point inside the rootfs and never leaves it', withTmp(async (dir) => {
  const rootfs = join(dir, 'rootfs');
  const outside = join(dir, 'outside');
  mkdirSync(join(rootfs, 'real'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'host data');
  writeFileSync(join(rootfs, 'real', 'inside'), 'image data');
  symlinkSync('/real', join(rootfs, 'abs'));
  symlinkSync('../../../outside', join(rootfs, 'escape'));
  symlinkSync(outside, join(rootfs, 'hostabs'));
  const v1 = await createVolumeDir(join(dir, 'root'), 'v1');
  assert.deepEqual(await copyUp(rootfs, '/abs', v1.data), { copied: true, source: join(rootfs, 'real') });
  assert.deepEqual(readdirSync(v1.data), ['inside']);
  for (const [name, p] of [['v2', '/escape'], ['v3', '/hostabs'], ['v4', '/missing/dir'], ['v5', '/real/inside']] as const) {
    const v = await createVolumeDir(join(dir, 'root'), name);
    assert.equal((await copyUp(rootfs, p, v.data)).copied, false, p);
    assert.deepEqual(readdirSync(v.data), [], p);
  }
  await assert.rejects(copyUp(rootfs, '/real', join(dir, 'no-volume')), (e: unknown) => e instanceof BerthError && /no-volume/.test(e.message));
}));

test('copyUp empties the volume again when the copy fails', async (t) => withTmp(async (dir) => {
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'data', 'a'), { recursive: true });
  writeFileSync(join(rootfs, 'data', 'a', 'small'), 'x');
  writeFileSync(join(rootfs, 'data', 'z-big'), Buffer.alloc(1 << 20, 1));
  // The volume root on a 256 KiB tmpfs: the big file fails with ENOSPC after the rest was copied.
  const root = join(dir, 'root');
  mkdirSync(root);
  try { mount('tmpfs', root, 'tmpfs', 0, 'size=256k'); } catch (e) { t.skip(`cannot mount tmpfs: ${String(e)}`); return; }
  try {
    const v = await createVolumeDir(root, 'vf');
    await assert.rejects(copyUp(rootfs, '/data', v.data), (e: unknown) => e instanceof BerthError && e.code === 'ENOSPC' && /copy up \/data/.test(e.message));
    assert.deepEqual(readdirSync(v.data), []);
  } finally {
    umount2(root, 0);
  }
})());
