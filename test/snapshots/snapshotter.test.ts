import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { BerthError } from '../../src/lib/index.js';
import { chainID, chainIDs, openSnapshotter, probeOverlay, type DriverName } from '../../src/snapshots/index.js';
import { buildTar, sha256, streamOf, tempDir } from './helpers.js';

const overlayOK = probeOverlay('/tmp').ok;

test('chainID: first layer is its diffID, then sha256 of "parent diffID"', () => {
  const a = 'sha256:' + 'a'.repeat(64);
  const b = 'sha256:' + 'b'.repeat(64);
  assert.equal(chainID(undefined, a), a);
  const ab = chainID(a, b);
  assert.equal(ab, sha256(Buffer.from(`${a} ${b}`)));
  assert.deepEqual(chainIDs([a, b]), [a, ab]);
});

for (const driver of ['overlay', 'copy'] as DriverName[]) {
  test(`snapshotter (${driver}): prepare, commit, view, mounts, list, remove`, async (t) => {
    if (driver === 'overlay' && !overlayOK) return t.skip('overlayfs unavailable here');
    const { dir: root, cleanup } = tempDir(`api-${driver}`);
    const s = await openSnapshotter({ root, driver });
    const target = join(root, 'mnt');
    mkdirSync(target);
    try {
      assert.equal(s.driver.name, driver);
      const m0 = await s.prepare('base-active');
      assert.deepEqual(m0, [{ type: 'bind', source: join(root, 'snapshots', String(s.stat('base-active')!.id), 'fs'), options: ['rbind', 'rw'] }]);
      await s.mount('base-active', target);
      writeFileSync(join(target, 'hello'), 'world');
      assert.equal(await s.unmount(target), true);
      assert.equal(await s.unmount(target), false, 'unmount twice is a no-op');
      await s.commit('base', 'base-active', { labels: { a: 'b' } });
      assert.equal(s.stat('base-active'), undefined);
      assert.deepEqual({ ...s.stat('base'), created: '', updated: '', id: 0 }, { key: 'base', kind: 'committed', labels: { a: 'b' }, created: '', updated: '', id: 0 });
      assert.throws(() => s.mounts('base'), /committed snapshot cannot be mounted/);

      const m1 = await s.prepare('c1', 'base');
      if (driver === 'overlay') {
        assert.equal(m1.length, 1);
        assert.equal(m1[0]!.type, 'overlay');
        const opts = m1[0]!.options;
        assert.ok(opts.includes(`lowerdir=${join(s.dir(s.stat('base')!.id), 'fs')}`), opts.join(','));
        assert.ok(opts.some((o) => o.startsWith('upperdir=')) && opts.some((o) => o.startsWith('workdir=')));
        if (existsSync('/sys/module/overlay/parameters/index')) assert.ok(opts.includes('index=off'));
      } else {
        assert.deepEqual(m1[0]!.options, ['rbind', 'rw']);
      }
      await s.mount('c1', target);
      try {
        assert.equal(readFileSync(join(target, 'hello'), 'utf8'), 'world');
        writeFileSync(join(target, 'hello'), 'changed');
      } finally {
        await s.unmount(target);
      }
      // the committed parent is unchanged by writes in the child
      await s.view('v1', 'base');
      assert.deepEqual(s.mounts('v1')[0]!.options.includes('ro'), true);
      await s.mount('v1', target);
      try {
        assert.equal(readFileSync(join(target, 'hello'), 'utf8'), 'world');
        assert.throws(() => writeFileSync(join(target, 'x'), 'y'), /EROFS/);
      } finally {
        await s.unmount(target);
      }
      assert.deepEqual(s.list().map((i) => [i.key, i.kind, i.parent]), [['base', 'committed', undefined], ['c1', 'active', 'base'], ['v1', 'view', 'base']]);

      const u = await s.usage('c1');
      assert.ok(u.inodes >= 2 && u.size > 0, JSON.stringify(u));

      await assert.rejects(s.remove('base'), (e: unknown) => e instanceof BerthError && e.kind === 'conflict' && /2 child snapshots/.test(e.message));
      await assert.rejects(s.prepare('c1', 'base'), /already exists/);
      await assert.rejects(s.prepare('c2', 'nope'), (e: unknown) => e instanceof BerthError && e.kind === 'notfound');
      await assert.rejects(s.prepare('c2', 'c1'), /not committed/);
      await assert.rejects(s.commit('base', 'c1'), /already exists/);
      await s.mount('c1', target);
      try {
        await assert.rejects(s.remove('c1'), /in use by the mount on/);
      } finally {
        await s.unmount(target);
      }
      await s.remove('c1');
      await s.remove('v1');
      await s.remove('base');
      assert.deepEqual(s.list(), []);
      assert.deepEqual(readdirSync(join(root, 'snapshots')), []);
      assert.deepEqual(readdirSync(join(root, 'trash')), []);
      assert.deepEqual(readdirSync(join(root, 'tmp')), []);
    } finally {
      await s.unmount(target, { detach: true });
      s.close();
      cleanup();
    }
  });

  test(`snapshotter (${driver}): unpackLayer commits under the chain ID once, rejects bad layers without leftovers`, async (t) => {
    if (driver === 'overlay' && !overlayOK) return t.skip('overlayfs unavailable here');
    const { dir: root, cleanup } = tempDir(`unpack-${driver}`);
    const s = await openSnapshotter({ root, driver });
    try {
      const l1 = await buildTar([{ name: 'a', data: 'one' }]);
      const l2 = await buildTar([{ name: 'b', data: 'two' }, { name: '.wh.a' }]);
      const r1 = await s.unpackLayer({ tarStream: streamOf(gzipSync(l1)), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' });
      assert.deepEqual(r1, { chainID: sha256(l1), diffID: sha256(l1), size: l1.length, reused: false });
      const zst = execFileSync('zstd', ['-q', '-c'], { input: l2 });
      // media type says gzip, bytes say zstd: the bytes win
      const r2 = await s.unpackLayer({ parent: r1.chainID, tarStream: streamOf(zst), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' });
      assert.equal(r2.chainID, chainID(r1.chainID, sha256(l2)));
      assert.equal(s.stat(r2.chainID)?.parent, r1.chainID);
      assert.equal(s.stat(r2.chainID)?.labels['berth.diffID'], sha256(l2));

      // known diffID: not read at all
      let read = false;
      const untouched = streamOf(l1);
      untouched.on('data', () => { read = true; });
      const again = await s.unpackLayer({ tarStream: untouched, diffID: sha256(l1) });
      assert.deepEqual(again, { ...r1, reused: true });
      assert.equal(read, false);
      // unknown diffID: unpacked, found committed, thrown away
      const again2 = await s.unpackLayer({ tarStream: streamOf(l1) });
      assert.equal(again2.reused, true);

      // the same layer unpacked twice at once: one commit, one reuse, nothing left over
      const l3 = await buildTar([{ name: 'c', data: 'three' }]);
      const both = await Promise.all([0, 1].map(() => s.unpackLayer({ parent: r2.chainID, tarStream: streamOf(l3) })));
      assert.deepEqual(both.map((r) => r.reused).sort(), [false, true]);
      await s.remove(both[0]!.chainID);

      // diffID mismatch and hostile layers: nothing committed, nothing left
      await assert.rejects(s.unpackLayer({ parent: r2.chainID, tarStream: streamOf(l1), diffID: sha256(l2) }), /diffID mismatch/);
      await assert.rejects(s.unpackLayer({ parent: r2.chainID, tarStream: streamOf(await buildTar([{ name: '../x', data: '' }])) }), /"\.\." component/);
      await assert.rejects(s.unpackLayer({ tarStream: streamOf(gzipSync(l1).subarray(0, 30)) }), (e: unknown) => e instanceof BerthError && e.kind === 'invalid');
      assert.deepEqual(s.list().map((i) => i.key), [r1.chainID, r2.chainID]);
      assert.equal(readdirSync(join(root, 'snapshots')).length, 2);
      assert.deepEqual(readdirSync(join(root, 'tmp')), []);
      assert.deepEqual(readdirSync(join(root, 'trash')), []);

      await s.view('v', r2.chainID);
      const target = join(root, 'mnt');
      mkdirSync(target);
      await s.mount('v', target);
      try {
        assert.deepEqual(readdirSync(target), ['b']);
      } finally {
        await s.unmount(target);
      }
    } finally {
      s.close();
      cleanup();
    }
  });
}

test('openSnapshotter: auto picks overlay when a probe mount works, and a root keeps its driver', async () => {
  const { dir: root, cleanup } = tempDir('auto');
  try {
    const s = await openSnapshotter({ root, driver: 'auto' });
    assert.equal(s.driver.name, overlayOK ? 'overlay' : 'copy');
    await s.prepare('x');
    s.close();
    const other = overlayOK ? 'copy' : 'overlay';
    await assert.rejects(openSnapshotter({ root, driver: other }), (e: unknown) => e instanceof BerthError && e.kind === 'conflict');
    const s2 = await openSnapshotter({ root });
    assert.equal(s2.driver.name, s.driver.name);
    s2.close();
    assert.deepEqual(readdirSync(join(root, 'tmp')), [], 'probe leaves nothing');
    await assert.rejects(openSnapshotter({ root: '/tmp/a:b' }), /contains ':'/);
  } finally {
    cleanup();
  }
});
