/**
 * The spec's mounts as moby builds them (daemon/oci_linux.go withMounts, volumes_unix.go
 * setupMounts, container NetworkMounts/TmpfsMounts): Docker's default mounts minus those a user
 * mount replaces, then the user mounts, tmpfs mounts, /dev/shm and the network files
 * (/etc/resolv.conf, /etc/hostname, /etc/hosts) sorted by depth of their destination.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { posix } from 'node:path';
import { BerthError, wrapError } from '../../lib/index.js';
import type { Mount, Spec } from '../../oci/index.js';
import type { MountSpec, RunOptions, SpecContext } from './types.js';
import { validateMountSpec } from './values-mount.js';

export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

const invalid = (message: string) => new BerthError({ kind: 'invalid', op: 'create container', message });

// moby pkg/mount flags: option -> collision key (flag options sharing a key replace each other).
const FLAG_KEYS: Record<string, string> = {
  ro: 'rdonly', rw: 'rdonly', suid: 'nosuid', nosuid: 'nosuid', dev: 'nodev', nodev: 'nodev', exec: 'noexec', noexec: 'noexec',
  sync: 'sync', async: 'sync', dirsync: 'dirsync', remount: 'remount', mand: 'mand', nomand: 'mand', atime: 'noatime',
  noatime: 'noatime', diratime: 'nodiratime', nodiratime: 'nodiratime', bind: 'bind', rbind: 'rbind', relatime: 'relatime',
  norelatime: 'relatime', strictatime: 'strictatime', nostrictatime: 'strictatime',
  private: 'prop', rprivate: 'prop', shared: 'prop', rshared: 'prop', slave: 'prop', rslave: 'prop', unbindable: 'prop', runbindable: 'prop',
};
const TMPFS_DATA = new Set(['', 'size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/** moby MergeTmpfsOptions: later options win, one per flag pair / data key / propagation. */
export function mergeTmpfsOptions(options: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const o = options[i];
    if (o === 'defaults') continue;
    let key = FLAG_KEYS[o] ? `f:${FLAG_KEYS[o]}` : undefined;
    if (!key) {
      const eq = o.indexOf('=');
      if (eq < 0 || !TMPFS_DATA.has(o.slice(0, eq))) throw invalid(`invalid tmpfs option ${JSON.stringify(eq < 0 ? [o] : [o.slice(0, eq), o.slice(eq + 1)])}`);
      key = `d:${o.slice(0, eq)}`;
    }
    if (!seen.has(key)) { seen.add(key); out.unshift(o); }
  }
  return out;
}

/** moby ConvertTmpfsOptions: `--mount type=tmpfs` fields -> the data string (`ro,mode=1770,size=64m`). */
export function convertTmpfsOptions(m: MountSpec): string {
  const raw: string[] = [];
  if (m.readonly) raw.push('ro');
  if (m.tmpfsMode) raw.push(`mode=${m.tmpfsMode.toString(8)}`);
  if (m.tmpfsSize) {
    let size = m.tmpfsSize;
    let suffix = '';
    for (const [s, d] of [['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) {
      if (size % d === 0) { size /= d; suffix = s; break; }
    }
    raw.push(`size=${size}${suffix}`);
  }
  raw.push(...(m.tmpfsOptions ?? []));
  return raw.join(',');
}

/**
 * A missing `-v` bind source becomes a directory (0755), as the daemon's MountPoint.Setup does at
 * start; an existing one (a file too) is left as it is.
 */
function createBindSource(source: string): void {
  try {
    mkdirSync(source, { recursive: true, mode: 0o755 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOTDIR' || err.code === 'EEXIST') return;
    throw wrapError(err, `error while creating mount source path '${source}': mkdir`, err.path ?? source);
  }
}

/** Number of path components (moby sortMounts orders parents before children). */
const depth = (p: string) => (posix.normalize(p).match(/\//g) ?? []).length;

function tmpfsMount(dest: string, data: string): Mount {
  const options = mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', ...(data ? data.split(',') : [])]);
  return { destination: dest, type: 'tmpfs', source: 'tmpfs', options };
}

interface BindPlan { destination: string; source: string; writable: boolean; propagation: string; nonRecursive: boolean; readonlyNonRecursive: boolean }

function bindMount(b: BindPlan, rro: boolean): Mount {
  const options = [b.nonRecursive ? 'bind' : 'rbind'];
  if (!b.writable) options.push(rro && !b.readonlyNonRecursive && !b.nonRecursive ? 'rro' : 'ro');
  if (b.propagation) options.push(b.propagation);
  return { destination: b.destination, type: 'bind', source: b.source, options };
}

function nsTarget(mode: string): string {
  const t = mode.slice('container:'.length);
  return /^\d+$/.test(t) ? `/proc/${t}` : t;
}

/** The /dev/shm mount for the IPC mode (none: no /dev/shm at all). */
function shmMount(opts: RunOptions): Mount | BindPlan | undefined {
  const ipc = opts.ipc ?? '';
  if (ipc === 'none') return undefined;
  if (opts.shmSource) return { destination: '/dev/shm', source: opts.shmSource, writable: true, propagation: 'rprivate', nonRecursive: false, readonlyNonRecursive: false };
  if (ipc === 'host') return { destination: '/dev/shm', source: '/dev/shm', writable: true, propagation: 'rprivate', nonRecursive: false, readonlyNonRecursive: false };
  if (ipc.startsWith('container:')) {
    const t = nsTarget(ipc);
    // Another container's /dev/shm, through its root when given by pid.
    const source = t.startsWith('/proc/') && /^\/proc\/\d+$/.test(t) ? `${t}/root/dev/shm` : posix.join(t, 'dev/shm');
    return { destination: '/dev/shm', source, writable: true, propagation: 'rprivate', nonRecursive: false, readonlyNonRecursive: false };
  }
  const size = opts.shmSize || DEFAULT_SHM_SIZE;
  return { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${size}`] };
}

const NETWORK_FILES: readonly [string, keyof SpecContext][] = [
  ['/etc/resolv.conf', 'resolvFile'], ['/etc/hostname', 'hostnameFile'], ['/etc/hosts', 'hostsFile'],
];

/** Fill spec.mounts (which holds Docker's defaults, plus the init mount) and rootfsPropagation. */
export function applyMounts(spec: Spec, opts: RunOptions, ctx: SpecContext): void {
  if (opts.shmSize !== undefined && opts.shmSize < 0) throw invalid('SHM size can not be less than 0');
  const rro = ctx.kernel[0] > 5 || (ctx.kernel[0] === 5 && ctx.kernel[1] >= 12);
  const tmpfsDest = new Set(Object.keys(opts.tmpfs ?? {}).map((d) => posix.normalize(d)));

  // setupMounts: binds and volumes (a --tmpfs on the same destination wins), network file overrides.
  const planned: (Mount | BindPlan)[] = [];
  const seen = new Set<string>();
  const netSource = new Map<string, { source: string; writable: boolean }>();
  for (const m of opts.mounts ?? []) {
    validateMountSpec(m);
    const dest = posix.normalize(m.target);
    if (seen.has(dest)) throw invalid(`Duplicate mount point: ${dest}`);
    seen.add(dest);
    if (m.type === 'tmpfs') {
      planned.push(tmpfsMount(dest, convertTmpfsOptions(m)));
      continue;
    }
    if (tmpfsDest.has(dest)) continue;
    if (!m.source || !m.source.startsWith('/')) throw invalid(`mount ${dest}: the source must be resolved to a host path (got ${JSON.stringify(m.source ?? '')})`);
    if (m.type === 'bind' && m.createMountpoint) createBindSource(m.source);
    if (NETWORK_FILES.some(([d]) => d === dest)) { netSource.set(dest, { source: m.source, writable: !m.readonly }); continue; }
    planned.push({
      destination: dest, source: m.source, writable: !m.readonly,
      propagation: m.type === 'bind' ? (m.propagation ?? 'rprivate') : (m.propagation ?? ''),
      nonRecursive: !!m.nonRecursive, readonlyNonRecursive: !!m.readonlyNonRecursive,
    });
  }
  for (const [dest, file] of NETWORK_FILES) {
    const user = netSource.get(dest);
    const source = user?.source ?? (ctx[file] as string | undefined);
    if (!source || !existsSync(source)) continue;
    planned.push({ destination: dest, source, writable: user ? user.writable : !opts.readOnly, propagation: 'rprivate', nonRecursive: false, readonlyNonRecursive: false });
  }
  if (!seen.has('/dev/shm') && !tmpfsDest.has('/dev/shm')) {
    const shm = shmMount(opts);
    if (shm) planned.push(shm);
  }
  for (const [dest, data] of Object.entries(opts.tmpfs ?? {})) {
    if (!dest.startsWith('/')) throw invalid(`invalid mount config for type "tmpfs": invalid mount path: '${dest}' mount path must be absolute`);
    planned.push(tmpfsMount(posix.normalize(dest), data));
  }
  planned.sort((a, b) => depth(a.destination) - depth(b.destination));

  // Defaults a user mount replaces are dropped; /dev/shm always comes from the IPC mode above.
  const userDests = new Set(planned.map((m) => m.destination));
  const mountDev = userDests.has('/dev');
  const mounts = (spec.mounts ?? []).filter((m) => !userDests.has(m.destination) && m.destination !== '/dev/shm' && !(mountDev && m.destination.startsWith('/dev/')));

  const linux = (spec.linux ??= {});
  for (const p of planned) {
    if (!('writable' in p)) { mounts.push(p); continue; }
    const prop = p.propagation;
    if (prop === 'shared' || prop === 'rshared') linux.rootfsPropagation = 'shared';
    else if ((prop === 'slave' || prop === 'rslave') && linux.rootfsPropagation !== 'shared') linux.rootfsPropagation = 'slave';
    mounts.push(bindMount(p, rro));
  }

  if (opts.readOnly) {
    for (const m of mounts) {
      if (['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev'].includes(m.destination) || userDests.has(m.destination)) continue;
      if (!m.options?.includes('ro')) m.options = [...(m.options ?? []), 'ro'];
    }
  }
  const clearRo = (m: Mount) => { if (m.options) m.options = m.options.filter((o) => o !== 'ro'); };
  if (opts.privileged) {
    for (const m of mounts) if (m.destination === '/sys' || m.type === 'cgroup') clearRo(m);
  }
  spec.mounts = mounts;
}
