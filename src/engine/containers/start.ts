/**
 * `start`: mount the container's snapshot, write its generated files and bundle, and launch it
 * under its monitor (the helper parent, which stays as the container's conmon). With `attach`,
 * the monitor's socket is joined before the process runs (the exec fifo holds it), so no output
 * is missed.
 */
import { isRootless } from '../rootless/paths.js';
import { checkRootlessResources, rootlessSpec } from '../rootless/spec.js';
import { rootlessNetSteps } from '../rootless/network.js';
import { copyUpRootless } from '../rootless/storage.js';
import { mountFuseRootfs, readThroughLayers } from '../rootless/fuse.js';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { release, hostname as osHostname } from 'node:os';
import { BerthError, mark } from '../../lib/index.js';
import { kernelVersion } from '../../oci/index.js';
import { snapshotter } from '../../image/index.js';
import { launch, releaseFifo, type MonitorOptions } from '../../runtime/index.js';
import { attach, mount, MS_NODEV, MS_NOEXEC, MS_NOSUID, type AttachOptions, type MonitorAttach } from '../../sys/index.js';
import { buildSpecAndConfig, DEFAULT_SHM_SIZE, readRootfsFile, resolveInRootfs, type MountSpec, type RunOptions } from '../spec/index.js';
import { copyUp, DEFAULT_HOST_FILE_PATHS, isEmptyDir, writeContainerFiles } from '../files/index.js';
import { unmount } from '../../snapshots/index.js';
import type { Container } from '../store/index.js';
import { hostMountMarker, teardown, reconcile } from './cleanup.js';
import { lockContainer } from './start-lock.js';
import { watchMonitor } from './restart.js';
import { OPTION_LIMIT } from '../../snapshots/index.js';
import type { EngineCore } from './core.js';
import { RUN_OPTIONS_KEY } from './create.js';
import { readImageConfig } from './image.js';
import { healthOptionsOf } from './health.js';
import { imageStore } from '../../image/index.js';
import { commitNetworks, prepareNetworks } from '../networks/attach.js';
import { parseAddHost, type HostRecord } from '../files/index.js';

export interface StartOptions {
  /** Join the monitor's socket before the process runs. */
  attach?: AttachOptions;
  /** A restart by the container's policy (restart.ts): only from `restarting`, RestartCount kept. */
  policyRestart?: boolean;
  /** With policyRestart: the restart of this RestartCount only (a late restarter of an earlier exit does nothing). */
  restartCount?: number;
}

export interface Started {
  container: Container;
  attach?: MonitorAttach;
  /** This call started it (not: it was running already, or a policy restart found it stopped). */
  launched?: boolean;
}

let kernel: [number, number] | undefined;

export function runOptionsOf(c: Container): RunOptions {
  return structuredClone((c.hostConfig[RUN_OPTIONS_KEY] ?? {}) as RunOptions);
}

/**
 * Read a file of an unmounted snapshot through its layer directories, nearest first (what
 * overlayfs would show, for ordinary files: a whiteout — a 0/0 character device — hides it).
 */
function layeredReader(dirs: string[]): (path: string) => string | undefined {
  return (path) => {
    for (const d of dirs) {
      let st;
      try { st = lstatSync(resolveInRootfs(d, path)); } catch { continue; }
      if (st.isCharacterDevice()) return undefined;
      return readRootfsFile(d, path);
    }
    return undefined;
  };
}

/** `container:<name>` modes point at the other container's init pid (it must be running). */
function resolveNsModes(core: EngineCore, o: RunOptions, op: string): void {
  for (const k of ['network', 'pid', 'ipc'] as const) {
    const v = o[k];
    if (!v?.startsWith('container:')) continue;
    const ref = v.slice('container:'.length);
    if (/^\d+$/.test(ref) || ref.startsWith('/')) continue;
    const other = reconcile(core, core.store.containers.get(ref));
    if (other.state.status !== 'running' || !other.state.pid) {
      throw new BerthError({ kind: 'conflict', op, message: `${op}: cannot join the ${k} namespace of container ${ref}: it is not running` });
    }
    if (k === 'ipc') {
      // Docker: only a shareable container's IPC can be joined; its /dev/shm is a tmpfs on the
      // host (a mount inside another mount namespace cannot be bound here)
      if (runOptionsOf(other).ipc !== 'shareable') {
        throw new BerthError({ kind: 'conflict', op, message: `${op}: cannot join the IPC namespace of container ${ref}: non-shareable IPC (hint: use --ipc shareable for the donor container)` });
      }
      o.shmSource = core.paths(other.id).shm;
    }
    o[k] = `container:${other.state.pid}`;
  }
}

/** A shareable container's /dev/shm: a tmpfs on the host, bound into it and into its joiners. */
function mountShareableShm(dir: string, size: number): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mount('shm', dir, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, `mode=1777,size=${size}`);
}

/** Volumes become binds of their data directories; a new, empty volume first gets the image's
 *  content at its path (read through a view of the snapshot when the rootfs is not mounted here). */
async function resolveMounts(core: EngineCore, mounts: MountSpec[] | undefined, rootfs: string, snapshotKey: string): Promise<MountSpec[]> {
  const out: MountSpec[] = [];
  let view: { dir: string; release(): Promise<void> } | undefined;
  try {
    for (const m of mounts ?? []) {
      if (m.type !== 'volume') { out.push(m); continue; }
      const vol = core.store.volumes.get(m.source!);
      if (!m.noCopy && (await isEmptyDir(vol.mountpoint).catch(() => false))) {
        if (isRootless()) await copyUpRootless(await snapshotter(core.images), core.options.runRoot, snapshotKey, m.target, vol.mountpoint); // in a user namespace (issue 17)
        else {
          if (!rootfs) view ??= await snapshotView(core, snapshotKey);
          await copyUp(rootfs || view!.dir, m.target, vol.mountpoint);
        }
      }
      out.push({ ...m, type: 'bind', source: vol.mountpoint });
    }
  } finally {
    await view?.release();
  }
  return out;
}

/** The snapshot mounted read-only-in-use on a private temporary directory (for copy-up). */
async function snapshotView(core: EngineCore, key: string): Promise<{ dir: string; release(): Promise<void> }> {
  const snaps = await snapshotter(core.images);
  const dir = mkdtempSync(join(core.options.runRoot, 'copyup-'));
  try {
    await snaps.mount(key, dir);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { dir, release: async () => { await unmount(dir, { detach: true }); rmSync(dir, { recursive: true, force: true }); } };
}

export async function startContainer(core: EngineCore, ref: string, so: StartOptions = {}): Promise<Started> {
  const first = core.store.containers.get(ref); // its id and name; the state is read under the lock
  const release = await lockContainer(core, first.id, true, `start ${first.name}`);
  try {
    return await startLocked(core, first.id, so);
  } finally {
    release!();
  }
}

/** The start itself, holding the container's lock (see start-lock.ts). */
async function startLocked(core: EngineCore, id: string, so: StartOptions): Promise<Started> {
  let c = reconcile(core, core.store.containers.get(id), undefined, { ownLock: true });
  const op = `start ${c.name}`;
  if (c.state.status === 'running' || c.state.status === 'paused') return { container: c };
  if (so.policyRestart && (c.state.status !== 'restarting' || (so.restartCount !== undefined && so.restartCount !== c.state.restartCount))) {
    return { container: c }; // a user stopped it meanwhile, or this restart was done and it exited again
  }
  if (c.state.status !== 'created' && c.state.status !== 'exited' && !so.policyRestart) {
    throw new BerthError({ kind: 'conflict', op, message: `${op}: cannot start a container that is ${c.state.status}` });
  }
  const paths = core.paths(c.id);
  const o = runOptionsOf(c);
  resolveNsModes(core, o, op);
  const snaps = await snapshotter(core.images);
  await teardown(core, c); // what a previous run may have left
  mkdirSync(paths.rootfs, { recursive: true, mode: 0o700 });
  let monitorPid = 0;
  let published: Promise<void> | undefined;
  try {
    if (o.ipc === 'shareable') {
      mountShareableShm(paths.shm, o.shmSize || DEFAULT_SHM_SIZE);
      o.shmSource = paths.shm;
    }
    // The snapshot is mounted in the container's own mount namespace (it vanishes with it: no
    // host mount to leak, no unmount at exit); overlay data too long for mount(2) is mounted
    // here instead (fsconfig / relative paths), and unmounted at teardown.
    const snapMounts = snaps.mounts(c.snapshotKey);
    // rootless fuse-overlayfs: the program mounts it in the container's namespaces (rootless/fuse.ts)
    const fuse = snapMounts[0]?.type === 'fuse-overlayfs' && isRootless();
    const inNs = fuse || (snapMounts.length === 1 && snapMounts[0]!.type !== 'fuse-overlayfs' && snapMounts[0]!.options.join(',').length < OPTION_LIMIT);
    if (!inNs) {
      await snaps.mount(c.snapshotKey, paths.rootfs);
      writeFileSync(hostMountMarker(paths), '');
    }
    mark('rootfs ready');
    const rec = await imageStore(core.images).get(c.imageId);
    if (!rec) throw new BerthError({ kind: 'notfound', op, message: `${op}: its image ${c.imageId} is gone` });
    const imageConfig = await readImageConfig(core.images, rec, op);
    const cfg = c.config as { Hostname?: string; Domainname?: string };
    const net = await prepareNetworks(core, c, o, op);
    published = net?.published;
    mark('network planned');
    const files = await writeContainerFiles(paths.dataDir, {
      hostname: cfg.Hostname ?? c.id.slice(0, 12), domainname: cfg.Domainname, network: o.network ?? 'none',
      addresses: net?.addresses, embeddedDns: net?.embeddedDns, ipv6: net?.ipv6,
      extraHosts: [...(net?.links ?? []).map((l) => ({ ip: l.ip, host: l.names })), ...extraHosts(core, o, net?.hostGateway)],
      dns: o.dns, dnsSearch: o.dnsSearch, dnsOptions: o.dnsOptions,
    }, { ...DEFAULT_HOST_FILE_PATHS, resolvConf: core.options.resolvConf });
    o.mounts = await resolveMounts(core, o.mounts, inNs ? '' : paths.rootfs, c.snapshotKey);
    kernel ??= kernelVersion(release());
    const { spec } = buildSpecAndConfig(imageConfig, o, {
      rootfs: paths.rootfs, id: c.id, hostsFile: files.hosts, resolvFile: files.resolvConf, hostnameFile: files.hostname,
      cgroupParent: core.options.cgroupParent, kernel, initPath: core.options.initPath, hostHostname: osHostname(),
      readFile: fuse ? (p: string) => readThroughLayers(snaps.layerDirs(c.snapshotKey), p) : inNs ? layeredReader(snaps.layerDirs(c.snapshotKey)) : undefined,
    });
    if (isRootless()) { checkRootlessResources(o, op); rootlessSpec(spec, undefined, { keepId: o.userns === 'keep-id', user: o.user, joinUserns: net?.userns, nested: !!net?.wiring.parentUserns }); } // an ordinary user's container (rootless/spec.ts)
    writeFileSync(paths.bundleConfig, JSON.stringify(spec));
    mark('bundle written');
    rmSync(paths.exitFile, { force: true });
    rmSync(`${paths.exitFile}.tmp`, { force: true });
    const hc = c.hostConfig as { LogConfig?: { Config?: Record<string, string> } };
    const lc = hc.LogConfig?.Config ?? {};
    const monitor: MonitorOptions = {
      log: c.logPath, maxSize: Number(lc['max-size'] ?? 0), maxFiles: Number(lc['max-file'] ?? 1) || 1,
      exitFile: paths.exitFile, socket: paths.socket, stdin: !!o.openStdin,
      exitCommand: core.exitCommand(c.id),
      dnsConfig: net?.dnsConfig, holdPorts: net?.holdPorts, proxyPorts: net?.proxyPorts,
      health: healthOptionsOf(core, c, (c.config as { Shell?: string[] }).Shell),
    };
    const attachFirst = !!so.attach;
    const { container: rc, monitorPid: mp } = await launch(core.runtime, { id: c.id, bundle: paths.runDir, monitor, loopbackUp: true, mkdirCwd: true, rootfsMounts: inNs && !fuse ? snapMounts : undefined, beforeGo: fuse ? (pid) => mountFuseRootfs({ pid, rootfs: paths.rootfs, mount: snapMounts[0]!, runDir: paths.runDir, op }) : undefined, netSteps: net?.wiring ?? await rootlessNetSteps(core, c, o, op, paths.runDir) }, op, false, false, !attachFirst);
    monitorPid = mp ?? 0;
    let conn: MonitorAttach | undefined;
    if (attachFirst) {
      conn = await attach(paths.socket, so.attach);
      releaseFifo(rc, op);
    }
    mark('started');
    c = core.store.tx(() => {
      const r = core.store.containers.setState(c.id, 'running', { expect: so.policyRestart ? ['restarting'] : ['created', 'exited'], pid: rc.st.pid, monitorPid, resetRestartCount: !so.policyRestart });
      core.event('container', 'start', r);
      return r;
    });
    if (net) await commitNetworks(core, c, net);
    mark('network committed');
    watchMonitor(core, c); // a restart policy's watcher (restart.ts)
    return { container: c, attach: conn, launched: true };
  } catch (e) {
    if (monitorPid) { try { process.kill(monitorPid, 'SIGKILL'); } catch { /* gone */ } }
    await published; // its rules are in before teardown takes them out
    await teardown(core, c).catch(() => undefined);
    let err = e instanceof BerthError ? e : new BerthError({ kind: 'system', op, message: `${op}: ${(e as Error).message}`, cause: e });
    if (err.step === 'lookup' && err.path) {
      const why = err.code === 'ENOENT' ? (err.path.includes('/') ? 'no such file or directory' : 'executable file not found in $PATH') : err.code === 'EACCES' ? 'permission denied' : err.message;
      err = new BerthError({ kind: 'system', op, path: err.path, errno: err.errno, step: err.step, cause: err, message: `${op}: exec: "${err.path}": ${why}` });
    }
    if (!so.policyRestart) try { core.store.containers.update(c.id, { error: err.message, exitCode: exitCodeForStartError(err) }); } catch { /* removed meanwhile */ }
    throw err;
  }
}

/** Docker's codes for a process that could not be started: 127 not found, 126 not executable. */
export function exitCodeForStartError(e: BerthError): number {
  if (e.step === 'lookup' || e.step === 'exec') {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return 127;
    if (e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'ENOEXEC') return 126;
  }
  return 128;
}

/** `--add-host` records; `host-gateway` is the host's address on the container's first network
 *  (Docker: the default bridge's gateway). */
function extraHosts(core: EngineCore, o: RunOptions, gateway: string | undefined): HostRecord[] {
  const out: HostRecord[] = [];
  for (const h of o.extraHosts ?? []) {
    const r = parseAddHost(h);
    if (r.ip === 'host-gateway') {
      const gw = gateway ?? core.store.networks.find('bridge')?.ipam[0]?.Gateway;
      if (!gw) throw new BerthError({ kind: 'invalid', op: 'start container', message: `start container: --add-host ${h}: no host gateway address (the engine has no default bridge)` });
      r.ip = gw;
    }
    out.push(r);
  }
  return out;
}
