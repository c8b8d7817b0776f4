/**
 * cgroups: create, limit, inspect, freeze, kill and remove a container's cgroup, on cgroup v1,
 * v2 (unified) and hybrid hosts. `openCgroup` picks the driver from what is mounted under the root.
 */
import { posix } from 'node:path';
import { checkPath, detectLayout, ownCgroups, resolveDir } from './detect.js';
import type { CgroupManager, OpenOptions } from './types.js';
import { V1Cgroup } from './v1.js';
import { V2Cgroup } from './v2.js';

export * from './types.js';
export { sharesToWeight, blkioToIOWeight, swapToV2 } from './convert.js';
export { parsePressure } from './stats.js';
export { detectLayout, type Layout, type Hierarchy } from './detect.js';
export { findDelegation, enableDelegated, DELEGATION_INIT_LEAF, type Delegation, type DelegationInput, type DelegationResult } from './delegate.js';
export { DeviceState, fromSpec as deviceRuleFromSpec, ruleString as deviceRuleString, type DeviceRule } from './devices.js';
export { deviceProgram, encodeProgram, runProgram, type Insn } from './devfilter.js';
export { attachDeviceProgram, deviceProgramIds } from './bpfattach.js';

export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';

/** Open (without creating) the cgroup `opts.path` under `opts.root`. */
export function openCgroup(opts: OpenOptions): CgroupManager {
  checkPath(opts.path);
  const root = posix.resolve(opts.root ?? DEFAULT_CGROUP_ROOT);
  const layout = detectLayout(root);
  const own = opts.path.startsWith('/') || layout.fake ? undefined : ownCgroups();
  const dirOf = (i: number) => resolveDir(layout, layout.hierarchies[i]!, opts.path, own);
  if (layout.version === 2) return new V2Cgroup(layout, opts.path, dirOf(0), opts.attachDevices);
  return new V1Cgroup(layout, opts.path, dirOf);
}

let hostVersion: 1 | 2 | 0 | undefined;

/** The cgroup version of this machine (/sys/fs/cgroup): 2 on a unified host, 1 otherwise, 0 when none is mounted. */
export function hostCgroupVersion(): 1 | 2 | 0 {
  if (hostVersion === undefined) {
    try { hostVersion = detectLayout(DEFAULT_CGROUP_ROOT).version; } catch { hostVersion = 0; }
  }
  return hostVersion;
}
