/**
 * The cgroups layer's public types: resources (the OCI runtime-spec 1.3 `linux.resources`, from
 * src/oci), the stats object, and the manager interface every driver (v1, v2) implements.
 */

import type { LinuxResources } from '../oci/index.js';

export type { LinuxDeviceCgroup } from '../oci/index.js';

/** The runtime-spec `linux.resources` object (src/oci's type: one definition for the whole project). */
export type Resources = LinuxResources;

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface HugetlbStats {
  usage: number;
  maxUsage: number;
  failcnt: number;
}

/** Counters of one cgroup. Times are nanoseconds, sizes bytes; `null` limits mean "no limit". */
export interface CgroupStats {
  cpu: {
    usageTotal: number;
    usageUser: number;
    usageSystem: number;
    /** Per-CPU usage (v1 cpuacct.usage_percpu); empty on v2, which has no per-CPU counter. */
    perCpu: number[];
    periods: number;
    throttledPeriods: number;
    throttledTime: number;
  };
  memory: {
    usage: number;
    maxUsage: number;
    limit: number | null;
    cache: number;
    rss: number;
    /** Swap alone (not memory+swap). */
    swap: number;
    failcnt: number;
    oomKill: number;
    /** memory.stat as the kernel reports it. */
    stat: Record<string, number>;
  };
  pids: { current: number; limit: number | null };
  blkio: { ioServiceBytes: BlkioEntry[]; ioServiced: BlkioEntry[] };
  /** Keyed by page size as in file names and the spec ("2MB", "1GB"). */
  hugetlb: Record<string, HugetlbStats>;
  /** Pressure stall information (v2 `cpu.pressure`, `memory.pressure`, `io.pressure`, where the kernel has PSI). */
  psi?: { cpu?: PSIStats; memory?: PSIStats; io?: PSIStats };
}

/** One PSI file, in runc's shape (libcontainer/cgroups stats: avg10/60/300 in %, total in µs). */
export interface PSIData { avg10: number; avg60: number; avg300: number; total: number }
export interface PSIStats { some: PSIData; full: PSIData }

export interface CgroupManager {
  readonly version: 1 | 2;
  /** The cgroupsPath this manager was opened with. */
  readonly path: string;
  /** The cgroup filesystem root (default /sys/fs/cgroup). */
  readonly root: string;
  /** Create the cgroup in every hierarchy and apply `res`; on failure remove what was created and throw. */
  create(res?: Resources): void;
  /** The cgroup.procs files a process must be written into to join the cgroup (one per hierarchy). */
  procsFiles(): string[];
  /** The cgroup directories, one per hierarchy (v1: keyed by hierarchy name under root; v2: key ''). */
  dirs(): Record<string, string>;
  exists(): boolean;
  update(res: Resources): void;
  stats(): CgroupStats;
  /** Every process in the cgroup and its descendants. */
  pids(): number[];
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  isFrozen(): boolean;
  killAll(signal: NodeJS.Signals | number): Promise<void>;
  oomKillCount(): number;
  /** Remove the cgroup (and any sub-cgroups) in every hierarchy; idempotent. */
  destroy(): Promise<void>;
}

/** Attaches a device-filter program to a cgroup v2 directory; the default uses bpf(2). Tests may replace it. */
export type DeviceProgramAttacher = (dir: string, insns: Buffer, license: string) => void;

export interface OpenOptions {
  path: string;
  /** Default /sys/fs/cgroup. A directory that is not a cgroup mount is treated as a fake root (tests). */
  root?: string;
  /** v2 only: how to install the device filter (default: BPF_PROG_ATTACH on the cgroup directory). */
  attachDevices?: DeviceProgramAttacher;
}
