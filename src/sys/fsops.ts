/**
 * Filesystem syscalls Node lacks, through koffi (glibc wrappers, all synchronous):
 * mknod, l*xattr, lchown, utimensat(AT_SYMLINK_NOFOLLOW), mount/umount2 and the new mount API
 * (fsopen/fsconfig/fsmount/move_mount). Every failure throws a BerthError naming the call,
 * the path and the errno.
 */
import { createRequire } from 'node:module';
import { closeSync, writeSync } from 'node:fs';
import { BerthError, errnoName } from '../lib/index.js';

let libc: ReturnType<typeof bind> | undefined;
let koffiMod: typeof import('koffi') | undefined;

/** koffi, loaded on first use only: commands that never call these pay nothing at start-up. */
export function koffi(): typeof import('koffi') {
  return (koffiMod ??= createRequire(import.meta.url)('koffi') as typeof import('koffi'));
}

let libcLib: ReturnType<typeof import('koffi')['load']> | undefined;
/** libc through koffi, loaded once (fsops.ts and atfs.ts bind their functions on it). */
export function libcLibrary(): ReturnType<typeof import('koffi')['load']> {
  return (libcLib ??= koffi().load('libc.so.6'));
}

function bind() {
  const lib = libcLibrary();
  return {
    mknod: lib.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
    lchown: lib.func('int lchown(const char *path, uint32_t uid, uint32_t gid)'),
    lsetxattr: lib.func('int lsetxattr(const char *path, const char *name, const void *value, unsigned long size, int flags)'),
    lgetxattr: lib.func('long lgetxattr(const char *path, const char *name, void *value, unsigned long size)'),
    llistxattr: lib.func('long llistxattr(const char *path, void *list, unsigned long size)'),
    lremovexattr: lib.func('int lremovexattr(const char *path, const char *name)'),
    utimensat: lib.func('int utimensat(int dirfd, const char *path, const void *times, int flags)'),
    futimens: lib.func('int futimens(int fd, const void *times)'),
    mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: lib.func('int umount2(const char *target, int flags)'),
    fsopen: lib.func('int fsopen(const char *fsname, unsigned int flags)'),
    fsconfig: lib.func('int fsconfig(int fd, unsigned int cmd, const char *key, const char *value, int aux)'),
    fsmount: lib.func('int fsmount(int fd, unsigned int flags, unsigned int attrs)'),
    moveMount: lib.func('int move_mount(int fromfd, const char *frompath, int tofd, const char *topath, unsigned int flags)'),
    memfdCreate: lib.func('int memfd_create(const char *name, unsigned int flags)'),
    fcntlInt: lib.func('int fcntl(int fd, int cmd, ...)'),
  };
}

function c() {
  return (libc ??= bind());
}

export const S_IFMT = 0o170000;
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
export const MNT_FORCE = 1;
export const MNT_DETACH = 2;

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const FSOPEN_CLOEXEC = 1;
const FSMOUNT_CLOEXEC = 1;
const FSCONFIG_SET_FLAG = 0;
const FSCONFIG_SET_STRING = 1;
const FSCONFIG_CMD_CREATE = 6;
const MOVE_MOUNT_F_EMPTY_PATH = 4;
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

const ENODATA = 61;
const ERANGE = 34;

function fail(call: string, path: string | undefined, extra?: string): never {
  const errno = koffi().errno();
  const code = errnoName(errno);
  throw new BerthError({
    kind: 'system', op: call, path, errno, code,
    message: `${call}${path ? ` ${path}` : ''}${extra ? ` (${extra})` : ''}: ${code}`,
  });
}

/** koffi passes C strings: an embedded NUL would silently cut the path, so refuse it. */
function cstr(s: string, what: string): string {
  if (s.includes('\0')) throw new BerthError({ kind: 'invalid', op: what, path: s.replace(/\0/g, '\\0'), message: `${what}: path contains a NUL byte` });
  return s;
}

/** glibc's makedev for 64-bit dev_t. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** mknod(2). `mode` includes the file type bits (S_IFCHR, S_IFBLK, S_IFIFO). */
export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  if (c().mknod(cstr(path, 'mknod'), mode >>> 0, makedev(major, minor)) !== 0) fail('mknod', path);
}

export function lchown(path: string, uid: number, gid: number): void {
  if (c().lchown(cstr(path, 'lchown'), uid >>> 0, gid >>> 0) !== 0) fail('lchown', path, `${uid}:${gid}`);
}

export function lsetxattr(path: string, name: string, value: Buffer | string, flags = 0): void {
  const v = typeof value === 'string' ? Buffer.from(value) : value;
  // koffi needs a non-empty buffer for a pointer argument; size 0 still sets an empty value.
  const buf = v.length ? v : Buffer.alloc(1);
  if (c().lsetxattr(cstr(path, 'lsetxattr'), cstr(name, 'lsetxattr'), buf, v.length, flags) !== 0) fail('lsetxattr', path, name);
}

/** The value of one xattr, or undefined when the file does not have it. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  for (let size = 256; ; size *= 4) {
    const buf = Buffer.alloc(size);
    const n = Number(c().lgetxattr(cstr(path, 'lgetxattr'), cstr(name, 'lgetxattr'), buf, size));
    if (n >= 0) return buf.subarray(0, n);
    const e = koffi().errno();
    if (e === ENODATA) return undefined;
    if (e !== ERANGE || size > 1 << 20) fail('lgetxattr', path, name);
  }
}

export function llistxattr(path: string): string[] {
  for (let size = 1024; ; size *= 4) {
    const buf = Buffer.alloc(size);
    const n = Number(c().llistxattr(cstr(path, 'llistxattr'), buf, size));
    if (n >= 0) return buf.subarray(0, n).toString('latin1').split('\0').filter(Boolean).map((s) => Buffer.from(s, 'latin1').toString());
    if (koffi().errno() !== ERANGE || size > 1 << 22) fail('llistxattr', path);
  }
}

export function lremovexattr(path: string, name: string): void {
  if (c().lremovexattr(cstr(path, 'lremovexattr'), name) !== 0 && koffi().errno() !== ENODATA) fail('lremovexattr', path, name);
}

/** All xattrs of a file (symlinks not followed), as name → value. */
export function lgetxattrs(path: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of llistxattr(path)) {
    const v = lgetxattr(path, name);
    if (v) out.set(name, v);
  }
  return out;
}

export interface Timespec { sec: number; nsec: number }

function timespecs(atime: Timespec, mtime: Timespec): Buffer {
  const b = Buffer.alloc(32);
  b.writeBigInt64LE(BigInt(Math.trunc(atime.sec)), 0);
  b.writeBigInt64LE(BigInt(atime.nsec), 8);
  b.writeBigInt64LE(BigInt(Math.trunc(mtime.sec)), 16);
  b.writeBigInt64LE(BigInt(mtime.nsec), 24);
  return b;
}

/** Set atime and mtime with nanoseconds, never following a final symlink. */
export function lutimens(path: string, atime: Timespec, mtime: Timespec): void {
  if (c().utimensat(AT_FDCWD, cstr(path, 'utimensat'), timespecs(atime, mtime), AT_SYMLINK_NOFOLLOW) !== 0) fail('utimensat', path);
}

/** Set atime and mtime of an open file with nanoseconds. */
export function futimens(fd: number, atime: Timespec, mtime: Timespec, path?: string): void {
  if (c().futimens(fd, timespecs(atime, mtime)) !== 0) fail('futimens', path);
}

/** mount(2). */
export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  if (c().mount(source, cstr(target, 'mount'), fstype, flags, data) !== 0) {
    fail('mount', target, [fstype ?? (flags & MS_BIND ? 'bind' : ''), source].filter(Boolean).join(' from '));
  }
}

/** umount2(2); returns false (instead of throwing) when `target` is not a mount point (EINVAL) and `ignoreNotMounted`. */
export function umount2(target: string, flags = 0, ignoreNotMounted = false): boolean {
  if (c().umount2(cstr(target, 'umount2'), flags) === 0) return true;
  if (ignoreNotMounted && koffi().errno() === 22) return false;
  fail('umount', target);
}

export interface FsConfigEntry { key: string; value?: string }

/**
 * Mount a filesystem with the new mount API: fsopen, one fsconfig per entry (a flag when the
 * entry has no value), FSCONFIG_CMD_CREATE, fsmount, move_mount onto `target`.
 * Unlike mount(2) there is no page limit on the whole option string (each value ≤ 256 bytes for overlay).
 */
export function fsmountAt(fstype: string, source: string, entries: FsConfigEntry[], target: string, attrs = 0): void {
  const fsfd = c().fsopen(fstype, FSOPEN_CLOEXEC);
  if (fsfd < 0) fail('fsopen', undefined, fstype);
  let mfd = -1;
  try {
    if (c().fsconfig(fsfd, FSCONFIG_SET_STRING, 'source', source, 0) !== 0) fail('fsconfig', target, 'source');
    for (const e of entries) {
      const r = e.value === undefined
        ? c().fsconfig(fsfd, FSCONFIG_SET_FLAG, e.key, null, 0)
        : c().fsconfig(fsfd, FSCONFIG_SET_STRING, e.key, cstr(e.value, 'fsconfig'), 0);
      if (r !== 0) fail('fsconfig', target, e.value === undefined ? e.key : `${e.key}=${e.value}`);
    }
    if (c().fsconfig(fsfd, FSCONFIG_CMD_CREATE, null, null, 0) !== 0) fail('fsconfig create', target, fstype);
    mfd = c().fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
    if (mfd < 0) fail('fsmount', target, fstype);
    if (c().moveMount(mfd, '', AT_FDCWD, cstr(target, 'move_mount'), MOVE_MOUNT_F_EMPTY_PATH) !== 0) fail('move_mount', target);
  } finally {
    if (mfd >= 0) closeSync(mfd);
    closeSync(fsfd);
  }
}

const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const F_ADD_SEALS = 1033;
/** F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE */
const ALL_SEALS = 0x1 | 0x2 | 0x4 | 0x8;

/**
 * A sealed (immutable) anonymous copy of `data`: a close-on-exec memfd whose contents nothing
 * can change; its fd.
 */
export function sealedMemfd(name: string, data: Buffer): number {
  const fd = c().memfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING) as number;
  if (fd < 0) fail('memfd_create', name);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    if ((c().fcntlInt(fd, F_ADD_SEALS, 'int', ALL_SEALS) as number) < 0) fail('fcntl F_ADD_SEALS', name);
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
