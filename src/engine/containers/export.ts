/**
 * A container's filesystem as `cp` and `export` see it, and tar archives of host trees.
 *
 * The view is mounted on a private temporary directory under the run root: a running (or paused)
 * container's rootfs mount is bind-mounted there (so the container exiting meanwhile cannot pull
 * it away), a stopped one's snapshot is mounted there. For `cp` the container's volumes, bind
 * mounts and generated network files (/etc/hosts, /etc/hostname, /etc/resolv.conf) are laid over
 * it like Docker does; tmpfs mounts, /proc, /sys and /dev are not part of it. Everything mounted is
 * unmounted and the directory removed afterwards, on success or failure (a view whose process was
 * killed is swept by the next one). A running container's files are reached through an fd of
 * its root, never a path string, and trees are archived one pinned directory at a time.
 */
import { closeSync, constants as fsc, existsSync, fstatSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { BerthError, notFound, wrapError } from '../../lib/index.js';
import { snapshotter } from '../../image/index.js';
import { unmount } from '../../snapshots/index.js';
import {
  closeFd, fdPath, mkdirAllIn, mkdirat, MNT_DETACH, MS_BIND, MS_PRIVATE, MS_RDONLY, MS_REMOUNT, mount, O_PATH, openat2, openChild, openDirPath,
  openInRoot, procStat, readdirFd, readlinkat, umount2,
} from '../../sys/index.js';
import type { Container } from '../store/index.js';
import { isRootless } from '../rootless/paths.js';
import { fuseReadOnly } from '../rootless/fuse.js';
import { startStorageJob, type JobOverlay, type StorageJob, type StorageRun, type StorageTask } from '../rootless/storage.js';
import { hostMountMarker, settle } from './cleanup.js';
import type { EngineCore } from './core.js';
import { runOptionsOf } from './start.js';

/** A mount laid over the view, at its container path. */
export interface ViewMount { target: string; readonly: boolean }

export interface ContainerView {
  /** Host directory that is the container's `/` (for messages and trusted reads only). */
  root: string;
  /** An O_PATH fd of the container's `/`: every path of the container is resolved from it (openInRoot). */
  rootFd: number;
  container: Container;
  /** Volumes, binds and network files laid over the root (only with `volumes`), shallowest first. */
  mounts: ViewMount[];
  readonlyRootfs: boolean;
}

export interface ViewOptions {
  /** Lay the container's volumes, binds and network files over the rootfs (cp), or not (export). */
  volumes: boolean;
}

const depth = (p: string) => p.split('/').filter(Boolean).length;

type Overlay = JobOverlay;

/** What cp lays over the rootfs: volumes and binds (no tmpfs), then the network files no mount covers. */
function overlays(core: EngineCore, c: Container): Overlay[] {
  const out: Overlay[] = [];
  const o = runOptionsOf(c);
  for (const m of o.mounts ?? []) {
    const target = posix.normalize(m.target);
    if (m.type === 'volume' && m.source) out.push({ source: core.store.volumes.get(m.source).mountpoint, target, readonly: !!m.readonly });
    else if (m.type === 'bind' && m.source) out.push({ source: m.source, target, readonly: !!m.readonly });
  }
  const taken = new Set(out.map((m) => m.target));
  const dataDir = core.paths(c.id).dataDir;
  for (const f of ['hostname', 'hosts', 'resolv.conf']) {
    const target = `/etc/${f}`;
    const source = join(dataDir, f);
    if (!taken.has(target) && existsSync(source)) out.push({ source, target, readonly: false });
  }
  return out.sort((a, b) => depth(a.target) - depth(b.target));
}

/**
 * The mount point of `target` inside the root `rootfd` (made as Docker does unless it exists),
 * as an O_PATH fd: the mount is made on that pinned object, never on a path string that the
 * container could meanwhile turn into a link leading out of its root.
 */
function mountPoint(rootfd: number, target: string, dir: boolean, op: string): number {
  try { return openInRoot(rootfd, target); } catch (e) {
    if ((e as BerthError).code !== 'ENOENT') throw wrapError(e, op, target);
  }
  let parent: number;
  try { parent = mkdirAllIn(rootfd, posix.dirname(target)); } catch (e) { throw wrapError(e, op, posix.dirname(target)); }
  const name = posix.basename(target);
  try {
    if (dir) mkdirat(parent, name, 0o755);
    else closeSync(openChild(parent, name, fsc.O_CREAT | fsc.O_WRONLY | fsc.O_EXCL, 0o644));
  } catch (e) {
    if ((e as BerthError).code !== 'EEXIST') { closeFd(parent); throw wrapError(e, op, target); }
  }
  try { return openChild(parent, name); } catch (e) { throw wrapError(e, op, target); } finally { closeFd(parent); }
}

export function lstatMaybe(path: string): Stats | undefined {
  try { return lstatSync(path); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/**
 * The root fd of a running container: `/proc/PID/root` reached through the pinned `/proc/PID`
 * directory of the process whose start time is the one the runtime recorded (a pid reused by
 * another process is never trusted).
 */
function runningRootFd(core: EngineCore, c: Container, op: string): number {
  const pid = c.state.pid;
  const expected = recordedStartTime(core, c);
  let proc: number;
  try { proc = openDirPath(`/proc/${pid}`); } catch (e) { throw gone(op, c, e); }
  try {
    const stat = readFileSync(fdPath(proc, 'stat'), 'latin1');
    const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    if (!expected || start !== expected) throw gone(op, c);
    return openat2(proc, 'root', O_PATH | fsc.O_DIRECTORY, 0);
  } catch (e) {
    throw e instanceof BerthError && e.kind === 'conflict' ? e : gone(op, c, e);
  } finally {
    closeFd(proc);
  }
}

function gone(op: string, c: Container, cause?: unknown): BerthError {
  return new BerthError({ kind: 'conflict', op, cause, message: `${op}: container ${c.id} is not running (its process is gone)` });
}

/**
 * Run `fn` with the container's filesystem mounted on a temporary directory (see the file
 * comment); everything is unmounted afterwards. `ref` is a name, id or id prefix.
 */
export async function withContainerView<T>(core: EngineCore, ref: string, op: string, o: ViewOptions, fn: (v: ContainerView) => Promise<T>): Promise<T> {
  const c = await viewContainer(core, ref, op);
  const snaps = await snapshotter(core.images);
  const running = c.state.status === 'running' || c.state.status === 'paused';
  if (running && o.volumes && c.state.pid && !existsSync(hostMountMarker(core.paths(c.id)))) {
    // The rootfs is mounted only in the container's namespace: work through /proc/PID/root,
    // where its volumes and binds are already in place (paths are resolved inside it).
    const mounts = overlays(core, c).map((m) => ({ target: m.target, readonly: m.readonly }));
    const rootFd = runningRootFd(core, c, op);
    try {
      return await fn({ root: `/proc/${c.state.pid}/root/.`, rootFd, container: c, mounts, readonlyRootfs: !!runOptionsOf(c).readOnly });
    } finally {
      closeFd(rootFd);
    }
  }
  const tmp = viewDir(core);
  const rootfs = core.paths(c.id).rootfs;
  const mountRoot = running && existsSync(hostMountMarker(core.paths(c.id))) ? async () => mount(rootfs, tmp, null, MS_BIND) : () => snaps.mount(c.snapshotKey!, tmp);
  return mountedView(tmp, mountRoot, o.volumes ? overlays(core, c) : [], c, !!runOptionsOf(c).readOnly, op, fn);
}

/** The container of a view, settled, with a filesystem. */
async function viewContainer(core: EngineCore, ref: string, op: string): Promise<Container> {
  const c = await settle(core, core.store.containers.get(ref));
  if (!c) throw notFound(op, `No such container: ${ref}`);
  if (!c.snapshotKey) throw new BerthError({ kind: 'conflict', op, message: `${op}: container ${c.id} has no filesystem` });
  return c;
}

/** A new private directory for a view under the run root (named for this process: see sweepViews). */
function viewDir(core: EngineCore): string {
  mkdirSync(core.options.runRoot, { recursive: true, mode: 0o700 });
  sweepViews(core.options.runRoot);
  return mkdtempSync(join(core.options.runRoot, `view-${selfTag()}-`));
}

/**
 * The view on the directory `tmp`: its root mounted by `mountRoot`, then the overlays laid over
 * it; `fn` runs, then everything is unmounted and `tmp` removed (also by the rootless storage
 * process, in its own mount namespace: rootless/storage.ts).
 */
export async function mountedView<T>(tmp: string, mountRoot: () => Promise<void>, over: Overlay[], c: Container, readonlyRootfs: boolean, op: string, fn: (v: ContainerView) => Promise<T>): Promise<T> {
  const mounted: string[] = [];
  let rootFd: number | undefined;
  try {
    await mountRoot();
    mounted.push('/');
    // private: what is mounted below never propagates to the rootfs mount's peers (or the container)
    mount(null, tmp, null, MS_PRIVATE);
    rootFd = openDirPath(tmp);
    const mounts: ViewMount[] = [];
    for (const m of over) {
      let dir: boolean;
      try { dir = statSync(m.source).isDirectory(); } catch { continue; } // a source that is gone is skipped
      const at = mountPoint(rootFd, m.target, dir, op);
      try {
        mount(m.source, fdPath(at), null, MS_BIND);
        mounted.push(m.target);
        if (m.readonly) {
          // the new mount's root, reached again inside the view (it is what the fd's path shows now)
          const top = openInRoot(rootFd, m.target);
          try { mount(null, fdPath(top), null, MS_REMOUNT | MS_BIND | MS_RDONLY); } finally { closeFd(top); }
        }
      } finally {
        closeFd(at);
      }
      mounts.push({ target: m.target, readonly: m.readonly });
    }
    const result = await fn({ root: tmp, rootFd, container: c, mounts, readonlyRootfs });
    closeFd(rootFd);
    await release(mounted, tmp, op);
    return result;
  } catch (e) {
    closeFd(rootFd);
    await release(mounted, tmp, op).catch(() => undefined);
    throw e;
  }
}

/**
 * Rootless (an ordinary user): the view is made by a storage process in a user namespace
 * (rootless/storage.ts), which runs `task` there; this process keeps the store and the events.
 * `use` gets the running job (its pipes) and returns its result after the job is done.
 */
export async function withRootlessView<T>(core: EngineCore, ref: string, op: string, o: ViewOptions, task: StorageTask, use: (run: StorageRun, c: Container) => Promise<T>): Promise<T> {
  const c = await viewContainer(core, ref, op);
  const running = (c.state.status === 'running' || c.state.status === 'paused') && !!c.state.pid;
  const over = o.volumes ? overlays(core, c) : [];
  // what the operation reads of the record (extract: Config.User); the job travels in the environment
  const record = { id: c.id, name: c.name, config: { User: (c.config as { User?: string }).User } };
  const job: StorageJob = { op, ref, container: record, overlays: over, readonlyRootfs: !!runOptionsOf(c).readOnly, task };
  let dir: string | undefined;
  if (running && o.volumes) {
    job.running = { pid: c.state.pid!, startTime: recordedStartTime(core, c) ?? 0 };
  } else {
    // export of a running one too: its snapshot, mounted again in the storage namespace
    job.mounts = (await snapshotter(core.images)).mounts(c.snapshotKey!);
    // a second fuse-overlayfs must not share the running one's work dir (it empties it): read-only
    if (running) job.mounts = job.mounts.map(fuseReadOnly);
    job.dir = dir = viewDir(core);
  }
  const run = startStorageJob(job);
  try {
    const out = await use(run, c);
    await run.done;
    return out;
  } catch (e) {
    await run.stop();
    throw e;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** The start time the runtime recorded for the container's init (a reused pid is never trusted). */
function recordedStartTime(core: EngineCore, c: Container): number | undefined {
  try { return (JSON.parse(readFileSync(join(core.runtime.root, c.id, 'state.json'), 'utf8')) as { startTime?: number }).startTime; } catch { return undefined; }
}

let tag: string | undefined;
/** `<pid>.<start time>`: names this process in its views, so that the views of a killed one are found. */
function selfTag(): string {
  return (tag ??= `${process.pid}.${procStat(process.pid)?.startTime ?? 0}`);
}

/**
 * Views left by a process that died meanwhile (killed during a cp or export): unmounted (the
 * lazy unmount takes the mounts below along) and removed. Another live process's are kept.
 */
export function sweepViews(runRoot: string): void {
  let names: string[];
  try { names = readdirSync(runRoot); } catch { return; }
  for (const name of names) {
    const m = /^view-(\d+)\.(\d+)-/.exec(name);
    if (!m || procStat(Number(m[1]))?.startTime === Number(m[2])) continue;
    const path = join(runRoot, name);
    try {
      for (let i = 0; i < 16 && umount2(path, MNT_DETACH, true); i++) { /* stacked mounts */ }
      rmdirSync(path);
    } catch { /* another process is sweeping it, or it is busy: the next sweep retries */ }
  }
}

/**
 * Unmount what a view mounted and remove its directory. The mounts inside the view are never
 * unmounted by their paths (the container may have changed them): a lazy unmount of the view's
 * root takes every mount below it along.
 */
async function release(mounted: string[], tmp: string, op: string): Promise<void> {
  let failure: unknown;
  if (mounted.length > 1) {
    try { umount2(tmp, MNT_DETACH, true); } catch (e) { failure ??= e; }
  }
  if (mounted.length) {
    try { await unmount(tmp, { detach: true }); } catch (e) { failure ??= e; }
  }
  mounted.length = 0;
  try { rmdirSync(tmp); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') failure ??= e; }
  if (failure) throw wrapError(failure, `${op}: clean up`, tmp);
}

// ---- tar archives of host trees ----

/** Major and minor numbers of a device (glibc's encoding of dev_t). */
export function devNumbers(rdev: number): [number, number] {
  const r = BigInt(rdev);
  return [Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & 0xfffff000n)), Number((r & 0xffn) | ((r >> 12n) & 0xffffff00n))];
}

/** The name of a child entry: '' (an archive without its top entry) names children bare. */
export function childName(parent: string, child: string): string {
  if (parent === '') return child;
  return parent.endsWith('/') ? parent + child : `${parent}/${child}`;
}

type Pack = tar.Pack;
type HeaderArg = Partial<tar.Header> & { name: string };

/** Write one entry's header (and content) for the object pinned by the O_PATH fd `fd`, seen as `name`. */
export async function packEntry(pack: Pack, fd: number, name: string, st: Stats, links: Map<string, string>): Promise<boolean> {
  const base = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000) };
  if (st.isDirectory()) {
    await entry(pack, { ...base, name: name.endsWith('/') ? name : `${name}/`, type: 'directory' });
  } else if (st.isSymbolicLink()) {
    await entry(pack, { ...base, type: 'symlink', linkname: readlinkat(fd) });
  } else if (st.isFile()) {
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1 ? links.get(key) : undefined;
    if (first !== undefined) {
      await entry(pack, { ...base, type: 'link', linkname: first });
    } else {
      if (st.nlink > 1) links.set(key, name);
      await fileEntry(pack, fd, { ...base, type: 'file', size: st.size });
    }
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    const [devmajor, devminor] = devNumbers(st.rdev);
    await entry(pack, { ...base, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor, devminor });
  } else if (st.isFIFO()) {
    await entry(pack, { ...base, type: 'fifo' });
  } else {
    return false; // sockets are not archived (like Docker)
  }
  return true;
}

function entry(pack: Pack, header: HeaderArg): Promise<void> {
  return new Promise((resolve, reject) => { pack.entry(header, (err) => (err ? reject(err) : resolve())); });
}

/** A regular file's content: exactly the size in its header (a file that shrank meanwhile is padded with zeros). */
async function fileEntry(pack: Pack, fd: number, header: HeaderArg): Promise<void> {
  const size = header.size ?? 0;
  // the pinned file itself, reopened for reading (its path is never looked up again)
  const fh = await open(fdPath(fd), fsc.O_RDONLY);
  try {
    await new Promise<void>((resolve, reject) => {
      const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
      // the archive's consumer failed (a full disk, a closed pipe): the entry errors, and so does this
      let failed: Error | undefined;
      sink.on('error', (e: Error) => { failed ??= e; reject(e); sink.emit('drain'); });
      (async () => {
        const buf = Buffer.allocUnsafe(Math.min(size, 1 << 20) || 1);
        let left = size;
        while (left > 0) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, left), null);
          const chunk = bytesRead > 0 ? Buffer.from(buf.subarray(0, bytesRead)) : Buffer.alloc(Math.min(left, 65536));
          left -= chunk.length;
          if (failed) return;
          if (!sink.write(chunk)) await new Promise<void>((r) => sink.once('drain', () => r(undefined)));
        }
        if (!failed) sink.end(undefined);
      })().catch((e: unknown) => { sink.destroy(e as Error); reject(e); });
    });
  } finally {
    await fh.close();
  }
}

/** Archive the tree pinned by `fd`: `name` is the top entry ('' = no top entry, children named bare). */
async function packWalk(pack: Pack, fd: number, name: string, links: Map<string, string>, top: boolean): Promise<void> {
  const st = fstatSync(fd);
  if (!(top && name === '')) await packEntry(pack, fd, name, st, links);
  if (!st.isDirectory()) return;
  for (const child of readdirFd(fd).sort()) {
    let cfd: number;
    try { cfd = openChild(fd, child); } catch { continue; } // removed meanwhile
    try {
      await packWalk(pack, cfd, childName(name, child), links, false);
    } finally {
      closeFd(cfd);
    }
  }
}

/**
 * An uncompressed tar of the object pinned by the O_PATH fd `fd` (file, directory, symlink
 * itself, device…), its top entry named `name` and the rest below it (Docker's TarWithOptions
 * with a rebased name). The tree is walked one pinned directory at a time, links never followed.
 * The fd is the archive's: it is closed when the archive ends or fails.
 */
export function packTreeFd(fd: number, name: string): Readable {
  const pack = tar.pack();
  packWalk(pack, fd, name, new Map(), true).finally(() => closeFd(fd)).then(() => pack.finalize(), (e: unknown) => pack.destroy(e as Error));
  return pack as unknown as Readable;
}

/** packTreeFd of a host path (its last link not followed). */
export function packTree(path: string, name: string): Readable {
  return packTreeFd(openat2(-100, path, O_PATH | fsc.O_NOFOLLOW, 0), name);
}

/**
 * `export`: a tar of the container's whole filesystem (its rootfs without volumes, like Docker),
 * running or not, written to `out`.
 */
export async function exportContainer(core: EngineCore, ref: string, out: Writable, o: { end?: boolean } = {}): Promise<void> {
  const op = `export ${ref}`;
  if (isRootless()) {
    await withRootlessView(core, ref, op, { volumes: false }, { kind: 'export' }, async (run, c) => {
      await pipeline(run.stdout, out, { end: o.end ?? true });
      await run.done;
      core.event('container', 'export', c);
    });
    return;
  }
  await withContainerView(core, ref, op, { volumes: false }, async (v) => {
    await pipeline(packTreeFd(openInRoot(v.rootFd, '/'), ''), out, { end: o.end ?? true });
    core.event('container', 'export', v.container);
  });
}
