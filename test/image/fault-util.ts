/**
 * Shared by the fault tests (test/image/fault-kill, test/cli/fault-data): a seeded random source, a check that
 * every image a data root lists is complete (blobs present and matching their digests, layer
 * snapshots committed, tags pointing at records), and what interrupted writers left behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { closeContext, contentStore, imageStore, snapshotter, type ImageContext } from '../../src/image/index.js';
import { chainIDs, DIFFID_LABEL } from '../../src/snapshots/index.js';

/** mulberry32, seeded (test/helpers/fault.ts). */
export { faultSeed, prng as seeded } from '../helpers/fault.js';

/** A one-file tar (`name`, `size` random bytes), written by hand so it is fast for big sizes. */
export function randomFileTar(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write('0000644\0', 100); h.write('0000000\0', 108); h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('14000000000\0', 136); h.write('        ', 148); h.write('0', 156); h.write('ustar\0', 257); h.write('00', 263);
  let sum = 0;
  for (const x of h) sum += x;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const body = Buffer.alloc(Math.ceil(size / 512) * 512);
  randomBytes(size).copy(body);
  return Buffer.concat([h, body, Buffer.alloc(1024)]);
}


function list(p: string): string[] {
  return existsSync(p) ? readdirSync(p) : [];
}

async function fileDigest(p: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(p)) h.update(c as Buffer);
  return 'sha256:' + h.digest('hex');
}

/** Problems of the images a root lists (empty: every listed image is complete and verifies). */
export async function verifyImages(root: string): Promise<string[]> {
  const ctx: ImageContext = { root };
  const problems: string[] = [];
  try {
    const images = imageStore(ctx);
    const content = contentStore(ctx);
    const snaps = await snapshotter(ctx);
    for (const r of await images.list()) {
      for (const d of [r.manifest, r.config, ...r.layers]) {
        const p = content.path(d.digest);
        if (!existsSync(p)) { problems.push(`image ${r.id}: blob ${d.digest} missing`); continue; }
        const got = await fileDigest(p);
        if (got !== d.digest) problems.push(`image ${r.id}: blob ${d.digest} holds ${got}`);
      }
      for (const c of chainIDs(r.diffIDs)) {
        const s = snaps.stat(c);
        if (!s || s.kind !== 'committed') problems.push(`image ${r.id}: layer snapshot ${c} ${s ? s.kind : 'missing'}`);
      }
    }
    for (const t of await images.tags()) if (!(await images.get(t.id))) problems.push(`tag ${t.name}: image ${t.id} missing`);
  } finally {
    await closeContext(ctx);
  }
  return problems;
}

/** What interrupted writers left on disk (read directly, before anything opens the stores). */
export function leftovers(root: string, extraDirs: string[] = []): string[] {
  const out: string[] = [];
  for (const n of list(join(root, 'content/ingest'))) out.push(`ingest ${n}`);
  for (const sub of ['by-id', 'tags']) for (const n of list(join(root, 'images', sub))) if (n.startsWith('.tmp-')) out.push(`images/${sub}/${n}`);
  for (const n of list(join(root, 'images/leases'))) out.push(`lease ${n}`);
  for (const sub of ['tmp', 'trash']) for (const n of list(join(root, 'snapshots', sub))) out.push(`snapshots/${sub}/${n}`);
  for (const d of extraDirs) for (const n of list(d)) if (n.endsWith('.tmp')) out.push(`${d}/${n}`);
  return out;
}

/** Blobs and layer snapshots no image references (what a prune must have collected). */
export async function orphans(root: string): Promise<string[]> {
  const ctx: ImageContext = { root };
  const out: string[] = [];
  try {
    const records = await imageStore(ctx).list();
    const digests = new Set<string>();
    const chains = new Set<string>();
    for (const r of records) {
      [r.manifest, r.config, ...r.layers, ...(r.index ? [r.index] : [])].forEach((d) => digests.add(d.digest));
      chainIDs(r.diffIDs).forEach((c) => chains.add(c));
    }
    for (const b of await contentStore(ctx).list()) if (!digests.has(b.digest)) out.push(`blob ${b.digest}`);
    const snaps = await snapshotter(ctx);
    const all = snaps.list();
    const parents = new Set(all.map((s) => s.parent).filter(Boolean));
    for (const s of all) {
      if (s.kind === 'committed' && s.labels[DIFFID_LABEL] && !chains.has(s.key) && !parents.has(s.key)) out.push(`layer snapshot ${s.key}`);
      if (s.kind !== 'committed' && !s.key.startsWith('container-')) out.push(`${s.kind} snapshot ${s.key}`);
    }
  } finally {
    await closeContext(ctx);
  }
  return out;
}
