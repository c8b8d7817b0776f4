import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { inspect, load, pull, save, tag } from '../../src/image/index.js';
import { buildImage, busyboxLayer, haveRegistry, pushBusybox, sha256hex, skopeo, startRegistry, writeLayout, type BuiltImage } from '../helpers/registry.js';
import { rootState, skopeoJSON, withRoot } from './util.js';

const skip = haveRegistry() ? false : 'docker-registry is not installed';

async function saveTo(ctx: Parameters<typeof save>[0], names: string[], file: string, format?: 'oci-archive' | 'docker-archive'): Promise<void> {
  await save(ctx, names, createWriteStream(file), { format });
}

function tarList(file: string): string[] {
  return execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
}

test('save (docker-archive and oci-archive) is read by skopeo and loads back into another root', { skip }, async () => {
  const reg = await startRegistry();
  const dir = mkdtempSync(join(tmpdir(), 'berth-archive-'));
  try {
    const img = await pushBusybox(reg, 'busybox:latest');
    const diffIDs = img.layers.map((l) => l.diffID);
    await withRoot(async (_root, ctx) => {
      const r = await pull(ctx, `${reg.host}/busybox`);
      await tag(ctx, r.id, 'example/saved:v1');
      const dockerTar = join(dir, 'docker.tar');
      await saveTo(ctx, ['example/saved:v1'], dockerTar);
      const entries = tarList(dockerTar);
      for (const e of ['manifest.json', 'repositories', 'index.json', 'oci-layout', `blobs/sha256/${diffIDs[0]!.slice(7)}`, `blobs/sha256/${img.configDigest.slice(7)}`]) assert.ok(entries.includes(e), e);
      const manifest = JSON.parse(execFileSync('tar', ['-xOf', dockerTar, 'manifest.json'], { encoding: 'utf8' }));
      assert.deepEqual(manifest, [{ Config: `blobs/sha256/${img.configDigest.slice(7)}`, RepoTags: ['example/saved:v1'], Layers: [`blobs/sha256/${diffIDs[0]!.slice(7)}`] }]);
      assert.deepEqual(JSON.parse(execFileSync('tar', ['-xOf', dockerTar, 'repositories'], { encoding: 'utf8' })), { 'example/saved': { v1: img.configDigest.slice(7) } });
      const si = await skopeoJSON([`docker-archive:${dockerTar}`]);
      assert.deepEqual(si.Layers, diffIDs, 'skopeo sees the uncompressed layers');
      const ociTar = join(dir, 'oci.tar');
      await saveTo(ctx, [r.id], ociTar, 'oci-archive');
      const so = await skopeoJSON([`oci-archive:${ociTar}`]);
      assert.equal(so.Digest, img.manifestDigest, 'the original manifest is kept');
      // and both load into an empty root with identical ids and diffIDs
      await withRoot(async (root2, ctx2) => {
        const loaded = await load(ctx2, createReadStream(dockerTar));
        assert.deepEqual(loaded, [{ id: img.configDigest, names: ['docker.io/example/saved:v1'] }]);
        const info = await inspect(ctx2, 'example/saved:v1');
        assert.deepEqual((info.RootFS as { Layers: string[] }).Layers, diffIDs);
        assert.deepEqual(info.RepoDigests, []);
        const again = await load(ctx2, createReadStream(ociTar));
        assert.equal(again[0]!.id, img.configDigest);
        assert.deepEqual(rootState(root2).ingests, []);
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await reg.stop();
  }
});

test('load what skopeo writes: docker-archive, oci-archive, OCI layout directory, gzip-compressed archive', { skip }, async () => {
  const reg = await startRegistry();
  const dir = mkdtempSync(join(tmpdir(), 'berth-archive-'));
  try {
    const img = await pushBusybox(reg, 'busybox:latest');
    const diffIDs = img.layers.map((l) => l.diffID);
    const src = `docker://${reg.host}/busybox:latest`;
    await skopeo(['copy', '--quiet', '--src-tls-verify=false', src, `docker-archive:${join(dir, 'd.tar')}:busybox:latest`]);
    await skopeo(['copy', '--quiet', '--src-tls-verify=false', src, `oci-archive:${join(dir, 'o.tar')}:localhost/fromoci:2`]);
    await skopeo(['copy', '--quiet', '--src-tls-verify=false', src, `oci:${join(dir, 'layout')}:just-a-tag`]);
    await pipeline(createReadStream(join(dir, 'd.tar')), createGzip(), createWriteStream(join(dir, 'd.tar.gz')));
    await withRoot(async (root, ctx) => {
      const a = await load(ctx, createReadStream(join(dir, 'd.tar')));
      assert.deepEqual(a, [{ id: img.configDigest, names: ['docker.io/library/busybox:latest'] }]);
      const b = await load(ctx, createReadStream(join(dir, 'o.tar')));
      assert.deepEqual(b, [{ id: img.configDigest, names: ['localhost/fromoci:2'] }]);
      const c = await load(ctx, join(dir, 'layout'));
      assert.deepEqual(c, [{ id: img.configDigest, names: [] }], 'a bare tag in an OCI layout names no image (like docker load)');
      const d = await load(ctx, createReadStream(join(dir, 'd.tar.gz')));
      assert.equal(d[0]!.id, img.configDigest);
      const info = await inspect(ctx, 'busybox');
      assert.deepEqual((info.RootFS as { Layers: string[] }).Layers, diffIDs);
      assert.deepEqual([...(info.RepoTags as string[])].sort(), ['busybox:latest', 'localhost/fromoci:2']);
      assert.deepEqual(rootState(root).ingests, []);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await reg.stop();
  }
});

function writeHostileLayout(dir: string, image: BuiltImage, corrupt: string): void {
  writeLayout(dir, image, 'x');
  const p = join(dir, 'blobs/sha256', corrupt.slice(7));
  const b = readFileSync(p);
  b[b.length - 1] ^= 1;
  writeFileSync(p, b);
}

test('hostile archives: a blob that lies about its digest, paths leaving the archive', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-archive-'));
  try {
    const img = buildImage([busyboxLayer()]);
    writeHostileLayout(join(dir, 'layout'), img, img.layers[0]!.digest);
    execFileSync('tar', ['-C', join(dir, 'layout'), '-cf', join(dir, 'bad.tar'), '.']);
    await withRoot(async (root, ctx) => {
      await assert.rejects(load(ctx, createReadStream(join(dir, 'bad.tar'))), /digest mismatch: expected sha256:[a-f0-9]{64}, got sha256:/);
      await assert.rejects(load(ctx, join(dir, 'layout')), /digest mismatch/);
      const s = rootState(root);
      assert.deepEqual([s.images, s.tags, s.ingests, s.snapshots], [[], [], [], []]);
      assert.ok(!s.blobs.includes(img.layers[0]!.digest.slice(7)));
    });
    // a docker-archive whose manifest.json points outside the archive
    const evil = join(dir, 'evil');
    mkdirSync(evil);
    writeFileSync(join(evil, 'config.json'), img.config);
    writeFileSync(join(evil, 'manifest.json'), JSON.stringify([{ Config: 'config.json', RepoTags: ['evil:1'], Layers: ['../../../etc/passwd'] }]));
    execFileSync('tar', ['-C', evil, '-cf', join(dir, 'evil.tar'), 'config.json', 'manifest.json']);
    await withRoot(async (root, ctx) => {
      await assert.rejects(load(ctx, createReadStream(join(dir, 'evil.tar'))), /points outside the archive/);
      assert.deepEqual(rootState(root).images, []);
    });
    // something that is not an image archive at all
    execFileSync('tar', ['-C', evil, '-cf', join(dir, 'plain.tar'), 'config.json']);
    await withRoot(async (_root, ctx) => {
      await assert.rejects(load(ctx, createReadStream(join(dir, 'plain.tar'))), /not an image archive/);
    });
    assert.equal(sha256hex(img.config), img.configDigest.slice(7));
    assert.ok(readdirSync(dir).length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
