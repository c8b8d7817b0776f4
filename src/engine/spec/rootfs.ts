/**
 * Paths inside a container's root filesystem, resolved as the container would see them: symbolic
 * links are followed with the rootfs as `/` (an absolute target restarts at the rootfs, `..` stops
 * at it), so nothing outside the rootfs is ever read (moby's symlink.FollowSymlinkInScope).
 */
import { constants, lstatSync, openSync, readFileSync, readlinkSync, closeSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError, wrapError } from '../../lib/index.js';

const MAX_LINKS = 255;

/** The host path of `path` inside `rootfs`, every symlink resolved within the rootfs. Missing
 *  components are kept as they are (the result may not exist). */
export function resolveInRootfs(rootfs: string, path: string): string {
  const pending = path.split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length) {
    const part = pending.shift()!;
    if (part === '..') { done.pop(); continue; }
    const host = join(rootfs, ...done, part);
    let isLink = false;
    try { isLink = lstatSync(host).isSymbolicLink(); } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw wrapError(e, 'resolve in rootfs', host);
    }
    if (!isLink) { done.push(part); continue; }
    if (++links > MAX_LINKS) {
      throw new BerthError({ kind: 'invalid', op: 'resolve in rootfs', path: join(rootfs, path), message: `resolve ${path} in ${rootfs}: too many levels of symbolic links` });
    }
    const target = readlinkSync(host);
    if (target.startsWith('/')) done.length = 0;
    pending.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'));
  }
  // the root itself as given: `/proc/PID/root/.` must stay a directory, not become the magic link
  return done.length ? join(rootfs, ...done) : rootfs;
}

/** The content of a regular file inside the rootfs, or undefined when it does not exist. The
 *  last component is opened with O_NOFOLLOW after resolution, so a swapped-in link is refused. */
export function readRootfsFile(rootfs: string, path: string): string | undefined {
  const host = resolveInRootfs(rootfs, path);
  let fd: number;
  try {
    fd = openSync(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw wrapError(e, 'read in rootfs', host);
  }
  try {
    if (!fstatSync(fd).isFile()) {
      throw new BerthError({ kind: 'invalid', op: 'read in rootfs', path: host, message: `read ${path} in ${rootfs}: not a regular file` });
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
