/**
 * Copy-up: the first time a new, empty volume is mounted, Docker copies the image's content at
 * the mount point into it. The source is resolved inside the rootfs when it is opened (symlinks
 * never lead out of it) and both trees are walked through fds without following symlinks; ownership, modes (setuid included), xattrs where the
 * target filesystem allows, nanosecond times, symlinks verbatim, device nodes, fifos and hard links
 * within the copy are kept. A failed copy empties the volume again, so a later mount retries.
 */
import { fstatSync, promises as fsp, constants as fsc, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { BerthError, wrapError } from '../../lib/index.js';
import {
  closeFd, fdPath, lchown, lgetxattrs, linkat, lsetxattr, lutimens, mkdirat, mknodat, O_PATH, openat2, openChild, openDirPath, openInRoot,
  readdirFd, readlinkat, removeAt, resolvedPathIn, RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS, S_IFMT, symlinkat, type Timespec,
} from '../../sys/index.js';
import { isEmptyDir } from './volumes.js';

/** xattr failures ignored ("where possible"): unsupported on the target, or not allowed. */
const XATTR_SOFT = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EPERM', 'EACCES', 'ENODATA']);

export interface CopyUpResult {
  /** False when nothing was copied: the volume was not empty, or the path is not a directory in the image. */
  copied: boolean;
  /** The host path the content came from (resolved inside the rootfs). */
  source: string;
}

function ts(ns: bigint): Timespec {
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}

function times(st: BigIntStats): [Timespec, Timespec] {
  return [ts(st.atimeNs), ts(st.mtimeNs)];
}

function copyXattrs(src: string, dst: string): void {
  let attrs: Map<string, Buffer>;
  try { attrs = lgetxattrs(src); } catch (e) {
    if (e instanceof BerthError && XATTR_SOFT.has(e.code ?? '')) return;
    throw e;
  }
  for (const [name, value] of attrs) {
    try { lsetxattr(dst, name, value); } catch (e) {
      if (!(e instanceof BerthError && XATTR_SOFT.has(e.code ?? ''))) throw e;
    }
  }
}

/**
 * Owner, then mode (chown clears setuid), then xattrs (chown clears security.capability), then
 * times. `src` and `dst` are paths the l* calls may take (one name in a pinned directory, or
 * `<fd>/.`); chmod, which follows links, goes to the object pinned by `dstFd` (never a link).
 */
async function applyMeta(src: string, dst: string, dstFd: number, st: BigIntStats): Promise<void> {
  lchown(dst, Number(st.uid), Number(st.gid));
  if (!st.isSymbolicLink()) await fsp.chmod(fdPath(dstFd), Number(st.mode) & 0o7777);
  copyXattrs(src, dst);
  const [a, m] = times(st);
  lutimens(dst, a, m);
}

/**
 * Walks the image's directory and the volume through fds, one pinned directory at a time: a
 * symlink is copied as one and never followed, on either side (the volume may be shared with a
 * running container).
 */
class Walker {
  /** First copy of a hard-linked inode: its directory (relative to the volume root) and name. */
  private readonly links = new Map<string, [string, string]>();

  constructor(private readonly volumeFd: number) {}

  async dir(srcFd: number, dstFd: number, rel: string): Promise<void> {
    for (const name of readdirFd(srcFd)) await this.entry(srcFd, dstFd, rel, name);
  }

  private async entry(srcDir: number, dstDir: number, rel: string, name: string): Promise<void> {
    let sfd: number;
    try { sfd = openChild(srcDir, name); } catch (e) {
      if (codeOf(e) === 'ENOENT') return; // removed meanwhile
      throw e;
    }
    try {
      const st = fstatSync(sfd, { bigint: true });
      const src = fdPath(srcDir, name);
      const dst = fdPath(dstDir, name);
      if (st.isDirectory()) {
        mkdirat(dstDir, name, 0o700);
        const dfd = openChild(dstDir, name, O_PATH | fsc.O_DIRECTORY);
        try {
          await this.dir(sfd, dfd, rel ? `${rel}/${name}` : name);
          await applyMeta(src, dst, dfd, st);
        } finally {
          closeFd(dfd);
        }
        return;
      }
      if (st.nlink > 1n) {
        const key = `${st.dev}:${st.ino}`;
        const first = this.links.get(key);
        if (first !== undefined) {
          const at = first[0] ? openat2(this.volumeFd, first[0], O_PATH | fsc.O_DIRECTORY | fsc.O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) : this.volumeFd;
          try { linkat(at, first[1], dstDir, name); } finally { if (at !== this.volumeFd) closeFd(at); }
          return;
        }
        this.links.set(key, [rel, name]);
      }
      if (st.isFile()) await copyRegular(sfd, dstDir, name);
      else if (st.isSymbolicLink()) symlinkat(readlinkat(sfd), dstDir, name);
      else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
        mknodat(dstDir, name, (Number(st.mode) & S_IFMT) | 0o600, st.rdev); // the same dev_t
      } else return; // sockets are not copied
      const dfd = openChild(dstDir, name);
      try { await applyMeta(src, dst, dfd, st); } finally { closeFd(dfd); }
    } finally {
      closeFd(sfd);
    }
  }
}

const codeOf = (e: unknown) => (e as { code?: string }).code ?? '';

/** Copy the regular file pinned by `sfd` to a new `name` in the pinned directory `dstDir`. */
async function copyRegular(sfd: number, dstDir: number, name: string): Promise<void> {
  await fsp.copyFile(fdPath(sfd), fdPath(dstDir, name), fsc.COPYFILE_EXCL);
}

/** Empty the volume through its fd (never following a link a container put there). */
function emptyDirFd(fd: number): void {
  for (const name of readdirFd(fd)) removeAt(fd, name);
}

/**
 * Copy the image's directory at `pathInRootfs` (a container path such as `/var/lib/data`) into
 * `volumeData` when `volumeData` is empty; the volume root takes the source's owner and mode.
 * The path is resolved inside the rootfs when it is opened (openat2 RESOLVE_IN_ROOT).
 */
export async function copyUp(rootfs: string, pathInRootfs: string, volumeData: string): Promise<CopyUpResult> {
  const op = `copy up ${pathInRootfs}`;
  let rootFd: number | undefined;
  let srcFd: number | undefined;
  let volFd: number | undefined;
  try {
    try { rootFd = openDirPath(rootfs); } catch (err) { throw wrapError(err, op, rootfs); }
    const source = join(rootfs, resolvedPathIn(rootFd, pathInRootfs));
    try {
      srcFd = openInRoot(rootFd, pathInRootfs);
    } catch (err) {
      const code = codeOf(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return { copied: false, source };
      throw wrapError(err, op, source);
    }
    const st = fstatSync(srcFd, { bigint: true });
    if (!st.isDirectory() || !(await isEmptyDir(volumeData))) return { copied: false, source };
    try { volFd = openDirPath(volumeData); } catch (err) { throw wrapError(err, op, volumeData); }
    try {
      await new Walker(volFd).dir(srcFd, volFd, '');
      await applyMeta(`${fdPath(srcFd)}/.`, `${fdPath(volFd)}/.`, volFd, st);
    } catch (err) {
      try { emptyDirFd(volFd); } catch { /* the copy's error is the one to report */ }
      throw err instanceof BerthError ? new BerthError({ kind: err.kind, op, path: err.path, errno: err.errno, code: err.code, message: `${op}: ${err.message}`, cause: err })
        : wrapError(err, op, (err as NodeJS.ErrnoException).path ?? source);
    }
    return { copied: true, source };
  } finally {
    closeFd(volFd);
    closeFd(srcFd);
    closeFd(rootFd);
  }
}
