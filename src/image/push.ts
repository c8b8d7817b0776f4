/**
 * `push`: upload an image's layers and config (concurrently, bounded; existing blobs skipped,
 * blobs of another repository of the same registry mounted), then PUT its manifest under the tag.
 */
import { BerthError, notFound } from '../lib/index.js';
import { shortDigest } from '../content/index.js';
import { contentStore, imageStore, registryClient, type ImageContext } from './context.js';
import { noProgress, type ProgressFn } from './events.js';
import type { Descriptor } from './manifest.js';
import { familiarString, formatReference, parseReference, repositoryName, type Reference } from './reference.js';
import { uploadBlob } from './registry/index.js';
import type { ImageRecord } from './store.js';
import { Limiter } from './transfer.js';

export interface PushOptions {
  onProgress?: ProgressFn;
  /** PATCH chunk size in bytes; 0 (default) uploads each blob with one PUT */
  chunkSize?: number;
  /** push every tag of the repository (`docker push -a`) */
  allTags?: boolean;
}

export interface PushResult {
  reference: string;
  tag: string;
  digest: string;
  size: number;
}

export async function push(ctx: ImageContext, refStr: string, opts: PushOptions = {}): Promise<PushResult[]> {
  const images = imageStore(ctx);
  const bare = parseReference(refStr, { defaultTag: false });
  if (bare.digest) throw new BerthError({ kind: 'usage', op: 'push', message: `push ${refStr}: cannot push a digest reference` });
  let refs: Reference[];
  if (opts.allTags) {
    if (bare.tag) throw new BerthError({ kind: 'usage', op: 'push', message: `push ${refStr}: tag can't be used with --all-tags/-a` });
    const repo = repositoryName(bare);
    refs = (await images.tags()).filter((t) => t.name.startsWith(repo + ':')).map((t) => parseReference(t.name));
    if (!refs.length) throw notFound('push', `An image does not exist locally with the tag: ${familiarString(bare)}`);
  } else {
    refs = [bare.tag ? bare : { ...bare, tag: 'latest' }];
  }
  const out: PushResult[] = [];
  for (const ref of refs) out.push(await pushOne(ctx, ref, opts));
  return out;
}

async function pushOne(ctx: ImageContext, ref: Reference, opts: PushOptions): Promise<PushResult> {
  const images = imageStore(ctx);
  const content = contentStore(ctx);
  const progress = opts.onProgress ?? noProgress;
  const op = `push ${familiarString(ref)}`;
  const record = await images.byReference(ref);
  if (!record) throw notFound('push', `An image does not exist locally with the tag: ${familiarString(ref)}`);
  const client = registryClient(ctx, ref.domain);
  progress({ id: '', status: `The push refers to repository [${repositoryName(ref)}]` });
  const mountFrom = record.repoDigests
    .map((d) => parseReference(d.slice(0, d.indexOf('@')), { defaultTag: false }))
    .find((r) => r.domain === ref.domain && r.path !== ref.path)?.path;
  const limiter = new Limiter(Math.max(1, ctx.maxConcurrentUploads ?? 5));
  const blobs: Descriptor[] = [...record.layers];
  for (const b of blobs) progress({ id: shortDigest(b.digest), status: 'Preparing' });
  const seen = new Set<string>();
  const uniq = blobs.filter((b) => !seen.has(b.digest) && seen.add(b.digest));
  for (const b of uniq) if (!(await content.has(b.digest))) throw notFound(op, `${op}: layer ${b.digest} is not in the content store (was it pruned?)`);
  const run = (b: Descriptor, quiet: boolean) => limiter.run(async () => {
    const sid = shortDigest(b.digest);
    if (!quiet) progress({ id: sid, status: 'Pushing', current: 0, total: b.size });
    const res = await uploadBlob(client, ref.path, b, {
      mountFrom, chunkSize: opts.chunkSize,
      open: (start, end) => content.createReadStream(b.digest, { start, end }),
      onProgress: quiet ? undefined : (n) => progress({ id: sid, status: 'Pushing', current: n, total: b.size }),
    });
    if (quiet) return;
    if (res === 'exists') progress({ id: sid, status: 'Layer already exists' });
    else if (res === 'mounted') progress({ id: sid, status: `Mounted from ${mountFrom}` });
    else progress({ id: sid, status: 'Pushed' });
  });
  const results = await Promise.allSettled([...uniq.map((b) => run(b, false)), run(record.config, true)]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const bytes = await content.readBytes(record.manifest.digest, true);
  const digest = await client.putManifest(ref.path, ref.tag!, bytes, record.manifest.mediaType);
  await addRepoDigest(ctx, record, `${repositoryName(ref)}@${digest}`);
  progress({ id: '', status: `${ref.tag}: digest: ${digest} size: ${bytes.length}` });
  return { reference: formatReference(ref), tag: ref.tag!, digest, size: bytes.length };
}

async function addRepoDigest(ctx: ImageContext, record: ImageRecord, rd: string): Promise<void> {
  const images = imageStore(ctx);
  const fresh = (await images.get(record.id)) ?? record;
  if (fresh.repoDigests.includes(rd)) return;
  fresh.repoDigests = [...fresh.repoDigests, rd];
  await images.put(fresh);
}
