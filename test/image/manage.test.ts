import { test } from 'node:test';
import assert from 'node:assert/strict';
import { history, imageStore, inspect, listImages, parseListFilters, prune, pull, remove, snapshotter, tag, collectGarbage } from '../../src/image/index.js';
import { BerthError } from '../../src/lib/index.js';
import { buildImage, busyboxLayer, haveRegistry, layerFromTar, pushImageRaw, startRegistry, type BuiltImage, type TestRegistry } from '../helpers/registry.js';
import { rootState, withRoot } from './util.js';

const skip = haveRegistry() ? false : 'docker-registry is not installed';

/** Two images sharing the busybox base layer; the second has a label and an extra layer. */
async function fixture(reg: TestRegistry): Promise<{ a: BuiltImage; b: BuiltImage }> {
  const base = busyboxLayer();
  const extra = layerFromTar(Buffer.concat([tarFile('hello.txt', 'hi\n'), Buffer.alloc(1024)]));
  const a = buildImage([base], { created: '2024-01-01T00:00:00Z' });
  const b = buildImage([base, extra], { created: '2024-06-01T00:00:00Z', labels: { tier: 'web', 'org.example.v': '2' } });
  await pushImageRaw(reg, 'a', 'latest', a);
  await pushImageRaw(reg, 'b', 'latest', b);
  return { a, b };
}

function tarFile(name: string, data: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write('0000644\0', 100); h.write('0000000\0', 108); h.write('0000000\0', 116);
  h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write('14000000000\0', 136); h.write('        ', 148); h.write('0', 156); h.write('ustar\0', 257); h.write('00', 263);
  let sum = 0;
  for (const x of h) sum += x;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const body = Buffer.alloc(512);
  body.write(data);
  return Buffer.concat([h, body]);
}

test('tag, list with filters, inspect and history', { skip }, async () => {
  const reg = await startRegistry();
  try {
    const { a, b } = await fixture(reg);
    await withRoot(async (_root, ctx) => {
      await pull(ctx, `${reg.host}/a`);
      await pull(ctx, `${reg.host}/b`);
      await tag(ctx, `${reg.host}/a`, 'mine/a:v1');
      await tag(ctx, a.configDigest.slice(7, 19), 'mine/a:v2');
      await assert.rejects(tag(ctx, 'nope', 'x'), (e: BerthError) => e.kind === 'notfound' && e.message === 'No such image: nope');
      await assert.rejects(tag(ctx, 'mine/a:v1', `x@sha256:${'1'.repeat(64)}`), /refusing to create a tag with a digest reference/);
      const rows = await listImages(ctx);
      assert.deepEqual(rows.map((r) => `${r.repository}:${r.tag}`), [`${reg.host}/b:latest`, `${reg.host}/a:latest`, 'mine/a:v1', 'mine/a:v2']);
      assert.equal(rows[1]!.digest, a.manifestDigest);
      assert.equal(rows[2]!.digest, '<none>');
      const byRef = await listImages(ctx, parseListFilters(['reference=mine/*']));
      assert.deepEqual(byRef.map((r) => r.tag), ['v1', 'v2']);
      const byLabel = await listImages(ctx, parseListFilters(['label=tier=web']));
      assert.deepEqual(byLabel.map((r) => r.id), [b.configDigest]);
      assert.equal((await listImages(ctx, parseListFilters(['label=tier']))).length, 1);
      assert.equal((await listImages(ctx, parseListFilters(['label!=tier']))).length, 3);
      assert.equal((await listImages(ctx, parseListFilters(['dangling=true']))).length, 0);
      assert.deepEqual((await listImages(ctx, parseListFilters([`before=${reg.host}/b`]))).map((r) => r.id), [a.configDigest, a.configDigest, a.configDigest]);
      assert.throws(() => parseListFilters(['bogus=1']), /invalid filter 'bogus'/);
      const info = await inspect(ctx, 'mine/a:v1');
      assert.equal(info.Id, a.configDigest);
      assert.deepEqual([...(info.RepoTags as string[])].sort(), [`${reg.host}/a:latest`, 'mine/a:v1', 'mine/a:v2']);
      assert.deepEqual(info.RepoDigests, [`${reg.host}/a@${a.manifestDigest}`]);
      assert.equal(info.Architecture, 'amd64');
      assert.equal(info.Os, 'linux');
      assert.equal(info.Created, '2024-01-01T00:00:00Z');
      assert.deepEqual(info.RootFS, { Type: 'layers', Layers: [a.layers[0]!.diffID] });
      assert.deepEqual((info.Config as { Cmd: string[] }).Cmd, ['sh']);
      assert.equal(info.Size, a.layers[0]!.tar.length);
      assert.ok(['overlay2', 'vfs'].includes((info.GraphDriver as { Name: string }).Name));
      const h = await history(ctx, `${reg.host}/b`);
      assert.equal(h.length, 2);
      assert.equal(h[0]!.id, b.configDigest);
      assert.equal(h[1]!.id, '<missing>');
      assert.equal(h[0]!.createdBy, '/bin/sh -c #(nop) layer 1');
      assert.equal(h[0]!.size, b.layers[1]!.tar.length);
      assert.deepEqual(h[0]!.tags, [`${reg.host}/b:latest`]);
    });
  } finally {
    await reg.stop();
  }
});

test('rmi: untag vs delete, multi-repository and in-use conflicts, garbage collection', { skip }, async () => {
  const reg = await startRegistry();
  try {
    const { a, b } = await fixture(reg);
    let used = new Map<string, { id: string; running: boolean }>();
    await withRoot(async (root, ctx) => {
      await pull(ctx, `${reg.host}/a`);
      await pull(ctx, `${reg.host}/b`);
      await tag(ctx, `${reg.host}/a`, 'other/a:1');
      // by id with names in two repositories: refused unless forced
      await assert.rejects(remove(ctx, a.configDigest.slice(7, 19)), /unable to delete [a-f0-9]{12} \(must be forced\) - image is referenced in multiple repositories/);
      // by name with another name left: only an untag
      assert.deepEqual(await remove(ctx, 'other/a:1'), [{ Untagged: 'other/a:1' }]);
      // last name, image used by a container: refused unless forced (Docker's wording, with the ids)
      const cid = 'c0ffee'.repeat(10) + 'abcd';
      used = new Map([[a.configDigest, { id: cid, running: false }]]);
      await assert.rejects(remove(ctx, `${reg.host}/a`), (e: BerthError) => e.kind === 'conflict'
        && e.message === `conflict: unable to remove repository reference "${reg.host}/a" (must force) - container ${cid.slice(0, 12)} is using its referenced image ${a.configDigest.slice(7, 19)}`);
      // by id: a stopped container's image must be forced, a running one's cannot be
      await assert.rejects(remove(ctx, a.configDigest.slice(7, 19)), new RegExp(`unable to delete ${a.configDigest.slice(7, 19)} \\(must be forced\\) - image is being used by stopped container ${cid.slice(0, 12)}$`));
      used = new Map([[a.configDigest, { id: cid, running: true }]]);
      await assert.rejects(remove(ctx, a.configDigest.slice(7, 19), { force: true }), new RegExp(`unable to delete ${a.configDigest.slice(7, 19)} \\(cannot be forced\\) - image is being used by running container ${cid.slice(0, 12)}$`));
      const snaps = await snapshotter(ctx);
      const before = snaps.list().length;
      assert.equal(before, 2, 'busybox layer + the extra layer of b');
      // forced: only untagged; the image stays (dangling) while the container uses it, prune keeps it
      const untagged = await remove(ctx, `${reg.host}/a`, { force: true });
      assert.deepEqual(untagged, [{ Untagged: `${reg.host}/a:latest` }, { Untagged: `${reg.host}/a@${a.manifestDigest}` }]);
      assert.deepEqual((await listImages(ctx, { dangling: true })).map((r) => r.id), [a.configDigest]);
      assert.equal((await prune(ctx)).ImagesDeleted.length, 0, 'a dangling image in use is not pruned');
      used = new Map();
      const out = await remove(ctx, a.configDigest.slice(7, 19));
      assert.deepEqual(out, [{ Deleted: a.configDigest }]);
      await assert.rejects(remove(ctx, 'nothing:here'), (e: BerthError) => e.kind === 'notfound' && /No such image: nothing:here/.test(e.message));
      const del = await remove(ctx, b.configDigest);
      assert.deepEqual(del.at(-1), { Deleted: b.configDigest });
      const after = rootState(root);
      assert.deepEqual([after.images, after.tags, after.blobs], [[], [], []]);
      assert.deepEqual(snaps.list(), [], 'all layer snapshots collected');
    }, undefined, { inUse: (id) => used.get(id) });
  } finally {
    await reg.stop();
  }
});

test('prune removes dangling images (or all unused with -a); leases protect a running pull', { skip }, async () => {
  const reg = await startRegistry();
  try {
    const { a, b } = await fixture(reg);
    let used = new Set<string>();
    await withRoot(async (root, ctx) => {
      await pull(ctx, `${reg.host}/a`);
      await pull(ctx, `${reg.host}/b`);
      // make a dangling: its only name and repo digest go away but the record stays
      const images = imageStore(ctx);
      const rec = (await images.get(a.configDigest))!;
      rec.repoDigests = [];
      await images.put(rec);
      await images.removeTag(`${reg.host}/a:latest`);
      assert.deepEqual((await listImages(ctx, { dangling: true })).map((r) => `${r.repository}:${r.tag}`), ['<none>:<none>']);
      const r1 = await prune(ctx);
      assert.deepEqual(r1.ImagesDeleted, [{ Deleted: a.configDigest }]);
      assert.ok(r1.SpaceReclaimed > 0);
      assert.equal((await prune(ctx)).ImagesDeleted.length, 0, 'b is tagged');
      used = new Set([b.configDigest]);
      assert.equal((await prune(ctx, { all: true })).ImagesDeleted.length, 0, 'b is used');
      assert.equal((await prune(ctx, { all: true, labels: [{ key: 'tier', value: 'db' }] })).ImagesDeleted.length, 0);
      used = new Set();
      // a lease (what a running pull holds) keeps blobs that no image references
      const lease = await images.lease({ digests: [b.layers[1]!.digest] });
      const r2 = await prune(ctx, { all: true, labels: [{ key: 'tier', value: 'web' }] });
      assert.equal(r2.ImagesDeleted.at(-1)?.Deleted, b.configDigest);
      assert.deepEqual(rootState(root).blobs, [b.layers[1]!.digest.slice(7)]);
      await lease.release();
      await collectGarbage(ctx);
      assert.deepEqual(rootState(root).blobs, []);
    }, undefined, { inUse: (id) => used.has(id) });
  } finally {
    await reg.stop();
  }
});

test('import: a rootfs tar becomes a one-layer image with --change applied; it can be saved and pushed like any', async () => {
  const { execFileSync } = await import('node:child_process');
  const { Readable } = await import('node:stream');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { busyboxRootfs } = await import('../helpers/rootfs.js');
  const { importRootfs, applyChanges } = await import('../../src/image/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'berth-import-'));
  try {
    busyboxRootfs(dir);
    const tgz = execFileSync('tar', ['-C', dir, '-czf', '-', '.'], { maxBuffer: 1 << 28 });
    await withRoot(async (root, ctx) => {
      const id = await importRootfs(ctx, Readable.from([tgz]), {
        reference: 'imported/bb:1', message: 'from a test',
        changes: ['CMD ["sh", "-c", "echo hi"]', 'ENV A=1 B="two words"', 'WORKDIR /tmp', 'EXPOSE 80 53/udp', 'LABEL k=v'],
      });
      const info = await inspect(ctx, 'imported/bb:1');
      assert.equal(info.Id, id);
      assert.equal(info.Comment, 'from a test');
      const c = info.Config as Record<string, unknown>;
      assert.deepEqual(c.Cmd, ['sh', '-c', 'echo hi']);
      assert.deepEqual(c.Env, ['A=1', 'B=two words']);
      assert.equal(c.WorkingDir, '/tmp');
      assert.deepEqual(c.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
      assert.deepEqual(c.Labels, { k: 'v' });
      const layers = (info.RootFS as { Layers: string[] }).Layers;
      assert.equal(layers.length, 1);
      const snaps = await snapshotter(ctx);
      assert.equal(snaps.stat(layers[0]!)?.kind, 'committed');
      assert.equal((await history(ctx, id))[0]!.comment, 'from a test');
      assert.equal(rootState(root).images.length, 1);
    });
    assert.throws(() => applyChanges({}, ['FROM x']), /FROM is not a valid change command/);
    assert.deepEqual(applyChanges({}, ['CMD echo hi', 'ENV X y z']), { Cmd: ['/bin/sh', '-c', 'echo hi'], Env: ['X=y z'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
