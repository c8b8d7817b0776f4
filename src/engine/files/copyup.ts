/**
 * Copy-up: the first time a new, empty volume is mounted, Docker copies the image's content at
 * the mount point into it. The source is resolved inside the rootfs (symlinks never lead out of
 * it) and walked without following symlinks; ownership, modes (setuid included), xattrs where the
 * target filesystem allows, nanosecond times, symlinks verbatim, device nodes, fifos and hard links
 * within the copy are kept. A failed copy empties the volume again, so a later mount retries.
 */
import { promises as fsp, constants as fsc, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { BerthError, wrapError } from '../../lib/index.js';
import { lchown, lgetxattrs, lsetxattr, lutimens, mknod, S_IFMT, type Timespec } from '../../sys/index.js';
import { resolveInRootfs } from '../spec/index.js';
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

/** Owner, then mode (chown clears setuid), then xattrs (chown clears security.capability), then times. */
async function applyMeta(src: string, dst: string, st: BigIntStats): Promise<void> {
  lchown(dst, Number(st.uid), Number(st.gid));
  if (!st.isSymbolicLink()) await fsp.chmod(dst, Number(st.mode) & 0o7777);
  copyXattrs(src, dst);
  const [a, m] = times(st);
  lutimens(dst, a, m);
}

class Walker {
  private readonly links = new Map<string, string>();

  async dir(src: string, dst: string): Promise<void> {
    for (const name of await fsp.readdir(src)) await this.entry(join(src, name), join(dst, name));
  }

  private async entry(src: string, dst: string): Promise<void> {
    const st = await fsp.lstat(src, { bigint: true });
    if (st.isDirectory()) {
      await fsp.mkdir(dst, { mode: 0o700 });
      await this.dir(src, dst);
      await applyMeta(src, dst, st);
      return;
    }
    if (st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.links.get(key);
      if (first !== undefined) { await fsp.link(first, dst); return; }
      this.links.set(key, dst);
    }
    if (st.isFile()) await copyRegular(src, dst);
    else if (st.isSymbolicLink()) await fsp.symlink(await fsp.readlink(src), dst);
    else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
      const rdev = st.rdev;
      const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n));
      const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n));
      mknod(dst, (Number(st.mode) & S_IFMT) | 0o600, major, minor);
    } else return; // sockets are not copied
    await applyMeta(src, dst, st);
  }
}

/** Copy a regular file without following a symlink swapped in at `src`. */
async function copyRegular(src: string, dst: string): Promise<void> {
  const fh = await fsp.open(src, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  try {
    if (!(await fh.stat()).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
    await fsp.copyFile(`/proc/self/fd/${fh.fd}`, dst, fsc.COPYFILE_EXCL);
  } finally {
    await fh.close();
  }
}

async function emptyDir(dir: string): Promise<void> {
  for (const name of await fsp.readdir(dir)) await fsp.rm(join(dir, name), { recursive: true, force: true });
}

/**
 * Copy the image's directory at `pathInRootfs` (a container path such as `/var/lib/data`) into
 * `volumeData` when `volumeData` is empty; the volume root takes the source's owner and mode.
 */
export async function copyUp(rootfs: string, pathInRootfs: string, volumeData: string): Promise<CopyUpResult> {
  const op = `copy up ${pathInRootfs}`;
  const source = resolveInRootfs(rootfs, pathInRootfs);
  let st: BigIntStats;
  try {
    st = await fsp.lstat(source, { bigint: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { copied: false, source };
    throw wrapError(err, op, source);
  }
  if (!st.isDirectory() || !(await isEmptyDir(volumeData))) return { copied: false, source };
  try {
    await new Walker().dir(source, volumeData);
    await applyMeta(source, volumeData, st);
  } catch (err) {
    await emptyDir(volumeData).catch(() => {});
    throw err instanceof BerthError ? new BerthError({ kind: err.kind, op, path: err.path, errno: err.errno, code: err.code, message: `${op}: ${err.message}`, cause: err })
      : wrapError(err, op, (err as NodeJS.ErrnoException).path ?? source);
  }
  return { copied: true, source };
}
