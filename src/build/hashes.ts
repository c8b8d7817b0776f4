/**
 * The file-hash cache: what a file's content digest was, keyed by its identity and change stamps
 * (device, inode, size, mtime and ctime), so that an unchanged rebuild does not read its context
 * again — BuildKit's fsutil does the same with the stat it sends. Only the digest is looked up
 * here: the step keys stay content digests (a touched but unchanged file still hits; a file
 * rewritten with its mtime forced back has a new ctime, which no user can set). A digest read
 * within RACY_MS of the file's last change is not kept: a second write in the same timestamp tick
 * would leave the stamps as they were (git's "racily clean" entries). Persisted as one line per
 * file under `<data-root>/builder/file-hashes` (after a format line), written atomically at the
 * end of a build.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/** Entries kept at most (the oldest looked-up go first). */
const MAX_ENTRIES = 50_000;
/** The first line of the file; a file without it (an older format) is not used. */
const FORMAT = '# berth file-hashes 2';
/** A file changed this recently (ms) when it was read is not trusted by its stamps later (timestamps are tick-coarse). */
export const RACY_MS = 100;

type Stamped = Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>;
/** Times in milliseconds with their fraction: nanoseconds to within a fraction of a microsecond, finer than the kernel's tick. */
export const fileStamp = (st: Stamped) => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;

export async function hashStream(s: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of s) h.update(c as Buffer);
  return h.digest('hex');
}

/** The file's identity and change stamps: whether what a process loaded or saved is still what is on disk. */
async function fileVersion(file: string): Promise<string | undefined> {
  try { return fileStamp(await fsp.stat(file)); } catch { return undefined; }
}

export class FileHashes {
  /** per file, what this process last loaded or saved (a worker's next build does not parse the file again) */
  private static readonly loaded = new Map<string, { c: FileHashes; version: string }>();
  private readonly map = new Map<string, string>();
  /** stamps looked up and found since the last save: moved to the end (most recently used) when saving */
  private used: string[] = [];
  private dirty = false;
  /** digests computed (not found) since load */
  misses = 0;
  hits = 0;
  constructor(readonly file: string) {}

  static at(root: string): string { return join(root, 'builder', 'file-hashes'); }

  /** The cache of a data root (empty when there is none yet, it is unreadable or of another format). */
  static async load(root: string): Promise<FileHashes> {
    const file = FileHashes.at(root);
    const version = await fileVersion(file);
    const known = FileHashes.loaded.get(file);
    if (known && version !== undefined && known.version === version) return known.c;
    const c = new FileHashes(file);
    let text = '';
    try { text = await fsp.readFile(c.file, 'latin1'); } catch { return c; }
    if (version !== undefined) FileHashes.loaded.set(file, { c, version });
    if (!text.startsWith(`${FORMAT}\n`)) return c;
    let at = FORMAT.length + 1;
    while (at < text.length) {
      let end = text.indexOf('\n', at);
      if (end < 0) end = text.length;
      const i = end - 65;
      if (i > at && text.charCodeAt(i) === 32) c.map.set(text.slice(at, i), text.slice(i + 1, end));
      at = end + 1;
    }
    return c;
  }

  get(st: Stamped): string | undefined {
    const k = fileStamp(st);
    const v = this.map.get(k);
    if (v !== undefined) {
      this.hits++;
      this.used.push(k);
    }
    return v;
  }

  /** Record the digest of a file read from `readAt` (ms since the epoch, before the read) with stamps `st` (taken before the read). */
  set(st: Stamped, digest: string, readAt = Date.now()): void {
    this.misses++;
    if (Math.max(st.mtimeMs, st.ctimeMs) > readAt - RACY_MS) return;
    this.map.set(fileStamp(st), digest);
    this.dirty = true;
  }

  /** Write the cache (atomically) when anything was added. */
  async save(): Promise<void> {
    if (!this.dirty) { this.used = []; return; }
    // most recently used last: what is dropped first is what no build used for longest
    for (const k of this.used) {
      const v = this.map.get(k);
      if (v !== undefined) { this.map.delete(k); this.map.set(k, v); }
    }
    this.used = [];
    const entries = [...this.map].slice(-MAX_ENTRIES);
    await fsp.mkdir(join(this.file, '..'), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    let text = `${FORMAT}\n`;
    for (const [k, v] of entries) text += `${k} ${v}\n`;
    await fsp.writeFile(tmp, text, 'latin1');
    await fsp.rename(tmp, this.file);
    this.dirty = false;
    const version = await fileVersion(this.file);
    if (version !== undefined) FileHashes.loaded.set(this.file, { c: this, version });
  }
}
