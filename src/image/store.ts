/**
 * The image store under `<root>/images`:
 *   by-id/<hex>.json    one record per image (id = config digest), written atomically
 *   tags/<hash>.json    one file per tag name → image id, so concurrent tagging never races
 *   leases/<pid>-<r>.json  blobs and snapshots a running pull/load is using (GC roots)
 * Records are written before the tags that point to them and removed after them, so a reader
 * never sees a tag whose image is missing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { conflict, notFound, readdirOrEmpty, wrapError } from '../lib/index.js';
import { pidAlive, readJSONFile, writeJSONAtomic } from '../content/index.js';
import type { Descriptor, Platform } from './manifest.js';
import { formatReference, parseReference, repositoryName, type Reference } from './reference.js';

export interface ImageRecord {
  /** config digest: Docker's image id */
  id: string;
  /** the platform manifest this image came from (stored in the content store) */
  manifest: Descriptor;
  /** the index it was selected from, when pulled through one */
  index?: Descriptor;
  config: Descriptor;
  /** layer blobs as stored in the content store */
  layers: Descriptor[];
  diffIDs: string[];
  /** `name@digest` of every repository the image was pulled from or pushed to */
  repoDigests: string[];
  /** config.created */
  created: string;
  /** bytes of the uncompressed layers */
  size: number;
  platform: Platform;
  /** when berth stored it */
  added: string;
  /** where it came from: pull, load, import */
  source?: string;
}

export interface TagEntry {
  /** full normalised reference, e.g. docker.io/library/busybox:latest */
  name: string;
  id: string;
}

const hex = (s: string) => createHash('sha256').update(s).digest('hex');


export class ImageStore {
  readonly dir: string;
  private lastSweep = 0;

  constructor(dir: string) {
    this.dir = dir;
  }

  private recordPath(id: string): string {
    return join(this.dir, 'by-id', `${id.replace(/^sha256:/, '')}.json`);
  }

  private tagPath(name: string): string {
    return join(this.dir, 'tags', `${hex(name)}.json`);
  }

  async get(id: string): Promise<ImageRecord | undefined> {
    return readJSONFile<ImageRecord>(this.recordPath(id));
  }

  async put(rec: ImageRecord): Promise<void> {
    await writeJSONAtomic(this.recordPath(rec.id), rec);
  }

  /** Delete a record; its tags must be gone (they are removed here too, for safety). */
  async delete(id: string): Promise<void> {
    for (const t of await this.tags()) if (t.id === id) await this.removeTag(t.name);
    await fsp.rm(this.recordPath(id), { force: true });
  }

  async list(): Promise<ImageRecord[]> {
    const out: ImageRecord[] = [];
    for (const f of await readdirOrEmpty(join(this.dir, 'by-id'))) {
      if (!/^[a-f0-9]{64}\.json$/.test(f)) continue;
      const r = await readJSONFile<ImageRecord>(join(this.dir, 'by-id', f)).catch(() => undefined);
      if (r) out.push(r);
    }
    return out;
  }

  async tags(): Promise<TagEntry[]> {
    const out: TagEntry[] = [];
    for (const f of await readdirOrEmpty(join(this.dir, 'tags'))) {
      if (!f.endsWith('.json') || f.startsWith('.')) continue;
      const t = await readJSONFile<TagEntry>(join(this.dir, 'tags', f)).catch(() => undefined);
      if (t?.name && t.id) out.push(t);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async tagsOf(id: string): Promise<string[]> {
    return (await this.tags()).filter((t) => t.id === id).map((t) => t.name);
  }

  async getTag(name: string): Promise<string | undefined> {
    return (await readJSONFile<TagEntry>(this.tagPath(name)))?.id;
  }

  /** Point `name` (a full reference with a tag) at image `id`. */
  async setTag(name: string, id: string): Promise<void> {
    if (!(await this.get(id))) throw notFound('tag', `tag ${name}: no such image: ${id}`);
    await writeJSONAtomic(this.tagPath(name), { name, id } satisfies TagEntry);
  }

  async removeTag(name: string): Promise<boolean> {
    try {
      await fsp.unlink(this.tagPath(name));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw wrapError(err, 'untag', name);
    }
  }

  /**
   * Find an image the way Docker's CLI does: a reference (`busybox`, `x:1`, `x@sha256:…`), a full
   * id (`sha256:…`), or a unique prefix of an id (at least one hex digit).
   */
  async resolve(input: string, op = 'image'): Promise<{ record: ImageRecord; ref?: Reference }> {
    const s = input.trim();
    if (/^sha256:[a-f0-9]{64}$/.test(s)) {
      const r = await this.get(s);
      if (r) return { record: r };
    }
    let ref: Reference | undefined;
    try {
      ref = parseReference(s);
    } catch { /* maybe an id prefix */ }
    if (ref) {
      const found = await this.byReference(ref);
      if (found) return { record: found, ref };
    }
    if (/^(sha256:)?[a-f0-9]{1,64}$/.test(s)) {
      const prefix = s.replace(/^sha256:/, '');
      const matches = (await readdirOrEmpty(join(this.dir, 'by-id'))).filter((f) => f.startsWith(prefix) && /^[a-f0-9]{64}\.json$/.test(f));
      if (matches.length > 1) throw conflict(op, `${op}: ${s}: ambiguous image id prefix (${matches.length} images match)`);
      const r = matches.length === 1 ? await this.get(matches[0]!.slice(0, 64)) : undefined;
      if (r) return { record: r };
    }
    throw notFound(op, `No such image: ${s}`);
  }

  /** The image a reference names: a tag, or a repository digest. */
  async byReference(ref: Reference): Promise<ImageRecord | undefined> {
    if (ref.digest) {
      const want = `${repositoryName(ref)}@${ref.digest}`;
      for (const r of await this.list()) {
        if (r.repoDigests.includes(want) || (r.manifest.digest === ref.digest && r.repoDigests.some((d) => d.startsWith(repositoryName(ref) + '@')))) return r;
      }
      return undefined;
    }
    const id = await this.getTag(formatReference(ref));
    return id ? this.get(id) : undefined;
  }

  private leaseDir(): string {
    return join(this.dir, 'leases');
  }

  /** Protect blobs and snapshots from garbage collection while this process uses them. */
  async lease(items: { digests?: string[]; chains?: string[] }): Promise<Lease> {
    // a writer starts (pull, load, import, commit): first sweep what killed writers left
    if (Date.now() - this.lastSweep > 60_000) {
      this.lastSweep = Date.now();
      await this.sweepTemp().catch(() => 0);
    }
    const path = join(this.leaseDir(), `${process.pid}-${randomBytes(6).toString('hex')}.json`);
    const lease = new Lease(path, { pid: process.pid, digests: [...(items.digests ?? [])], chains: [...(items.chains ?? [])] });
    await lease.save();
    return lease;
  }

  /**
   * Remove what killed writers left: temp files of atomic writes (`.tmp-<name>-<pid>-<hex>`) in
   * by-id/, tags/ and leases/, and leases, when their process is gone. Returns how many were removed.
   */
  async sweepTemp(): Promise<number> {
    let n = 0;
    for (const sub of ['by-id', 'tags', 'leases']) {
      const dir = join(this.dir, sub);
      for (const f of await readdirOrEmpty(dir)) {
        const m = /^\.tmp-.*-(\d+)-[0-9a-f]+$/.exec(f) ?? (sub === 'leases' ? /^(\d+)-[0-9a-f]+\.json$/.exec(f) : null);
        if (!m || pidAlive(Number(m[1]))) continue;
        await fsp.rm(join(dir, f), { force: true }).catch(() => {});
        n++;
      }
    }
    return n;
  }

  /** Digests and chain ids leased by live processes (dead processes' leases are removed). */
  async leased(): Promise<{ digests: Set<string>; chains: Set<string> }> {
    const digests = new Set<string>();
    const chains = new Set<string>();
    for (const f of await readdirOrEmpty(this.leaseDir())) {
      if (!f.endsWith('.json') || f.startsWith('.')) continue;
      const p = join(this.leaseDir(), f);
      const l = await readJSONFile<LeaseData>(p).catch(() => undefined);
      if (!l) continue;
      if (!pidAlive(l.pid)) {
        await fsp.rm(p, { force: true });
        continue;
      }
      l.digests.forEach((d) => digests.add(d));
      l.chains.forEach((c) => chains.add(c));
    }
    return { digests, chains };
  }
}

interface LeaseData {
  pid: number;
  digests: string[];
  chains: string[];
}

export class Lease {
  constructor(private readonly path: string, private readonly data: LeaseData) {}

  async save(): Promise<void> {
    await writeJSONAtomic(this.path, this.data);
  }

  async add(items: { digests?: string[]; chains?: string[] }): Promise<void> {
    this.data.digests.push(...(items.digests ?? []));
    this.data.chains.push(...(items.chains ?? []));
    await this.save();
  }

  async release(): Promise<void> {
    await fsp.rm(this.path, { force: true });
  }
}
