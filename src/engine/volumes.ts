/**
 * Volume use cases with Docker's rules (local driver): create (idempotent, `create` event only
 * when made now), list, inspect (Docker's JSON), remove (refused while any container refers to
 * the volume, even forced), prune (anonymous unused volumes; all unused ones with `all`).
 *
 * Removal is safe against a concurrent `create`/`run` of the same name: inside the store's
 * transaction that deletes the record, the volume directory is renamed out of the way
 * (`<root>/volumes/.removing-<name>-<rand>`), and deleted after the commit. A process that
 * crashes in between leaves only such a directory, swept by the next prune.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError, invalid, wrapError } from '../lib/index.js';
import { removeInStorageNs } from '../sys/index.js';
import { isRootless } from './rootless/paths.js';
import { userIds } from './rootless/spec.js';
import type { EngineCore } from './containers/index.js';
import { createVolumeDir, volumeDir, volumesDir } from './files/index.js';
import type { Filters, Labels, Volume } from './store/index.js';

/** The label Docker (≥ 23) puts on anonymous volumes; `volume prune` without `-a` removes only those. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';
/** Option keys Docker's local driver knows (mount options; berth does not mount them). */
const LOCAL_OPTION_KEYS = ['type', 'o', 'device', 'size'];
const TRASH_PREFIX = '.removing-';

export interface VolumeCreateRequest {
  /** Absent: an anonymous volume with a random 64-hex name. */
  name?: string;
  /** Only `local`. */
  driver?: string;
  labels?: Labels;
  /** Driver options (`-o`): the local driver's mount options are refused (not supported). */
  options?: Labels;
}

export interface VolumePruneReport {
  VolumesDeleted: string[];
  SpaceReclaimed: number;
}

/**
 * Bytes of a directory tree as Docker counts a volume or a container's writable layer:
 * apparent sizes of everything but directories, hard links once. A missing tree is 0.
 */
export function treeSize(root: string): number {
  const seen = new Set<bigint>();
  let size = 0;
  const visit = (path: string): void => {
    let st;
    try { st = lstatSync(path, { bigint: true }); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw wrapError(e, 'measure', path);
    }
    if (st.isDirectory()) {
      let names: string[];
      try { names = readdirSync(path); } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw wrapError(e, 'measure', path);
      }
      for (const n of names) visit(join(path, n));
      return;
    }
    if (st.size === 0n || seen.has(st.ino)) return;
    seen.add(st.ino);
    size += Number(st.size);
  };
  visit(root);
  return size;
}

/** Keys in Go's order (encoding/json sorts map keys). */
function sorted(m: Labels): Labels {
  return Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]!]));
}

/** Docker's volume JSON (`volume inspect`, `volume ls --format json` reads the same fields). */
export function volumeJSON(v: Volume): Record<string, unknown> {
  const labels: Labels = { ...v.labels };
  if (v.anonymous) labels[ANONYMOUS_LABEL] = '';
  return {
    CreatedAt: v.created.replace(/\.\d+Z$/, 'Z'),
    Driver: v.driver,
    Labels: sorted(labels),
    Mountpoint: v.mountpoint,
    Name: v.name,
    Options: sorted(v.options),
    Scope: 'local',
  };
}

function checkOptions(name: string, options: Labels | undefined): void {
  for (const key of Object.keys(options ?? {})) {
    if (!LOCAL_OPTION_KEYS.includes(key)) throw invalid('create volume', `create ${name}: invalid option: ${JSON.stringify(key)}`);
  }
  const keys = Object.keys(options ?? {});
  if (keys.length) {
    throw invalid('create volume', `create ${name}: driver options (${keys.join(', ')}) are not supported: berth's local driver keeps volumes as plain directories and mounts nothing`);
  }
}

/** `volume create`: the record and `<root>/volumes/<name>/_data`; an existing volume is returned as is. */
export async function createVolume(core: EngineCore, req: VolumeCreateRequest = {}): Promise<Volume> {
  const name = req.name ?? '';
  checkOptions(name || 'volume', req.options);
  const { volume, created } = core.store.volumes.create({
    ...(req.name !== undefined ? { name: req.name } : {}), driver: req.driver ?? 'local', labels: req.labels ?? {}, options: req.options ?? {},
  });
  try {
    await createVolumeDir(core.options.root, volume.name);
  } catch (e) {
    if (created) core.store.volumes.remove(volume.name, { force: true });
    throw e;
  }
  if (created) core.store.events.append({ type: 'volume', action: 'create', actorId: volume.name, attributes: { driver: volume.driver } });
  return volume;
}

/** `volume ls`: filters name (substring), label, label!, dangling, driver; sorted by name. */
export function listVolumes(core: EngineCore, filters: Filters = {}): Volume[] {
  return core.store.volumes.list(filters);
}

/** `volume inspect`: Docker's JSON for one volume (not found: `get NAME: no such volume`). */
export function inspectVolume(core: EngineCore, name: string): Record<string, unknown> {
  return volumeJSON(core.store.volumes.get(name));
}

/** Move a volume's directory out of its name (inside the caller's transaction); the trash path, if any. */
function moveAside(root: string, name: string): string | undefined {
  const dir = volumeDir(root, name);
  const trash = join(volumesDir(root), `${TRASH_PREFIX}${name}-${randomBytes(4).toString('hex')}`);
  try {
    renameSync(dir, trash);
    return trash;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw wrapError(e, `remove volume ${name}`, dir);
  }
}

function destroyed(core: EngineCore, v: Volume): void {
  core.store.events.append({ type: 'volume', action: 'destroy', actorId: v.name, attributes: { driver: v.driver } });
}

/**
 * `volume rm`: refused while a container refers to it (`remove NAME: volume is in use - [ids]`),
 * with or without force; `force` only ignores a missing volume. Returns false when nothing was removed.
 */
export async function removeVolume(core: EngineCore, name: string, opts: { force?: boolean } = {}): Promise<boolean> {
  const root = core.options.root;
  const done = core.store.tx(() => {
    const v = core.store.volumes.remove(name, opts);
    if (!v) return undefined;
    const trash = moveAside(root, v.name);
    destroyed(core, v);
    return { v, trash };
  });
  if (!done) return false;
  if (done.trash) await removeTrash(done.trash, `remove volume ${name}`);
  return true;
}

/**
 * Remove a volume's directory. Rootless: a volume filled by copy-up or written by a container
 * holds files of the user's subordinate ids, removed in the storage user namespace.
 */
async function removeTrash(trash: string, what: string): Promise<void> {
  try {
    rmSync(trash, { recursive: true, force: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!isRootless() || (code !== 'EACCES' && code !== 'EPERM')) throw e;
    await removeInStorageNs(userIds(), [trash], what);
  }
}

/** Remove trash left by a removal that crashed half-way (older than a minute: not someone's current removal). */
async function sweepTrash(root: string): Promise<void> {
  let names: string[];
  try { names = readdirSync(volumesDir(root)); } catch { return; }
  for (const n of names) {
    if (!n.startsWith(TRASH_PREFIX)) continue;
    const p = join(volumesDir(root), n);
    try {
      if (Date.now() - lstatSync(p).mtimeMs > 60_000) await removeTrash(p, `remove ${p}`);
    } catch { /* another process got it */ }
  }
}

/**
 * `volume prune`: unused volumes, only anonymous ones unless `all` (or the filter `all=true`);
 * filters label, label!. Records a `volume prune` event with the bytes reclaimed, like Docker.
 */
export async function pruneVolumes(core: EngineCore, opts: { all?: boolean; filters?: Filters } = {}): Promise<VolumePruneReport> {
  const op = 'prune volumes';
  const filters: Filters = { ...(opts.filters ?? {}) };
  let all = !!opts.all;
  if (filters.all) {
    for (const v of filters.all) {
      if (!['true', 'false', '1', '0'].includes(v)) throw invalid(op, `invalid filter 'all=${v}'`);
      if (v === 'true' || v === '1') all = true;
    }
    delete filters.all;
  }
  const root = core.options.root;
  const removed = core.store.tx(() => core.store.volumes.prune({ all, filters }).map((v) => {
    const trash = moveAside(root, v.name);
    destroyed(core, v);
    return { v, trash };
  }));
  const report: VolumePruneReport = { VolumesDeleted: [], SpaceReclaimed: 0 };
  const errors: string[] = [];
  for (const { v, trash } of removed) {
    report.VolumesDeleted.push(v.name);
    if (!trash) continue;
    try {
      try {
        report.SpaceReclaimed += treeSize(join(trash, '_data'));
      } catch (e) {
        // rootless: a directory of the container's ids the user may not read is not counted
        if (!isRootless() || (e as BerthError).code !== 'EACCES') throw e;
      }
      await removeTrash(trash, `${op}: remove volume ${v.name}`);
    } catch (e) {
      errors.push(`${v.name}: ${(e as Error).message}`);
    }
  }
  await sweepTrash(root);
  core.store.events.append({ type: 'volume', action: 'prune', actorId: '', attributes: { reclaimed: String(report.SpaceReclaimed) } });
  if (errors.length) throw new BerthError({ kind: 'system', op, message: `${op}: removed from the store, but some directories remain: ${errors.join('; ')}` });
  return report;
}
