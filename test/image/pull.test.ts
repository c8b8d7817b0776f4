import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BerthError } from '../../src/lib/index.js';
import { contentStore, imageStore, inspect, pull, snapshotter, type ProgressEvent } from '../../src/image/index.js';
import { chainIDs } from '../../src/snapshots/index.js';
import {
  buildImage, buildIndex, busyboxLayer, haveRegistry, layerFromTar, pushBusybox, pushImageRaw, pushRaw, registryBlobPath, startRegistry,
} from '../helpers/registry.js';
import { faultProxy, rootState, withRoot } from './util.js';

const skip = haveRegistry() ? false : 'docker-registry is not installed';

test('pull an OCI image: blobs, record, tag, unpacked layers; a second pull is up to date', { skip }, async () => {
  const reg = await startRegistry();
  try {
    const img = await pushBusybox(reg, 'busybox:1');
    await withRoot(async (root, ctx) => {
      const events: ProgressEvent[] = [];
      const r = await pull(ctx, `${reg.host}/busybox:1`, { onProgress: (e) => events.push(e) });
      assert.equal(r.id, img.configDigest);
      assert.equal(r.digest, img.manifestDigest);
      assert.equal(r.status, 'downloaded');
      assert.equal(r.reference, `${reg.host}/busybox:1`);
      assert.deepEqual(r.record.diffIDs, img.layers.map((l) => l.diffID));
      assert.equal(r.record.size, img.layers[0]!.tar.length);
      const content = contentStore(ctx);
      for (const d of [img.manifestDigest, img.configDigest, img.layers[0]!.digest]) assert.ok(await content.has(d), d);
      assert.equal(await imageStore(ctx).getTag(`${reg.host}/busybox:1`), img.configDigest);
      const snaps = await snapshotter(ctx);
      const top = chainIDs(r.record.diffIDs).at(-1)!;
      assert.equal(snaps.stat(top)?.kind, 'committed');
      const fs = snaps.layerDirs(top)[0]!;
      assert.deepEqual(readFileSync(join(fs, 'bin/busybox')), readFileSync('/bin/busybox'));
      const sid = img.layers[0]!.digest.slice(7, 19);
      const statuses = events.filter((e) => e.id === sid).map((e) => e.status);
      for (const s of ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete']) assert.ok(statuses.includes(s), `${s} in ${statuses}`);
      assert.deepEqual(rootState(root).ingests, []);
      const again = await pull(ctx, `${reg.host}/busybox:1`);
      assert.equal(again.status, 'up-to-date');
      const info = await inspect(ctx, `${reg.host}/busybox:1`);
      assert.deepEqual(info.RepoDigests, [`${reg.host}/busybox@${img.manifestDigest}`]);
      // by digest: no new tag, same image
      const byDigest = await pull(ctx, `${reg.host}/busybox@${img.manifestDigest}`);
      assert.equal(byDigest.id, img.configDigest);
      assert.equal(rootState(root).tags.length, 1);
    });
  } finally {
    await reg.stop();
  }
});

test('Docker schema2, uncompressed and zstd layers, several layers pulled concurrently', { skip }, async () => {
  const reg = await startRegistry();
  try {
    const base = busyboxLayer('gzip', false);
    const layers = [base, ...[1, 2, 3, 4].map((i) => layerFromTar(tarOf(`file${i}`, `content ${i}\n`), i % 2 ? 'zstd' : 'none'))];
    const img = buildImage(layers, { format: 'oci' });
    await pushImageRaw(reg, 'multi', 'v1', img);
    const docker = buildImage([busyboxLayer('gzip', false)], { format: 'docker' });
    await pushImageRaw(reg, 'docker2', 'v1', docker);
    await withRoot(async (_root, ctx) => {
      const r = await pull(ctx, `${reg.host}/multi:v1`);
      assert.deepEqual(r.record.diffIDs, layers.map((l) => l.diffID));
      const snaps = await snapshotter(ctx);
      const dirs = snaps.layerDirs(chainIDs(r.record.diffIDs).at(-1)!);
      assert.equal(dirs.length, 5);
      assert.equal(readFileSync(join(dirs[0]!, 'file4'), 'utf8'), 'content 4\n');
      assert.equal(readFileSync(join(dirs[1]!, 'file3'), 'utf8'), 'content 3\n');
      const d = await pull(ctx, `${reg.host}/docker2:v1`);
      assert.equal(d.record.manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
      assert.equal(d.id, docker.configDigest);
    }, undefined, { maxConcurrentDownloads: 2 });
  } finally {
    await reg.stop();
  }
});

/** A one-file tar made with GNU tar. */
function tarOf(name: string, data: string): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
  header.write('14000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const body = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  body.write(data);
  return Buffer.concat([header, body, Buffer.alloc(1024)]);
}

test('a multi-arch index: the host platform by default, --platform on request, a clear error otherwise', { skip }, async () => {
  const reg = await startRegistry();
  try {
    const amd = buildImage([busyboxLayer()], { architecture: 'amd64' });
    const arm = buildImage([layerFromTar(tarOf('arm', 'arm64\n'))], { architecture: 'arm64', variant: 'v8' });
    for (const i of [amd, arm]) await pushImageRaw(reg, 'multiarch', i.manifestDigest, i);
    const idx = buildIndex([{ image: amd, platform: { os: 'linux', architecture: 'amd64' } }, { image: arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }]);
    await pushRaw(reg, 'multiarch', 'latest', [], idx.bytes, idx.mediaType);
    await withRoot(async (_root, ctx) => {
      const host = await pull(ctx, `${reg.host}/multiarch`);
      assert.equal(host.id, process.arch === 'arm64' ? arm.configDigest : amd.configDigest);
      assert.equal(host.digest, idx.digest);
      assert.deepEqual(host.record.index?.digest, idx.digest);
      const a = await pull(ctx, `${reg.host}/multiarch`, { platform: { os: 'linux', architecture: 'arm64' } });
      assert.equal(a.id, arm.configDigest);
      assert.equal(a.record.platform.architecture, 'arm64');
      await assert.rejects(pull(ctx, `${reg.host}/multiarch`, { platform: { os: 'linux', architecture: 's390x' } }),
        /no matching manifest for linux\/s390x in the manifest list entries \(available: linux\/amd64, linux\/arm64\)/);
      // a single-platform image that does not match an explicit --platform
      await pushImageRaw(reg, 'single', 'latest', arm);
      await assert.rejects(pull(ctx, `${reg.host}/single`, { platform: { os: 'linux', architecture: 'amd64' } }), /does not match the specified platform: wanted linux\/amd64, actual: linux\/arm64/);
    });
  } finally {
    await reg.stop();
  }
});

test('a layer whose digest lies is rejected and leaves nothing behind', { skip }, async () => {
  const reg = await startRegistry();
  try {
    const img = await pushBusybox(reg, 'liar:latest');
    // corrupt the blob in the registry's storage: the registry serves it without checking
    const p = registryBlobPath(reg, img.layers[0]!.digest);
    const data = readFileSync(p);
    data[data.length - 100] ^= 0xff;
    writeFileSync(p, data);
    await withRoot(async (root, ctx) => {
      await assert.rejects(pull(ctx, `${reg.host}/liar`), (e: BerthError) => {
        assert.match(e.message, /digest mismatch/);
        assert.ok(e.message.includes(img.layers[0]!.digest), e.message);
        return true;
      });
      const s = rootState(root);
      assert.deepEqual(s.images, []);
      assert.deepEqual(s.tags, []);
      assert.deepEqual(s.ingests, [], 'bad bytes are not kept for resuming');
      assert.ok(!s.blobs.includes(img.layers[0]!.digest.slice(7)), 'the lying blob is not stored');
      assert.deepEqual(s.snapshots, [], 'no unpacked layer');
      assert.deepEqual((await snapshotter(ctx)).list(), []);
    });
  } finally {
    await reg.stop();
  }
});

test('a config whose diff_ids lie is rejected by the unpacker and leaves no image', { skip }, async () => {
  const reg = await startRegistry();
  try {
    const layer = busyboxLayer();
    const lying = { ...layer, diffID: 'sha256:' + '0'.repeat(64) };
    await pushImageRaw(reg, 'difflie', 'latest', buildImage([lying]));
    await withRoot(async (root, ctx) => {
      await assert.rejects(pull(ctx, `${reg.host}/difflie`), /diffID mismatch/);
      const s = rootState(root);
      assert.deepEqual([s.images, s.tags, s.snapshots], [[], [], []]);
    });
  } finally {
    await reg.stop();
  }
});

test('schema 1 manifests are refused with a clear message', async () => {
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => {
    if (req.url === '/v2/') { res.writeHead(200); res.end('{}'); return; }
    res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' });
    res.end(JSON.stringify({ schemaVersion: 1, name: 'old', tag: 'latest', architecture: 'amd64', fsLayers: [], history: [], signatures: [] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    await withRoot(async (root, ctx) => {
      await assert.rejects(pull(ctx, `${host}/old`), (e: BerthError) => {
        assert.match(e.message, /manifest version 2, schema 1 are no longer supported/);
        assert.match(e.message, /old:latest/);
        return true;
      });
      assert.deepEqual(rootState(root).images, []);
    });
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('an interrupted download resumes with a Range request; redirects are followed', { skip }, async () => {
  const reg = await startRegistry();
  const proxy = await faultProxy(reg.host);
  try {
    const img = await pushBusybox(reg, 'resume:latest');
    const layer = img.layers[0]!;
    const blobUrl = new RegExp(`/blobs/${layer.digest}$`);
    proxy.cutNext(blobUrl, 300_000);
    proxy.cutNext(blobUrl, 200_000); // the second attempt breaks too
    proxy.redirect(new RegExp(`/blobs/${img.configDigest}$`));
    await withRoot(async (root, ctx) => {
      const events: ProgressEvent[] = [];
      const r = await pull(ctx, `${proxy.host}/resume`, { onProgress: (e) => events.push(e) });
      assert.deepEqual(r.record.diffIDs, [layer.diffID]);
      const gets = proxy.log.filter((l) => blobUrl.test(l.url));
      assert.equal(gets.length, 3, JSON.stringify(gets));
      assert.equal(gets[0]!.range, undefined);
      // resumed where the received bytes ended (the proxy may lose a little of what it wrote)
      const starts = gets.slice(1).map((g) => Number(/^bytes=(\d+)-$/.exec(g.range ?? '')?.[1]));
      assert.ok(starts[0]! > 0 && starts[0]! <= 300_000, `first resume at ${starts[0]}`);
      assert.ok(starts[1]! > starts[0]! && starts[1]! <= starts[0]! + 200_000, `second resume at ${starts[1]}`);
      assert.equal(gets[2]!.status, 206);
      assert.ok(events.some((e) => e.status === 'Retrying'));
      assert.ok(proxy.log.some((l) => l.status === 307), 'the config came through a redirect');
      assert.deepEqual(rootState(root).ingests, []);
    });
  } finally {
    await proxy.close();
    await reg.stop();
  }
});

test('a pull killed mid-download is resumed by the next pull from the bytes it left', { skip }, async () => {
  const reg = await startRegistry();
  const proxy = await faultProxy(reg.host);
  try {
    const img = await pushBusybox(reg, 'killed:latest');
    const layer = img.layers[0]!;
    await withRoot(async (root, ctx) => {
      // what a killed pull leaves: a partial ingest (and a dead writer's lock)
      const dir = join(root, 'content/ingest', `blob-${layer.digest.replace(':', '-')}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'data'), layer.blob.subarray(0, 400_000));
      writeFileSync(join(dir, 'ref'), `blob-${layer.digest.replace(':', '-')}`);
      writeFileSync(`${dir}.lock`, '999999999');
      const r = await pull(ctx, `${proxy.host}/killed`);
      assert.deepEqual(r.record.diffIDs, [layer.diffID]);
      const gets = proxy.log.filter((l) => l.url.endsWith(`/blobs/${layer.digest}`));
      assert.deepEqual(gets.map((g) => g.range), ['bytes=400000-']);
      assert.ok(!existsSync(dir) && !existsSync(`${dir}.lock`));
    });
  } finally {
    await proxy.close();
    await reg.stop();
  }
});

test('a pull killed with SIGKILL leaves no image; the next pull resumes and finishes cleanly', { skip }, async () => {
  const reg = await startRegistry();
  const proxy = await faultProxy(reg.host);
  try {
    const img = await pushBusybox(reg, 'sigkill:latest');
    const layer = img.layers[0]!;
    const blobUrl = new RegExp(`/blobs/${layer.digest}$`);
    proxy.throttle(blobUrl, 16 * 1024, 10);
    await withRoot(async (root, ctx) => {
      const runner = join(dirname(fileURLToPath(import.meta.url)), 'clirun.js');
      const child = spawn(process.execPath, [runner, 'pull', '-q', `${proxy.host}/sigkill`], { env: { ...process.env, BERTH_ROOT: root }, stdio: 'ignore' });
      const exited = new Promise((r) => child.on('exit', r));
      const deadline = Date.now() + 20_000;
      while ((proxy.log.find((l) => blobUrl.test(l.url))?.bytes ?? 0) < 200_000 && Date.now() < deadline) await sleep(20);
      child.kill('SIGKILL');
      await exited;
      let s = rootState(root);
      assert.deepEqual([s.images, s.tags], [[], []], 'no image after the kill');
      assert.ok(s.ingests.some((i) => i.startsWith('blob-')), 'the partial download is kept');
      const r = await pull(ctx, `${proxy.host}/sigkill`);
      assert.deepEqual(r.record.diffIDs, [layer.diffID]);
      const gets = proxy.log.filter((l) => blobUrl.test(l.url));
      assert.equal(gets.length, 2);
      assert.ok(Number(/bytes=(\d+)-/.exec(gets[1]!.range ?? '')?.[1]) >= 100_000, `resumed: ${gets[1]!.range}`);
      s = rootState(root);
      assert.deepEqual([s.ingests, s.tmp], [[], []]);
      const snaps = await snapshotter(ctx);
      assert.deepEqual(snaps.list().map((x) => x.kind), ['committed'], 'the killed pull\'s temporary snapshot was removed');
    });
  } finally {
    await proxy.close();
    await reg.stop();
  }
});

test('concurrent pulls of the same image into one root share the work and both succeed', { skip }, async () => {
  const reg = await startRegistry();
  try {
    const img = await pushBusybox(reg, 'twice:latest');
    await withRoot(async (root, ctx) => {
      const other = { ...ctx };
      const [a, b] = await Promise.all([pull(ctx, `${reg.host}/twice`), pull(other, `${reg.host}/twice:latest`)]);
      assert.equal(a.id, img.configDigest);
      assert.equal(b.id, img.configDigest);
      const s = rootState(root);
      assert.deepEqual([s.images.length, s.tags.length, s.ingests.length], [1, 1, 0]);
      assert.deepEqual((await snapshotter(ctx)).list().map((x) => x.kind), ['committed']);
      const { closeContext } = await import('../../src/image/index.js');
      await closeContext(other);
    });
  } finally {
    await reg.stop();
  }
});

test('pull errors name the image: unknown tag, unknown repository, refused connection', { skip }, async () => {
  const reg = await startRegistry();
  try {
    await pushBusybox(reg, 'exists:latest');
    await withRoot(async (_root, ctx) => {
      await assert.rejects(pull(ctx, `${reg.host}/exists:nope`), (e: BerthError) => e.kind === 'notfound' && /manifest nope: not found \(MANIFEST_UNKNOWN/.test(e.message) && e.message.includes('exists:nope'));
      await assert.rejects(pull(ctx, `${reg.host}/missing`), (e: BerthError) => e.kind === 'notfound' && /NAME_UNKNOWN|MANIFEST_UNKNOWN/.test(e.message));
      await assert.rejects(pull(ctx, '127.0.0.1:1/x'), (e: BerthError) => e.kind === 'remote' && /ECONNREFUSED|127\.0\.0\.1:1/.test(e.message));
    }, undefined, { maxDownloadAttempts: 0 });
  } finally {
    await reg.stop();
  }
});
