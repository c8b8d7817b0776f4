/**
 * The file-hash cache: what a file's content digest was, keyed by its identity and change stamps
 * (device, inode, size, mtime and ctime in nanoseconds), so that an unchanged rebuild does not
 * read its context again. Only the digest is looked up here: the step keys stay content digests
 * (a touched but unchanged file still hits; a file rewritten with its mtime forced back has a new
 * ctime, which no user can set). Persisted as one line per file under
 * `<data-root>/builder/file-hashes`, written atomically at the end of a build.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/** Entries kept at most (the oldest looked-up go first). */
const MAX_ENTRIES = 50_000;

export const fileStamp = (st: BigIntStats) => `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;

export async function hashStream(s: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of s) h.update(c as Buffer);
  return h.digest('hex');
}

export class FileHashes {
  private readonly map = new Map<string, string>();
  private dirty = false;
  /** digests computed (not found) since load */
  misses = 0;
  hits = 0;
  constructor(readonly file: string) {}

  static at(root: string): string { return join(root, 'builder', 'file-hashes'); }

  /** The cache of a data root (empty when there is none yet or it is unreadable). */
  static async load(root: string): Promise<FileHashes> {
    const c = new FileHashes(FileHashes.at(root));
    let text = '';
    try { text = await fsp.readFile(c.file, 'utf8'); } catch { return c; }
    for (const line of text.split('\n')) {
      const i = line.indexOf(' ');
      if (i > 0 && line.length - i - 1 === 64) c.map.set(line.slice(0, i), line.slice(i + 1));
    }
    return c;
  }

  get(st: BigIntStats): string | undefined {
    const k = fileStamp(st);
    const v = this.map.get(k);
    if (v !== undefined) {
      this.hits++;
      // most recently used last: what is dropped first is what no build used for longest
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }

  set(st: BigIntStats, digest: string): void {
    this.misses++;
    this.map.set(fileStamp(st), digest);
    this.dirty = true;
  }

  /** Write the cache (atomically) when anything was added. */
  async save(): Promise<void> {
    if (!this.dirty) return;
    const entries = [...this.map].slice(-MAX_ENTRIES);
    await fsp.mkdir(join(this.file, '..'), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    await fsp.writeFile(tmp, entries.map(([k, v]) => `${k} ${v}\n`).join(''));
    await fsp.rename(tmp, this.file);
    this.dirty = false;
  }
}
