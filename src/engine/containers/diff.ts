/**
 * `diff`: what a container changed in its filesystem, and the entries of the layer `commit` makes
 * of it. With the overlay driver the changes are read from the container's upper directory
 * (a 0/0 character device is a deletion, `trusted.overlay.opaque=y` a directory whose lower
 * contents are hidden; added or changed is decided by what the lower layers show, following
 * overlayfs's rules); with the copy driver the container's tree is compared with its image's.
 * Rootless, the opaque mark is `user.overlay.opaque`; fuse-overlayfs, where it cannot make 0/0
 * devices, writes a deletion as an empty file `.wh.<name>`, and marks an opaque directory with
 * `user.fuseoverlayfs.opaque` and a `.wh..wh..opq` file (its own files are never entries).
 *
 * Mount points the runtime creates for the container (/etc/hosts, /etc/hostname,
 * /etc/resolv.conf, /dev, /proc, /sys, …) live in Docker's separate init layer, so Docker
 * never reports them: they are left out here too while they are empty placeholders, and a
 * directory that changed only because one was made in it does not count as changed.
 */
import { constants as fsc, fstatSync, lstatSync, readdirSync, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { snapshotter } from '../../image/index.js';
import type { Snapshotter } from '../../snapshots/index.js';
import { closeFd, fdPath, lgetxattr, O_PATH, openat2, openChild, openDirPath, readdirFd, RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS } from '../../sys/index.js';
import type { EngineCore } from './core.js';

/** Docker's change kinds (the API's `Kind`). */
export const CHANGE_MODIFY = 0;
export const CHANGE_ADD = 1;
export const CHANGE_DELETE = 2;
export type ChangeKind = typeof CHANGE_MODIFY | typeof CHANGE_ADD | typeof CHANGE_DELETE;

/** One change, in Docker's API shape. */
export interface Change { Path: string; Kind: ChangeKind }

/** One entry of a diff layer: a file system object to archive, or a deletion. */
export interface LayerEntry {
  /** Path relative to the root, without a leading slash. */
  rel: string;
  kind: 'entry' | 'whiteout';
  /** The object to archive (entry only): its host path, for messages; it is archived as `rel` inside `base`. */
  host?: string;
  /** The directory `rel` is in (the container's upper or complete tree), reopened by fds when archived. */
  base?: string;
  st?: Stats;
  /** A directory that hides everything below it in the lower layers (overlay's opaque directory). */
  opaque?: boolean;
}

/** Placeholders of the init layer (see the file comment). */
export const INIT_PATHS = new Set([
  '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/console', '/proc', '/sys', '/sys/fs/cgroup',
  '/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/etc/mtab', '/.dockerenv', '/sbin/docker-init',
]);

/** overlayfs's, overlayfs's in a user namespace (`userxattr`), fuse-overlayfs's own. */
const OPAQUE_XATTRS = ['trusted.overlay.opaque', 'user.overlay.opaque', 'user.fuseoverlayfs.opaque'];
const WH_PREFIX = '.wh.';
const WH_OPAQUE = '.wh..wh..opq';

function lstatMaybe(p: string): Stats | undefined {
  try { return lstatSync(p); } catch { return undefined; }
}

function names(dir: string): string[] {
  try { return readdirSync(dir).sort(); } catch { return []; }
}

const isWhiteout = (st: Stats) => st.isCharacterDevice() && st.rdev === 0;

function isOpaque(path: string): boolean {
  for (const x of OPAQUE_XATTRS) {
    try { if (lgetxattr(path, x)?.toString() === 'y') return true; } catch { /* none, or not readable */ }
  }
  return !!lstatMaybe(join(path, WH_OPAQUE));
}

interface LowerNode { path: string; st: Stats; layers: string[] }

/** What the lower layers (nearest first) show at a path, by overlayfs's rules. */
class Lowers {
  private cache = new Map<string, LowerNode | null>();

  constructor(private readonly layers: string[]) {}

  get(rel: string): LowerNode | null {
    const hit = this.cache.get(rel);
    if (hit !== undefined) return hit;
    let node: LowerNode | null = null;
    if (rel === '') {
      node = this.layers.length ? { path: this.layers[0]!, st: lstatSync(this.layers[0]!), layers: this.layers } : null;
    } else {
      const parent = this.get(posix.dirname(rel) === '.' ? '' : posix.dirname(rel));
      if (parent?.st.isDirectory()) {
        for (const layer of parent.layers) {
          const path = join(layer, rel);
          const st = lstatMaybe(path);
          if (!st) continue;
          if (isWhiteout(st)) break;
          if (!node) node = { path, st, layers: [] };
          if (!st.isDirectory() || !node.st.isDirectory()) break;
          node.layers.push(layer);
          if (isOpaque(path)) break;
        }
      }
    }
    this.cache.set(rel, node);
    return node;
  }

  /** Names visible in the lower directory `rel`. */
  children(rel: string): string[] {
    const node = this.get(rel);
    if (!node?.st.isDirectory()) return [];
    const all = new Set<string>();
    for (const layer of node.layers) for (const n of names(join(layer, rel))) all.add(n);
    return [...all].sort().filter((n) => this.get(rel ? `${rel}/${n}` : n) !== null);
  }
}

interface UpperNode extends LayerEntry {
  lower: LowerNode | null;
  /** A directory whose own attributes are unchanged (it is only a parent of changes). */
  same?: boolean;
}

/** The names in directory `rel` of `base` reached without following any link ([] when it is not one). */
function namesBeneath(base: string, rel: string): string[] {
  let top: number | undefined;
  let fd: number | undefined;
  try {
    top = openDirPath(base);
    fd = openat2(top, rel, O_PATH | fsc.O_DIRECTORY | fsc.O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
    return namesFd(fd);
  } catch {
    return [];
  } finally {
    closeFd(fd);
    closeFd(top);
  }
}

/** A pinned directory's names, sorted ([] when it cannot be read). */
function namesFd(fd: number): string[] {
  try { return readdirFd(fd).sort(); } catch { return []; }
}

/** lstat of one name in a pinned directory (the l* call never follows it). */
function lstatAt(dirfd: number, name: string): Stats | undefined {
  return lstatMaybe(fdPath(dirfd, name));
}

/** An O_PATH fd of the directory `name` in `dirfd`, undefined when it is not one (any more). */
function openDirAt(dirfd: number, name: string): number | undefined {
  try { return openChild(dirfd, name, O_PATH | fsc.O_DIRECTORY); } catch { return undefined; }
}

/** An empty placeholder the runtime made for one of its mounts (`dirfd` pins the directory it is in). */
function isStubAt(rel: string, st: Stats, dirfd: number, name: string, inLower: boolean): boolean {
  if (inLower || !INIT_PATHS.has(`/${rel}`)) return false;
  if (st.isFile()) return st.size === 0;
  if (st.isDirectory()) {
    const fd = openDirAt(dirfd, name);
    if (fd === undefined) return false;
    try { return namesFd(fd).length === 0; } finally { closeFd(fd); }
  }
  return false;
}

/**
 * The upper directory's entries in walk order, placeholders and untouched parents left out.
 * The upper directory is the running container's to change: it is walked one pinned directory
 * at a time, links never followed (a directory swapped for a link to `/` is not descended into).
 */
function walkUpper(upper: string, lowers: Lowers): UpperNode[] {
  const out: UpperNode[] = [];
  const walk = (dirfd: number, rel: string): boolean => {
    let stubs = false;
    for (const name of namesFd(dirfd)) {
      const crel = rel ? `${rel}/${name}` : name;
      const host = join(upper, crel);
      const st = lstatAt(dirfd, name);
      if (!st) continue;
      if (name.startsWith(WH_PREFIX) && st.isFile()) {
        // fuse-overlayfs's whiteout of <name> (a name of its own beside it wins), or its opaque mark
        const gone = name.slice(WH_PREFIX.length);
        const grel = rel ? `${rel}/${gone}` : gone;
        const lower = name === WH_OPAQUE || lstatAt(dirfd, gone) ? null : lowers.get(grel);
        if (lower) out.push({ rel: grel, kind: 'whiteout', lower });
        continue;
      }
      const lower = lowers.get(crel);
      if (isWhiteout(st)) {
        if (lower) out.push({ rel: crel, kind: 'whiteout', lower });
        continue;
      }
      if (isStubAt(crel, st, dirfd, name, !!lower)) { stubs = true; continue; }
      const node: UpperNode = { rel: crel, kind: 'entry', host, base: upper, st, lower };
      out.push(node);
      if (!st.isDirectory()) continue;
      const at = out.length;
      node.opaque = isOpaque(fdPath(dirfd, name));
      const cfd = openDirAt(dirfd, name);
      let hadStubs = false;
      if (cfd !== undefined) {
        try { hadStubs = walk(cfd, crel); } finally { closeFd(cfd); }
      }
      const l = lower?.st;
      node.same = !!l && l.isDirectory() && !node.opaque && l.mode === st.mode && l.uid === st.uid && l.gid === st.gid
        && (l.mtimeMs === st.mtimeMs || hadStubs);
      if (node.same && out.length === at) out.splice(at - 1, 1);
    }
    return stubs;
  };
  const top = openDirPath(upper);
  try { walk(top, ''); } finally { closeFd(top); }
  return out;
}

/** Docker's statDifferent (naive diff): directories compare only mode and owner. */
function statDifferent(a: Stats, b: Stats): boolean {
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.rdev !== b.rdev) return true;
  return !a.isDirectory() && (a.mtimeMs !== b.mtimeMs || a.size !== b.size);
}

/**
 * Naive changes of `fresh` (the container's complete tree) against `old` (its image's, if any).
 * `fresh` is walked one pinned directory at a time, links never followed (see walkUpper).
 */
function naiveChanges(fresh: string, old: string | undefined): { changes: Change[]; entries: LayerEntry[] } {
  const changes: Change[] = [];
  const entries: LayerEntry[] = [];
  const walk = (dirfd: number, rel: string, oldDir: boolean, recorded: boolean): void => {
    const start = changes.length;
    const startE = entries.length;
    const oldNames = new Set(oldDir && old ? names(join(old, rel)) : []);
    for (const name of namesFd(dirfd)) {
      const crel = rel ? `${rel}/${name}` : name;
      const host = join(fresh, crel);
      const st = lstatAt(dirfd, name);
      if (!st) continue;
      const ost = oldNames.has(name) ? lstatMaybe(join(old!, crel)) : undefined;
      oldNames.delete(name);
      if (isStubAt(crel, st, dirfd, name, !!ost)) continue;
      const changed = !ost || statDifferent(ost, st);
      if (changed) {
        changes.push({ Path: `/${crel}`, Kind: ost ? CHANGE_MODIFY : CHANGE_ADD });
        entries.push({ rel: crel, kind: 'entry', host, base: fresh, st });
      }
      if (st.isDirectory()) {
        const cfd = openDirAt(dirfd, name);
        if (cfd !== undefined) {
          try { walk(cfd, crel, !!ost?.isDirectory(), changed); } finally { closeFd(cfd); }
        }
      }
    }
    for (const name of [...oldNames].sort()) {
      const crel = rel ? `${rel}/${name}` : name;
      changes.push({ Path: `/${crel}`, Kind: CHANGE_DELETE });
      entries.push({ rel: crel, kind: 'whiteout' });
    }
    // a directory with changes inside is recorded too (before them), to keep its attributes
    if (rel && !recorded && changes.length > start) {
      changes.splice(start, 0, { Path: `/${rel}`, Kind: CHANGE_MODIFY });
      entries.splice(startE, 0, { rel, kind: 'entry', host: join(fresh, rel), base: fresh, st: fstatSync(dirfd) });
    }
  };
  const top = openDirPath(fresh);
  try { walk(top, '', true, true); } finally { closeFd(top); }
  return { changes, entries };
}

/** Docker's overlay changes: walk order, a parent recorded as changed before an added or deleted child. */
function overlayChanges(nodes: UpperNode[], lowers: Lowers): Change[] {
  const out: Change[] = [];
  const changedDirs = new Set<string>();
  const record = (path: string, kind: ChangeKind) => {
    if (kind !== CHANGE_MODIFY) {
      const parent = posix.dirname(path);
      if (parent !== '/' && !changedDirs.has(parent)) {
        out.push({ Path: parent, Kind: CHANGE_MODIFY });
        changedDirs.add(parent);
      }
    }
    out.push({ Path: path, Kind: kind });
  };
  for (const n of nodes) {
    const path = `/${n.rel}`;
    if (n.kind === 'whiteout') { record(path, CHANGE_DELETE); continue; }
    if (n.st!.isDirectory()) {
      if (n.same) continue;
      changedDirs.add(path);
    }
    record(path, n.lower ? CHANGE_MODIFY : CHANGE_ADD);
    if (n.opaque && n.lower?.st.isDirectory()) {
      const upperNames = new Set(namesBeneath(n.base!, n.rel));
      for (const child of lowers.children(n.rel)) if (!upperNames.has(child)) record(`${path}/${child}`, CHANGE_DELETE);
    }
  }
  return out;
}

/** The changes and layer entries of snapshot `key` against its parents. */
export function snapshotChanges(snaps: Snapshotter, key: string): { changes: Change[]; entries: LayerEntry[] } {
  const dirs = snaps.layerDirs(key);
  if (snaps.driver.name === 'copy') return naiveChanges(dirs[0]!, dirs[1]);
  const lowers = new Lowers(dirs.slice(1));
  const nodes = walkUpper(dirs[0]!, lowers);
  return { changes: overlayChanges(nodes, lowers), entries: nodes.map(({ rel, kind, host, base, st, opaque }) => ({ rel, kind, host, base, st, opaque })) };
}

/** `diff`: the container's changes (running or not). */
export async function containerChanges(core: EngineCore, ref: string): Promise<Change[]> {
  const c = core.store.containers.get(ref);
  const snaps = await snapshotter(core.images);
  return snapshotChanges(snaps, c.snapshotKey).changes;
}
