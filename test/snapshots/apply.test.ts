import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync, linkSync, symlinkSync, chmodSync, chownSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BerthError } from '../../src/lib/index.js';
import { applyLayer, type ApplyMode } from '../../src/snapshots/index.js';
import { lgetxattr, lsetxattr, lutimens, mknod, S_IFCHR } from '../../src/sys/index.js';
import { T0, buildTar, readTree, sha256, streamOf, tempDir, type TEntry } from './helpers.js';

// security.capability v2, effective, permitted = cap_net_raw, cap_sys_admin, cap_setfcap (bytes >= 0x80: not UTF-8)
const CAP_NET_RAW = Buffer.from('0100000200202080000000000000000000000000', 'hex');
const T1 = new Date('2021-05-06T07:08:09Z');
const LONG = `deep/${'d'.repeat(60)}/${'e'.repeat(60)}/file-with-a-long-name-${'x'.repeat(40)}`;

const richLayer: TEntry[] = [
  { name: 'etc/', type: 'directory', mode: 0o755, mtime: T1 },
  { name: 'etc/hostname', data: 'box\n', mtime: T1 },
  { name: 'bin/', type: 'directory', mode: 0o755, mtime: T1 },
  { name: 'bin/ping', data: 'ELF-ish', mode: 0o4755, uid: 1234, gid: 1234, xattrs: { 'security.capability': CAP_NET_RAW, 'user.note': 'hello' } },
  { name: 'bin/pong', type: 'link', linkname: 'bin/ping' },
  { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox', uid: 1234, gid: 42, mtime: T1 },
  { name: 'shared/', type: 'directory', mode: 0o2775, gid: 50 },
  { name: 'tmp/', type: 'directory', mode: 0o1777 },
  { name: 'dev/', type: 'directory' },
  { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
  { name: 'dev/loop9', type: 'block-device', devmajor: 7, devminor: 9, mode: 0o660, gid: 6 },
  { name: 'run/fifo', type: 'fifo', mode: 0o600, uid: 1234 },
  { name: 'usr/lib/implicit/file', data: 'parents were never listed' },
  { name: LONG, data: 'long' },
  { name: 'big-uid', data: 'x', pax: { uid: '3000000', gid: '3000001', mtime: '1600000000.123456789' } },
]; // note: etc/ listed before its child, so its mtime must be set after the child was written

async function check(mode: ApplyMode) {
  const { dir, cleanup } = tempDir(`apply-${mode}`);
  try {
    const tarBuf = await buildTar(richLayer);
    const res = await applyLayer(streamOf(tarBuf, 777), dir, { mode });
    assert.equal(res.diffID, sha256(tarBuf));
    assert.equal(res.size, tarBuf.length);

    const ping = lstatSync(join(dir, 'bin/ping'));
    assert.equal(ping.mode & 0o7777, 0o4755, 'setuid survives the chown');
    assert.equal(ping.uid, 1234);
    assert.equal(ping.nlink, 2);
    assert.equal(lstatSync(join(dir, 'bin/pong')).ino, ping.ino, 'hardlink shares the inode');
    assert.deepEqual(lgetxattr(join(dir, 'bin/ping'), 'security.capability'), CAP_NET_RAW);
    assert.equal(lgetxattr(join(dir, 'bin/ping'), 'user.note')?.toString(), 'hello');
    assert.equal(ping.mtimeMs, T0.getTime());

    const sh = lstatSync(join(dir, 'bin/sh'));
    assert.ok(sh.isSymbolicLink());
    assert.equal(readlinkSync(join(dir, 'bin/sh')), '/bin/busybox');
    assert.deepEqual([sh.uid, sh.gid, sh.mtimeMs], [1234, 42, T1.getTime()]);

    assert.equal(lstatSync(join(dir, 'shared')).mode & 0o7777, 0o2775);
    assert.equal(lstatSync(join(dir, 'shared')).gid, 50);
    assert.equal(lstatSync(join(dir, 'tmp')).mode & 0o7777, 0o1777);
    const nul = lstatSync(join(dir, 'dev/null'));
    assert.ok(nul.isCharacterDevice());
    assert.equal(nul.rdev, 0x103);
    assert.equal(nul.mode & 0o777, 0o666);
    const loop = lstatSync(join(dir, 'dev/loop9'));
    assert.ok(loop.isBlockDevice());
    assert.equal(loop.rdev, 0x709);
    assert.equal(loop.gid, 6);
    assert.ok(lstatSync(join(dir, 'run/fifo')).isFIFO());
    assert.equal(lstatSync(join(dir, 'run/fifo')).uid, 1234);
    assert.equal(readFileSync(join(dir, 'usr/lib/implicit/file'), 'utf8'), 'parents were never listed');
    assert.equal(lstatSync(join(dir, 'usr/lib')).mode & 0o7777, 0o755);
    assert.equal(readFileSync(join(dir, LONG), 'utf8'), 'long');

    assert.equal(lstatSync(join(dir, 'etc')).mtimeMs, T1.getTime(), 'dir mtime set after its contents');
    const big = lstatSync(join(dir, 'big-uid'), { bigint: true });
    assert.deepEqual([big.uid, big.gid], [3000000n, 3000001n]);
    assert.equal(big.mtimeNs, 1600000000123456789n, 'PAX mtime with nanoseconds');
  } finally {
    cleanup();
  }
}

test('applyLayer (naive): every entry type, ownership, modes, xattrs, times, diffID', () => check('naive'));
test('applyLayer (overlay): every entry type, ownership, modes, xattrs, times, diffID', () => check('overlay'));

test('applyLayer: whiteouts become overlay whiteouts or deletions', async () => {
  const { dir: base, cleanup } = tempDir('whiteouts');
  try {
    const lower = await buildTar([
      { name: 'a/', type: 'directory' }, { name: 'a/keep', data: '1' }, { name: 'a/gone', data: '2' },
      { name: 'o/', type: 'directory' }, { name: 'o/old', data: '3' }, { name: 'o/sub/old2', data: '4' },
    ]);
    const upper = await buildTar([
      { name: 'a/.wh.gone', uid: 0 },
      { name: 'o/new', data: 'n' },
      { name: 'o/.wh..wh..opq' }, // after a sibling: must still not hide o/new
      { name: 'ghost/.wh.nothing' }, // whiteout in a directory nobody has: ignored
    ]);
    // overlay mode: upper dir gets a 0:0 char device and the opaque xattr
    const up = join(base, 'up');
    const low = join(base, 'low');
    mkdirSync(up);
    mkdirSync(low);
    await applyLayer(streamOf(lower), low, { mode: 'overlay' });
    await applyLayer(streamOf(upper), up, { mode: 'overlay', parents: [low] });
    const wh = lstatSync(join(up, 'a/gone'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout device');
    assert.equal(lgetxattr(join(up, 'o'), 'trusted.overlay.opaque')?.toString(), 'y');
    assert.deepEqual(readdirSync(join(up, 'o')).sort(), ['new']);
    assert.ok(!readdirSync(up).includes('ghost'));
    // naive mode: a copy of the lower edited in place
    const copy = join(base, 'copy');
    execFileSync('cp', ['-a', low, copy]);
    await applyLayer(streamOf(upper), copy, { mode: 'naive' });
    assert.deepEqual(readdirSync(join(copy, 'a')), ['keep']);
    assert.deepEqual(readdirSync(join(copy, 'o')).sort(), ['new']);
    assert.ok(!readdirSync(copy).includes('ghost'));
  } finally {
    cleanup();
  }
});

test('applyLayer: a tar written by GNU tar (gnu long names, posix xattrs) reproduces the tree', async (t) => {
  const { dir: base, cleanup } = tempDir('gnutar');
  try {
    const src = join(base, 'src');
    mkdirSync(join(src, 'sub', 'x'.repeat(120)), { recursive: true });
    writeFileSync(join(src, 'sub', 'x'.repeat(120), 'y'.repeat(120)), 'long names');
    writeFileSync(join(src, 'suid'), 'program');
    chownSync(join(src, 'suid'), 1234, 99);
    chmodSync(join(src, 'suid'), 0o6711);
    lsetxattr(join(src, 'suid'), 'security.capability', CAP_NET_RAW);
    lsetxattr(join(src, 'suid'), 'user.bin', Buffer.from([0, 0xff, 0x80, 1]));
    linkSync(join(src, 'suid'), join(src, 'sub', 'hard'));
    symlinkSync('../suid', join(src, 'sub', 'soft'));
    mknod(join(src, 'null'), S_IFCHR | 0o666, 1, 3);
    lutimens(join(src, 'sub'), { sec: 1500000000, nsec: 0 }, { sec: 1500000000, nsec: 0 });
    for (const format of ['gnu', 'posix']) {
      const tarFile = join(base, `${format}.tar`);
      execFileSync('tar', [`--format=${format}`, '--xattrs', "--xattrs-include=*", '--numeric-owner', '-C', src, '-cf', tarFile, '.']);
      const dst = join(base, `dst-${format}`);
      mkdirSync(dst);
      const res = await applyLayer(streamOf(readFileSync(tarFile), 4096), dst, { mode: 'naive' });
      assert.equal(res.diffID, sha256(readFileSync(tarFile)));
      const want = readTree(src, { rootAttrs: true });
      const got = readTree(dst, { rootAttrs: true });
      if (format === 'gnu') {
        // GNU format has no xattrs and whole-second times
        for (const n of [...Object.values(want), ...Object.values(got)]) { delete n.xattrs; n.mtimeNs = String(BigInt(n.mtimeNs ?? 0) / 1_000_000_000n); }
      }
      assert.deepEqual(got, want, `tree from tar --format=${format}`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && String(err).includes('tar')) t.skip('GNU tar not installed');
    else throw err;
  } finally {
    cleanup();
  }
});

test('applyLayer: an error of the input stream is passed on as it is', async () => {
  const { dir, cleanup } = tempDir('source-error');
  try {
    const tarBuf = await buildTar([{ name: 'a', data: Buffer.alloc(50_000, 1) }, { name: 'b', data: 'b' }]);
    const boom = new BerthError({ kind: 'remote', op: 'pull', message: 'pull x: layer sha256:ab: connection reset' });
    async function* failing() { yield tarBuf.subarray(0, 20_000); throw boom; }
    await assert.rejects(applyLayer(Readable.from(failing(), { objectMode: false }), dir, { mode: 'overlay' }), (e: unknown) => e === boom);
  } finally {
    cleanup();
  }
});
