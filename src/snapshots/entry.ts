/** Reading one tar header: a safe relative path, ownership, mode, times and xattrs (PAX aware). */
import type { Timespec } from '../sys/index.js';
import { rawPax } from './tarpax.js';

/** Why an entry is refused; applyLayer turns it into a BerthError naming the entry. */
export class UnsafeEntry extends Error {}

/**
 * Split a tar path into components. `./` and empty components vanish; absolute paths, `..`
 * components and NUL bytes are refused (never "cleaned" into something else).
 */
export function splitEntryPath(name: string, what = 'path'): string[] {
  if (name.includes('\0')) throw new UnsafeEntry(`${what} contains a NUL byte`);
  if (name.startsWith('/')) throw new UnsafeEntry(`${what} is absolute`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new UnsafeEntry(`${what} contains a ".." component`);
  return parts;
}

export interface EntryMeta {
  uid: number;
  gid: number;
  mode: number;            // permission bits incl. setuid/setgid/sticky
  atime: Timespec;
  mtime: Timespec;
  xattrs: Map<string, Buffer>;
}

/** Overlay's own metadata must never come from an image. */
function ignoredXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.') || name.startsWith('user.fuseoverlayfs.');
}

/** "1700000000.123456789" (PAX time) → Timespec. */
export function parsePaxTime(s: string): Timespec | undefined {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(s.trim());
  if (!m) return undefined;
  const sec = Number(m[2]) * (m[1] ? -1 : 1);
  const nsec = Number(((m[3] ?? '') + '000000000').slice(0, 9));
  if (m[1] && nsec) return { sec: sec - 1, nsec: 1e9 - nsec };
  return { sec, nsec };
}

interface TarHeader { uid?: number; gid?: number; mode?: number; mtime?: Date; pax?: unknown }

export function entryMeta(header: TarHeader): EntryMeta {
  const pax = rawPax(header);
  const num = (key: string, fallback: number | undefined): number => {
    const v = pax.get(key);
    const n = v ? Number(v.toString('latin1')) : NaN;
    return Number.isSafeInteger(n) && n >= 0 ? n : (fallback ?? 0);
  };
  const headerMs = header.mtime?.getTime() ?? 0;
  const mtime = (pax.has('mtime') && parsePaxTime(pax.get('mtime')!.toString('latin1')))
    || { sec: Math.floor(headerMs / 1000), nsec: 0 };
  let atime = (pax.has('atime') && parsePaxTime(pax.get('atime')!.toString('latin1'))) || mtime;
  if (atime.sec < mtime.sec || (atime.sec === mtime.sec && atime.nsec < mtime.nsec)) atime = mtime;
  const xattrs = new Map<string, Buffer>();
  for (const [key, value] of pax) {
    let name: string | undefined;
    let v = value;
    if (key.startsWith('SCHILY.xattr.')) name = key.slice('SCHILY.xattr.'.length);
    else if (key.startsWith('LIBARCHIVE.xattr.')) {
      name = decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length));
      v = Buffer.from(value.toString('latin1'), 'base64');
    }
    if (name && !ignoredXattr(name)) xattrs.set(name, v);
  }
  return {
    uid: num('uid', header.uid),
    gid: num('gid', header.gid),
    mode: (header.mode ?? 0) & 0o7777,
    atime, mtime, xattrs,
  };
}
