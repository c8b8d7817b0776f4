import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPTION_LIMIT, openSnapshotter, probeOverlay, type DriverName, type Snapshotter } from '../../src/snapshots/index.js';
import { lgetxattr } from '../../src/sys/index.js';
import { T0, buildTar, readTree, streamOf, tempDir, type TEntry } from './helpers.js';

const overlayOK = probeOverlay('/tmp').ok;
const CAP = Buffer.from('0100000200200000000000000000000000000000', 'hex');
const T2 = new Date('2022-02-02T02:02:02Z');

/** Four layers exercising whiteouts, opaque directories, type changes and re-creation. */
const LAYERS: TEntry[][] = [
  [
    { name: './', type: 'directory', mode: 0o755, mtime: T0 },
    { name: 'etc/', type: 'directory' }, { name: 'etc/old', data: 'old' }, { name: 'etc/keep', data: 'keep' },
    { name: 'usr/share/doc/readme', data: 'docs' }, { name: 'usr/bin/tool', data: 'v1', mode: 0o755 },
    { name: 'usr/bin/ping', data: 'ping', mode: 0o4755, uid: 1234, gid: 1234, xattrs: { 'security.capability': CAP } },
    { name: 'usr/bin/ping6', type: 'link', linkname: 'usr/bin/ping' },
    { name: 'usr/bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'var/lib/app/', type: 'directory', mode: 0o700, uid: 1234 }, { name: 'var/lib/app/state', data: 's1' },
    { name: 'var/lib/app/sub/deep', data: 'd1' },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'run/pipe', type: 'fifo' },
    { name: 'x/', type: 'directory' }, { name: 'x/inside', data: 'i' },
    { name: 'y', data: 'y was a file' },
    { name: 'o/', type: 'directory' }, { name: 'o/a', data: 'a' },
  ],
  [
    { name: 'etc/.wh.old' },
    { name: 'var/lib/app/.wh..wh..opq' }, { name: 'var/lib/app/', type: 'directory', mode: 0o750, uid: 1234, mtime: T2 },
    { name: 'var/lib/app/fresh', data: 'f2' },
    { name: 'usr/.wh.share' },
    { name: 'usr/bin/tool', data: 'v2', mode: 0o755 },
    { name: 'x', data: 'x is a file now' },
    { name: 'y/', type: 'directory' }, { name: 'y/inner', data: 'y is a dir now' },
    { name: 'etc/new', data: 'new', uid: 7, gid: 8 },
  ],
  [
    { name: 'etc/old', data: 'old is back' },
    { name: '.wh.o' }, { name: 'o/', type: 'directory' }, { name: 'o/c', data: 'c' },
    { name: 'usr/share/doc/', type: 'directory' },
  ],
  [
    { name: 'etc/keep', data: 'kept, edited' },
    { name: 'var/lib/app/sub/deeper', data: 'd4' },
    { name: 'run/.wh.pipe' },
  ],
];

async function unpackAll(s: Snapshotter, layers: TEntry[][]): Promise<string> {
  let parent: string | undefined;
  for (const l of layers) parent = (await s.unpackLayer({ parent, tarStream: streamOf(await buildTar(l)) })).chainID;
  return parent!;
}

async function withView<T>(s: Snapshotter, top: string, root: string, fn: (dir: string) => T): Promise<T> {
  const key = `view-${Math.random()}`;
  await s.view(key, top);
  const target = join(root, `mnt-${key}`);
  mkdirSync(target);
  try {
    await s.mount(key, target);
    try { return fn(target); } finally { await s.unmount(target); }
  } finally {
    await s.remove(key);
  }
}

function checkVisible(d: string): void {
  assert.deepEqual(readdirSync(join(d, 'etc')).sort(), ['keep', 'new', 'old']);
  assert.equal(readFileSync(join(d, 'etc/old'), 'utf8'), 'old is back');
  assert.equal(readFileSync(join(d, 'etc/keep'), 'utf8'), 'kept, edited');
  assert.deepEqual(readdirSync(join(d, 'var/lib/app')).sort(), ['fresh', 'sub'], 'opaque dir hides the lower state file');
  assert.deepEqual(readdirSync(join(d, 'var/lib/app/sub')), ['deeper'], 'and the lower sub/deep');
  assert.equal(lstatSync(join(d, 'var/lib/app')).mode & 0o7777, 0o750);
  assert.equal(lstatSync(join(d, 'var/lib/app')).mtimeMs, T2.getTime());
  assert.deepEqual(readdirSync(join(d, 'usr/share')), ['doc'], 'whited-out dir re-created empty');
  assert.deepEqual(readdirSync(join(d, 'usr/share/doc')), []);
  assert.equal(readFileSync(join(d, 'usr/bin/tool'), 'utf8'), 'v2');
  assert.equal(readFileSync(join(d, 'x'), 'utf8'), 'x is a file now');
  assert.deepEqual(readdirSync(join(d, 'y')), ['inner']);
  assert.deepEqual(readdirSync(join(d, 'o')), ['c'], 'whiteout + dir in one layer replaces the dir');
  assert.deepEqual(readdirSync(join(d, 'run')), []);
  const ping = lstatSync(join(d, 'usr/bin/ping'));
  assert.equal(ping.mode & 0o7777, 0o4755);
  assert.equal(ping.nlink, 2);
  assert.equal(lstatSync(join(d, 'usr/bin/ping6')).ino, ping.ino);
  assert.deepEqual(lgetxattr(join(d, 'usr/bin/ping'), 'security.capability'), CAP);
  assert.equal(readlinkSync(join(d, 'usr/bin/sh')), 'busybox');
  assert.equal(lstatSync(join(d, 'dev/null')).rdev, 0x103);
  assert.equal(lstatSync(join(d, 'etc/new')).uid, 7);
}

for (const driver of ['overlay', 'copy'] as DriverName[]) {
  test(`layers (${driver}): whiteouts, opaque dirs and type changes seen through a real mount`, async (t) => {
    if (driver === 'overlay' && !overlayOK) return t.skip('overlayfs unavailable here');
    const { dir: root, cleanup } = tempDir(`layers-${driver}`);
    const s = await openSnapshotter({ root, driver });
    try {
      const top = await unpackAll(s, LAYERS);
      await withView(s, top, root, checkVisible);
      // an active snapshot on top: writes land in it, the image stays as it was
      await s.prepare('rw', top);
      const target = join(root, 'rw');
      mkdirSync(target);
      await s.mount('rw', target);
      try {
        checkVisible(target);
        writeFileSync(join(target, 'etc/keep'), 'container write');
      } finally {
        await s.unmount(target);
      }
      await withView(s, top, root, (d) => assert.equal(readFileSync(join(d, 'etc/keep'), 'utf8'), 'kept, edited'));
      await s.remove('rw');
    } finally {
      s.close();
      cleanup();
    }
  });
}

test('layers: the copy driver shows exactly the tree overlay shows for the same layers', async (t) => {
  if (!overlayOK) return t.skip('overlayfs unavailable here');
  const { dir: root, cleanup } = tempDir('same-tree');
  const ov = await openSnapshotter({ root: join(root, 'ov'), driver: 'overlay' });
  const cp = await openSnapshotter({ root: join(root, 'cp'), driver: 'copy' });
  try {
    const topOv = await unpackAll(ov, LAYERS);
    const topCp = await unpackAll(cp, LAYERS);
    assert.equal(topOv, topCp, 'same chain IDs');
    const treeOv = await withView(ov, topOv, root, (d) => readTree(d, { rootAttrs: true }));
    const treeCp = await withView(cp, topCp, root, (d) => readTree(d, { rootAttrs: true }));
    assert.ok(Object.keys(treeOv).length > 25, String(Object.keys(treeOv).length));
    // directories no tar names get the time they were created at, which differs between two unpacks
    const named = new Set(LAYERS.flat().filter((e) => e.type === 'directory').map((e) => e.name.split('/').filter((p) => p && p !== '.').join('/')));
    for (const tree of [treeOv, treeCp]) {
      for (const [k, n] of Object.entries(tree)) if (n.type === 'dir' && !named.has(k)) delete n.mtimeNs;
    }
    assert.deepEqual(treeCp, treeOv);
  } finally {
    ov.close();
    cp.close();
    cleanup();
  }
});

test('layers (overlay): an image of 150 layers mounts (options beyond one page)', async (t) => {
  if (!overlayOK) return t.skip('overlayfs unavailable here');
  const { dir: root, cleanup } = tempDir('many');
  const s = await openSnapshotter({ root, driver: 'overlay' });
  try {
    const layers: TEntry[][] = [];
    for (let i = 0; i < 150; i++) {
      layers.push([
        { name: `layers/f${i}`, data: String(i) },
        { name: 'top', data: `written by ${i}` },
        ...(i ? [{ name: `scratch/.wh.t${i - 1}` }] : []),
        { name: `scratch/t${i}`, data: '' },
      ]);
    }
    const top = await unpackAll(s, layers);
    await s.view('v', top);
    const m = s.mounts('v')[0]!;
    assert.equal(m.type, 'overlay');
    assert.ok(m.options.join(',').length > OPTION_LIMIT, 'really beyond what mount(2) takes');
    const target = join(root, 'mnt');
    mkdirSync(target);
    for (const method of ['auto', 'fsconfig', 'relative'] as const) {
      await s.mount('v', target, { method });
      try {
        assert.equal(readdirSync(join(target, 'layers')).length, 150, method);
        assert.equal(readFileSync(join(target, 'layers/f0'), 'utf8'), '0');
        assert.equal(readFileSync(join(target, 'top'), 'utf8'), 'written by 149');
        assert.deepEqual(readdirSync(join(target, 'scratch')), ['t149']);
      } finally {
        assert.equal(await s.unmount(target), true);
      }
    }
    assert.ok(!existsSync(join(target, 'top')));
    // a writable container snapshot on top of the 150 layers, with each long-options method
    await s.prepare('rw', top);
    for (const method of ['auto', 'fsconfig', 'relative'] as const) {
      await s.mount('rw', target, { method });
      try {
        assert.equal(readFileSync(join(target, 'top'), 'utf8'), 'written by 149', method);
        writeFileSync(join(target, `new-${method}`), method);
      } finally {
        await s.unmount(target);
      }
    }
    assert.deepEqual(readdirSync(join(s.dir(s.stat('rw')!.id), 'fs')).sort(), ['new-auto', 'new-fsconfig', 'new-relative']);
  } finally {
    s.close();
    cleanup();
  }
});
