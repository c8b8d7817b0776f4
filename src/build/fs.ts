/**
 * Where COPY and ADD read from: the build context (a directory, `.dockerignore` applied, symlinks
 * kept as links, file contents opened with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) so that
 * nothing outside the context is ever read) or the merged layers of a stage or image (top layer
 * first, overlay whiteouts hiding what is below). Paths are slash-separated, relative, cleaned.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, createReadStream, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { closeFd, lgetxattr, openat2, openDirPath, RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS } from '../sys/index.js';
import type { PatternMatcher } from './dockerignore.js';
import { hashStream, type FileHashes } from './hashes.js';

/** What a source says of a path: fs.Stats' fields and tests that the builder uses. */
export type FileStat = Pick<Stats, 'dev' | 'ino' | 'mode' | 'nlink' | 'uid' | 'gid' | 'rdev' | 'size' | 'mtimeMs' | 'ctimeMs' | 'mtime'
  | 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isCharacterDevice' | 'isBlockDevice' | 'isFIFO' | 'isSocket'>;

/**
 * A compact FileStat kept for every path of a context (a Stats holds four Dates: for a large
 * context, most of what an unchanged rebuild allocated and collected).
 */
class Stat implements FileStat {
  readonly dev: number; readonly ino: number; readonly mode: number; readonly nlink: number; readonly uid: number; readonly gid: number;
  readonly rdev: number; readonly size: number; readonly mtimeMs: number; readonly ctimeMs: number;
  constructor(st: Stats) {
    this.dev = st.dev; this.ino = st.ino; this.mode = st.mode; this.nlink = st.nlink; this.uid = st.uid; this.gid = st.gid;
    this.rdev = st.rdev; this.size = st.size; this.mtimeMs = st.mtimeMs; this.ctimeMs = st.ctimeMs;
  }
  get mtime(): Date { return new Date(this.mtimeMs); }
  private is(t: number): boolean { return (this.mode & fsc.S_IFMT) === t; }
  isFile(): boolean { return this.is(fsc.S_IFREG); }
  isDirectory(): boolean { return this.is(fsc.S_IFDIR); }
  isSymbolicLink(): boolean { return this.is(fsc.S_IFLNK); }
  isCharacterDevice(): boolean { return this.is(fsc.S_IFCHR); }
  isBlockDevice(): boolean { return this.is(fsc.S_IFBLK); }
  isFIFO(): boolean { return this.is(fsc.S_IFIFO); }
  isSocket(): boolean { return this.is(fsc.S_IFSOCK); }
}

export interface FileSource {
  /** lstat of `rel` ('' = the root), undefined when absent or ignored */
  lstat(rel: string): FileStat | undefined;
  /** names in directory `rel` (not ignored), sorted */
  readdir(rel: string): string[];
  readlink(rel: string): string;
  open(rel: string): Readable;
  /** the whole of a regular file of at most `max` bytes, read at once; undefined when larger (then open() it) */
  readSmall?(rel: string, max: number): Buffer | undefined;
  /** a content digest of one regular file (memoised) */
  digest(rel: string): Promise<string>;
  /** the digest when it is known without reading (optional) */
  knownDigest?(rel: string): string | undefined;
}

const lstatMaybe = (p: string): Stats | undefined => { try { return lstatSync(p, { throwIfNoEntry: false }); } catch { return undefined; } };

/** Files up to this size are read with one synchronous read: a stream per small file costs more than the file. */
export const SMALL_FILE = 256 * 1024;

/** All of an open file from its offset (it may have grown since its size was taken), then closed. */
function readFdAll(fd: number, size: number): Buffer {
  try {
    let buf = Buffer.allocUnsafe(size + 1);
    let len = 0;
    for (;;) {
      if (len === buf.length) { const b = Buffer.allocUnsafe(buf.length * 2); buf.copy(b, 0, 0, len); buf = b; }
      const r = readSync(fd, buf, len, buf.length - len, null);
      if (r === 0) return buf.subarray(0, len);
      len += r;
    }
  } finally {
    closeSync(fd);
  }
}

/** readSmall() of an open file: undefined (and closed) when larger than `max`. */
function readSmallFd(fd: number, max: number): Buffer | undefined {
  let size: number;
  try { size = fstatSync(fd).size; } catch (e) { closeSync(fd); throw e; }
  if (size > max) { closeSync(fd); return undefined; }
  return readFdAll(fd, size);
}

/** The digest of an open file: from the file-hash cache when its stamps are known, else read (the fd is consumed). */
function digestFd(fd: number, hashes: FileHashes | undefined): Promise<string> {
  const readAt = Date.now();
  let st: Stats;
  try {
    st = fstatSync(fd);
    const known = hashes?.get(st);
    if (known) { closeSync(fd); return Promise.resolve(known); }
  } catch (e) { closeSync(fd); return Promise.reject(e); }
  if (st.size <= SMALL_FILE) {
    let d: string;
    try { d = createHash('sha256').update(readFdAll(fd, st.size)).digest('hex'); } catch (e) { return Promise.reject(e); } // (closed)
    hashes?.set(st, d, readAt);
    return Promise.resolve(d);
  }
  return hashStream(createReadStream('', { fd, autoClose: true })).then((d) => { hashes?.set(st, d, readAt); return d; });
}

export class ContextSource implements FileSource {
  private rootFd: number | undefined;
  private readonly hashes = new Map<string, Promise<string>>();
  /** null: absent */
  private readonly stats = new Map<string, FileStat | null>();
  /** paths known to be directories reached through directories only (parents checked) */
  private readonly dirs = new Set<string>();
  constructor(readonly root: string, private readonly ignore: PatternMatcher, private readonly hashes_?: FileHashes) {}

  private ignored(rel: string): boolean { return rel !== '' && !this.ignore.empty && this.ignore.matches(rel); }

  /** lstat of one path, memoised: the context is read as it is when the build starts */
  private raw(rel: string): FileStat | undefined {
    let st = this.stats.get(rel);
    if (st === undefined) {
      const full = lstatMaybe(rel ? `${this.root}/${rel}` : this.root);
      this.stats.set(rel, (st = full ? new Stat(full) : null));
    }
    return st ?? undefined;
  }

  lstat(rel: string): FileStat | undefined {
    if (this.ignored(rel)) return undefined;
    // every parent must be a real directory of the context (no link on the way)
    const i = rel.lastIndexOf('/');
    if (i >= 0 && !this.dirs.has(rel.slice(0, i))) {
      for (let j = rel.indexOf('/'); j >= 0; j = rel.indexOf('/', j + 1)) {
        const parent = rel.slice(0, j);
        if (this.dirs.has(parent)) continue;
        if (!this.raw(parent)?.isDirectory()) return undefined;
        this.dirs.add(parent);
      }
    }
    return this.raw(rel);
  }

  readdir(rel: string): string[] {
    const names = readdirSync(rel ? join(this.root, rel) : this.root).sort();
    if (this.ignore.empty) return names;
    return names.filter((n) => !this.ignored(rel ? `${rel}/${n}` : n) || (this.ignore.mayIncludeUnder(rel ? `${rel}/${n}` : n) && lstatMaybe(join(this.root, rel, n))?.isDirectory()));
  }

  readlink(rel: string): string { return readlinkSync(join(this.root, rel)); }

  private openFd(rel: string): number {
    this.rootFd ??= openDirPath(this.root);
    return openat2(this.rootFd, rel, fsc.O_RDONLY | fsc.O_NOFOLLOW | 0o2000000, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
  }

  open(rel: string): Readable { return createReadStream('', { fd: this.openFd(rel), autoClose: true }); }
  readSmall(rel: string, max: number): Buffer | undefined { return readSmallFd(this.openFd(rel), max); }

  digest(rel: string): Promise<string> {
    let d = this.hashes.get(rel);
    if (!d) {
      const known = this.knownDigest(rel);
      if (known) d = Promise.resolve(known);
      else try { d = digestFd(this.openFd(rel), this.hashes_); } catch (e) { d = Promise.reject(e); }
      this.hashes.set(rel, d);
    }
    return d;
  }

  /**
   * The digest of a file whose stamps the file-hash cache knows, without opening it (its parents
   * were checked by lstat; what is read later is opened beneath the root); undefined otherwise.
   */
  knownDigest(rel: string): string | undefined {
    const st = this.hashes_ ? this.raw(rel) : undefined;
    return st?.isFile() ? this.hashes_!.get(st) : undefined;
  }

  close(): void { closeFd(this.rootFd); this.rootFd = undefined; }
}

const isWhiteout = (st: Stats) => st.isCharacterDevice() && st.rdev === 0;
/** An overlay opaque directory: what lower layers have under it is hidden. */
const isOpaque = (p: string) => { try { return lgetxattr(p, 'trusted.overlay.opaque')?.toString() === 'y'; } catch { return false; } };

/** The merged view of an image's layer directories (top first). */
export class LayersSource implements FileSource {
  private readonly hashes = new Map<string, Promise<string>>();
  private readonly found = new Map<string, { path: string; st: Stats } | undefined>();
  constructor(private readonly dirs: string[], private readonly hashes_?: FileHashes) {}

  /** committed layers do not change: each path is looked up once */
  private find(rel: string): { path: string; st: Stats } | undefined {
    let f = this.found.get(rel);
    if (f === undefined && !this.found.has(rel)) this.found.set(rel, (f = this.lookup(rel)));
    return f;
  }

  private lookup(rel: string): { path: string; st: Stats } | undefined {
    for (const d of this.dirs) {
      const p = rel ? join(d, rel) : d;
      const st = lstatMaybe(p);
      if (st) return isWhiteout(st) ? undefined : { path: p, st };
      // a whiteout, a non-directory or an opaque directory on the way hides the rest below
      const parts = rel.split('/');
      for (let i = 1; i < parts.length; i++) {
        const qp = join(d, ...parts.slice(0, i));
        const q = lstatMaybe(qp);
        if (q && (isWhiteout(q) || !q.isDirectory() || isOpaque(qp))) return undefined;
      }
    }
    return undefined;
  }

  lstat(rel: string): Stats | undefined { return this.find(rel)?.st; }

  readdir(rel: string): string[] {
    const names = new Set<string>();
    const gone = new Set<string>();
    for (const d of this.dirs) {
      const st = lstatMaybe(rel ? join(d, rel) : d);
      if (!st) continue;
      if (!st.isDirectory()) break;
      for (const n of readdirSync(rel ? join(d, rel) : d)) {
        if (names.has(n) || gone.has(n)) continue;
        const s = lstatMaybe(join(d, rel, n));
        if (s && isWhiteout(s)) gone.add(n); else names.add(n);
      }
      if (rel && isOpaque(join(d, rel))) break;
    }
    return [...names].sort();
  }

  readlink(rel: string): string { return readlinkSync(this.find(rel)!.path); }
  open(rel: string): Readable { return createReadStream(this.find(rel)!.path); }
  readSmall(rel: string, max: number): Buffer | undefined { return readSmallFd(openSync(this.find(rel)!.path, fsc.O_RDONLY | fsc.O_NOFOLLOW | 0o2000000), max); }
  digest(rel: string): Promise<string> {
    let d = this.hashes.get(rel);
    if (!d) {
      try { d = digestFd(openSync(this.find(rel)!.path, fsc.O_RDONLY | fsc.O_NOFOLLOW | 0o2000000), this.hashes_); } catch (e) { d = Promise.reject(e); }
      this.hashes.set(rel, d);
    }
    return d;
  }
}

/** A path resolved inside a source: symlinks followed, never above its root (BuildKit's FollowSymlinks on COPY sources). */
export function followInside(src: FileSource, rel: string): string {
  let parts = rel.split('/').filter(Boolean);
  for (let hops = 0; hops < 40; hops++) {
    let changed = false;
    for (let i = 0; i < parts.length; i++) {
      const cur = parts.slice(0, i + 1).join('/');
      const st = src.lstat(cur);
      if (!st?.isSymbolicLink()) continue;
      const target = src.readlink(cur);
      const base = target.startsWith('/') ? '/' : `/${parts.slice(0, i).join('/')}`;
      parts = [...posix.join(base, target).split('/').filter(Boolean), ...parts.slice(i + 1)];
      changed = true;
      break;
    }
    if (!changed) return parts.join('/');
  }
  return parts.join('/');
}

/** Paths of every entry under `rel` (itself excluded), depth first, sorted. */
export function walk(src: FileSource, rel: string): string[] {
  const out: string[] = [];
  const rec = (dir: string) => {
    for (const n of src.readdir(dir)) {
      const p = dir ? `${dir}/${n}` : n;
      const st = src.lstat(p);
      if (!st) {
        // an ignored directory walked for the exceptions under it
        if (lstatUnfiltered(src, p)?.isDirectory()) rec(p);
        continue;
      }
      out.push(p);
      if (st.isDirectory()) rec(p);
    }
  };
  rec(rel);
  return out;
}

function lstatUnfiltered(src: FileSource, rel: string): FileStat | undefined {
  return src instanceof ContextSource ? lstatMaybe(join(src.root, rel)) : undefined;
}
