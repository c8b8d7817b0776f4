/**
 * `cp`, the engine side (Docker's ContainerStatPath, ContainerArchivePath, ContainerExtractToDir)
 * and the tar extraction both sides use. Container paths are resolved inside the container's
 * view like a chroot would (an absolute symlink restarts at the container's `/`, `..` stops
 * there), so nothing outside the container is ever read or written through a link.
 */
import { chmodSync, constants as fsc, linkSync, lstatSync, mkdirSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { BerthError, conflict, invalid, notFound, wrapError } from '../../lib/index.js';
import { S_IFBLK, S_IFCHR, S_IFIFO, lchown, lsetxattr, lutimens, mknod, type Timespec } from '../../sys/index.js';
import { resolveInRootfs, resolveUser } from '../spec/index.js';
import type { EngineCore } from './core.js';
import { lstatMaybe, mkdirIn, packTree, withContainerView, type ContainerView } from './export.js';

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

/**
 * Docker's container.ResolvePath: everything but the last component resolved in the view; a
 * trailing `/` or `/.` keeps the last component followed (it then names the directory itself).
 */
function resolvePath(root: string, path: string): { resolved: string; abs: string } {
  const abs = containerAbs(path);
  const i = abs.lastIndexOf('/');
  const dir = abs.slice(0, i + 1);
  const base = abs.slice(i + 1);
  const resolvedDir = resolveInRootfs(root, dir);
  return { resolved: base ? join(resolvedDir, base) + (base === '.' ? '/.' : '') : resolvedDir, abs };
}

function statIn(root: string, resolved: string, abs: string, ref: string): PathStat {
  let st;
  try { st = lstatSync(resolved); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw fileNotFound(abs, ref);
    throw wrapError(e, `stat ${abs} in container ${ref}`);
  }
  let linkTarget = '';
  if (st.isSymbolicLink()) linkTarget = posix.join('/', relative(root, resolveInRootfs(root, abs)));
  return { name: goBase(abs), size: st.size, mode: st.mode, mtime: st.mtime.toISOString(), linkTarget };
}

/** `HEAD /containers/{id}/archive`: what is at `path` in the container (the last link not followed). */
export async function statContainerPath(core: EngineCore, ref: string, path: string): Promise<PathStat> {
  return withContainerView(core, ref, `stat ${path} in container ${ref}`, { volumes: true }, async (v) => {
    const { resolved, abs } = resolvePath(v.root, path);
    return statIn(v.root, resolved, abs, ref);
  });
}

/**
 * `GET /containers/{id}/archive`: a tar of `path` (its top entry named like the path's last
 * component: `.` for `dir/.`, `/` for the root) handed to `consume` while the view is mounted.
 */
export async function archiveFromContainer<T>(core: EngineCore, ref: string, path: string, consume: (stat: PathStat, archive: Readable) => Promise<T>): Promise<T> {
  return withContainerView(core, ref, `copy from container ${ref}`, { volumes: true }, async (v) => {
    const { resolved, abs } = resolvePath(v.root, path);
    const stat = statIn(v.root, resolved, abs, ref);
    const archive = packTree(resolved, goBase(abs));
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

/** `PUT /containers/{id}/archive`: extract a tar into the directory `path` of the container. */
export async function extractToContainer(core: EngineCore, ref: string, path: string, archive: Readable, o: ExtractToContainerOptions = {}): Promise<void> {
  const op = `copy to container ${ref}`;
  try {
    await withContainerView(core, ref, op, { volumes: true }, async (v) => {
      const host = resolveInRootfs(v.root, containerAbs(path));
      const st = lstatMaybe(host);
      if (!st) throw fileNotFound(path, ref);
      if (!st.isDirectory()) throw invalid(op, 'extraction point is not a directory');
      const abs = posix.join('/', relative(v.root, host));
      checkWritable(v, abs, op);
      let chown: ExtractOptions['chown'] = true;
      const user = (v.container.config as { User?: string }).User;
      if (o.copyUIDGID && user) {
        const u = resolveUser(v.root, user);
        chown = { uid: u.uid ?? 0, gid: u.gid ?? 0 };
      }
      await extractTar(archive, v.root, abs, { chown, noOverwriteDirNonDir: o.noOverwriteDirNonDir ?? true });
      core.event('container', 'extract-to-dir', v.container, { path: abs });
    });
  } finally {
    archive.destroy();
  }
}

// ---- extraction ----

export interface ExtractOptions {
  /** lchown every entry: true = to the archive's uid/gid, an owner = to it, false = never (files are the caller's). */
  chown: boolean | { uid: number; gid: number };
  noOverwriteDirNonDir?: boolean;
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

class Extractor {
  private readonly dirTimes: [string, Timespec][] = [];

  constructor(private readonly root: string, private readonly dir: string, private readonly o: ExtractOptions) {}

  /** Container (or host, for root '/') path of an entry, for messages. */
  private shown(rel: string): string {
    return posix.join(this.dir, rel);
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
    if (parentRel !== '.') mkdirIn(this.root, this.shown(parentRel), 'extract');
    const hostParent = resolveInRootfs(this.root, this.shown(parentRel === '.' ? '' : parentRel));
    const path = join(hostParent, posix.basename(rel));
    const existing = lstatMaybe(path);
    if (existing) {
      if (this.o.noOverwriteDirNonDir && existing.isDirectory() && !isDir) {
        throw invalid('extract', `cannot overwrite directory "${this.shown(rel)}" with non-directory "${this.dir}"`);
      }
      if (this.o.noOverwriteDirNonDir && !existing.isDirectory() && isDir) {
        throw invalid('extract', `cannot overwrite non-directory "${this.shown(rel)}" with directory "${this.dir}"`);
      }
      if (!(existing.isDirectory() && isDir)) {
        if (existing.isDirectory()) rmSync(path, { recursive: true, force: true });
        else unlinkSync(path);
      }
    }
    const mode = (h.mode ?? (isDir ? 0o755 : 0o644)) & 0o7777;
    switch (type) {
      case 'directory':
        if (!existing?.isDirectory()) mkdirSync(path, 0o700);
        break;
      case 'symlink': {
        const target = h.linkname ?? '';
        const joined = posix.normalize(posix.join(posix.dirname(rel), target));
        if (!target.startsWith('/') && (joined === '..' || joined.startsWith('../'))) {
          throw invalid('extract', `invalid symlink "${this.shown(rel)}" -> "${target}"`);
        }
        symlinkSync(target, path);
        break;
      }
      case 'link': {
        const raw = h.linkname ?? '';
        const trel = entryPath(this.o.rename ? this.o.rename(raw) : raw, `hardlink ${this.shown(rel)} ->`);
        if (trel === null) throw invalid('extract', `invalid hardlink "${this.shown(rel)}" -> "${raw}"`);
        const tparent = resolveInRootfs(this.root, posix.dirname(this.shown(trel)));
        linkSync(join(tparent, posix.basename(trel)), path);
        await drain(data);
        return; // a hard link shares its target's metadata
      }
      case 'character-device': case 'block-device': case 'fifo': {
        const kind = type === 'fifo' ? S_IFIFO : type === 'block-device' ? S_IFBLK : S_IFCHR;
        mknod(path, kind | (mode & 0o777), h.devmajor ?? 0, h.devminor ?? 0);
        break;
      }
      default:
        await this.file(path, data);
    }
    await drain(data);
    this.meta(path, h, type, mode);
  }

  private async file(path: string, data: AsyncIterable<Buffer>): Promise<void> {
    const fh = await open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    try {
      for await (const chunk of data) {
        for (let off = 0; off < chunk.length;) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      }
    } finally {
      await fh.close();
    }
  }

  private meta(path: string, h: Header, type: string, mode: number): void {
    const c = this.o.chown;
    if (c) {
      const [uid, gid] = c === true ? [h.uid ?? 0, h.gid ?? 0] : [c.uid, c.gid];
      lchown(path, uid, gid);
    }
    if (type !== 'symlink') chmodSync(path, mode);
    for (const [k, v] of Object.entries(h.pax ?? {})) {
      // tar-stream decodes PAX values as UTF-8: a binary value (security.capability…) arrives mangled and is skipped
      if (!k.startsWith('SCHILY.xattr.') || v.includes('\uFFFD')) continue;
      try { lsetxattr(path, k.slice('SCHILY.xattr.'.length), Buffer.from(v, 'utf8')); } catch { /* best effort, like Docker's untar */ }
    }
    const t = ts(h.mtime);
    if (type === 'directory') this.dirTimes.push([path, t]);
    else lutimens(path, t, t);
  }

  /** Directory times last, after their contents are complete (deepest first). */
  finish(): void {
    for (const [path, t] of this.dirTimes.reverse()) {
      try { lutimens(path, t, t); } catch { /* removed by a later entry */ }
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
  const x = new Extractor(root, dir, o);
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
