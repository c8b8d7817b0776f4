/**
 * The build cache: step key → the state after the step (layers, diffIDs, config, size), one small
 * JSON file per key under `<data-root>/builder/cache/`, written atomically. A key is a digest of
 * the parent's key, the instruction after expansion, the build args it uses and the content of
 * what COPY/ADD read — never mtimes. An entry is used only while its layers are still stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { BuildImage } from '../engine/index.js';

export const stepKey = (...parts: unknown[]) => createHash('sha256').update(JSON.stringify(parts)).digest('hex');

export class BuildCache {
  readonly dir: string;
  constructor(root: string) { this.dir = join(root, 'builder', 'cache'); }

  async get(key: string): Promise<BuildImage | undefined> {
    try { return JSON.parse(await fsp.readFile(join(this.dir, `${key}.json`), 'utf8')) as BuildImage; } catch { return undefined; }
  }

  async put(key: string, img: BuildImage): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    await fsp.writeFile(tmp, JSON.stringify(img));
    await fsp.rename(tmp, join(this.dir, `${key}.json`));
  }

  /** Remove every entry; returns how many. */
  async prune(): Promise<{ entries: number; bytes: number }> {
    let entries = 0;
    let bytes = 0;
    let names: string[] = [];
    try { names = await fsp.readdir(this.dir); } catch { /* none */ }
    for (const n of names) {
      const p = join(this.dir, n);
      try { bytes += (await fsp.stat(p)).size; await fsp.rm(p, { force: true }); if (n.endsWith('.json')) entries++; } catch { /* gone */ }
    }
    // ADD's downloaded bodies (kept for conditional requests)
    const http = join(this.dir, '..', 'http');
    bytes += await treeSize(http);
    await fsp.rm(http, { recursive: true, force: true });
    // RUN --mount=type=cache directories (one per id, with its `.id` file)
    const mounts = join(this.dir, '..', 'mounts', 'cache');
    let dirs: string[] = [];
    try { dirs = await fsp.readdir(mounts); } catch { /* none */ }
    for (const n of dirs) {
      const p = join(mounts, n);
      const size = await treeSize(p);
      await fsp.rm(p, { recursive: true, force: true });
      bytes += size;
      if (!n.includes('.')) entries++;
    }
    return { entries, bytes };
  }
}

async function treeSize(p: string): Promise<number> {
  const st = await fsp.lstat(p).catch(() => undefined);
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of await fsp.readdir(p).catch(() => [] as string[])) n += await treeSize(join(p, e));
  return n;
}
