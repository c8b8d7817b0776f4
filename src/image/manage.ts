/**
 * `tag`, `remove` (untag vs delete, with Docker's conflict rules), `prune`, and the garbage
 * collector that removes blobs and layer snapshots no image (or running pull/load) references.
 */
import { BerthError, conflict, usage } from '../lib/index.js';
import { chainIDs, DIFFID_LABEL, SIZE_LABEL } from '../snapshots/index.js';
import { contentStore, imageStore, snapshotter, type ImageContext } from './context.js';
import { familiarString, formatReference, parseReference, repositoryName, familiarName } from './reference.js';
import type { ImageRecord } from './store.js';

/** Point `target` (a name with an optional tag) at the image `source` names. */
export async function tag(ctx: ImageContext, source: string, target: string): Promise<void> {
  const images = imageStore(ctx);
  const { record } = await images.resolve(source, 'tag');
  const t = parseReference(target);
  if (t.digest) throw usage('tag', `tag ${target}: refusing to create a tag with a digest reference`);
  await images.setTag(formatReference(t), record.id);
}

export interface RemoveItem {
  Untagged?: string;
  Deleted?: string;
}

export interface RemoveOptions {
  force?: boolean;
  /** keep untagged parents / blobs (Docker's --no-prune; here: skip garbage collection) */
  noPrune?: boolean;
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** A container using an image, as the `inUse` hook reports it (`true`: one, unnamed). */
interface User { id?: string; running: boolean }

async function userOf(ctx: ImageContext, id: string): Promise<User | undefined> {
  const u = ctx.inUse ? await ctx.inUse(id) : false;
  if (!u) return undefined;
  return u === true ? { running: false } : { id: u.id, running: !!u.running };
}

function containerName(u: User): string {
  return u.id ? shortId(u.id) : '(unknown)';
}

/** Docker's isSingleReference: every name in one repository, and at most one tag. */
function singleReference(tags: string[], repoDigests: string[]): boolean {
  const repos = new Set([...tags.map((t) => repositoryName(parseReference(t))), ...repoDigests.map((d) => d.slice(0, d.indexOf('@')))]);
  return repos.size === 1 && tags.length <= 1;
}

/**
 * Remove an image reference, and the image itself once nothing names it (like `docker rmi`).
 * An image a container uses is never deleted (its container could not start again): by name it is
 * refused unless forced, and forced it is only untagged (it stays, dangling, as with Docker's
 * containerd store); by id it is refused ("cannot be forced" when the container runs).
 */
export async function remove(ctx: ImageContext, input: string, opts: RemoveOptions = {}): Promise<RemoveItem[]> {
  const images = imageStore(ctx);
  const op = 'remove image';
  const s = input.trim();
  const { record, ref } = await images.resolve(s, op);
  const tags = await images.tagsOf(record.id);
  const byId = !ref || (/^(sha256:)?[a-f0-9]{1,64}$/.test(s) && record.id.replace(/^sha256:/, '').startsWith(s.replace(/^sha256:/, '')));
  if (!byId && ref) {
    const repo = repositoryName(ref);
    const name = formatReference(ref);
    const rd = ref.digest ? `${repo}@${ref.digest}` : undefined;
    const refsLeft = tags.filter((t) => t !== name).length + record.repoDigests.filter((d) => d !== rd).length;
    const lastInRepo = !tags.some((t) => t !== name && t.startsWith(repo + ':'));
    const wouldBeLeft = ref.digest ? refsLeft : lastInRepo ? tags.length - 1 + record.repoDigests.filter((d) => !d.startsWith(repo + '@')).length : refsLeft;
    const user = wouldBeLeft === 0 ? await userOf(ctx, record.id) : undefined;
    if (user && !opts.force) {
      throw conflict(op, `conflict: unable to remove repository reference "${s}" (must force) - container ${containerName(user)} is using its referenced image ${shortId(record.id)}`);
    }
    if (wouldBeLeft > 0 || user) {
      const out: RemoveItem[] = [];
      if (rd) {
        record.repoDigests = record.repoDigests.filter((d) => d !== rd);
        out.push({ Untagged: familiarString(ref) });
      } else {
        await images.removeTag(name);
        out.push({ Untagged: familiarString(ref) });
        if (lastInRepo) {
          for (const d of record.repoDigests.filter((x) => x.startsWith(repo + '@'))) out.push({ Untagged: `${familiarName(ref)}@${d.slice(d.indexOf('@') + 1)}` });
          record.repoDigests = record.repoDigests.filter((d) => !d.startsWith(repo + '@'));
        }
      }
      await images.put(record);
      return out;
    }
  } else {
    const user = await userOf(ctx, record.id);
    if (user?.running) {
      throw conflict(op, `conflict: unable to delete ${shortId(record.id)} (cannot be forced) - image is being used by running container ${containerName(user)}`);
    }
    if (!singleReference(tags, record.repoDigests) && tags.length + record.repoDigests.length > 0 && !opts.force) {
      throw conflict(op, `conflict: unable to delete ${shortId(record.id)} (must be forced) - image is referenced in multiple repositories`);
    }
    if (user && !opts.force) {
      throw conflict(op, `conflict: unable to delete ${shortId(record.id)} (must be forced) - image is being used by stopped container ${containerName(user)}`);
    }
    // Forced, with a stopped container using it: untag only; the image stays while it is used.
    if (user) return untagAll(ctx, record);
  }
  return deleteImage(ctx, record, opts);
}

/** Remove every name of `record` but keep the image (dangling). */
async function untagAll(ctx: ImageContext, record: ImageRecord): Promise<RemoveItem[]> {
  const images = imageStore(ctx);
  const out = await untagItems(ctx, record);
  record.repoDigests = [];
  await images.put(record);
  return out;
}

async function untagItems(ctx: ImageContext, record: ImageRecord): Promise<RemoveItem[]> {
  const images = imageStore(ctx);
  const out: RemoveItem[] = [];
  for (const t of await images.tagsOf(record.id)) {
    await images.removeTag(t);
    out.push({ Untagged: familiarString(parseReference(t)) });
  }
  for (const d of record.repoDigests) {
    const at = d.indexOf('@');
    out.push({ Untagged: `${familiarName(parseReference(d.slice(0, at)))}@${d.slice(at + 1)}` });
  }
  return out;
}

/** Untag everything naming `record`, delete it, and collect its garbage (unless noPrune). */
async function deleteImage(ctx: ImageContext, record: ImageRecord, opts: RemoveOptions): Promise<RemoveItem[]> {
  const images = imageStore(ctx);
  const out = await untagItems(ctx, record);
  await images.delete(record.id);
  out.push({ Deleted: record.id });
  if (!opts.noPrune) await collectGarbage(ctx);
  return out;
}

export interface PruneOptions {
  /** remove every image no container uses, not only dangling ones */
  all?: boolean;
  /** label filters: `key`, `key=value`, `label!=…` negated via `negate` */
  labels?: { key: string; value?: string; negate?: boolean }[];
  /** only images created before this time */
  until?: Date;
}

export interface PruneReport {
  ImagesDeleted: RemoveItem[];
  SpaceReclaimed: number;
  /** interrupted ingests (partial blobs of killed pulls, commits, loads) removed, and their bytes */
  IngestsDeleted?: number;
}

/**
 * What killed writers left behind (for prune): every ingest whose writer is gone, temp files of
 * the image store and leases of dead processes. Returns what the ingests held.
 */
export async function sweepInterrupted(ctx: ImageContext): Promise<{ ingests: number; bytes: number }> {
  await imageStore(ctx).sweepTemp(); // (dead processes' leases included)
  const r = await contentStore(ctx).pruneIngestsReport();
  return { ingests: r.removed, bytes: r.bytes };
}

/** `image prune`: dangling images (or all unused with `all`), then garbage collection. */
export async function prune(ctx: ImageContext, opts: PruneOptions = {}): Promise<PruneReport> {
  const images = imageStore(ctx);
  const tags = await images.tags();
  const report: PruneReport = { ImagesDeleted: [], SpaceReclaimed: 0 };
  for (const r of await images.list()) {
    const tagged = tags.some((t) => t.id === r.id);
    if (tagged && !opts.all) continue;
    if (!opts.all && r.repoDigests.length) continue; // pulled by digest: not dangling
    if (await userOf(ctx, r.id)) continue;
    if (opts.until && new Date(r.created) >= opts.until) continue;
    const labels = await imageLabels(ctx, r);
    if (opts.labels && !opts.labels.every((f) => matchLabel(labels, f) !== !!f.negate)) continue;
    report.ImagesDeleted.push(...await deleteImage(ctx, r, { noPrune: true }));
  }
  const swept = await sweepInterrupted(ctx);
  report.SpaceReclaimed = await collectGarbage(ctx) + swept.bytes;
  if (swept.ingests) report.IngestsDeleted = swept.ingests;
  return report;
}

export function matchLabel(labels: Record<string, string>, f: { key: string; value?: string }): boolean {
  if (!(f.key in labels)) return false;
  return f.value === undefined || labels[f.key] === f.value;
}

export async function imageLabels(ctx: ImageContext, r: ImageRecord): Promise<Record<string, string>> {
  try {
    const c = await contentStore(ctx).readJSON<{ config?: { Labels?: Record<string, string> | null } }>(r.config.digest);
    return c.config?.Labels ?? {};
  } catch {
    return {};
  }
}

/**
 * Remove blobs and layer snapshots that no image record and no live lease references.
 * Returns the bytes freed (blob sizes plus unpacked layer sizes).
 */
export async function collectGarbage(ctx: ImageContext): Promise<number> {
  const images = imageStore(ctx);
  const content = contentStore(ctx);
  const records = await images.list();
  const leased = await images.leased();
  const digests = new Set(leased.digests);
  const chains = new Set(leased.chains);
  for (const r of records) {
    digests.add(r.manifest.digest).add(r.config.digest);
    if (r.index) digests.add(r.index.digest);
    r.layers.forEach((l) => digests.add(l.digest));
    chainIDs(r.diffIDs).forEach((c) => chains.add(c));
  }
  let freed = 0;
  for (const b of await content.list()) {
    if (digests.has(b.digest)) continue;
    if (await content.delete(b.digest)) freed += b.size;
  }
  const snaps = await snapshotter(ctx);
  // Layer snapshots (made by unpackLayer) that nothing references; children before parents.
  const doomed = snaps.list().filter((s) => s.kind === 'committed' && s.labels[DIFFID_LABEL] && !chains.has(s.key));
  let progress = true;
  while (progress && doomed.length) {
    progress = false;
    for (const s of [...doomed]) {
      try {
        await snaps.remove(s.key);
        freed += Number(s.labels[SIZE_LABEL] ?? 0);
        doomed.splice(doomed.indexOf(s), 1);
        progress = true;
      } catch (err) {
        if (!(err instanceof BerthError && err.kind === 'conflict')) throw err;
      }
    }
  }
  return freed;
}
