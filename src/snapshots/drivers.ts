/**
 * The storage drivers. All keep a snapshot in <root>/snapshots/<id>/fs.
 * - overlay: fs is the snapshot's own layer (an overlayfs upper dir); active snapshots also get
 *   work/; mounts stack the parents' fs dirs as lowerdirs.
 * - fuse-overlayfs: overlay's layout (the two can take each other's snapshots), mounted by the
 *   fuse-overlayfs program instead of the kernel: rootless where overlayfs cannot be mounted in a
 *   user namespace (kernel < 5.11). It writes its own whiteouts in the upper dir where it cannot
 *   make 0/0 devices (`.wh.<name>` files), and marks opaque directories with `.wh..wh..opq`.
 * - copy: fs is a complete tree, made with `cp -a` (ownership, modes, times, xattrs incl.
 *   security.capability, devices, hardlinks within the tree) from the parent's fs; mounts are binds.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../lib/index.js';
import type { ApplyMode } from './apply.js';
import type { SnapshotKind } from './metadata.js';
import { bindMount, fuseOverlayMount, overlayMount, type Mount } from './mounts.js';

export type DriverName = 'overlay' | 'fuse-overlayfs' | 'copy';

export interface Driver {
  readonly name: DriverName;
  readonly applyMode: ApplyMode;
  /** Fill a fresh snapshot directory (later renamed into place). */
  create(dir: string, kind: SnapshotKind, parentFs?: string): Promise<void>;
  /** Mounts for an active or view snapshot; `parents` are the parents' fs dirs, nearest first. */
  mounts(kind: SnapshotKind, dir: string, parents: string[]): Mount[];
}

/** overlay's layout, whoever mounts it (the kernel's overlayfs, or the fuse-overlayfs program). */
function layeredDriver(name: DriverName, layered: (lowers: string[], upper?: string, work?: string) => Mount): Driver {
  return {
    name,
    applyMode: 'overlay',
    async create(dir, kind) {
      mkdirSync(join(dir, 'fs'), 0o755);
      if (kind === 'active') mkdirSync(join(dir, 'work'), 0o700);
    },
    mounts(kind, dir, parents) {
      const fs = join(dir, 'fs');
      if (kind === 'active') {
        if (!parents.length) return [bindMount(fs, false)];
        return [layered(parents, fs, join(dir, 'work'))];
      }
      if (!parents.length) return [bindMount(fs, true)];
      if (parents.length === 1) return [bindMount(parents[0]!, true)];
      return [layered(parents)];
    },
  };
}

export const overlayDriver = layeredDriver('overlay', overlayMount);
export const fuseOverlayDriver = layeredDriver('fuse-overlayfs', fuseOverlayMount);

/** `cp -a` of a whole tree; reflinks where the filesystem can. */
export function copyTree(src: string, dst: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('cp', ['-a', '--reflink=auto', '--', src, dst], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { if (err.length < 4096) err += d.toString(); });
    child.on('error', (e) => reject(new BerthError({ kind: 'system', op: 'copy snapshot', path: src, message: `copy snapshot ${src}: cp: ${e.message}`, cause: e })));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new BerthError({ kind: 'system', op: 'copy snapshot', path: src, message: `copy snapshot ${src} to ${dst}: cp exited ${code}: ${err.trim()}` }));
    });
  });
}

export const copyDriver: Driver = {
  name: 'copy',
  applyMode: 'naive',
  async create(dir, kind, parentFs) {
    if (kind === 'active' && parentFs) await copyTree(parentFs, join(dir, 'fs'));
    else mkdirSync(join(dir, 'fs'), 0o755);
  },
  mounts(kind, dir, parents) {
    if (kind === 'active') return [bindMount(join(dir, 'fs'), false)];
    return [bindMount(parents[0] ?? join(dir, 'fs'), true)];
  },
};
