/**
 * The directory a layer is applied into, seen only through lstat: parent components are checked
 * to be real directories inside it (never following a symlink), missing ones are created (in
 * overlay mode with the attributes of the directory the lower layers show there, as containerd's
 * mkparent does), and directory times are restored after their contents changed.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, unlinkSync, type Stats } from 'node:fs';
import { lchown, lgetxattr, lgetxattrs, lsetxattr, lutimens, type Timespec } from '../sys/index.js';
import { UnsafeEntry } from './entry.js';
import { lstatMaybe, removeTree } from './fsutil.js';

export const OPAQUE_XATTR = 'trusted.overlay.opaque';
/** Rootless layers: overlay mounted with `userxattr` in a user namespace reads user.overlay.* (an ordinary user cannot set trusted.*). */
export const USER_OPAQUE_XATTR = 'user.overlay.opaque';

/**
 * Mark a directory opaque with `name`. user.* xattrs need write permission even for the owner:
 * a directory of mode 0555 gets u+w for the call.
 */
export function setOpaque(path: string, name: string): void {
  try {
    lsetxattr(path, name, 'y');
  } catch (e) {
    if ((e as { code?: string }).code !== 'EACCES' || !name.startsWith('user.')) throw e;
    const mode = lstatSync(path).mode & 0o7777;
    chmodSync(path, mode | 0o200);
    try { lsetxattr(path, name, 'y'); } finally { chmodSync(path, mode); }
  }
}

export function isWhiteoutDevice(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function isOpaque(path: string): boolean {
  for (const name of [OPAQUE_XATTR, USER_OPAQUE_XATTR]) {
    try {
      if (lgetxattr(path, name)?.toString() === 'y') return true;
    } catch {
      // a filesystem without (trusted) xattrs has no opaque directories; an ordinary user reads no trusted.*
    }
  }
  return false;
}

export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

/** A directory's times with nanoseconds (undefined when `path` is not a directory). */
function dirTimesOf(path: string): { atime: Timespec; mtime: Timespec } | undefined {
  let st;
  try { st = lstatSync(path, { bigint: true }); } catch { return undefined; }
  if (!st.isDirectory()) return undefined;
  const ts = (ns: bigint): Timespec => ({ sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) });
  return { atime: ts(st.atimeNs), mtime: ts(st.mtimeNs) };
}

interface LowerNode { path: string; st: Stats; layers: string[] }

/** What the stack of lower layers (nearest first) shows at a path, following overlayfs rules. */
export class LowerView {
  private cache = new Map<string, LowerNode | null>();

  constructor(private readonly layers: string[]) {}

  get(rel: string): LowerNode | null {
    const hit = this.cache.get(rel);
    if (hit !== undefined) return hit;
    let node: LowerNode | null = null;
    if (rel === '') {
      const st = lstatMaybe(this.layers[0]!);
      node = st ? { path: this.layers[0]!, st, layers: this.layers } : null;
    } else {
      const parent = this.get(parentOf(rel));
      if (parent && parent.st.isDirectory()) node = this.lookup(parent.layers, rel);
    }
    this.cache.set(rel, node);
    return node;
  }

  private lookup(layers: string[], rel: string): LowerNode | null {
    let found: LowerNode | null = null;
    for (const layer of layers) {
      const path = `${layer}/${rel}`;
      const st = lstatMaybe(path);
      if (!st) continue;
      if (isWhiteoutDevice(st)) break;
      if (!st.isDirectory()) {
        if (!found) found = { path, st, layers: [] };
        break;
      }
      if (!found) found = { path, st, layers: [] };
      found.layers.push(layer);
      if (isOpaque(path)) break;
    }
    return found;
  }
}

export type CreateMissing = 'always' | 'if-visible';

export class LayerFS {
  /** Paths that belong to this layer: entries written plus every directory crossed on the way. */
  readonly inLayer = new Set<string>();
  /** Directory times to set at the end, after their contents are complete. */
  readonly dirTimes = new Map<string, { atime: Timespec; mtime: Timespec }>();
  private verified = new Set<string>(['']);
  private readonly lower?: LowerView;
  /** Rootless: chown(2) is the caller's (apply.ts ApplyOptions.ownerHost). */
  ownerHost?: (path: string, uid: number, gid: number, mode: number) => void;

  constructor(readonly root: string, readonly mode: 'overlay' | 'naive', parents?: string[], readonly opaqueXattr = OPAQUE_XATTR) {
    if (mode === 'overlay' && parents?.length) this.lower = new LowerView(parents);
  }

  abs(rel: string): string {
    return rel ? `${this.root}/${rel}` : this.root;
  }

  /** In overlay mode on an empty layer, start from the attributes of the lower root (as a copy would). */
  inheritRoot(): void {
    const node = this.lower?.get('');
    if (node && readdirSync(this.root).length === 0) this.copyDirAttrs(node.path, node.st, '');
  }

  /** Remember a directory's times before its contents change, unless already scheduled. */
  touchDir(rel: string): void {
    if (this.dirTimes.has(rel)) return;
    const t = dirTimesOf(this.abs(rel));
    if (t) this.dirTimes.set(rel, t);
  }

  /**
   * Make every component of `parts` a real directory inside the root. Returns false when a
   * component is missing and `create` is 'if-visible' and nothing below shows it either.
   */
  ensureDirs(parts: string[], create: CreateMissing = 'always'): boolean {
    let rel = '';
    for (const name of parts) {
      rel = rel ? `${rel}/${name}` : name;
      if (this.verified.has(rel)) { this.inLayer.add(rel); continue; }
      const path = this.abs(rel);
      const st = lstatMaybe(path);
      if (st?.isSymbolicLink()) throw new UnsafeEntry(`parent ${rel} is a symlink`);
      if (st && this.mode === 'overlay' && isWhiteoutDevice(st)) {
        // deleted earlier in this layer, now a directory again: hide what the lowers had there
        this.touchDir(parentOf(rel));
        unlinkSync(path);
        this.mkdir(rel);
        setOpaque(path, this.opaqueXattr);
      } else if (st && !st.isDirectory()) {
        throw new UnsafeEntry(`parent ${rel} is not a directory`);
      } else if (!st) {
        const low = this.lower?.get(rel) ?? null;
        if (low?.st.isSymbolicLink()) throw new UnsafeEntry(`parent ${rel} is a symlink in a lower layer`);
        if (low && !low.st.isDirectory()) throw new UnsafeEntry(`parent ${rel} is not a directory in a lower layer`);
        if (!low && create === 'if-visible' && (this.mode === 'naive' || this.lower)) return false;
        this.touchDir(parentOf(rel));
        this.mkdir(rel);
        if (low) this.copyDirAttrs(low.path, low.st, rel);
      }
      this.verified.add(rel);
      this.inLayer.add(rel);
    }
    return true;
  }

  private mkdir(rel: string): void {
    const path = this.abs(rel);
    mkdirSync(path, 0o755);
    chmodSync(path, 0o755);
  }

  /** containerd's mkparent: a directory created in an upper layer gets the lower one's attributes. */
  private copyDirAttrs(src: string, st: Stats, rel: string): void {
    const dst = this.abs(rel);
    if (this.ownerHost) this.ownerHost(dst, st.uid, st.gid, st.mode & 0o7777);
    else lchown(dst, st.uid, st.gid);
    chmodSync(dst, st.mode & 0o7777);
    for (const [name, value] of lgetxattrs(src)) {
      if (!name.startsWith('trusted.overlay.')) lsetxattr(dst, name, value);
    }
    const t = dirTimesOf(src);
    if (t) this.dirTimes.set(rel, t);
  }

  /** A path (parents already verified) that was checked again from the top: used for hardlink targets. */
  verifyExisting(parts: string[]): Stats {
    let rel = '';
    for (let i = 0; i < parts.length - 1; i++) {
      rel = rel ? `${rel}/${parts[i]}` : parts[i]!;
      if (this.verified.has(rel)) continue;
      const st = lstatMaybe(this.abs(rel));
      if (!st) throw new UnsafeEntry(`hardlink target parent ${rel} does not exist in this layer`);
      if (st.isSymbolicLink()) throw new UnsafeEntry(`hardlink target parent ${rel} is a symlink`);
      if (!st.isDirectory()) throw new UnsafeEntry(`hardlink target parent ${rel} is not a directory`);
      this.verified.add(rel);
    }
    const st = lstatMaybe(this.abs(parts.join('/')));
    if (!st) throw new UnsafeEntry('hardlink target does not exist in this layer');
    return st;
  }

  /**
   * Clear `rel` for a new entry. An existing directory is kept when `keepDir` (its contents merge);
   * anything else there is removed. Returns the stat of what was there before.
   */
  clear(rel: string, keepDir: boolean): Stats | undefined {
    const path = this.abs(rel);
    const st = lstatMaybe(path);
    if (!st || (keepDir && st.isDirectory())) return st;
    this.remove(rel, st);
    return st;
  }

  remove(rel: string, st = lstatMaybe(this.abs(rel))): void {
    if (!st) return;
    this.touchDir(parentOf(rel));
    if (st.isDirectory()) {
      removeTree(this.abs(rel));
      this.verified = new Set(['']);
    } else {
      unlinkSync(this.abs(rel));
    }
  }

  /** Naive opaque directory: delete everything below `rel` that this layer did not put there. */
  removeNotInLayer(rel: string): void {
    for (const name of readdirSync(this.abs(rel))) {
      const child = rel ? `${rel}/${name}` : name;
      if (!this.inLayer.has(child)) this.remove(child);
      else if (lstatSync(this.abs(child)).isDirectory()) this.removeNotInLayer(child);
    }
  }

  /** Set every scheduled directory time; directories replaced meanwhile are skipped. */
  finish(): void {
    for (const [rel, t] of this.dirTimes) {
      const path = this.abs(rel);
      if (lstatMaybe(path)?.isDirectory()) lutimens(path, t.atime, t.mtime);
    }
  }
}
