/**
 * Rootless storage (issue 17): an ordinary user cannot chown(2), so layers are unpacked as the
 * user with their owners recorded, then chowned into the user's subordinate ids by one helper
 * (started while the layer is written, handed the list at its end) running as root of the storage user namespace (sys/idmap.ts: 0 → the user, 1 + k → the k-th
 * subordinate id). Trees holding the container's ids are removed in that namespace too.
 * In the single-id fallback only id 0 can be mapped (to the user, who already owns the files).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants as fsc, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../lib/index.js';
import { removeInStorageNs, StorageChown, subIdsHint, type IdMapping, type OwnerRecord, type RootlessIds } from '../sys/index.js';
import type { ApplyOptions } from './apply.js';
import { removeTree } from './fsutil.js';
import { USER_OPAQUE_XATTR } from './layerfs.js';
import { FUSE_OVERLAYFS } from './mounts.js';

function mapId(maps: IdMapping[], id: number, from: 'container' | 'host'): number | undefined {
  for (const m of maps) {
    const base = from === 'container' ? m.containerID : m.hostID;
    if (id >= base && id < base + m.size) return (from === 'container' ? m.hostID : m.containerID) + (id - base);
  }
  return undefined;
}

/**
 * The container's view of a host owner (rootless): a file of the storage namespace's ids as the
 * container sees it, for the tars of commit (an id the container does not map: the overflow id).
 */
export function containerOwner(ids: RootlessIds, uid: number, gid: number): { uid: number; gid: number } {
  const own = (maps: IdMapping[], count: number, mine: number, id: number) =>
    mapId(maps, id, 'host') ?? (ids.mode === 'subids' && id === mine ? count : 65534);
  return { uid: own(ids.uidMappings, ids.uidCount, ids.uid, uid), gid: own(ids.gidMappings, ids.gidCount, ids.gid, gid) };
}

export class RootlessOwners {
  /** [path, storage-ns uid, storage-ns gid, mode to set again or null] */
  private readonly entries: OwnerRecord[] = [];
  private chown?: StorageChown;

  constructor(readonly ids: RootlessIds) {}

  /**
   * Start the storage namespace's process now (subordinate ids only), so that it is ready when
   * the files are: `apply` then only hands the list over.
   */
  begin(what: string): this {
    if (this.ids.mode === 'subids') this.chown ??= new StorageChown(this.ids, what);
    return this;
  }

  /** End a begun process without setting anything (the unpack failed). */
  async cancel(): Promise<void> {
    const c = this.chown;
    this.chown = undefined;
    this.entries.length = 0;
    await c?.cancel();
  }

  /** ApplyOptions for applyLayer: the owners are recorded (container ids), checked against the map. */
  applyOptions(): Pick<ApplyOptions, 'owner' | 'ownerHost' | 'opaqueXattr'> {
    return {
      opaqueXattr: USER_OPAQUE_XATTR, // whiteouts stay 0/0 devices: mknod of those needs no privilege (Linux ≥ 5.8)
      owner: (path, uid, gid, mode, name) => {
        const hu = mapId(this.ids.uidMappings, uid, 'container'), hg = mapId(this.ids.gidMappings, gid, 'container');
        if (hu === undefined || hg === undefined) {
          const what = hu === undefined ? `uid ${uid}` : `gid ${gid}`;
          const count = hu === undefined ? this.ids.uidCount : this.ids.gidCount;
          const fix = this.ids.mode === 'single' ? `: only root (0) can be mapped without subordinate ids (${this.ids.reason}); ${subIdsHint(this.ids.user)}` : `: user ${this.ids.user} has ${count} subordinate ids (0-${count - 1} in the container); give them a larger range in /etc/subuid and /etc/subgid`;
          throw new BerthError({ kind: 'invalid', op: 'unpack layer', path: name, message: `file ${name} is owned by ${what}, which is outside the ids mapped for rootless user ${this.ids.user}${fix}` });
        }
        this.host(path, hu, hg, mode);
      },
      ownerHost: (path, uid, gid, mode) => this.host(path, uid, gid, mode),
    };
  }

  /** Record `path` to be owned by host ids (each must be the user's or a subordinate one). */
  host(path: string, uid: number, gid: number, mode: number | undefined): void {
    if (this.ids.mode === 'single') return; // the user owns it already: 0 inside
    const su = mapId(this.ids.storageUid, uid, 'host'), sg = mapId(this.ids.storageGid, gid, 'host');
    if (su === undefined || sg === undefined) throw new BerthError({ kind: 'invalid', op: 'unpack layer', path, message: `unpack layer: ${path}: owner ${uid}:${gid} is not mapped for rootless user ${this.ids.user}` });
    this.entries.push([path, su, sg, mode !== undefined && (mode & 0o6000) ? mode & 0o7777 : null]);
  }

  /** Record a directory to be owned by the container's root (the upper and work dirs of an overlay). */
  containerRoot(path: string): void {
    this.host(path, this.ids.uidMappings[0]!.hostID, this.ids.gidMappings[0]!.hostID, undefined);
  }

  /** chown what was recorded, in the storage namespace (one helper, its native `lchown_list` step). */
  async apply(what: string): Promise<void> {
    if (!this.entries.length) { await this.cancel(); return; }
    const c = this.chown ?? new StorageChown(this.ids, what);
    this.chown = undefined;
    const list = this.entries.splice(0);
    await c.finish(list);
  }
}

/** Remove a tree as the user; what the user may not remove (the container's files) in the storage namespace. */
export async function removeTreeRootless(ids: RootlessIds | undefined, path: string): Promise<void> {
  try {
    removeTree(path);
  } catch (e) {
    const code = (e as BerthError).code;
    // e.g. overlay's work/work (mode 000), or the container's files: root of the storage namespace may
    if (!ids || (code !== 'EACCES' && code !== 'EPERM')) throw e;
    await removeInStorageNs(ids, [path], `remove ${path}`);
  }
}

/**
 * A mount in a user namespace of the user's (util-linux `unshare`: one mapping only the user's own
 * id is enough) on `m` over lower `l` (holding f), upper `u` and work `w`: does f read through it?
 * The mount is undone before the namespace ends.
 */
function probeInUserNs(dir: string, prefix: string, mount: string): { ok: boolean; reason?: string } {
  const base = mkdtempSync(join(dir, prefix));
  try {
    // unmounted before the namespace goes: fuse-overlayfs lives in it, and would keep it (and itself) alive
    const script = `cd "$1" && mkdir l u w m && echo ok > l/f && ${mount} && { cat m/f; umount m; }`;
    const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', script, 'sh', base], { encoding: 'utf8', timeout: 10_000 });
    if (r.status === 0 && r.stdout.trim() === 'ok') return { ok: true };
    return { ok: false, reason: (r.stderr || r.error?.message || `exit ${r.status}`).trim() };
  } finally {
    try { removeTree(base); } catch { /* the work dir's inner dir: left to the next cleanup */ }
  }
}

/** Can this user mount overlayfs in a user namespace (kernel ≥ 5.11)? Probed once. */
export function probeRootlessOverlay(dir: string): { ok: boolean; reason?: string } {
  return probeInUserNs(dir, 'rootless-overlay-probe-', 'mount -t overlay overlay -o userxattr,lowerdir=l,upperdir=u,workdir=w m');
}

/** Why fuse-overlayfs cannot serve this user (undefined: it can): the program, /dev/fuse. */
export function fuseOverlayMissing(): string | undefined {
  try { accessSync(FUSE_OVERLAYFS, fsc.X_OK); } catch { return `${FUSE_OVERLAYFS} is missing (Debian package fuse-overlayfs)`; }
  try { accessSync('/dev/fuse', fsc.R_OK | fsc.W_OK); } catch (e) { return `/dev/fuse cannot be opened for reading and writing (${(e as NodeJS.ErrnoException).code}): it must be usable by the user (mode 0666, Debian's default)`; }
  return undefined;
}

/** Can this user mount with fuse-overlayfs in a user namespace? Probed once as overlay is (the program exits at the unmount). */
export function probeRootlessFuseOverlay(dir: string): { ok: boolean; reason?: string } {
  const missing = fuseOverlayMissing();
  if (missing) return { ok: false, reason: missing };
  return probeInUserNs(dir, 'rootless-fuse-probe-', `${FUSE_OVERLAYFS} -o lowerdir=l,upperdir=u,workdir=w m`);
}
