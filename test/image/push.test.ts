import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect, pull, push, tag, type ProgressEvent } from '../../src/image/index.js';
import { haveRegistry, pushBusybox, skopeo, startRegistry } from '../helpers/registry.js';
import { faultProxy, skopeoJSON, withRoot } from './util.js';

const skip = haveRegistry() ? false : 'docker-registry is not installed';

test('push: skopeo reads what berth pushed; existing layers skipped; mounts across repositories', { skip }, async () => {
  const reg = await startRegistry();
  const proxy = await faultProxy(reg.host);
  try {
    const img = await pushBusybox(reg, 'src/busybox:latest', { labels: { 'org.example': 'yes' } });
    await withRoot(async (_root, ctx) => {
      const r = await pull(ctx, `${proxy.host}/src/busybox`);
      await tag(ctx, r.id, `${proxy.host}/dst/busybox:v1`);
      const events: ProgressEvent[] = [];
      const [res] = await push(ctx, `${proxy.host}/dst/busybox:v1`, { onProgress: (e) => events.push(e) });
      assert.equal(res!.digest, img.manifestDigest, 'the manifest is pushed byte for byte');
      assert.ok(events.some((e) => e.status === 'Mounted from src/busybox'), JSON.stringify(events.map((e) => e.status)));
      assert.ok(proxy.log.some((l) => l.method === 'POST' && /mount=sha256.*from=src%2Fbusybox/.test(l.url)));
      assert.ok(events.some((e) => e.status === `v1: digest: ${img.manifestDigest} size: ${img.manifest.length}`));
      // skopeo sees the same image
      const si = await skopeoJSON([`docker://${reg.host}/dst/busybox:v1`]);
      assert.equal(si.Digest, img.manifestDigest);
      assert.deepEqual(si.Layers, img.layers.map((l) => l.digest));
      assert.deepEqual((si.Labels as Record<string, string>)['org.example'], 'yes');
      const cfg = await skopeoJSON(['--config', `docker://${reg.host}/dst/busybox:v1`]);
      assert.deepEqual((cfg.rootfs as { diff_ids: string[] }).diff_ids, img.layers.map((l) => l.diffID));
      // pushing again: every layer exists already
      const again: ProgressEvent[] = [];
      await push(ctx, `${proxy.host}/dst/busybox:v1`, { onProgress: (e) => again.push(e) });
      assert.ok(again.some((e) => e.status === 'Layer already exists'));
      const info = await inspect(ctx, r.id);
      assert.ok((info.RepoDigests as string[]).includes(`${proxy.host}/dst/busybox@${img.manifestDigest}`));
    });
  } finally {
    await proxy.close();
    await reg.stop();
  }
});

test('chunked uploads (PATCH with Content-Range) and monolithic uploads both produce valid blobs', { skip }, async () => {
  const src = await startRegistry();
  const dst = await startRegistry();
  const mono = await startRegistry();
  const proxy = await faultProxy(dst.host);
  const proxy2 = await faultProxy(mono.host);
  try {
    const img = await pushBusybox(src, 'busybox:latest');
    await withRoot(async (_root, ctx) => {
      const r = await pull(ctx, `${src.host}/busybox`);
      await tag(ctx, r.id, `${proxy.host}/chunked:1`);
      await push(ctx, `${proxy.host}/chunked:1`, { chunkSize: 256 * 1024 });
      const patches = proxy.log.filter((l) => l.method === "PATCH");
      const expected = Math.ceil(img.layers[0]!.blob.length / (256 * 1024));
      assert.equal(patches.length, expected, `one PATCH per 256 KiB chunk (${patches.length})`);
      const dir = mkdtempSync(join(tmpdir(), 'berth-oci-'));
      try {
        await skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${dst.host}/chunked:1`, `oci:${dir}:x`]);
        const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
        assert.equal(index.manifests[0].digest, img.manifestDigest);
        assert.deepEqual(readFileSync(join(dir, 'blobs/sha256', img.layers[0]!.digest.slice(7))), img.layers[0]!.blob);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      // monolithic, to a registry that has nothing yet (no mount possible)
      await tag(ctx, r.id, `${proxy2.host}/mono:1`);
      await push(ctx, `${proxy2.host}/mono:1`);
      assert.equal(proxy2.log.filter((l) => l.method === 'PATCH').length, 0);
      assert.equal(proxy2.log.filter((l) => l.method === 'PUT' && /digest=sha256/.test(l.url)).length, 2, 'config and layer');
      assert.equal((await skopeoJSON([`docker://${mono.host}/mono:1`])).Digest, img.manifestDigest);
    });
  } finally {
    await proxy.close();
    await proxy2.close();
    await src.stop();
    await dst.stop();
    await mono.stop();
  }
});

test('push -a pushes every tag of the repository; pushing a missing image is a clear error', { skip }, async () => {
  const reg = await startRegistry();
  try {
    await pushBusybox(reg, 'busybox:latest');
    await withRoot(async (_root, ctx) => {
      const r = await pull(ctx, `${reg.host}/busybox`);
      for (const t of ['a', 'b']) await tag(ctx, r.id, `${reg.host}/all:${t}`);
      const res = await push(ctx, `${reg.host}/all`, { allTags: true });
      assert.deepEqual(res.map((x) => x.tag).sort(), ['a', 'b']);
      assert.deepEqual((await skopeo(['list-tags', '--tls-verify=false', `docker://${reg.host}/all`])).includes('"b"'), true);
      await assert.rejects(push(ctx, `${reg.host}/nothere:1`), /An image does not exist locally with the tag: 127\.0\.0\.1:\d+\/nothere:1/);
      await assert.rejects(push(ctx, `${reg.host}/all:a`, { allTags: true }), /tag can't be used with --all-tags/);
    });
  } finally {
    await reg.stop();
  }
});
