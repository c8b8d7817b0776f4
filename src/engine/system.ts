/**
 * System use cases: `container prune`, image prune with Docker's filters, `system df` (what the
 * data root holds and what could be reclaimed), `info` (Docker's system.Info shape), the server
 * half of `version`, and the event stream of `events` (past events, then following new ones).
 */
import { isRootless } from './rootless/paths.js';
import { rootlessCgroupParent } from './rootless/cgroup.js';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { availableParallelism, hostname, machine, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { detectLayout } from '../cgroups/index.js';
import { BerthError, invalid } from '../lib/index.js';
import { pruneUnusedImages } from './images.js';
import { contentStore, imageStore, listImages, readDaemonConfig, snapshotter, type PruneOptions, type PruneReport } from '../image/index.js';
import { chainIDs, FUSE_OVERLAYFS, SIZE_LABEL } from '../snapshots/index.js';
import { ingestAllHealthEvents, reconcile, removeContainer, type EngineCore } from './containers/index.js';
import { nowNs, parseUntil, PRUNE_FILTER_KEYS, type Container, type EngineEvent, type Filters, type Volume } from './store/index.js';
import { treeSize } from './volumes.js';
import { cacheMountUsage } from './build-support.js';

function checkFilterKeys(op: string, filters: Filters, allowed: readonly string[]): void {
  for (const k of Object.keys(filters)) if (!allowed.includes(k)) throw invalid(op, `invalid filter '${k}'`);
}

export interface ContainerPruneReport {
  ContainersDeleted: string[];
  SpaceReclaimed: number;
  /** Containers that could not be removed (e.g. started meanwhile): `failed to prune container <id>: <cause>`. */
  Warnings: string[];
}

/** Bytes of a container's writable layer (the snapshot's own directory), as Docker's SizeRw. */
export async function containerSizeRw(core: EngineCore, c: Container): Promise<number> {
  if (!c.snapshotKey) return 0;
  const snaps = await snapshotter(core.images);
  if (!snaps.stat(c.snapshotKey)) return 0;
  return treeSize(snaps.layerDirs(c.snapshotKey)[0]!);
}

/** Every container, brought up to date with its monitor (an exited one is recorded as exited). */
export function currentContainers(core: EngineCore): Container[] {
  return core.store.containers.list({ all: true }).map((c) => reconcile(core, c));
}

/**
 * `container prune`: remove every container that is not running (filters until, label, label!),
 * with the engine's removeContainer (its volumes stay). A `container prune` event records the bytes.
 */
export async function pruneContainers(core: EngineCore, filters: Filters = {}): Promise<ContainerPruneReport> {
  checkFilterKeys('prune containers', filters, PRUNE_FILTER_KEYS);
  currentContainers(core);
  const report: ContainerPruneReport = { ContainersDeleted: [], SpaceReclaimed: 0, Warnings: [] };
  for (const c of core.store.containers.pruneCandidates(filters)) {
    try {
      const size = await containerSizeRw(core, c);
      await removeContainer(core, c.id);
      report.ContainersDeleted.push(c.id);
      report.SpaceReclaimed += size;
    } catch (e) {
      if (e instanceof BerthError && e.kind === 'notfound') continue; // removed by someone else meanwhile
      report.Warnings.push(`failed to prune container ${c.id}: ${(e as Error).message}`);
    }
  }
  core.store.events.append({ type: 'container', action: 'prune', actorId: '', attributes: { reclaimed: String(report.SpaceReclaimed) } });
  return report;
}

/** Docker's image prune filters (until, label, label!) as the image layer's options. */
export function imagePruneOptions(all: boolean, filters: Filters = {}): PruneOptions {
  const op = 'prune images';
  checkFilterKeys(op, filters, [...PRUNE_FILTER_KEYS, 'dangling']);
  const opts: PruneOptions = { all };
  for (const v of filters.dangling ?? []) {
    if (!['true', 'false', '1', '0'].includes(v)) throw invalid(op, `invalid filter 'dangling=${v}'`);
    if (v === 'false' || v === '0') opts.all = true;
  }
  for (const v of filters.until ?? []) {
    const t = new Date(parseUntil(op, v));
    if (!opts.until || t < opts.until) opts.until = t;
  }
  for (const key of ['label', 'label!'] as const) {
    for (const v of filters[key] ?? []) {
      const i = v.indexOf('=');
      (opts.labels ??= []).push({ key: i < 0 ? v : v.slice(0, i), ...(i < 0 ? {} : { value: v.slice(i + 1) }), negate: key === 'label!' });
    }
  }
  return opts;
}

/** `image prune` (dangling images, or every image no container uses with `all`), with its events. */
export async function pruneImages(core: EngineCore, opts: { all?: boolean; filters?: Filters } = {}): Promise<PruneReport> {
  return pruneUnusedImages({ images: core.images, events: core.store.events }, imagePruneOptions(!!opts.all, opts.filters));
}

export interface DiskUsageImage {
  Id: string;
  /** `repo:tag` names; the first one is shown by `system df -v`. */
  RepoTags: string[];
  Repository: string;
  Tag: string;
  Created: string;
  Size: number;
  SharedSize: number;
  Containers: number;
}

/**
 * A blob being written, or left half-written by a killed pull, commit or load (`content/ingest/`).
 * berth has no build cache; `system df` shows ingests in its Build Cache row (Docker shows them
 * nowhere): active ones are being written, the others are reclaimed by `image prune`/`system prune`.
 */
export interface DiskUsageIngest {
  ID: string;
  /** 'exec.cachemount': a `RUN --mount=type=cache` directory of `berth build` */
  CacheType: 'ingest' | 'exec.cachemount';
  Description?: string;
  Size: number;
  /** last written */
  LastUsedAt: string;
  InUse: boolean;
}

export interface DiskUsage {
  /** Bytes of all image layers, each counted once. */
  LayersSize: number;
  Images: DiskUsageImage[];
  Containers: { container: Container; SizeRw: number }[];
  Volumes: { volume: Volume; Size: number; RefCount: number }[];
  BuildCache: DiskUsageIngest[];
}

/** `system df`: images (shared layers counted once), containers' writable layers, volumes, ingests. */
export async function diskUsage(core: EngineCore): Promise<DiskUsage> {
  const containers = currentContainers(core);
  const usage = core.store.systemUsage();
  const snaps = await snapshotter(core.images);
  const rows = await listImages(core.images);
  const byId = new Map<string, typeof rows>();
  for (const r of rows) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
  const chainCount = new Map<string, number>();
  const layerSize = (chain: string) => Number(snaps.stat(chain)?.labels[SIZE_LABEL] ?? 0);
  for (const [, rs] of byId) for (const c of new Set(chainIDs(rs[0]!.record.diffIDs))) chainCount.set(c, (chainCount.get(c) ?? 0) + 1);
  let layersSize = 0;
  for (const c of chainCount.keys()) layersSize += layerSize(c);
  const images: DiskUsageImage[] = [];
  for (const [id, rs] of byId) {
    const named = rs.filter((r) => !r.dangling);
    const chains = [...new Set(chainIDs(rs[0]!.record.diffIDs))];
    const shared = chains.filter((c) => (chainCount.get(c) ?? 0) > 1).reduce((t, c) => t + layerSize(c), 0);
    images.push({
      Id: id, RepoTags: named.filter((r) => r.tag !== '<none>').map((r) => `${r.repository}:${r.tag}`),
      Repository: named[0]?.repository ?? '<none>', Tag: named[0]?.tag ?? '<none>',
      Created: rs[0]!.created, Size: rs[0]!.size, SharedSize: shared, Containers: usage.images.get(id) ?? 0,
    });
  }
  const ctrs: DiskUsage['Containers'] = [];
  for (const c of containers) ctrs.push({ container: c, SizeRw: await containerSizeRw(core, c) });
  return {
    LayersSize: layersSize,
    Images: images,
    Containers: ctrs,
    Volumes: usage.volumes.map((u) => ({ volume: u.volume, Size: treeSize(u.volume.mountpoint), RefCount: u.refCount })),
    BuildCache: [
      ...(await contentStore(core.images).ingests()).map((i) => ({
        ID: i.ref, CacheType: 'ingest' as const, Size: i.offset, LastUsedAt: i.updatedAt.toISOString(), InUse: i.activePid !== undefined,
      })),
      ...(await cacheMountUsage(core.options.root)).map((m) => ({
        ID: m.name, CacheType: 'exec.cachemount' as const, Description: `cached mount ${m.id}`, Size: m.size, LastUsedAt: m.lastUsed.toISOString(), InUse: m.inUse,
      })),
    ],
  };
}

// Docker's names of filesystems (graphdriver.FsNames), by statfs magic.
const FS_NAMES: Record<number, string> = {
  0xef53: 'extfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x01021994: 'tmpfs', 0x794c7630: 'overlayfs', 0x2fc12fc1: 'zfs',
  0xf2f52010: 'f2fs', 0x6969: 'nfs', 0x858458f6: 'ramfs', 0x52654973: 'reiserfs', 0x517b: 'smb', 0x73717368: 'squashfs',
  0x3153464a: 'jfs', 0x28cd3d45: 'cramfs', 0xf15f: 'ecryptfs', 0x65735546: 'fuse',
};

/** The filesystem holding `path` (its nearest existing ancestor), in Docker's words. */
export function backingFilesystem(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  try { return FS_NAMES[statfsSync(p).type] ?? '<unknown>'; } catch { return '<unknown>'; }
}

function osRelease(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const file of ['/etc/os-release', '/usr/lib/os-release']) {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch { continue; }
    for (const line of text.split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
    }
    break;
  }
  return out;
}

function cgroupVersion(): string {
  try { return String(detectLayout('/sys/fs/cgroup').version); } catch { return ''; }
}

function seccompAvailable(): boolean {
  try { return /^Seccomp:/m.test(readFileSync('/proc/self/status', 'utf8')); } catch { return false; }
}

/** Go's GOARCH for Node's arch names. */
export function goArch(arch = process.arch): string {
  return ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[arch] ?? arch;
}

/** `info`: Docker's system.Info fields that mean something for berth. */
export async function systemInfo(core: EngineCore, serverVersion: string): Promise<Record<string, unknown>> {
  const containers = currentContainers(core);
  const count = (s: string) => containers.filter((c) => c.state.status === s).length;
  const running = count('running');
  const paused = count('paused');
  const root = core.options.root;
  let driver = '';
  let driverStatus: [string, string][] = [];
  try {
    const snaps = await snapshotter(core.images);
    if (snaps.driver.name === 'overlay') {
      driver = 'overlay2';
      driverStatus = [['Backing Filesystem', backingFilesystem(root)], ['Supports d_type', 'true'], ['Using metacopy', 'false'],
        ['Native Overlay Diff', 'true'], ['userxattr', snaps.ids ? 'true' : 'false']];
    } else if (snaps.driver.name === 'fuse-overlayfs') {
      driver = 'fuse-overlayfs'; // as Docker rootless's fuse-overlayfs driver (podman: overlay with mount_program)
      driverStatus = [['Backing Filesystem', backingFilesystem(root)], ['Mount Program', FUSE_OVERLAYFS]];
    } else driver = 'vfs';
  } catch { /* a data root this process cannot open: no driver to report */ }
  let images = 0;
  try { images = (await imageStore(core.images).list()).length; } catch { /* none readable */ }
  const daemon = await readDaemonConfig(process.env.BERTH_CONFIG || join(root, 'daemon.json')).catch(() => ({} as Awaited<ReturnType<typeof readDaemonConfig>>));
  const rel = osRelease();
  const cgv = cgroupVersion();
  const security = seccompAvailable() ? ['name=seccomp,profile=builtin'] : [];
  if (cgv === '2') security.push('name=cgroupns');
  const rootless = isRootless();
  if (rootless) security.push('name=rootless'); // as Docker rootless
  const proxy = (k: string) => process.env[k] ?? process.env[k.toLowerCase()] ?? '';
  return {
    ID: '',
    Containers: containers.length,
    ContainersRunning: running,
    ContainersPaused: paused,
    ContainersStopped: containers.length - running - paused,
    Images: images,
    Driver: driver,
    DriverStatus: driverStatus,
    Plugins: { Volume: ['local'], Network: ['host', 'null'], Authorization: null, Log: ['json-file'] },
    Debug: false,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: rootless && !rootlessCgroupParent() ? 'none' : 'cgroupfs', // rootless without a delegated cgroup: none (Docker rootless on v1 says none)
    CgroupVersion: cgv,
    KernelVersion: release(),
    OperatingSystem: rel.PRETTY_NAME ?? 'Linux',
    OSVersion: rel.VERSION_ID ?? '',
    OSType: 'linux',
    Architecture: machine(),
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: {
      InsecureRegistryCIDRs: ['127.0.0.0/8'],
      IndexConfigs: Object.fromEntries((daemon.registries?.insecure ?? []).map((r) => [r, { Name: r, Mirrors: [], Secure: false, Official: false }])),
      Mirrors: daemon.registries?.mirrors ?? [],
    },
    NCPU: availableParallelism(),
    MemTotal: totalmem(),
    DockerRootDir: root,
    HttpProxy: proxy('HTTP_PROXY'),
    HttpsProxy: proxy('HTTPS_PROXY'),
    NoProxy: proxy('NO_PROXY'),
    Name: hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: serverVersion,
    Runtimes: { berth: { path: 'berth (built in)' } },
    DefaultRuntime: core.options.runtime,
    Swarm: { LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null, NodeID: '', NodeAddr: '' },
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: core.options.initPath ?? '',
    SecurityOptions: security,
    Warnings: [],
  };
}

/** The server half of `version` (Docker's types.Version). */
export function serverVersion(version: string): Record<string, unknown> {
  const details = {
    ApiVersion: API_VERSION, Arch: goArch(), BuildTime: '', Experimental: 'false', GitCommit: '', NodeVersion: process.version,
    KernelVersion: release(), MinAPIVersion: MIN_API_VERSION, Os: 'linux',
  };
  return {
    Platform: { Name: 'berth' },
    Components: [
      { Name: 'Engine', Version: version, Details: details },
      { Name: 'berth-runtime', Version: version, Details: { GitCommit: '' } },
    ],
    Version: version,
    APIVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: '',
    NodeVersion: process.version,
    Os: 'linux',
    Arch: goArch(),
    KernelVersion: release(),
    BuildTime: '',
  };
}

/** The Docker API level whose command line berth follows (berth itself serves no HTTP API). */
export const API_VERSION = '1.43';
export const MIN_API_VERSION = '1.12';

export interface WatchEventsOptions {
  /** Inclusive, nanoseconds since the epoch: past events from here. */
  since?: bigint;
  /** Inclusive: stop once the clock passes it. */
  until?: bigint;
  filters?: Filters;
  /** Keep waiting for new events (default true; ends at `until` or when `signal` aborts). */
  follow?: boolean;
  pollMs?: number;
  signal?: AbortSignal;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * `events`: with `since` or `until`, the stored events in that window first (Docker replays only
 * then); afterwards new events as they are appended, polled every `pollMs` (100), until `until`
 * passes or `signal` aborts.
 */
export async function* watchEvents(core: EngineCore, o: WatchEventsOptions = {}): AsyncGenerator<EngineEvent> {
  if (o.since !== undefined && o.until !== undefined && o.since > o.until) {
    const secs = (ns: bigint) => `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
    throw invalid('events', `\`since\` time (${secs(o.since)}) cannot be after \`until\` time (${secs(o.until)})`);
  }
  const events = core.store.events;
  events.query({ filters: o.filters, limit: 0, afterId: Number.MAX_SAFE_INTEGER }); // checks the filter keys now
  let last = o.since !== undefined || o.until !== undefined ? 0 : events.lastId();
  for (;;) {
    const final = o.follow === false || (o.until !== undefined && nowNs() > o.until) || !!o.signal?.aborted;
    ingestAllHealthEvents(core); // the monitors' healthcheck status changes
    const top = events.lastId();
    for (const e of events.query({ afterId: last, since: o.since, until: o.until, filters: o.filters })) {
      if (e.id > top) break;
      yield e;
    }
    last = Math.max(last, top);
    if (final) return;
    await sleep(o.pollMs ?? 100, o.signal);
  }
}
