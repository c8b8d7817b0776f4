/**
 * `save`: write images as a tar stream.
 *  - docker-archive (default): Docker 25's layout, which is also an OCI layout: uncompressed layer
 *    tars and the config under blobs/sha256/, plus manifest.json and repositories for `docker load`
 *    (and every older reader of `docker save` output), plus index.json + oci-layout.
 *  - oci-archive: an OCI image layout with the original (compressed) blobs and manifests.
 */
import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { BerthError } from '../lib/index.js';
import { decompress, chainIDs, SIZE_LABEL } from '../snapshots/index.js';
import { contentStore, imageStore, snapshotter, type ImageContext } from './context.js';
import { MT, type Descriptor } from './manifest.js';
import { familiarName, familiarString, formatReference, parseReference, repositoryName } from './reference.js';
import type { ImageRecord } from './store.js';

export type ArchiveFormat = 'docker-archive' | 'oci-archive';

export interface SaveOptions {
  format?: ArchiveFormat;
}

interface Item {
  record: ImageRecord;
  /** full references (with tag) to record */
  names: string[];
}

const EPOCH = new Date(0);

function addFile(pack: tar.Pack, name: string, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ name, mode: 0o644, mtime: EPOCH, type: 'file' }, typeof data === 'string' ? Buffer.from(data) : data, (err) => (err ? reject(err) : resolve()));
  });
}

function addDir(pack: tar.Pack, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ name, mode: 0o755, mtime: EPOCH, type: 'directory' }, (err) => (err ? reject(err) : resolve()));
  });
}

async function addStream(pack: tar.Pack, name: string, size: number, src: Readable, verify?: { digest: string; what: string }): Promise<void> {
  const hash = createHash('sha256');
  let n = 0;
  const done = new Promise<void>((resolve, reject) => {
    const entry = pack.entry({ name, size, mode: 0o644, mtime: EPOCH, type: 'file' }, (err) => (err ? reject(err) : resolve()));
    src.on('data', (c: Buffer) => { hash.update(c); n += c.length; });
    pipeline(src, entry).catch(reject);
  });
  await done;
  if (verify && (n !== size || 'sha256:' + hash.digest('hex') !== verify.digest)) {
    throw new BerthError({ kind: 'invalid', op: 'save', message: `save: ${verify.what}: content does not match ${verify.digest} (${n} bytes)` });
  }
}

/** Resolve the arguments of `save` to images and the names to record for each. */
async function collect(ctx: ImageContext, inputs: string[]): Promise<Item[]> {
  const images = imageStore(ctx);
  const items = new Map<string, Item>();
  for (const input of inputs) {
    const { record, ref } = await images.resolve(input, 'save');
    const item = items.get(record.id) ?? { record, names: [] };
    items.set(record.id, item);
    const isId = /^(sha256:)?[a-f0-9]{1,64}$/.test(input.trim()) && record.id.includes(input.trim().replace(/^sha256:/, ''));
    if (ref && !isId && ref.tag) item.names.push(formatReference(ref));
    else if (ref && !isId && !ref.tag) item.names.push(...(await images.tagsOf(record.id)).filter((t) => t.startsWith(repositoryName(ref) + ':')));
  }
  for (const it of items.values()) it.names = [...new Set(it.names)];
  return [...items.values()];
}

/** Uncompressed size of layer `i` of `r`: from the unpacked snapshot, else by decompressing once. */
async function layerSize(ctx: ImageContext, r: ImageRecord, i: number): Promise<number> {
  const layer = r.layers[i]!;
  if (layer.mediaType === MT.ociLayer || layer.mediaType === MT.dockerLayer) return layer.size;
  const snaps = await snapshotter(ctx);
  const label = snaps.stat(chainIDs(r.diffIDs)[i]!)?.labels[SIZE_LABEL];
  if (label && Number(label) > 0) return Number(label);
  let n = 0;
  for await (const c of decompress(contentStore(ctx).createReadStream(layer.digest), layer.mediaType)) n += (c as Buffer).length;
  return n;
}

/** Write the images named by `inputs` as a tar archive to `out`. */
export async function save(ctx: ImageContext, inputs: string[], out: Writable, opts: SaveOptions = {}): Promise<void> {
  if (!inputs.length) throw new BerthError({ kind: 'usage', op: 'save', message: 'save: no images given' });
  const items = await collect(ctx, inputs);
  const pack = tar.pack();
  const written = pipeline(pack, out);
  written.catch(() => {});
  try {
    if (opts.format === 'oci-archive') await writeOci(ctx, pack, items);
    else await writeDocker(ctx, pack, items);
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    await written.catch(() => {});
    throw err;
  }
  await written;
}

async function writeDocker(ctx: ImageContext, pack: tar.Pack, items: Item[]): Promise<void> {
  const content = contentStore(ctx);
  const done = new Set<string>();
  const manifestJson: unknown[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const index: Descriptor[] = [];
  await addDir(pack, 'blobs/');
  await addDir(pack, 'blobs/sha256/');
  for (const { record: r, names } of items) {
    const layerPaths: string[] = [];
    const layers: Descriptor[] = [];
    for (const [i, l] of r.layers.entries()) {
      const diffID = r.diffIDs[i]!;
      const path = `blobs/sha256/${diffID.slice(7)}`;
      layerPaths.push(path);
      const size = await layerSize(ctx, r, i);
      layers.push({ mediaType: MT.ociLayer, digest: diffID, size });
      if (done.has(diffID)) continue;
      done.add(diffID);
      await addStream(pack, path, size, decompress(content.createReadStream(l.digest), l.mediaType), { digest: diffID, what: `layer ${l.digest}` });
    }
    const configPath = `blobs/sha256/${r.config.digest.slice(7)}`;
    if (!done.has(r.config.digest)) {
      done.add(r.config.digest);
      await addFile(pack, configPath, await content.readBytes(r.config.digest, true));
    }
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: r.config.digest, size: r.config.size }, layers }));
    const mdigest = 'sha256:' + createHash('sha256').update(manifest).digest('hex');
    if (!done.has(mdigest)) {
      done.add(mdigest);
      await addFile(pack, `blobs/sha256/${mdigest.slice(7)}`, manifest);
    }
    const repoTags = names.map((n) => familiarString(parseReference(n)));
    manifestJson.push({ Config: configPath, RepoTags: repoTags.length ? repoTags : null, Layers: layerPaths });
    const mdesc = { mediaType: MT.ociManifest, digest: mdigest, size: manifest.length };
    if (!names.length) index.push({ ...mdesc, annotations: { 'io.containerd.image.name': '' } });
    for (const n of names) {
      const ref = parseReference(n);
      index.push({ ...mdesc, annotations: { 'io.containerd.image.name': n, 'org.opencontainers.image.ref.name': ref.tag ?? 'latest' } });
      (repositories[familiarName(ref)] ??= {})[ref.tag ?? 'latest'] = r.id.slice(7);
    }
  }
  for (const d of index) if (d.annotations?.['io.containerd.image.name'] === '') delete d.annotations;
  await addFile(pack, 'index.json', JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: index }));
  await addFile(pack, 'oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await addFile(pack, 'manifest.json', JSON.stringify(manifestJson));
  if (Object.keys(repositories).length) await addFile(pack, 'repositories', JSON.stringify(repositories));
}

async function writeOci(ctx: ImageContext, pack: tar.Pack, items: Item[]): Promise<void> {
  const content = contentStore(ctx);
  const done = new Set<string>();
  const index: Descriptor[] = [];
  await addDir(pack, 'blobs/');
  await addDir(pack, 'blobs/sha256/');
  const blob = async (d: Descriptor) => {
    if (done.has(d.digest)) return;
    done.add(d.digest);
    await addStream(pack, `blobs/sha256/${d.digest.slice(7)}`, d.size, content.createReadStream(d.digest), { digest: d.digest, what: `blob ${d.digest}` });
  };
  for (const { record: r, names } of items) {
    for (const l of r.layers) await blob(l);
    await blob(r.config);
    await blob(r.manifest);
    const mdesc: Descriptor = { mediaType: r.manifest.mediaType, digest: r.manifest.digest, size: r.manifest.size, platform: { os: r.platform.os, architecture: r.platform.architecture, ...(r.platform.variant ? { variant: r.platform.variant } : {}) } };
    if (!names.length) index.push(mdesc);
    for (const n of names) {
      index.push({ ...mdesc, annotations: { 'io.containerd.image.name': n, 'org.opencontainers.image.ref.name': parseReference(n).tag ?? 'latest' } });
    }
  }
  await addFile(pack, 'oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await addFile(pack, 'index.json', JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: index }));
}
