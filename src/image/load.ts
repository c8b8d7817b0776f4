/**
 * `load`: images from a docker-archive (`docker save`, `podman save`, skopeo `docker-archive:`,
 * classic or Docker 25+ layout), an OCI archive (skopeo `oci-archive:`) or an OCI layout
 * directory. The archive may be gzip or zstd compressed. Every blob is verified; layers are
 * unpacked onto snapshots (diffIDs checked) before any image record or tag is written.
 */
import { promises as fsp } from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { BerthError, invalid } from '../lib/index.js';
import { isDigest, shortDigest } from '../content/index.js';
import { chainIDs, decompress } from '../snapshots/index.js';
import { contentStore, imageStore, snapshotter, type ImageContext } from './context.js';
import { withOp } from './errors.js';
import { collectGarbage } from './manage.js';
import { noProgress, type ProgressFn } from './events.js';
import { MT, parseConfig, parseManifest, sniffCompression, type Descriptor } from './manifest.js';
import { hostPlatform, normalizePlatform, selectManifest } from './platform.js';
import { formatReference, parseReference } from './reference.js';
import type { Lease } from './store.js';
import type { ImageRecord } from './store.js';

export interface LoadOptions {
  onProgress?: ProgressFn;
}

export interface LoadedImage {
  id: string;
  /** full references tagged */
  names: string[];
}

const JSON_LIMIT = 32 << 20;
const OP = 'load';

/** What an archive or layout directory holds: small files in memory, everything else as blobs. */
interface Source {
  files: Map<string, Buffer>;
  /** path → digest of a file stored in the content store */
  blobs: Map<string, string>;
  /** path → path (symlinks of classic docker archives) */
  links: Map<string, string>;
}

function clean(p: string): string {
  const c = posix.normalize(p.replace(/^\.?\/+/, '')).replace(/\/+$/, '');
  if (c.startsWith('..') || posix.isAbsolute(c)) throw invalid(OP, `${OP}: archive entry ${JSON.stringify(p)} points outside the archive`);
  return c;
}

function lookup(src: Source, path: string, depth = 0): { digest?: string; data?: Buffer } {
  const p = clean(path);
  if (src.blobs.has(p)) return { digest: src.blobs.get(p)! };
  if (src.files.has(p)) return { data: src.files.get(p)! };
  const l = src.links.get(p);
  if (l !== undefined && depth < 16) return lookup(src, l, depth + 1);
  throw invalid(OP, `${OP}: the archive has no file ${JSON.stringify(path)}`);
}

/** Store one file as a blob; `blobs/sha256/<hex>` names are verified against their digest. */
async function ingestFile(ctx: ImageContext, lease: Lease, path: string, data: AsyncIterable<Buffer>): Promise<string> {
  const content = contentStore(ctx);
  const m = /(?:^|\/)blobs\/sha256\/([a-f0-9]{64})$/.exec(path);
  const expected = m ? `sha256:${m[1]}` : undefined;
  const w = await content.ingest(`load-${process.pid}-${Math.random().toString(36).slice(2)}`, { restart: true });
  try {
    for await (const c of data) await w.write(c);
    const digest = w.digest();
    await lease.add({ digests: [digest] });
    const info = await w.commit(expected);
    return info.digest;
  } catch (err) {
    await w.abort();
    throw err;
  }
}

async function readTar(ctx: ImageContext, lease: Lease, input: Readable): Promise<Source> {
  const src: Source = { files: new Map(), blobs: new Map(), links: new Map() };
  const extract = tar.extract();
  const stream = decompress(input);
  // the archive's own error (a truncated or garbled tar) is the cause, not the entry's "destroyed"
  let failure: Error | undefined;
  extract.on('error', (e: Error) => { failure ??= e; });
  stream.on('error', (e) => { failure ??= e; extract.destroy(e); });
  stream.pipe(extract);
  try {
    await readEntries(ctx, lease, extract, src);
  } catch (err) {
    await new Promise((r) => setImmediate(r));
    const cause = failure ?? err;
    if (cause instanceof BerthError) throw cause;
    const msg = (cause as Error)?.message ?? String(cause);
    throw invalid(OP, `${OP}: ${/unexpected end of data|premature close|stream was destroyed/i.test(msg) ? 'unexpected EOF' : msg}`);
  }
  return src;
}

async function readEntries(ctx: ImageContext, lease: Lease, extract: tar.Extract, src: Source): Promise<void> {
  for await (const entry of extract) {
    const h = entry.header;
    const name = clean(h.name);
    if (h.type === 'symlink' || h.type === 'link') {
      const target = h.type === 'symlink' ? posix.join(posix.dirname(name), h.linkname ?? '') : (h.linkname ?? '');
      src.links.set(name, clean(target));
      entry.resume();
      continue;
    }
    if (h.type !== 'file' && h.type !== 'contiguous-file') {
      entry.resume();
      continue;
    }
    const small = (h.size ?? 0) <= JSON_LIMIT && !/(^|\/)blobs\//.test(name) && !name.endsWith('.tar') && !name.endsWith('layer.tar');
    if (small) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      src.files.set(name, Buffer.concat(chunks));
    } else {
      src.blobs.set(name, await ingestFile(ctx, lease, name, entry as AsyncIterable<Buffer>));
    }
  }
}

async function readDir(ctx: ImageContext, lease: Lease, dir: string): Promise<Source> {
  const src: Source = { files: new Map(), blobs: new Map(), links: new Map() };
  for (const f of ['index.json', 'oci-layout', 'manifest.json', 'repositories']) {
    try { src.files.set(f, await fsp.readFile(join(dir, f))); } catch { /* absent */ }
  }
  const blobDir = join(dir, 'blobs', 'sha256');
  for (const hex of await fsp.readdir(blobDir).catch(() => [] as string[])) {
    if (!/^[a-f0-9]{64}$/.test(hex)) continue;
    const fh = await fsp.open(join(blobDir, hex), 'r');
    try {
      src.blobs.set(`blobs/sha256/${hex}`, await ingestFile(ctx, lease, `blobs/sha256/${hex}`, fh.createReadStream({ autoClose: false }) as AsyncIterable<Buffer>));
    } finally {
      await fh.close();
    }
  }
  return src;
}

async function blobFor(ctx: ImageContext, src: Source, path: string): Promise<Descriptor> {
  const f = lookup(src, path);
  const content = contentStore(ctx);
  const digest = f.digest ?? (await content.writeBlob(f.data!)).digest;
  const info = await content.info(digest);
  return { mediaType: '', digest, size: info.size };
}

interface Candidate {
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  names: string[];
}

/** Images of a docker-archive (manifest.json). */
async function dockerCandidates(ctx: ImageContext, src: Source): Promise<Candidate[]> {
  const content = contentStore(ctx);
  let list: { Config: string; RepoTags?: string[] | null; Layers: string[] }[];
  try {
    list = JSON.parse(src.files.get('manifest.json')!.toString('utf8'));
    if (!Array.isArray(list)) throw new Error('not a list');
  } catch (err) {
    throw invalid(OP, `${OP}: manifest.json is not valid: ${(err as Error).message}`);
  }
  const out: Candidate[] = [];
  for (const e of list) {
    if (typeof e?.Config !== 'string' || !Array.isArray(e.Layers)) throw invalid(OP, `${OP}: manifest.json entry lacks Config or Layers`);
    const config = { ...(await blobFor(ctx, src, e.Config)), mediaType: MT.ociConfig };
    const layers: Descriptor[] = [];
    for (const lp of e.Layers) {
      const d = await blobFor(ctx, src, lp);
      const head = await readHead(ctx, d.digest);
      const comp = sniffCompression(head);
      layers.push({ ...d, mediaType: comp === 'gzip' ? MT.ociLayerGzip : comp === 'zstd' ? MT.ociLayerZstd : MT.ociLayer });
    }
    const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config, layers }));
    const m = await content.writeBlob(manifestBytes);
    out.push({ manifest: { mediaType: MT.ociManifest, digest: m.digest, size: m.size }, config, layers, names: (e.RepoTags ?? []).map((t) => formatReference(parseReference(t))) });
  }
  return out;
}

async function readHead(ctx: ImageContext, digest: string): Promise<Buffer> {
  const fh = await fsp.open(contentStore(ctx).path(digest), 'r');
  try {
    const b = Buffer.alloc(8);
    const { bytesRead } = await fh.read(b, 0, 8, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The reference an OCI index entry names, if it names a full one. */
function ociName(d: Descriptor): string | undefined {
  const a = d.annotations ?? {};
  const full = a['io.containerd.image.name'];
  if (full) return formatReference(parseReference(full));
  const n = a['org.opencontainers.image.ref.name'];
  if (n && /[/:]/.test(n)) {
    try { return formatReference(parseReference(n)); } catch { return undefined; }
  }
  return undefined;
}

/** Images of an OCI layout (index.json; nested indexes resolved to the host platform). */
async function ociCandidates(ctx: ImageContext, src: Source): Promise<Candidate[]> {
  const content = contentStore(ctx);
  const index = parseManifest(src.files.get('index.json')!, undefined, `${OP}: index.json`);
  if (index.kind !== 'index') throw invalid(OP, `${OP}: index.json is not an image index`);
  const byDigest = new Map<string, Candidate>();
  for (const d of index.index!.manifests) {
    let desc = d;
    const bytes = await content.readBytes(desc.digest, true).catch(() => { throw invalid(OP, `${OP}: the archive lacks blob ${desc.digest}`); });
    let pm = parseManifest(bytes, desc.mediaType, `${OP}: ${desc.digest}`);
    if (pm.kind === 'index') {
      desc = selectManifest(pm.index!.manifests, hostPlatform(), `${OP}: ${d.digest}`);
      pm = parseManifest(await content.readBytes(desc.digest, true), desc.mediaType, `${OP}: ${desc.digest}`);
    }
    const m = pm.manifest!;
    const c = byDigest.get(desc.digest) ?? { manifest: { mediaType: pm.mediaType, digest: desc.digest, size: desc.size }, config: m.config, layers: m.layers, names: [] };
    byDigest.set(desc.digest, c);
    const name = ociName(d);
    if (name) c.names.push(name);
  }
  return [...byDigest.values()];
}

/** Load images from a tar stream (any supported format) or an OCI layout directory path. */
export async function load(ctx: ImageContext, input: Readable | string, opts: LoadOptions = {}): Promise<LoadedImage[]> {
  const progress = opts.onProgress ?? noProgress;
  const images = imageStore(ctx);
  const content = contentStore(ctx);
  const lease = await images.lease({});
  try {
    const src = typeof input === 'string' ? await readDir(ctx, lease, input) : await readTar(ctx, lease, input);
    let candidates: Candidate[];
    if (src.files.has('manifest.json')) candidates = await dockerCandidates(ctx, src);
    else if (src.files.has('index.json')) candidates = await ociCandidates(ctx, src);
    else throw invalid(OP, `${OP}: not an image archive: it has neither manifest.json (docker-archive) nor index.json (OCI layout)`);
    if (!candidates.length) throw invalid(OP, `${OP}: the archive holds no images`);
    const snaps = await snapshotter(ctx);
    const records: { record: ImageRecord; names: string[] }[] = [];
    for (const c of candidates) {
      for (const b of [c.config, ...c.layers]) if (!isDigest(b.digest) || !(await content.has(b.digest))) throw invalid(OP, `${OP}: the archive lacks blob ${b.digest}`);
      const config = parseConfig(await content.readBytes(c.config.digest, true), `${OP} ${shortDigest(c.config.digest)}`);
      const diffIDs = config.rootfs.diff_ids;
      if (diffIDs.length !== c.layers.length) throw invalid(OP, `${OP}: image ${c.config.digest}: config lists ${diffIDs.length} layers, manifest ${c.layers.length}`);
      const chains = chainIDs(diffIDs);
      await lease.add({ digests: [c.manifest.digest, c.config.digest], chains });
      let size = 0;
      for (const [i, l] of c.layers.entries()) {
        const sid = shortDigest(diffIDs[i]!);
        progress({ id: sid, status: 'Loading layer', current: 0, total: l.size });
        const res = await snaps.unpackLayer({
          parent: i ? chains[i - 1] : undefined, tarStream: content.createReadStream(l.digest), mediaType: l.mediaType, diffID: diffIDs[i],
        }).catch((err) => {
          if (err instanceof BerthError && err.kind !== 'invalid') throw withOp(`${OP}: layer ${l.digest}`, err);
          throw invalid(OP, `${OP}: layer ${l.digest}: ${(err as Error).message}`);
        });
        size += res.size;
        progress({ id: sid, status: 'Loading layer', current: l.size, total: l.size });
      }
      const existing = await images.get(c.config.digest);
      const record: ImageRecord = {
        id: c.config.digest, manifest: c.manifest, config: c.config, layers: c.layers, diffIDs,
        repoDigests: existing?.repoDigests ?? [], created: config.created ?? new Date(0).toISOString(), size,
        platform: normalizePlatform({ os: config.os ?? 'linux', architecture: config.architecture ?? 'amd64', variant: config.variant }),
        added: new Date().toISOString(), source: 'load',
      };
      // keep a pulled image's own manifest (and so its digests) when the same image is loaded again
      if (existing && existing.source !== 'load') Object.assign(record, { manifest: existing.manifest, layers: existing.layers, index: existing.index, source: existing.source, added: existing.added });
      records.push({ record, names: c.names });
    }
    const out: LoadedImage[] = [];
    for (const { record, names } of records) {
      await images.put(record);
      for (const n of names) await images.setTag(n, record.id);
      out.push({ id: record.id, names });
    }
    return out;
  } catch (err) {
    // nothing half-made stays: what this load stored goes, once its lease no longer holds it
    await lease.release();
    await collectGarbage(ctx).catch(() => undefined);
    throw withOp(OP, err);
  } finally {
    await lease.release(); // (again after a failure: removing a removed file is a no-op)
  }
}
