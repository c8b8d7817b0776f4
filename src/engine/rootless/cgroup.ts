/**
 * cgroups of a rootless engine (issue 17). On cgroup v2 with a subtree delegated to the user
 * (systemd's user@UID.service, cgroups/delegate.ts) containers get their cgroups as rootful ones
 * do, below `<delegated>/berth.slice/<id>`, with the limits of the controllers delegated; a limit
 * whose controller is not delegated is refused (spec.ts). Without delegation, or on v1: no cgroup.
 */
import { posix } from 'node:path';
import { enableDelegated, findDelegation, type DelegationResult } from '../../cgroups/index.js';
import type { Spec } from '../../oci/index.js';
import type { RunOptions } from '../spec/index.js';

/** The cgroup (below the delegated root) that holds the rootless containers' cgroups. */
export const ROOTLESS_CGROUP_SLICE = 'berth.slice';

let cached: DelegationResult | undefined;

/** This user's delegated cgroup (found once per process); root has none (it needs none). */
export function userDelegation(): DelegationResult {
  if ((process.geteuid?.() ?? 0) === 0) return { ok: false, reason: 'root is not rootless' };
  return (cached ??= findDelegation());
}

/** The rootless containers' cgroup parent where the user has a delegated cgroup, else undefined (no cgroups). */
export function rootlessCgroupParent(d: DelegationResult = userDelegation()): string | undefined {
  return d.ok ? posix.join(d.delegation.path, ROOTLESS_CGROUP_SLICE) : undefined;
}

/** The cgroup v2 controller each limit of `run` needs. */
const CONTROLLER: Partial<Record<keyof RunOptions, string>> = {
  memory: 'memory', memoryReservation: 'memory', memorySwap: 'memory',
  nanoCpus: 'cpu', cpuQuota: 'cpu', cpuPeriod: 'cpu', cpuShares: 'cpu',
  cpusetCpus: 'cpuset', cpusetMems: 'cpuset', pidsLimit: 'pids', blkioWeight: 'io',
};

/**
 * Can a rootless container have limit `key`: undefined when it can (its controller is delegated),
 * else why not (for the refusal's message).
 */
export function limitRefusal(key: keyof RunOptions, d: DelegationResult = userDelegation()): string | undefined {
  if (!d.ok) return `rootless: cgroup v1, or cgroup v2 without systemd delegation to this user, gives no cgroup to set limits in: ${d.reason}`;
  const c = CONTROLLER[key];
  if (!c || d.delegation.controllers.includes(c)) return undefined;
  return `rootless: the ${c} controller is not delegated to this user (${d.delegation.dir}/cgroup.controllers: ${d.delegation.controllers.join(' ') || 'none'}; systemd: Delegate=${[...d.delegation.controllers, c].join(' ')} for user@.service)`;
}

/**
 * Keep the container's cgroup (delegated: true) or not. Kept: its resources lose the device rules
 * (a user cannot attach the device filter; the user namespace allows no device nodes anyway, as
 * runc's rootless rule) and the delegated root gets its controllers enabled for the children.
 */
export function keepRootlessCgroup(spec: Spec, d: DelegationResult = userDelegation()): boolean {
  if (!d.ok) return false;
  const linux = (spec.linux ??= {});
  if (linux.resources) {
    delete linux.resources.devices;
    if (!Object.keys(linux.resources).length) delete linux.resources;
  }
  enableDelegated(d.delegation);
  return true;
}
