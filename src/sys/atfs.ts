/**
 * Path resolution pinned to directory fds (the *at syscalls and openat2), through koffi: what
 * code that works inside a root another party can change (a running container's filesystem)
 * needs so that no path string is ever resolved by the host's rules. openat2 with
 * RESOLVE_IN_ROOT makes the fd act as `/` (absolute links restart there, `..` stops there);
 * the other calls act on one name in a pinned directory. All synchronous; every failure throws
 * a BerthError naming the call, the path and the errno.
 */
import { closeSync, constants as fsc, readdirSync } from 'node:fs';
import { BerthError, errnoName } from '../lib/index.js';
import { koffi, libcLibrary, type Timespec } from './fsops.js';

let libc: ReturnType<typeof bind> | undefined;

function bind() {
  const lib = libcLibrary();
  return {
    syscall: lib.func('long syscall(long nr, ...)'),
    mkdirat: lib.func('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
    mknodat: lib.func('int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)'),
    symlinkat: lib.func('int symlinkat(const char *target, int dirfd, const char *path)'),
    linkat: lib.func('int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)'),
    unlinkat: lib.func('int unlinkat(int dirfd, const char *path, int flags)'),
    readlinkat: lib.func('long readlinkat(int dirfd, const char *path, void *buf, unsigned long size)'),
    utimensat: lib.func('int utimensat(int dirfd, const char *path, const void *times, int flags)'),
  };
}

function c() {
  return (libc ??= bind());
}

const SYS_openat2 = 437; // x86_64 and aarch64 alike (the unified syscall table)

export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;
/** A container's view: the fd is `/`, no /proc magic link leads out of it. */
export const RESOLVE_CONTAINER = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

export const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
export const AT_REMOVEDIR = 0x200;
const AT_SYMLINK_NOFOLLOW = 0x100;

function fail(call: string, path: string | undefined): never {
  const errno = koffi().errno();
  const code = errnoName(errno);
  throw new BerthError({ kind: 'system', op: call, path, errno, code, message: `${call}${path ? ` ${path}` : ''}: ${code}` });
}

function cstr(s: string, what: string): string {
  if (s.includes('\0')) throw new BerthError({ kind: 'invalid', op: what, path: s.replace(/\0/g, '\\0'), message: `${what}: path contains a NUL byte` });
  return s;
}

/**
 * openat2(2): `path` resolved from `dirfd` under `resolve` (RESOLVE_* flags). O_CLOEXEC is
 * always added; `mode` only with O_CREAT. Returns the new fd.
 */
export function openat2(dirfd: number, path: string, flags: number, resolve: number, mode = 0): number {
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt((flags | O_CLOEXEC) >>> 0), 0);
  how.writeBigUInt64LE(BigInt(flags & fsc.O_CREAT ? mode : 0), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  // EAGAIN: a rename or mount raced the RESOLVE_IN_ROOT walk and the kernel asks to retry; a
  // container renaming in a tight loop must not make us spin for ever (the call is synchronous)
  for (let attempt = 0; ; attempt++) {
    const fd = Number(c().syscall(SYS_openat2, 'int', dirfd, 'const char *', cstr(path, 'openat2'), 'void *', how, 'size_t', 24));
    if (fd >= 0) return fd;
    if (koffi().errno() !== 11 || attempt >= OPENAT2_RETRIES) fail('openat2', path);
  }
}
const OPENAT2_RETRIES = 128;

/** The path an fd names under `/proc/self/fd` (the pinned object itself, for calls that only take paths). */
export function fdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

/** One name (no `/`, not `.` or `..`) for the calls below. */
function one(name: string, call: string): string {
  if (!name || name === '.' || name === '..' || name.includes('/')) {
    throw new BerthError({ kind: 'invalid', op: call, path: name, message: `${call}: ${JSON.stringify(name)} is not a single file name` });
  }
  return cstr(name, call);
}

export function mkdirat(dirfd: number, name: string, mode: number): void {
  if (c().mkdirat(dirfd, one(name, 'mkdirat'), mode >>> 0) !== 0) fail('mkdir', name);
}

export function mknodat(dirfd: number, name: string, mode: number, dev: bigint): void {
  if (c().mknodat(dirfd, one(name, 'mknodat'), mode >>> 0, dev) !== 0) fail('mknod', name);
}

export function symlinkat(target: string, dirfd: number, name: string): void {
  if (c().symlinkat(cstr(target, 'symlinkat'), dirfd, one(name, 'symlinkat')) !== 0) fail('symlink', name);
}

/** A hard link `newdir/newname` to `olddir/oldname` (a symlink there is linked, never followed). */
export function linkat(olddirfd: number, oldname: string, newdirfd: number, newname: string): void {
  if (c().linkat(olddirfd, one(oldname, 'linkat'), newdirfd, one(newname, 'linkat'), 0) !== 0) fail('link', newname);
}

/** unlinkat(2); `dir` removes an empty directory. */
export function unlinkat(dirfd: number, name: string, dir = false): void {
  if (c().unlinkat(dirfd, one(name, 'unlinkat'), dir ? AT_REMOVEDIR : 0) !== 0) fail(dir ? 'rmdir' : 'unlink', name);
}

/** The target of a symlink: `name` in `dirfd`, or '' for the O_PATH fd of the link itself. */
export function readlinkat(dirfd: number, name = ''): string {
  if (name) one(name, 'readlinkat');
  for (let size = 4096; ; size *= 4) {
    const buf = Buffer.alloc(size);
    const n = Number(c().readlinkat(dirfd, name, buf, size));
    if (n < 0) fail('readlink', name || fdPath(dirfd));
    if (n < size) return buf.subarray(0, n).toString();
  }
}

/** Set atime and mtime of `name` in `dirfd` with nanoseconds, a symlink itself never followed. */
export function lutimensat(dirfd: number, name: string, atime: Timespec, mtime: Timespec): void {
  const b = Buffer.alloc(32);
  b.writeBigInt64LE(BigInt(Math.trunc(atime.sec)), 0);
  b.writeBigInt64LE(BigInt(atime.nsec), 8);
  b.writeBigInt64LE(BigInt(Math.trunc(mtime.sec)), 16);
  b.writeBigInt64LE(BigInt(mtime.nsec), 24);
  if (c().utimensat(dirfd, one(name, 'utimensat'), b, AT_SYMLINK_NOFOLLOW) !== 0) fail('utimensat', name);
}

// ---- helpers built on them ----

const isCode = (e: unknown, ...codes: string[]) => codes.includes((e as { code?: string }).code ?? '');

/** An O_PATH fd of a directory the host trusts (a view's mount point, a volume's data dir). */
export function openDirPath(path: string): number {
  return openat2(-100, path, O_PATH | fsc.O_DIRECTORY, 0);
}

/**
 * `path` (a container path; absolute or not, it starts at the root) resolved inside the root
 * `rootfd` at this moment: links followed inside it only, no magic links. `nofollow` keeps a
 * last symlink itself (a trailing `/` or `/.` still follows it, as for lstat).
 */
export function openInRoot(rootfd: number, path: string, flags = O_PATH, nofollow = false): number {
  return openat2(rootfd, path || '/', flags | (nofollow ? fsc.O_NOFOLLOW : 0), RESOLVE_CONTAINER);
}

/** One entry of a pinned directory, a symlink never followed (O_PATH unless `flags` say otherwise; `mode` with O_CREAT). */
export function openChild(dirfd: number, name: string, flags = O_PATH, mode = 0): number {
  return openat2(dirfd, one(name, 'openat2'), flags | fsc.O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, mode);
}

/** Names in a pinned directory (unsorted); the fd may be O_PATH. */
export function readdirFd(dirfd: number): string[] {
  // reopening through /proc/self/fd gives the pinned directory itself, whatever its path now is
  return readdirSync(fdPath(dirfd));
}

/** Close an fd, ignoring errors (cleanup paths). */
export function closeFd(fd: number | undefined): void {
  if (fd === undefined || fd < 0) return;
  try { closeSync(fd); } catch { /* already closed */ }
}

/** `rm -rf` of `name` in a pinned directory, every level through fds (a swapped-in link is removed, never followed). */
export function removeAt(dirfd: number, name: string): void {
  try { unlinkat(dirfd, name); return; } catch (e) {
    if (isCode(e, 'ENOENT')) return;
    if (!isCode(e, 'EISDIR', 'EPERM')) throw e;
  }
  let fd: number;
  try { fd = openChild(dirfd, name, O_PATH | fsc.O_DIRECTORY); } catch (e) {
    if (isCode(e, 'ENOENT')) return;
    if (isCode(e, 'ENOTDIR', 'ELOOP')) { unlinkat(dirfd, name); return; } // swapped meanwhile
    throw e;
  }
  try {
    for (const child of readdirFd(fd)) removeAt(fd, child);
  } finally {
    closeFd(fd);
  }
  try { unlinkat(dirfd, name, true); } catch (e) { if (!isCode(e, 'ENOENT')) throw e; }
}

/**
 * `mkdir -p` of the container path `path` inside `rootfd` (missing directories made with
 * `mode`); an O_PATH fd of the directory. A component that is not a directory gives ENOTDIR.
 */
export function mkdirAllIn(rootfd: number, path: string, mode = 0o755): number {
  try {
    return openInRoot(rootfd, path, O_PATH | fsc.O_DIRECTORY);
  } catch (e) {
    if (!isCode(e, 'ENOENT')) throw e;
  }
  const clean = `/${path.split('/').filter((p) => p && p !== '.').join('/')}`;
  const i = clean.lastIndexOf('/');
  const base = clean.slice(i + 1);
  if (!base || base === '..') return openInRoot(rootfd, clean, O_PATH | fsc.O_DIRECTORY);
  const parent = mkdirAllIn(rootfd, clean.slice(0, i) || '/', mode);
  try {
    mkdirat(parent, base, mode);
  } catch (e) {
    if (!isCode(e, 'EEXIST')) throw e;
  } finally {
    closeFd(parent);
  }
  return openInRoot(rootfd, clean, O_PATH | fsc.O_DIRECTORY);
}

/**
 * The container path `path` names inside `rootfd`, every symlink resolved like the kernel's
 * RESOLVE_IN_ROOT would (absolute targets restart at the root, `..` stops there) but one pinned
 * directory at a time; components that do not exist are kept as they are.
 */
export function resolvedPathIn(rootfd: number, path: string): string {
  const pending = path.split('/').filter((p) => p && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length) {
    const part = pending.shift()!;
    if (part === '..') { done.pop(); continue; }
    let dir: number;
    try { dir = openInRoot(rootfd, `/${done.join('/')}`, O_PATH | fsc.O_DIRECTORY); } catch {
      done.push(part, ...pending);
      break;
    }
    let target: string | undefined;
    try { target = readlinkat(dir, part); } catch { /* not a link, or missing */ } finally { closeFd(dir); }
    if (target === undefined) { done.push(part); continue; }
    if (++links > 255) throw new BerthError({ kind: 'invalid', op: 'resolve', path, message: `resolve ${path}: too many levels of symbolic links`, code: 'ELOOP' });
    if (target.startsWith('/')) done.length = 0;
    pending.unshift(...target.split('/').filter((p) => p && p !== '.'));
  }
  return `/${done.join('/')}`;
}
