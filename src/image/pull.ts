/**
 * `pull`: resolve a reference (through an index to the wanted platform), fetch manifest and
 * config, download layers concurrently (bounded) into the content store, and unpack them in
 * order onto snapshots while they arrive. The image record and its tag are written last, so a
 * pull that fails or is killed leaves no image behind (only resumable ingests and unreferenced
 * blobs that `prune` collects).
 */
import { BerthError, invalid } from '../lib/index.js';
import { shortDigest } from '../content/index.js';
import { chainIDs, SIZE_LABEL } from '../snapshots/index.js';
import { contentStore, imageStore, registryClient, snapshotter, type ImageContext } from './context.js';
import { withOp } from './errors.js';
import { noProgress, type ProgressFn } from './events.js';
import { parseConfig, type Descriptor, type ImageConfig, type Platform } from './manifest.js';
import { formatPlatform, hostPlatform, normalizePlatform, platformMatches, selectManifest } from './platform.js';
import { formatReference, familiarString, parseReference, repositoryName, type Reference } from './reference.js';
import type { RegistryClient } from './registry/index.js';
import type { ImageRecord } from './store.js';
import { BlobDownload, Limiter } from './transfer.js';

export interface PullOptions {
  platform?: Platform;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

export interface PullResult {
  id: string;
  /** full reference pulled, e.g. docker.io/library/busybox:latest */
  reference: string;
  /** digest the reference resolved to (the index's when there is one) */
  digest: string;
  status: 'downloaded' | 'up-to-date';
  record: ImageRecord;
  warnings: string[];
}

/** Fetch a small blob (a config) into the content store, verified. */
async function fetchSmallBlob(ctx: ImageContext, client: RegistryClient, repo: string, desc: Descriptor, signal?: AbortSignal): Promise<Buffer> {
  const content = contentStore(ctx);
  if (!(await content.has(desc.digest))) {
    const dl = new BlobDownload(desc, content);
    await dl.run(client, repo, {}, signal);
  }
  return content.readBytes(desc.digest);
}

export async function pull(ctx: ImageContext, refStr: string, opts: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(refStr);
  const full = formatReference(ref);
  const op = `pull ${familiarString(ref)}`;
  const progress = opts.onProgress ?? noProgress;
  const client = registryClient(ctx, ref.domain);
  const content = contentStore(ctx);
  const images = imageStore(ctx);
  const want = normalizePlatform(opts.platform ?? hostPlatform());
  const warnings: string[] = [];

  progress({ id: ref.digest ?? ref.tag ?? '', status: `Pulling from ${ref.path}` });
  const top = await client.getManifest(ref.path, ref.digest ?? ref.tag!, { op });
  const topDesc: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length };
  let manifestDesc = topDesc;
  let m = top;
  let indexDesc: Descriptor | undefined;
  if (top.kind === 'index') {
    indexDesc = topDesc;
    const chosen = selectManifest(top.index!.manifests, want, op);
    m = await client.getManifest(ref.path, chosen.digest, { op });
    if (m.kind !== 'manifest') throw invalid(op, `${op}: ${chosen.digest}: an index inside an index is not supported`);
    manifestDesc = { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length, ...(chosen.platform ? { platform: chosen.platform } : {}) };
  }
  const manifest = m.manifest!;
  const lease = await images.lease({ digests: [topDesc.digest, manifestDesc.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)] });
  try {
    if (indexDesc) await content.writeBlob(top.bytes, { digest: indexDesc.digest, size: indexDesc.size });
    await content.writeBlob(m.bytes, { digest: manifestDesc.digest, size: manifestDesc.size });
    const configBytes = await fetchSmallBlob(ctx, client, ref.path, manifest.config, opts.signal);
    const config = parseConfig(configBytes, op);
    const diffIDs = config.rootfs.diff_ids;
    if (diffIDs.length !== manifest.layers.length) {
      throw invalid(op, `${op}: the config lists ${diffIDs.length} layers (diff_ids) but the manifest has ${manifest.layers.length}`);
    }
    const have = normalizePlatform({ os: config.os ?? 'linux', architecture: config.architecture ?? 'amd64', variant: config.variant });
    if (!indexDesc && !platformMatches(want, have)) {
      const msg = `image with reference ${familiarString(ref)} was found but does not match the ${opts.platform ? 'specified' : 'host'} platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(have)}`;
      if (opts.platform) throw new BerthError({ kind: 'notfound', op, message: `${op}: ${msg}` });
      warnings.push(`WARNING: ${msg}`);
    }
    const chains = chainIDs(diffIDs);
    await lease.add({ chains });
    const id = manifest.config.digest;
    const snaps = await snapshotter(ctx);
    const layersPresent = chains.every((c) => snaps.stat(c)?.kind === 'committed');
    const existing = await images.get(id);
    const size = await unpackAll(ctx, client, ref, manifest.layers, diffIDs, chains, progress, opts.signal);
    const status = existing && layersPresent ? 'up-to-date' : 'downloaded';
    const repoDigest = `${repositoryName(ref)}@${topDesc.digest}`;
    const record: ImageRecord = {
      id, manifest: manifestDesc, config: manifest.config, layers: manifest.layers, diffIDs,
      repoDigests: [...new Set([...(existing?.repoDigests ?? []), repoDigest])],
      created: config.created ?? existing?.created ?? new Date(0).toISOString(),
      size, platform: have, added: existing?.added ?? new Date().toISOString(), source: existing?.source ?? 'pull',
    };
    if (indexDesc) record.index = indexDesc;
    else if (existing?.index && existing.repoDigests.some((d) => d.endsWith(existing.index!.digest))) record.index = existing.index;
    await images.put(record);
    if (ref.tag !== undefined && !ref.digest) await images.setTag(formatReference({ domain: ref.domain, path: ref.path, tag: ref.tag }), id);
    progress({ id: '', status: `Digest: ${topDesc.digest}` });
    return { id, reference: full, digest: topDesc.digest, status, record, warnings };
  } catch (err) {
    throw withOp(op, err);
  } finally {
    await lease.release();
  }
}

/** Download every layer (bounded concurrency) and unpack them in order as they arrive. */
async function unpackAll(ctx: ImageContext, client: RegistryClient, ref: Reference, layers: Descriptor[], diffIDs: string[], chains: string[], progress: ProgressFn, signal?: AbortSignal): Promise<number> {
  const content = contentStore(ctx);
  const snaps = await snapshotter(ctx);
  const limiter = new Limiter(Math.max(1, ctx.maxConcurrentDownloads ?? 3));
  const abort = new AbortController();
  const onAbort = () => abort.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort);
  const downloads = new Map<string, BlobDownload>();
  const tasks: Promise<void>[] = [];
  const needUnpack = chains.map((c) => snaps.stat(c)?.kind !== 'committed');
  for (const [i, desc] of layers.entries()) {
    const sid = shortDigest(desc.digest);
    if (!needUnpack[i] && await content.has(desc.digest)) {
      progress({ id: sid, status: 'Already exists' });
      continue;
    }
    if (downloads.has(desc.digest)) continue;
    const dl = new BlobDownload(desc, content);
    downloads.set(desc.digest, dl);
    progress({ id: sid, status: 'Pulling fs layer' });
    let lastStatus = '';
    tasks.push(limiter.run(() => dl.run(client, ref.path, {
      status: (s) => {
        lastStatus = s;
        if ((s === 'Already exists' && needUnpack[i]) || s === 'Downloading') return; // bytes follow as progress events
        progress({ id: sid, status: s });
      },
      progress: (n, total) => { if (lastStatus === 'Downloading') progress({ id: sid, status: 'Downloading', current: n, total }); },
    }, abort.signal)).catch((err) => { abort.abort(err); throw err; }));
  }
  let size = 0;
  const unpack = (async () => {
    for (const [i, desc] of layers.entries()) {
      const sid = shortDigest(desc.digest);
      if (!needUnpack[i]) {
        size += Number(snaps.stat(chains[i]!)?.labels[SIZE_LABEL] ?? 0);
        continue;
      }
      const dl = downloads.get(desc.digest);
      let stream;
      if (dl) {
        stream = dl.follow((n) => progress({ id: sid, status: 'Extracting', current: n, total: desc.size }));
      } else {
        stream = content.createReadStream(desc.digest);
      }
      const res = await snaps.unpackLayer({ parent: i ? chains[i - 1] : undefined, tarStream: stream, mediaType: desc.mediaType, diffID: diffIDs[i] }).catch((err) => {
        const e = err instanceof BerthError ? err : invalid('unpack', String(err));
        throw new BerthError({ kind: e.kind, op: `pull ${familiarString(ref)}`, path: e.path, code: e.code, message: `pull ${familiarString(ref)}: layer ${desc.digest}: ${e.message}`, cause: err });
      });
      size += res.size;
      progress({ id: sid, status: 'Pull complete' });
    }
  })();
  unpack.catch((err) => abort.abort(err));
  try {
    const results = await Promise.allSettled([...tasks, unpack]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw pickError(results, failed.reason);
    return size;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The most telling error: a download's own failure rather than the abort it caused elsewhere. */
function pickError(results: PromiseSettledResult<unknown>[], first: unknown): unknown {
  for (const r of results) {
    if (r.status === 'rejected' && r.reason instanceof BerthError && r.reason.kind !== 'internal' && !/aborted/i.test(r.reason.message)) return r.reason;
  }
  return first;
}

export type { ImageConfig };
