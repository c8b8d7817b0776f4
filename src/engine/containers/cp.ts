/**
 * `cp`, the engine side (Docker's ContainerStatPath, ContainerArchivePath, ContainerExtractToDir)
 * and the tar extraction both sides use. Container paths are resolved by the kernel inside the
 * container's root at the moment they are used (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
 * on the view's root fd: an absolute symlink restarts at the container's `/`, `..` stops there),
 * and every entry is then read or made by one name relative to a pinned directory fd: a running
 * container swapping a directory for a link meanwhile cannot lead a read or a write out of it.
 */
import { chmodSync, constants as fsc, fstatSync, lstatSync, readFileSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { BerthError, conflict, invalid, notFound, wrapError } from '../../lib/index.js';
import {
  S_IFBLK, S_IFCHR, S_IFIFO, closeFd, fdPath, lchown, linkat, lsetxattr, lutimensat, makedev, mkdirAllIn, mkdirat, mknodat, O_PATH,
  openChild, openDirPath, openInRoot, removeAt, resolvedPathIn, symlinkat, type Timespec,
} from '../../sys/index.js';
import { resolveUser } from '../spec/index.js';
import type { EngineCore } from './core.js';
import { packTreeFd, withContainerView, withRootlessView, type ContainerView } from './export.js';
import { isRootless } from '../rootless/paths.js';

/** Docker's ContainerPathStat. `mode` is the unix st_mode (type bits included). */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  /** For a symlink: its target fully resolved inside the container, as an absolute path. */
  linkTarget: string;
}

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

/** Go's filepath.Base: trailing slashes ignored, '' → '.', only slashes → '/'. */
export function goBase(p: string): string {
  if (p === '') return '.';
  const t = p.replace(/\/+$/, '');
  if (t === '') return '/';
  return t.slice(t.lastIndexOf('/') + 1);
}

/** Docker's PreserveTrailingDotOrSeparator: keep the `/.` or `/` the original path ended with. */
export function preserveTrailing(cleaned: string, original: string): string {
  if (/(^|\/)\.$/.test(original) && !/(^|\/)\.$/.test(cleaned)) return cleaned.endsWith('/') ? `${cleaned}.` : `${cleaned}/.`;
  if (original.endsWith('/') && !cleaned.endsWith('/')) return `${cleaned}/`;
  return cleaned;
}

/** The absolute container path of a user's path (relative paths are relative to `/`). */
export function containerAbs(path: string): string {
  return preserveTrailing(posix.join('/', path), path);
}

function fileNotFound(path: string, ref: string): BerthError {
  return notFound('copy', `Could not find the file ${path} in container ${ref}`);
}

const codeOf = (e: unknown) => (e as { code?: string }).code ?? '';

/** A failure to reach `abs` in the container, in Docker's words where it has some. */
function pathError(e: unknown, abs: string, ref: string, what: string): BerthError {
  const code = codeOf(e);
  if (code === 'ENOENT' || code === 'ENOTDIR') return fileNotFound(abs, ref);
  if (code === 'ELOOP' || code === 'EXDEV') {
    return new BerthError({ kind: 'invalid', op: 'copy', path: abs, code, cause: e, message: `${what} ${abs} in container ${ref}: ${code === 'ELOOP' ? 'too many levels of symbolic links or a link out of the container' : 'the path leaves the container'}` });
  }
  if (e instanceof BerthError && e.kind !== 'system') return e;
  return wrapError(e, `${what} ${abs} in container ${ref}`);
}

/**
 * Docker's container.ResolvePath, done by the kernel at the moment of use: an O_PATH fd of what
 * is at `path` in the container, everything but the last component resolved inside its root (a
 * trailing `/` or `/.` keeps the last component followed: it then names the directory itself).
 */
function openPath(v: ContainerView, path: string, ref: string, what: string): { fd: number; abs: string } {
  const abs = containerAbs(path);
  try {
    return { fd: openInRoot(v.rootFd, abs, O_PATH, true), abs };
  } catch (e) {
    throw pathError(e, abs, ref, what);
  }
}

function statOf(v: ContainerView, fd: number, abs: string): PathStat {
  const st = fstatSync(fd);
  const linkTarget = st.isSymbolicLink() ? resolvedPathIn(v.rootFd, abs) : '';
  return { name: goBase(abs), size: st.size, mode: st.mode, mtime: st.mtime.toISOString(), linkTarget };
}

/** What is at `path` in the view (the last link not followed). */
export function statInView(v: ContainerView, path: string, ref: string): PathStat {
  const { fd, abs } = openPath(v, path, ref, 'stat');
  try { return statOf(v, fd, abs); } finally { closeFd(fd); }
}

/** `HEAD /containers/{id}/archive`: what is at `path` in the container (the last link not followed). */
export async function statContainerPath(core: EngineCore, ref: string, path: string): Promise<PathStat> {
  const op = `stat ${path} in container ${ref}`;
  if (isRootless()) {
    return withRootlessView(core, ref, op, { volumes: true }, { kind: 'stat', path }, async (run) => {
      run.stdout.resume();
      return (await run.done) as PathStat;
    });
  }
  return withContainerView(core, ref, op, { volumes: true }, async (v) => statInView(v, path, ref));
}

/** The stat of `path` in the view and a tar of it (see archiveFromContainer); the archive owns its fd. */
export function archiveInView(v: ContainerView, path: string, ref: string): { stat: PathStat; abs: string; archive: Readable } {
  const { fd, abs } = openPath(v, path, ref, 'copy');
  let stat: PathStat;
  try { stat = statOf(v, fd, abs); } catch (e) { closeFd(fd); throw e; }
  return { stat, abs, archive: packTreeFd(fd, goBase(abs)) };
}

/**
 * `GET /containers/{id}/archive`: a tar of `path` (its top entry named like the path's last
 * component: `.` for `dir/.`, `/` for the root) handed to `consume` while the view is mounted.
 * The tree is read through fds pinned inside the container's root (see packTreeFd).
 */
export async function archiveFromContainer<T>(core: EngineCore, ref: string, path: string, consume: (stat: PathStat, archive: Readable) => Promise<T>): Promise<T> {
  const op = `copy from container ${ref}`;
  if (isRootless()) {
    return withRootlessView(core, ref, op, { volumes: true }, { kind: 'archive', path }, async (run, c) => {
      const stat = (await run.stat) as PathStat;
      const out = await consume(stat, run.stdout as Readable);
      run.stdout.resume(); // what the consumer left is drained: the storage process ends
      const abs = (await run.done) as string;
      core.event('container', 'archive-path', c, { path: abs });
      return out;
    });
  }
  return withContainerView(core, ref, op, { volumes: true }, async (v) => {
    const { stat, abs, archive } = archiveInView(v, path, ref);
    try {
      const out = await consume(stat, archive);
      core.event('container', 'archive-path', v.container, { path: abs });
      return out;
    } finally {
      archive.destroy();
    }
  });
}

export interface ExtractToContainerOptions {
  /** See ExtractOptions.ownIds. */
  ownIds?: { uid: number; gid: number };
  /** `cp -a`: files get the container user's uid/gid (Config.User), else those in the archive. */
  copyUIDGID?: boolean;
  /** Refuse to replace a directory with a non-directory and the reverse (Docker's default for cp). */
  noOverwriteDirNonDir?: boolean;
}

/** Docker's checkIfPathIsInAVolume + read-only rootfs rule for the extraction directory. */
function checkWritable(v: ContainerView, abs: string, op: string): void {
  let inMount: { readonly: boolean } | undefined;
  for (const m of v.mounts) if (abs === m.target || abs.startsWith(m.target === '/' ? '/' : `${m.target}/`)) inMount = m;
  if (inMount?.readonly) throw conflict(op, 'mounted volume is marked read-only');
  if (!inMount && v.readonlyRootfs) throw conflict(op, 'container rootfs is marked read-only');
}

/** Extract `archive` into the directory `path` of the view; the directory's resolved path. */
export async function extractInView(v: ContainerView, path: string, ref: string, archive: Readable, o: ExtractToContainerOptions, op: string): Promise<string> {
  const want = containerAbs(path);
  let fd: number;
  try { fd = openInRoot(v.rootFd, want); } catch (e) { throw pathError(e, path, ref, 'copy to'); }
  let isDir: boolean;
  try { isDir = fstatSync(fd).isDirectory(); } finally { closeFd(fd); }
  if (!isDir) throw invalid(op, 'extraction point is not a directory');
  const abs = resolvedPathIn(v.rootFd, want);
  checkWritable(v, abs, op);
  let chown: ExtractOptions['chown'] = true;
  const user = (v.container.config as { User?: string }).User;
  if (o.copyUIDGID && user) {
    const u = resolveUser(v.root, user, [], (p) => readInRoot(v.rootFd, p));
    chown = { uid: u.uid ?? 0, gid: u.gid ?? 0 };
  }
  await extractTarAt(archive, v.rootFd, abs, { chown, noOverwriteDirNonDir: o.noOverwriteDirNonDir ?? true, ownIds: o.ownIds });
  return abs;
}

/** `PUT /containers/{id}/archive`: extract a tar into the directory `path` of the container. */
export async function extractToContainer(core: EngineCore, ref: string, path: string, archive: Readable, o: ExtractToContainerOptions = {}): Promise<void> {
  const op = `copy to container ${ref}`;
  try {
    if (isRootless()) {
      const own = { uid: process.geteuid!(), gid: process.getegid!() };
      const task = { kind: 'extract' as const, path, copyUIDGID: o.copyUIDGID, noOverwriteDirNonDir: o.noOverwriteDirNonDir, ownIds: own };
      await withRootlessView(core, ref, op, { volumes: true }, task, async (run, c) => {
        // a failure of the storage process (its message) wins over the broken pipe it causes
        const fed = pipeline(archive, run.stdin).catch((e: unknown) => e);
        const abs = (await run.done) as string;
        const e = await fed;
        if (e) throw wrapError(e, op);
        core.event('container', 'extract-to-dir', c, { path: abs });
      });
      return;
    }
    await withContainerView(core, ref, op, { volumes: true }, async (v) => {
      const abs = await extractInView(v, path, ref, archive, o, op);
      core.event('container', 'extract-to-dir', v.container, { path: abs });
    });
  } finally {
    archive.destroy();
  }
}

/** A regular file of the container (/etc/passwd…), read through the root fd; undefined when missing. */
function readInRoot(rootFd: number, path: string): string | undefined {
  let fd: number;
  try { fd = openInRoot(rootFd, path, fsc.O_RDONLY); } catch { return undefined; }
  try { return fstatSync(fd).isFile() ? readFileSync(fd, 'utf8') : undefined; } finally { closeFd(fd); }
}

// ---- extraction ----

export interface ExtractOptions {
  /** lchown every entry: true = to the archive's uid/gid, an owner = to it, false = never (files are the caller's). */
  chown: boolean | { uid: number; gid: number };
  noOverwriteDirNonDir?: boolean;
  /**
   * Rootless: entries owned by the user's own ids (the user's files on the host) get the
   * container's root (0), as in the storage namespace and podman.
   */
  ownIds?: { uid: number; gid: number };
  /** Rename each entry before it is placed (Docker's RebaseArchiveEntries). */
  rename?: (name: string) => string;
}

type Header = Partial<Omit<tar.Header, 'pax'>> & { name: string; type?: string | null; pax?: Record<string, string> | null };

const ts = (d: Date | undefined): Timespec => {
  const ms = d?.getTime() ?? 0;
  return { sec: Math.floor(ms / 1000), nsec: 0 };
};

/** A clean path relative to the extraction directory, or null for the directory itself. */
function entryPath(name: string, what: string): string | null {
  if (name.includes('\0')) throw invalid('extract', `${what} ${JSON.stringify(name)}: contains a NUL byte`);
  const n = posix.normalize(`./${name.replace(/^\/+/, '')}`).replace(/\/+$/, '');
  if (n === '..' || n.startsWith('../')) throw invalid('extract', `${what} ${JSON.stringify(name)} is outside of the destination directory`);
  return n === '.' || n === '' ? null : n;
}

/** lstat of one name in a pinned directory, undefined when it is not there. */
function lstatAt(dirfd: number, name: string): Stats | undefined {
  try { return lstatSync(fdPath(dirfd, name)); } catch (e) {
    const code = codeOf(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/**
 * Writes the entries of an archive below the directory `dir` of the root `rootFd`. Every entry
 * is placed through the fd of its parent directory, resolved inside the root when it is used
 * (openat2 RESOLVE_IN_ROOT), and made there by one name (mkdirat, symlinkat, openat O_EXCL…):
 * nothing the root's owner changes meanwhile can lead a write outside it.
 */
class Extractor {
  private readonly dirTimes: [string, string, Timespec][] = [];

  constructor(private readonly rootFd: number, private readonly dir: string, private readonly o: ExtractOptions) {}

  /** Path of an entry in the root, also for messages. */
  private shown(rel: string): string {
    return posix.join(this.dir, rel);
  }

  /** The parent directory of an entry (made when missing), pinned. */
  private parent(abs: string): number {
    try {
      return mkdirAllIn(this.rootFd, abs);
    } catch (e) {
      const code = codeOf(e);
      if (code === 'ENOTDIR' || code === 'EEXIST') throw new BerthError({ kind: 'conflict', op: 'extract', path: abs, code: 'ENOTDIR', message: `extract: ${abs}: not a directory` });
      throw wrapError(e, 'extract', abs);
    }
  }

  async entry(h: Header, data: AsyncIterable<Buffer>): Promise<void> {
    const type = h.type ?? 'file';
    const rel = entryPath(this.o.rename ? this.o.rename(h.name) : h.name, 'entry');
    const isDir = type === 'directory';
    if (rel === null) {
      // the destination directory itself: kept as it is (Docker skips ".")
      await drain(data);
      return;
    }
    if (!['file', 'contiguous-file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo'].includes(type)) {
      await drain(data);
      return; // other types (sockets, GNU extensions) are skipped like Docker's untar
    }
    const parentRel = posix.dirname(rel);
    const parentAbs = this.shown(parentRel === '.' ? '' : parentRel);
    const name = posix.basename(rel);
    const pfd = this.parent(parentAbs);
    try {
      await this.place(pfd, parentAbs, name, rel, h, type, isDir, data);
    } finally {
      closeFd(pfd);
    }
  }

  private async place(pfd: number, parentAbs: string, name: string, rel: string, h: Header, type: string, isDir: boolean, data: AsyncIterable<Buffer>): Promise<void> {
    const existing = lstatAt(pfd, name);
    if (existing) {
      if (this.o.noOverwriteDirNonDir && existing.isDirectory() && !isDir) {
        throw invalid('extract', `cannot overwrite directory "${this.shown(rel)}" with non-directory "${this.dir}"`);
      }
      if (this.o.noOverwriteDirNonDir && !existing.isDirectory() && isDir) {
        throw invalid('extract', `cannot overwrite non-directory "${this.shown(rel)}" with directory "${this.dir}"`);
      }
      if (!(existing.isDirectory() && isDir)) removeAt(pfd, name);
    }
    const mode = (h.mode ?? (isDir ? 0o755 : 0o644)) & 0o7777;
    switch (type) {
      case 'directory':
        if (!existing?.isDirectory()) mkdirat(pfd, name, 0o700);
        break;
      case 'symlink': {
        const target = h.linkname ?? '';
        const joined = posix.normalize(posix.join(posix.dirname(rel), target));
        if (!target.startsWith('/') && (joined === '..' || joined.startsWith('../'))) {
          throw invalid('extract', `invalid symlink "${this.shown(rel)}" -> "${target}"`);
        }
        symlinkat(target, pfd, name);
        break;
      }
      case 'link': {
        const raw = h.linkname ?? '';
        const trel = entryPath(this.o.rename ? this.o.rename(raw) : raw, `hardlink ${this.shown(rel)} ->`);
        if (trel === null) throw invalid('extract', `invalid hardlink "${this.shown(rel)}" -> "${raw}"`);
        const tparent = openInRoot(this.rootFd, posix.dirname(this.shown(trel)), O_PATH | fsc.O_DIRECTORY);
        try { linkat(tparent, posix.basename(trel), pfd, name); } finally { closeFd(tparent); }
        await drain(data);
        return; // a hard link shares its target's metadata
      }
      case 'character-device': case 'block-device': case 'fifo': {
        const kind = type === 'fifo' ? S_IFIFO : type === 'block-device' ? S_IFBLK : S_IFCHR;
        mknodat(pfd, name, kind | (mode & 0o777), makedev(h.devmajor ?? 0, h.devminor ?? 0));
        break;
      }
      default:
        await this.file(pfd, name, data);
    }
    await drain(data);
    this.meta(pfd, parentAbs, name, h, type, mode);
  }

  private async file(pfd: number, name: string, data: AsyncIterable<Buffer>): Promise<void> {
    // one name in the pinned directory, created (never an existing file or link opened)
    const fh = await open(fdPath(pfd, name), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    try {
      for await (const chunk of data) {
        for (let off = 0; off < chunk.length;) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      }
    } finally {
      await fh.close();
    }
  }

  private meta(pfd: number, parentAbs: string, name: string, h: Header, type: string, mode: number): void {
    const at = fdPath(pfd, name); // for the l* calls only: they never follow the last link
    const c = this.o.chown;
    if (c) {
      let [uid, gid] = c === true ? [h.uid ?? 0, h.gid ?? 0] : [c.uid, c.gid];
      const own = c === true ? this.o.ownIds : undefined;
      if (own && uid === own.uid) uid = 0;
      if (own && gid === own.gid) gid = 0;
      lchown(at, uid, gid);
    }
    if (type !== 'symlink') {
      // chmod follows links: it is done on the object pinned by an O_PATH fd, checked not to be one
      const fd = openChild(pfd, name);
      try {
        if (fstatSync(fd).isSymbolicLink()) throw conflict('extract', `${this.shown(name)}: replaced by a symbolic link during the copy`);
        chmodSync(fdPath(fd), mode);
      } finally {
        closeFd(fd);
      }
    }
    for (const [k, v] of Object.entries(h.pax ?? {})) {
      // tar-stream decodes PAX values as UTF-8: a binary value (security.capability…) arrives mangled and is skipped
      if (!k.startsWith('SCHILY.xattr.') || v.includes('\uFFFD')) continue;
      try { lsetxattr(at, k.slice('SCHILY.xattr.'.length), Buffer.from(v, 'utf8')); } catch { /* best effort, like Docker's untar */ }
    }
    const t = ts(h.mtime);
    if (type === 'directory') this.dirTimes.push([parentAbs, name, t]);
    else lutimensat(pfd, name, t, t);
  }

  /** Directory times last, after their contents are complete (deepest first). */
  finish(): void {
    for (const [parentAbs, name, t] of this.dirTimes.reverse()) {
      let pfd: number | undefined;
      try {
        pfd = openInRoot(this.rootFd, parentAbs, O_PATH | fsc.O_DIRECTORY);
        lutimensat(pfd, name, t, t);
      } catch { /* removed by a later entry */ } finally {
        closeFd(pfd);
      }
    }
  }
}

async function drain(data: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of data) { /* discard */ }
}

/**
 * Extract an uncompressed tar into the directory `dir` (a path inside `root`, which acts as `/`:
 * use '/' for the host). Parent directories that are missing are made (0755); an existing entry
 * is replaced unless both are directories. Entries, hard links and relative symlinks that would
 * leave `dir` are refused.
 */
export async function extractTar(archive: Readable, root: string, dir: string, o: ExtractOptions): Promise<void> {
  let rootFd: number;
  try { rootFd = openDirPath(root); } catch (e) { archive.destroy(); throw wrapError(e, 'extract', root); }
  try { await extractTarAt(archive, rootFd, dir, o); } finally { closeFd(rootFd); }
}

/** extractTar below the root pinned by `rootFd` (see Extractor). */
export async function extractTarAt(archive: Readable, rootFd: number, dir: string, o: ExtractOptions): Promise<void> {
  const x = new Extractor(rootFd, dir, o);
  const ex = tar.extract();
  let failure: unknown;
  ex.on('entry', (header, stream, next) => {
    stream.on('error', () => undefined); // reported through `failure`
    x.entry(header as Header, stream as unknown as AsyncIterable<Buffer>).then(() => next(), (e: unknown) => {
      failure ??= e;
      next(e as Error);
    });
  });
  const ended = new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', (e: Error) => reject(failure ?? e));
    ex.on('close', () => reject(failure ?? new Error('the archive ended early')));
  });
  ended.catch(() => undefined);
  try {
    // the archive is read until its end, or until the extraction fails (which may be sooner)
    const it = (archive as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    for (;;) {
      const r = await Promise.race([it.next(), ended.then(() => ({ done: true as const, value: undefined }))]);
      if (r.done) break;
      if (!ex.write(r.value)) await Promise.race([new Promise<void>((res) => ex.once('drain', () => res())), ended]);
    }
    if (failure) throw failure;
    ex.end(undefined);
    await ended;
  } catch (e) {
    archive.destroy();
    ex.destroy();
    const err = failure ?? e;
    if (err instanceof BerthError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code) throw wrapError(err, 'extract', (err as NodeJS.ErrnoException).path);
    throw new BerthError({ kind: 'invalid', op: 'extract', message: `extract: ${(err as Error).message ?? err}`, cause: err });
  }
  x.finish();
}
