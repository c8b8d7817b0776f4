/**
 * A container of a rootless engine (issue 17): its own user namespace mapping the user's
 * subordinate ids (root inside = the first of them) plus the user's own id last (so the rootfs
 * and the container's files in the user's directories can be reached while mounting, before the
 * process becomes root of the namespace: runtime/compile.ts), a cgroup below the user's delegated
 * one where there is one (cgroup.ts), and resource limits refused where they cannot be applied
 * (cgroup v1, v2 without delegation, or a controller not delegated).
 */
import { BerthError } from '../../lib/index.js';
import type { Spec } from '../../oci/index.js';
import { rootlessIds, type IdMapping, type RootlessIds } from '../../sys/index.js';
import type { RunOptions } from '../spec/index.js';
import type { DelegationResult } from '../../cgroups/index.js';
import { keepRootlessCgroup, limitRefusal, userDelegation } from './cgroup.js';

let cached: RootlessIds | undefined;
/** This user's id maps (read once per process). */
export function userIds(): RootlessIds {
  return (cached ??= rootlessIds());
}

/** Docker rootless's answer to a limit without a delegated cgroup (dockerd sysinfo warnings, refused here). */
const LIMITS: Array<[keyof RunOptions, string, string]> = [
  ['memory', '-m/--memory', 'Your kernel does not support memory limit capabilities or the cgroup is not mounted'],
  ['memoryReservation', '--memory-reservation', 'Your kernel does not support memory limit capabilities or the cgroup is not mounted'],
  ['memorySwap', '--memory-swap', 'Your kernel does not support swap limit capabilities or the cgroup is not mounted'],
  ['nanoCpus', '--cpus', 'Your kernel does not support CPU CFS scheduler or the cgroup is not mounted'],
  ['cpuQuota', '--cpu-quota', 'Your kernel does not support CPU CFS scheduler or the cgroup is not mounted'],
  ['cpuPeriod', '--cpu-period', 'Your kernel does not support CPU CFS scheduler or the cgroup is not mounted'],
  ['cpuShares', '--cpu-shares', 'Your kernel does not support CPU shares or the cgroup is not mounted'],
  ['cpusetCpus', '--cpuset-cpus', 'Your kernel does not support cpuset or the cgroup is not mounted'],
  ['cpusetMems', '--cpuset-mems', 'Your kernel does not support cpuset or the cgroup is not mounted'],
  ['pidsLimit', '--pids-limit', 'Your kernel does not support pids limit capabilities or the cgroup is not mounted'],
  ['blkioWeight', '--blkio-weight', 'Your kernel does not support Block I/O weight or the cgroup is not mounted'],
];

/** Refuse the limits a rootless container cannot have (no delegated cgroup, or not its controller: cgroup.ts). */
export function checkRootlessResources(o: RunOptions, op: string, d: DelegationResult = userDelegation()): void {
  for (const [key, flag, why] of LIMITS) {
    const v = o[key];
    if (v === undefined || v === 0 || v === '' || (key === 'memorySwap' && v === -1) || (key === 'pidsLimit' && (v as number) <= 0)) continue;
    const refusal = limitRefusal(key, d);
    if (!refusal) continue;
    throw new BerthError({ kind: 'usage', op, message: `${op}: ${flag}: ${why} (${refusal})` });
  }
}

/**
 * `--userns keep-id` (podman): container id `id` is the user's own id; the subordinate ids keep
 * 0…id-1 and move one up above it (so the image's files, stored for the default map, keep their owners below id).
 */
export function keepIdMaps(maps: IdMapping[], id: number, hostId: number): IdMapping[] {
  const out: IdMapping[] = [];
  for (const m of maps) {
    if (m.containerID + m.size <= id) out.push({ ...m });
    else if (m.containerID >= id) out.push({ ...m, containerID: m.containerID + 1 });
    else {
      const below = id - m.containerID;
      out.push({ containerID: m.containerID, hostID: m.hostID, size: below });
      out.push({ containerID: id + 1, hostID: m.hostID + below, size: m.size - below });
    }
  }
  out.push({ containerID: id, hostID: hostId, size: 1 });
  return out.sort((a, b) => a.containerID - b.containerID);
}

/** A container's id maps: the subordinate ids, then the user's own id last (see the file comment). */
export function containerMaps(ids: RootlessIds): { uid: IdMapping[]; gid: IdMapping[] } {
  if (ids.mode !== 'subids') return { uid: ids.uidMappings, gid: ids.gidMappings };
  return {
    uid: [...ids.uidMappings, { containerID: ids.uidCount, hostID: ids.uid, size: 1 }],
    gid: [...ids.gidMappings, { containerID: ids.gidCount, hostID: ids.gid, size: 1 }],
  };
}

/**
 * The user namespace a rootless container joins rather than makes (rootless/netns.ts): the
 * rootless network namespace's (a user-defined network), or, with `--network container:X`, X's
 * (whose network namespace only root of its own user namespace may join).
 */
function joinedUserns(nss: Array<{ type: string; path?: string }>, given?: string): { path?: string } {
  if (given) return { path: given };
  const m = /^\/proc\/(\d+)\/ns\/net$/.exec(nss.find((n) => n.type === 'network')?.path ?? '');
  return m ? { path: `/proc/${m[1]}/ns/user` } : {};
}

/** Make a container spec rootless: a user namespace with the user's maps (or one joined); cgroup resources only where delegated. */
export function rootlessSpec(spec: Spec, ids: RootlessIds = userIds(), opts: { keepId?: boolean; user?: string; cgroup?: DelegationResult; joinUserns?: string; nested?: boolean } = {}): void {
  const linux = (spec.linux ??= {});
  const nss = (linux.namespaces ??= []);
  if (!nss.some((n) => n.type === 'user')) nss.push({ type: 'user', ...joinedUserns(nss, opts.joinUserns) });
  // a delegated cgroup (cgroup.ts) is kept with its limits; else none, and no cgroup namespace to root in it
  const cgroup = keepRootlessCgroup(spec, opts.cgroup);
  if (!cgroup) linux.namespaces = nss.filter((n) => n.type !== 'cgroup');
  if (opts.keepId && opts.nested && ids.mode === 'subids') {
    // made inside the rootless network namespace's user namespace (netns.ts rootlessJoin): its
    // maps name that namespace's ids, where k < count is the k-th subordinate id and count the user
    linux.uidMappings = keepIdMaps([{ containerID: 0, hostID: 0, size: ids.uidCount }], ids.uid, ids.uidCount);
    linux.gidMappings = keepIdMaps([{ containerID: 0, hostID: 0, size: ids.gidCount }], ids.gid, ids.gidCount);
    if (!opts.user && spec.process) spec.process.user = { ...spec.process.user, uid: ids.uid, gid: ids.gid };
  } else if (opts.keepId) {
    linux.uidMappings = keepIdMaps(ids.mode === 'subids' ? ids.uidMappings : [], ids.uid, ids.uid);
    linux.gidMappings = keepIdMaps(ids.mode === 'subids' ? ids.gidMappings : [], ids.gid, ids.gid);
    // the user's own ids inside unless --user says otherwise (podman)
    if (!opts.user && spec.process) spec.process.user = { ...spec.process.user, uid: ids.uid, gid: ids.gid };
  } else {
    const m = containerMaps(ids);
    linux.uidMappings = m.uid;
    linux.gidMappings = m.gid;
  }
  // Docker's default "0 2147483647" names gids the namespace does not map (EINVAL): its mapped ones
  const ping = linux.sysctl?.['net.ipv4.ping_group_range'];
  if (ping === '0 2147483647') linux.sysctl!['net.ipv4.ping_group_range'] = `0 ${linux.gidMappings.reduce((n, m) => n + m.size, 0) - 1}`;
  // tmpfs mounts are made as the user (runtime/compile.ts): owned by the container's root instead
  if (ids.mode === 'subids') {
    for (const m of spec.mounts ?? []) {
      if (m.type === 'tmpfs' && !(m.options ?? []).some((o) => /^(uid|gid)=/.test(o))) m.options = [...(m.options ?? []), 'uid=0', 'gid=0'];
    }
  }
  // the single-id fallback maps no tty group: devpts without gid= (as runc's rootless spec)
  if (ids.mode === 'single') {
    for (const m of spec.mounts ?? []) if (m.type === 'devpts' && m.options) m.options = m.options.filter((o) => !o.startsWith('gid='));
  }
  // --network host: sysfs can only be mounted by the owner of the network namespace; bind the
  // host's read-only instead (runc's rootless rule)
  if (!linux.namespaces.some((n) => n.type === 'network')) {
    for (const m of spec.mounts ?? []) {
      if (m.type === 'sysfs') { m.type = 'bind'; m.source = '/sys'; m.options = ['rbind', 'nosuid', 'noexec', 'nodev', 'ro']; }
    }
  }
  if (!cgroup) { delete linux.resources; delete linux.cgroupsPath; }
  // sysctls of the host's namespaces, devices through cgroups: nothing a user may set
  if (spec.process?.oomScoreAdj !== undefined && spec.process.oomScoreAdj < 0) delete spec.process.oomScoreAdj;
}
