/** Compile the root filesystem part of a spec (rootfs, mounts, /dev, masks) into helper steps. */
import { statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { invalid } from '../lib/index.js';
import { parseMountOptions, RECURSIVE_ATTR_OPTIONS, type Spec, type Mount } from '../oci/index.js';
import { mountPointOf, step, type Step } from '../sys/index.js';
import { MS, PROPAGATION_MASK } from './flags.js';

export interface CgroupMountInfo {
  version: 1 | 2;
  /** v1: one entry per hierarchy: its name under /sys/fs/cgroup and the container's host dir. v2: one entry. */
  dirs: Array<{ name: string; hostDir: string }>;
  cgroupns: boolean;
}

export interface MountContext {
  spec: Spec;
  bundle: string;
  rootfs: string;
  userns: boolean;
  cgroup?: CgroupMountInfo;
  /** Filesystems to mount on the rootfs directory first, in the container's mount namespace only
   *  (the engine's overlay snapshot: it goes away with the namespace, nothing is left on the host). */
  rootfsMounts?: RootfsMount[];
}

/** A mount description as snapshotters give them: type, source, option list. */
export interface RootfsMount { type: string; source: string; options: string[] }

const DEFAULT_DEVICES = [
  { path: '/dev/null', major: 1, minor: 3 }, { path: '/dev/zero', major: 1, minor: 5 },
  { path: '/dev/full', major: 1, minor: 7 }, { path: '/dev/random', major: 1, minor: 8 },
  { path: '/dev/urandom', major: 1, minor: 9 }, { path: '/dev/tty', major: 5, minor: 0 },
];

const PROPAGATIONS: Record<string, number> = {
  shared: MS.SHARED, rshared: MS.SHARED | MS.REC, slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC,
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/** Steps before pivot_root: propagation, the rootfs bind, every mount in order, devices. */
export function mountSteps(c: MountContext): Step[] {
  const steps: Step[] = [];
  const prop = c.spec.linux?.rootfsPropagation;
  let rootProp = MS.SLAVE | MS.REC;
  if (prop) {
    const p = PROPAGATIONS[prop];
    if (p === undefined) throw invalid('create', `linux.rootfsPropagation: unknown value ${JSON.stringify(prop)}`);
    // As runc, the namespace gets the requested propagation first (so a shared mount stays a peer
    // of the host's for rshared), except [r]unbindable: an unbindable source cannot be bind-mounted,
    // so the mounts are made rslave here and the root unbindable at the end (finishRootSteps).
    if (!(p & MS.UNBINDABLE)) rootProp = p;
  }
  const shown = rootProp === (MS.SLAVE | MS.REC) ? 'rslave' : prop;
  steps.push(step('mount', ['', '/', '', rootProp, '', ''], `make / ${shown} in the container's mount namespace`, '/'));
  // pivot_root refuses a new root whose parent mount is shared, and an unbindable parent cannot be
  // bound: make the mount holding the rootfs private (only in the container's mount namespace).
  const parent = mountPointOf(c.rootfs);
  steps.push(step('mount', ['', parent, '', MS.PRIVATE, '', ''], `make the mount ${parent} holding the rootfs private`, parent));
  for (const m of c.rootfsMounts ?? []) {
    if (m.type === 'bind') {
      steps.push(step('mount', [m.source, c.rootfs, '', MS.BIND | MS.REC, '', ''], `bind ${m.source} on the rootfs ${c.rootfs}`, c.rootfs));
      if (m.options.includes('ro')) steps.push(step('mount', ['', c.rootfs, '', MS.BIND | MS.REMOUNT | MS.RDONLY, '', ''], `make the rootfs ${c.rootfs} read-only`, c.rootfs));
    } else {
      const data = m.options.filter((o) => o !== 'rw' && o !== 'ro').join(',');
      steps.push(step('mount', [m.source, c.rootfs, m.type, m.options.includes('ro') ? MS.RDONLY : 0, data, ''], `mount the ${m.type} snapshot on the rootfs ${c.rootfs}`, c.rootfs));
    }
  }
  steps.push(step('mount', [c.rootfs, c.rootfs, '', MS.BIND | MS.REC, '', ''], `bind the rootfs ${c.rootfs} onto itself`, c.rootfs));
  steps.push(step('rootfs', [c.rootfs], `open the rootfs ${c.rootfs}`, c.rootfs));

  const mounts = c.spec.mounts ?? [];
  let devTmpfs = false;
  let devpts = false;
  for (const m of mounts) {
    const dest = normDest(m.destination);
    if (dest === '/dev' && (m.type === 'tmpfs' || m.type === 'devtmpfs')) devTmpfs = true;
    if (dest === '/dev/pts') devpts = true;
    steps.push(...oneMount(c, m, dest));
  }
  if (devTmpfs) steps.push(...defaultDevSteps(c, devpts));
  steps.push(...deviceSteps(c));
  return steps;
}

function normDest(d: string): string {
  const p = isAbsolute(d) ? d : '/' + d;
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

const MOUNT_ATTR_RDONLY = 0x1;

function oneMount(c: MountContext, m: Mount, dest: string): Step[] {
  const o = parseMountOptions(m.options ?? []);
  const type = m.type ?? '';
  const isBind = type === 'bind' || (o.flags & MS.BIND) !== 0;
  const steps: Step[] = [];
  if (type === 'cgroup' || type === 'cgroup2') return cgroupMount(c, dest, o.flags);
  let baseFlags = o.flags & ~PROPAGATION_MASK;
  // `rro` makes the mount itself read-only at once; mount_setattr (below) does the whole tree.
  if (o.recAttrSet & MOUNT_ATTR_RDONLY) baseFlags |= MS.RDONLY;
  if (isBind) {
    const src = isAbsolute(m.source ?? '') ? m.source! : resolve(c.bundle, m.source ?? '');
    let isDir: boolean;
    try { isDir = statSync(src).isDirectory(); } catch (e) {
      throw invalid('create', `mount ${src} on ${dest}: source: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`, src);
    }
    const bindFlags = MS.BIND | (baseFlags & MS.REC);
    steps.push(step('mount', [src, dest, '', bindFlags, '', isDir ? 'mkdir' : 'mkfile'], `bind mount ${src} on ${dest}`, dest));
    const extra = baseFlags & ~(MS.BIND | MS.REC | MS.REMOUNT);
    if (extra) steps.push(step('mount', ['', dest, '', baseFlags | MS.BIND | MS.REMOUNT, '', 'keep_locked'], `remount ${dest} with ${(m.options ?? []).join(',')}`, dest));
  } else {
    const src = m.source ?? type;
    steps.push(step('mount', [src, dest, type, baseFlags, o.data, 'mkdir'], `mount ${type || src} on ${dest}`, dest));
  }
  // The recursive options (rro, rnosuid, …; runc applies them the same way, after the mount).
  if (o.recAttrSet || o.recAttrClr) {
    const rec = (m.options ?? []).filter((x) => Object.hasOwn(RECURSIVE_ATTR_OPTIONS, x)).join(',');
    steps.push(step('mount_setattr', [dest, o.recAttrSet >>> 0, o.recAttrClr >>> 0], `apply ${rec} to ${dest} and the mounts below it`, dest));
  }
  for (const p of o.propagation) steps.push(step('mount', ['', dest, '', p, '', ''], `set propagation of ${dest}`, dest));
  return steps;
}

function cgroupMount(c: MountContext, dest: string, flags: number): Step[] {
  const cg = c.cgroup;
  const steps: Step[] = [];
  const ro = (flags & MS.RDONLY) !== 0;
  const common = flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC);
  if (!cg || cg.dirs.length === 0) return steps;
  if (cg.version === 2) {
    if (cg.cgroupns) {
      steps.push(step('mount', ['cgroup2', dest, 'cgroup2', common | (ro ? MS.RDONLY : 0), '', 'mkdir'], `mount cgroup2 on ${dest}`, dest));
    } else {
      steps.push(step('mount', [cg.dirs[0]!.hostDir, dest, '', MS.BIND | MS.REC, '', 'mkdir'], `bind the container's cgroup onto ${dest}`, dest));
      if (ro) steps.push(step('mount', ['', dest, '', MS.BIND | MS.REMOUNT | MS.RDONLY | common, '', 'keep_locked'], `remount ${dest} read-only`, dest));
    }
    return steps;
  }
  steps.push(step('mount', ['tmpfs', dest, 'tmpfs', common, 'mode=755', 'mkdir'], `mount tmpfs for cgroups on ${dest}`, dest));
  for (const d of cg.dirs) {
    const sub = `${dest}/${d.name}`;
    steps.push(step('mount', [d.hostDir, sub, '', MS.BIND | MS.REC, '', 'mkdir'], `bind cgroup ${d.name} onto ${sub}`, sub));
    if (ro) steps.push(step('mount', ['', sub, '', MS.BIND | MS.REMOUNT | MS.RDONLY | common, '', 'keep_locked'], `remount ${sub} read-only`, sub));
    // Combined hierarchies (cpu,cpuacct) get a link for each controller, as on the host.
    if (d.name.includes(',')) for (const part of d.name.split(',')) steps.push(step('symlink', [d.name, `${dest}/${part}`], `link ${dest}/${part}`, `${dest}/${part}`));
  }
  if (ro) steps.push(step('mount', ['tmpfs', dest, '', MS.REMOUNT | MS.RDONLY | common, 'mode=755', ''], `remount ${dest} read-only`, dest));
  return steps;
}

function defaultDevSteps(c: MountContext, devpts: boolean): Step[] {
  const steps: Step[] = [];
  const own = new Set((c.spec.linux?.devices ?? []).map((d) => d.path));
  for (const d of DEFAULT_DEVICES) {
    if (own.has(d.path)) continue;
    if (c.userns) steps.push(step('mount', [d.path, d.path, '', MS.BIND, '', 'mkfile'], `bind device ${d.path}`, d.path));
    else steps.push(step('mknod', [d.path, 'c', d.major, d.minor, 0o666, 0, 0], `create device ${d.path}`, d.path));
  }
  const links: Array<[string, string]> = [['/proc/self/fd', '/dev/fd'], ['/proc/self/fd/0', '/dev/stdin'], ['/proc/self/fd/1', '/dev/stdout'], ['/proc/self/fd/2', '/dev/stderr']];
  for (const [target, path] of links) steps.push(step('symlink', [target, path], `link ${path} to ${target}`, path));
  if (devpts) steps.push(step('symlink', ['pts/ptmx', '/dev/ptmx'], 'link /dev/ptmx to pts/ptmx', '/dev/ptmx'));
  return steps;
}

function deviceSteps(c: MountContext): Step[] {
  return (c.spec.linux?.devices ?? []).map((d) => {
    const path = normDest(d.path);
    if (c.userns) return step('mount', [d.path, path, '', MS.BIND, '', 'mkfile'], `bind device ${path}`, path);
    return step('mknod', [path, d.type, d.major ?? 0, d.minor ?? 0, (d.fileMode ?? 0o666) & 0o7777, d.uid ?? 0, d.gid ?? 0], `create device ${path}`, path);
  });
}

/** Steps after pivot_root: masked and read-only paths, a read-only root. */
export function finishRootSteps(spec: Spec): Step[] {
  const steps: Step[] = [];
  for (const p of spec.linux?.readonlyPaths ?? []) steps.push(step('readonly', [p], `make ${p} read-only`, p));
  for (const p of spec.linux?.maskedPaths ?? []) steps.push(step('mask', [p], `mask ${p}`, p));
  // The requested propagation applies to the new root itself (after pivot_root, as runc does), and
  // after the read-only and masked paths: those are bind mounts, which an [r]unbindable root refuses.
  const prop = spec.linux?.rootfsPropagation;
  if (prop) steps.push(step('mount', ['', '/', '', PROPAGATIONS[prop]!, '', ''], `make the root ${prop}`, '/'));
  if (spec.root?.readonly) steps.push(step('mount', ['', '/', '', MS.BIND | MS.REMOUNT | MS.RDONLY | MS.REC, '', 'keep_locked'], 'remount the root read-only', '/'));
  return steps;
}

export function rootfsPath(spec: Spec, bundle: string): string {
  const p = spec.root?.path;
  if (!p) throw invalid('create', 'config.json: root.path is required');
  return isAbsolute(p) ? p : join(bundle, p);
}
