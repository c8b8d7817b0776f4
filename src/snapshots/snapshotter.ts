/**
 * The snapshotter: containerd's model (prepare → active, commit → committed, view → read-only)
 * over <root>/snapshots/<id>/{fs,work} and <root>/metadata.db, with an overlay and a copy driver.
 * <root>/tmp holds snapshots being built and <root>/trash those being deleted, both named after
 * the owning process so that what a killed process left behind is removed on the next open.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { BerthError, conflict, invalid, notFound, usage as usageError, wrapError } from '../lib/index.js';
import { applyLayer } from './apply.js';
import { chainID } from './chain.js';
import { decompress } from './decompress.js';
import { copyDriver, fuseOverlayDriver, overlayDriver, type Driver, type DriverName } from './drivers.js';
import { lstatMaybe, mountsUsing, ownerAlive, ownerTag, removeTree } from './fsutil.js';
import { MetaStore, type SnapshotKind, type SnapshotRow } from './metadata.js';
import { mountAll, unmount, type Mount, type OverlayMethod } from './mounts.js';
import { probeOverlay } from './probe.js';
import { diskUsage, type Usage } from './usage.js';
import { rootlessIds, type RootlessIds } from '../sys/index.js';
import { RootlessOwners, fuseOverlayMissing, probeRootlessFuseOverlay, probeRootlessOverlay, removeTreeRootless } from './rootless.js';

export interface SnapshotterOptions {
  /** Directory of this snapshotter (created if missing); must not contain ':', ',' or '\'. */
  root: string;
  /**
   * 'auto' (default): $BERTH_STORAGE_DRIVER if set, else the driver this root already uses, else
   * overlay if a probe mount works, else (rootless) fuse-overlayfs if a probe mount works, else copy.
   */
  driver?: DriverName | 'auto';
}

/** The environment variable that forces a storage driver (as containers/storage's STORAGE_DRIVER). */
export const DRIVER_ENV = 'BERTH_STORAGE_DRIVER';

/** A driver by any of its names (Docker's overlay2 and vfs too); undefined for an unknown one. */
export function driverByName(name: string): DriverName | 'auto' | undefined {
  switch (name) {
    case 'overlay': case 'overlay2': return 'overlay';
    case 'fuse-overlayfs': return 'fuse-overlayfs';
    case 'copy': case 'vfs': return 'copy';
    case 'auto': case '': return 'auto';
    default: return undefined;
  }
}

/** overlay and fuse-overlayfs keep the same layout: a root may change from one to the other. */
const sameLayout = (a: DriverName, b: DriverName) => a === b || (a !== 'copy' && b !== 'copy');
const DRIVERS: Record<DriverName, Driver> = { overlay: overlayDriver, 'fuse-overlayfs': fuseOverlayDriver, copy: copyDriver };

export interface SnapshotInfo {
  key: string;
  parent?: string;
  kind: SnapshotKind;
  labels: Record<string, string>;
  created: string;
  updated: string;
  id: number;
}

export interface UnpackRequest {
  /** Committed parent (the chain ID of the layers below), if any. */
  parent?: string;
  /** The layer blob, compressed or not (detected from its first bytes). Consumed, or destroyed on failure. */
  tarStream: Readable;
  mediaType?: string;
  /** Expected diffID: when given, an already unpacked layer is not read at all, and a mismatch fails. */
  diffID?: string;
  /** Key of the temporary active snapshot (default: generated). */
  key?: string;
  labels?: Record<string, string>;
}

export interface UnpackResult {
  chainID: string;
  diffID: string;
  /** Bytes of the uncompressed tar. */
  size: number;
  /** True when the chain ID was already committed and nothing was unpacked. */
  reused: boolean;
}

export interface CleanupReport {
  removed: string[];
  failed: { path: string; error: string }[];
}

/** Label naming the process that owns a temporary unpack snapshot. */
export const OWNER_LABEL = 'berth.unpack.owner';
export const DIFFID_LABEL = 'berth.diffID';
export const SIZE_LABEL = 'berth.size';

function info(r: SnapshotRow): SnapshotInfo {
  const out: SnapshotInfo = { key: r.key, kind: r.kind, labels: r.labels, created: r.created, updated: r.updated, id: r.id };
  if (r.parent !== undefined) out.parent = r.parent;
  return out;
}

function checkKey(op: string, key: string): void {
  if (typeof key !== 'string' || !key || key.length > 4096 || key.includes('\0')) throw usageError(op, `${op}: invalid snapshot key ${JSON.stringify(key)}`);
}

export class Snapshotter {
  /** Rootless (an ordinary user): the id maps layers are chowned into (rootless.ts). */
  readonly ids?: RootlessIds;

  private constructor(readonly root: string, readonly driver: Driver, private readonly meta: MetaStore, ids?: RootlessIds) {
    if (ids) this.ids = ids;
  }

  static async open(opts: SnapshotterOptions): Promise<Snapshotter> {
    const root = resolve(opts.root);
    if (/[:,\\]/.test(root)) throw usageError('open snapshotter', `open snapshotter: root ${root} contains ':', ',' or '\\', which overlay mount options cannot carry`);
    try {
      for (const d of ['', 'snapshots', 'tmp', 'trash']) mkdirSync(join(root, d), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw wrapError(err, 'open snapshotter', root);
    }
    const meta = new MetaStore(join(root, 'metadata.db'));
    try {
      const stored = meta.getMeta('driver') as DriverName | undefined;
      let want = opts.driver ?? 'auto';
      const env = process.env[DRIVER_ENV];
      if (want === 'auto' && env) {
        const d = driverByName(env);
        if (!d) throw usageError('open snapshotter', `open snapshotter: ${DRIVER_ENV}=${env}: unknown storage driver (overlay, fuse-overlayfs or copy)`);
        want = d;
      }
      let name: DriverName;
      const ids = process.geteuid!() !== 0 ? rootlessIds() : undefined;
      // rootless: overlayfs mounted in the container's user namespace (kernel ≥ 5.11), else fuse-overlayfs
      const probe = (): DriverName => {
        if (ids) return probeRootlessOverlay(join(root, 'tmp')).ok ? 'overlay' : probeRootlessFuseOverlay(join(root, 'tmp')).ok ? 'fuse-overlayfs' : 'copy';
        return probeOverlay(join(root, 'tmp'), `${ownerTag()}-`).ok ? 'overlay' : 'copy';
      };
      if (want === 'auto') name = stored ?? probe();
      else {
        if (stored && !sameLayout(stored, want) && meta.list().length) {
          throw conflict('open snapshotter', `open snapshotter ${root}: it holds ${stored} snapshots, cannot use the ${want} driver`, root);
        }
        if (want === 'fuse-overlayfs') {
          const why = fuseOverlayMissing();
          if (why) throw usageError('open snapshotter', `open snapshotter ${root}: storage driver fuse-overlayfs: ${why}`);
        }
        name = want;
      }
      if (stored !== name) meta.setMeta('driver', name);
      const s = new Snapshotter(root, DRIVERS[name], meta, ids);
      await s.cleanup();
      return s;
    } catch (err) {
      meta.close();
      throw err;
    }
  }

  close(): void {
    this.meta.close();
  }

  /** Directory of a snapshot by id: <root>/snapshots/<id>. */
  dir(id: number): string {
    return join(this.root, 'snapshots', String(id));
  }

  private fsOf(id: number): string {
    return join(this.dir(id), 'fs');
  }

  private moveToTrash(path: string): string {
    const dst = join(this.root, 'trash', `${ownerTag()}-${randomBytes(6).toString('hex')}`);
    renameSync(path, dst);
    return dst;
  }

  private async create(kind: SnapshotKind, key: string, parent: string | undefined, labels: Record<string, string>): Promise<void> {
    const op = kind === 'view' ? 'view snapshot' : 'prepare snapshot';
    checkKey(op, key);
    if (this.meta.get(key)) throw conflict(op, `${op} ${key}: already exists`);
    let parentRow: SnapshotRow | undefined;
    if (parent !== undefined) {
      parentRow = this.meta.get(parent);
      if (!parentRow) throw notFound(op, `${op} ${key}: parent ${parent} does not exist`);
      if (parentRow.kind !== 'committed') throw conflict(op, `${op} ${key}: parent ${parent} is not committed`);
    }
    const tmp = mkdtempSync(join(this.root, 'tmp', `${ownerTag()}-`));
    const leftovers: string[] = [];
    try {
      await this.driver.create(tmp, kind, parentRow && this.fsOf(parentRow.id));
      this.meta.immediate(() => {
        if (this.meta.get(key)) throw conflict(op, `${op} ${key}: already exists`);
        if (parentRow) {
          const p = this.meta.byId(parentRow.id);
          if (!p || p.key !== parent) throw notFound(op, `${op} ${key}: parent ${parent} was removed`);
        }
        const id = this.meta.insert(key, parentRow?.id ?? null, kind, labels);
        const dst = this.dir(id);
        if (lstatMaybe(dst)) leftovers.push(this.moveToTrash(dst)); // a crashed process's; ids come back after a rollback
        renameSync(tmp, dst);
      });
    } catch (err) {
      removeTree(tmp);
      throw err instanceof BerthError ? err : wrapError(err, op, key);
    } finally {
      for (const l of leftovers) removeTree(l);
    }
  }

  /** A new writable snapshot on top of `parent` (committed); returns its mounts. */
  async prepare(key: string, parent?: string, opts: { labels?: Record<string, string> } = {}): Promise<Mount[]> {
    await this.create('active', key, parent, opts.labels ?? {});
    if (this.ids && this.ids.mode === 'subids') {
      // the container's root owns its upper and work dirs (it writes there through the overlay)
      const dir = this.dir(this.require('prepare snapshot', key).id);
      const o = new RootlessOwners(this.ids);
      o.containerRoot(join(dir, 'fs'));
      if (this.driver.name !== 'copy') o.containerRoot(join(dir, 'work'));
      await o.apply(`prepare snapshot ${key}`);
    }
    return this.mounts(key);
  }

  /** A read-only snapshot of `parent`; returns its mounts. */
  async view(key: string, parent?: string, opts: { labels?: Record<string, string> } = {}): Promise<Mount[]> {
    await this.create('view', key, parent, opts.labels ?? {});
    return this.mounts(key);
  }

  /** Turn the active snapshot `key` into the committed snapshot `name` (atomically). */
  async commit(name: string, key: string, opts: { labels?: Record<string, string> } = {}): Promise<void> {
    checkKey('commit snapshot', name);
    this.meta.immediate(() => {
      const row = this.meta.get(key);
      if (!row) throw notFound('commit snapshot', `commit snapshot ${key}: does not exist`);
      if (row.kind !== 'active') throw conflict('commit snapshot', `commit snapshot ${key}: is not active (${row.kind})`);
      if (this.meta.get(name)) throw conflict('commit snapshot', `commit snapshot ${key} as ${name}: ${name} already exists`);
      const labels = { ...row.labels, ...opts.labels };
      delete labels[OWNER_LABEL];
      this.meta.commit(row.id, name, labels);
    });
  }

  stat(key: string): SnapshotInfo | undefined {
    const r = this.meta.get(key);
    return r && info(r);
  }

  list(): SnapshotInfo[] {
    return this.meta.list().map(info);
  }

  private require(op: string, key: string): SnapshotRow {
    const r = this.meta.get(key);
    if (!r) throw notFound(op, `${op} ${key}: does not exist`);
    return r;
  }

  /** The fs directories of a snapshot and its parents, nearest first (the snapshot itself first). */
  layerDirs(key: string): string[] {
    const r = this.require('snapshot layers', key);
    return [r, ...this.meta.chain(r)].map((x) => this.fsOf(x.id));
  }

  /** How to mount an active snapshot or a view. */
  mounts(key: string): Mount[] {
    const r = this.require('snapshot mounts', key);
    if (r.kind === 'committed') throw conflict('snapshot mounts', `snapshot mounts ${key}: a committed snapshot cannot be mounted; prepare or view it`);
    const ms = this.driver.mounts(r.kind, this.dir(r.id), this.meta.chain(r).map((p) => this.fsOf(p.id)));
    // in a user namespace overlay keeps its whiteouts and opaque marks in user.overlay.* xattrs
    if (this.ids) for (const m of ms) if (m.type === 'overlay') m.options.unshift('userxattr');
    return ms;
  }

  /** Mount an active snapshot or view on `target` (an existing directory). */
  async mount(key: string, target: string, opts: { method?: OverlayMethod } = {}): Promise<void> {
    mountAll(this.mounts(key), target, opts.method);
  }

  async unmount(target: string, opts: { detach?: boolean } = {}): Promise<boolean> {
    return unmount(target, opts);
  }

  /** Remove a snapshot that has no children. Its mounts must be gone. */
  async remove(key: string): Promise<void> {
    let trash: string | undefined;
    this.meta.immediate(() => {
      const r = this.require('remove snapshot', key);
      const n = this.meta.childCount(r.id);
      if (n) throw conflict('remove snapshot', `remove snapshot ${key}: it has ${n} child snapshot${n > 1 ? 's' : ''}`);
      const dir = this.dir(r.id);
      const mounted = mountsUsing(dir);
      if (mounted.length) throw conflict('remove snapshot', `remove snapshot ${key}: in use by the mount on ${mounted[0]}`, dir);
      if (lstatMaybe(dir)) trash = this.moveToTrash(dir);
      this.meta.delete(r.id);
    });
    if (trash) await removeTreeRootless(this.ids, trash);
  }

  /** Bytes and inodes used by the snapshot's own directory (for overlay: its layer only). */
  async usage(key: string): Promise<Usage> {
    return diskUsage(this.fsOf(this.require('snapshot usage', key).id));
  }

  /**
   * Unpack one layer on top of `parent` and commit it as chainID(parent, diffID), atomically:
   * until the commit the data lives in a temporary active snapshot labelled with this process,
   * removed on failure here or, if the process dies, by the next open. A chain ID already
   * committed is not unpacked again.
   */
  async unpackLayer(req: UnpackRequest): Promise<UnpackResult> {
    const { parent, tarStream } = req;
    if (req.diffID) {
      const cid = chainID(parent, req.diffID);
      const existing = this.meta.get(cid);
      if (existing?.kind === 'committed') {
        tarStream.destroy();
        return { chainID: cid, diffID: req.diffID, size: Number(existing.labels[SIZE_LABEL] ?? 0), reused: true };
      }
    }
    const key = req.key ?? `unpack-${ownerTag()}-${randomBytes(6).toString('hex')}`;
    try {
      await this.create('active', key, parent, { [OWNER_LABEL]: ownerTag() });
    } catch (err) {
      tarStream.destroy();
      throw err;
    }
    let owners: RootlessOwners | undefined;
    try {
      const row = this.require('unpack layer', key);
      const parents = this.driver.applyMode === 'overlay' ? this.meta.chain(row).map((p) => this.fsOf(p.id)) : undefined;
      owners = this.ids && new RootlessOwners(this.ids).begin('unpack layer'); // ready while the layer is written
      owners?.containerRoot(this.fsOf(row.id)); // a layer without a "./" entry
      const res = await applyLayer(decompress(tarStream, req.mediaType), this.fsOf(row.id), { mode: this.driver.applyMode, parents, ...owners?.applyOptions() });
      if (req.diffID && res.diffID !== req.diffID) {
        throw invalid('unpack layer', `unpack layer: diffID mismatch: expected ${req.diffID}, got ${res.diffID}`);
      }
      await owners?.apply('unpack layer');
      const cid = chainID(parent, res.diffID);
      const labels: Record<string, string> = { ...req.labels, [DIFFID_LABEL]: res.diffID, [SIZE_LABEL]: String(res.size) };
      const committed = this.meta.immediate(() => {
        if (this.meta.get(cid)) return false; // another process unpacked the same layer meanwhile
        const r = this.meta.get(key);
        if (!r) throw notFound('unpack layer', `unpack layer: temporary snapshot ${key} vanished`);
        const l = { ...r.labels, ...labels };
        delete l[OWNER_LABEL];
        this.meta.commit(r.id, cid, l);
        return true;
      });
      if (!committed) await this.remove(key);
      return { chainID: cid, diffID: res.diffID, size: res.size, reused: !committed };
    } catch (err) {
      tarStream.destroy();
      await owners?.cancel();
      try { await this.remove(key); } catch { /* left for cleanup() */ }
      throw err;
    }
  }

  /**
   * Remove what dead processes left: temporary unpack snapshots, snapshot dirs without metadata,
   * tmp/ and trash/ entries. Runs on open; safe while other processes use the same root.
   */
  async cleanup(): Promise<CleanupReport> {
    const me = ownerTag();
    const doomed: string[] = [];
    const report: CleanupReport = { removed: [], failed: [] };
    this.meta.immediate(() => {
      const rows = this.meta.list();
      const ids = new Set(rows.map((r) => r.id));
      for (const r of rows) {
        const owner = r.labels[OWNER_LABEL];
        if (r.kind !== 'active' || !owner || owner === me || ownerAlive(owner) || this.meta.childCount(r.id)) continue;
        const dir = this.dir(r.id);
        if (mountsUsing(dir).length) continue;
        if (lstatMaybe(dir)) doomed.push(this.moveToTrash(dir));
        this.meta.delete(r.id);
        ids.delete(r.id);
      }
      for (const name of readdirSync(join(this.root, 'snapshots'))) {
        const dir = join(this.root, 'snapshots', name);
        if (/^\d+$/.test(name) && ids.has(Number(name))) continue;
        if (mountsUsing(dir).length) { report.failed.push({ path: dir, error: 'in use by a mount' }); continue; }
        doomed.push(this.moveToTrash(dir));
      }
    });
    for (const sub of ['tmp', 'trash']) {
      for (const name of readdirSync(join(this.root, sub))) {
        const owner = name.includes('-') ? name.slice(0, name.indexOf('-')) : '';
        if (owner !== me && !ownerAlive(owner)) doomed.push(join(this.root, sub, name));
      }
    }
    for (const d of doomed) {
      try {
        await removeTreeRootless(this.ids, d);
        report.removed.push(d);
      } catch (err) {
        report.failed.push({ path: d, error: (err as Error).message });
      }
    }
    return report;
  }
}

export function openSnapshotter(opts: SnapshotterOptions): Promise<Snapshotter> {
  return Snapshotter.open(opts);
}
