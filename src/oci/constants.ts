/**
 * Linux constants the runtime needs to spell out a plan: mount flags, clone flags, namespace names,
 * rlimits, personality domains, I/O priority classes, scheduler policies and flags, memory policies.
 * Values are from the kernel UAPI headers (identical on x86_64 and arm64).
 */
import type { LinuxNamespaceType } from './spec.js';

// mount(2) flags (linux/mount.h)
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_SYNCHRONOUS = 0x10;
export const MS_REMOUNT = 0x20;
export const MS_MANDLOCK = 0x40;
export const MS_DIRSYNC = 0x80;
export const MS_NOSYMFOLLOW = 0x100;
export const MS_NOATIME = 0x400;
export const MS_NODIRATIME = 0x800;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_SILENT = 0x8000;
export const MS_POSIXACL = 0x10000;
export const MS_UNBINDABLE = 0x20000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MS_SHARED = 0x100000;
export const MS_RELATIME = 0x200000;
export const MS_KERNMOUNT = 0x400000;
export const MS_I_VERSION = 0x800000;
export const MS_STRICTATIME = 0x1000000;
export const MS_LAZYTIME = 0x2000000;

// mount_setattr(2) attributes (linux/mount.h)
export const MOUNT_ATTR_RDONLY = 0x1;
export const MOUNT_ATTR_NOSUID = 0x2;
export const MOUNT_ATTR_NODEV = 0x4;
export const MOUNT_ATTR_NOEXEC = 0x8;
export const MOUNT_ATTR__ATIME = 0x70;
export const MOUNT_ATTR_RELATIME = 0x0;
export const MOUNT_ATTR_NOATIME = 0x10;
export const MOUNT_ATTR_STRICTATIME = 0x20;
export const MOUNT_ATTR_NODIRATIME = 0x80;
export const MOUNT_ATTR_IDMAP = 0x100000;
export const MOUNT_ATTR_NOSYMFOLLOW = 0x200000;

// clone(2) flags (linux/sched.h)
export const CLONE_NEWTIME = 0x80;
export const CLONE_VM = 0x100;
export const CLONE_FS = 0x200;
export const CLONE_FILES = 0x400;
export const CLONE_SIGHAND = 0x800;
export const CLONE_PIDFD = 0x1000;
export const CLONE_PTRACE = 0x2000;
export const CLONE_VFORK = 0x4000;
export const CLONE_PARENT = 0x8000;
export const CLONE_THREAD = 0x10000;
export const CLONE_NEWNS = 0x20000;
export const CLONE_SYSVSEM = 0x40000;
export const CLONE_SETTLS = 0x80000;
export const CLONE_PARENT_SETTID = 0x100000;
export const CLONE_CHILD_CLEARTID = 0x200000;
export const CLONE_DETACHED = 0x400000;
export const CLONE_UNTRACED = 0x800000;
export const CLONE_CHILD_SETTID = 0x1000000;
export const CLONE_NEWCGROUP = 0x2000000;
export const CLONE_NEWUTS = 0x4000000;
export const CLONE_NEWIPC = 0x8000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_IO = 0x80000000;

export interface NamespaceInfo {
  /** runtime-spec name */
  type: LinuxNamespaceType;
  /** CLONE_NEW* flag (also the setns nstype) */
  flag: number;
  /** file name under /proc/PID/ns/ */
  file: string;
}

/** In the order runc creates/joins them (user first, so later ones are owned by it). */
export const NAMESPACES: readonly NamespaceInfo[] = [
  { type: 'user', flag: CLONE_NEWUSER, file: 'user' },
  { type: 'ipc', flag: CLONE_NEWIPC, file: 'ipc' },
  { type: 'uts', flag: CLONE_NEWUTS, file: 'uts' },
  { type: 'network', flag: CLONE_NEWNET, file: 'net' },
  { type: 'pid', flag: CLONE_NEWPID, file: 'pid' },
  { type: 'mount', flag: CLONE_NEWNS, file: 'mnt' },
  { type: 'cgroup', flag: CLONE_NEWCGROUP, file: 'cgroup' },
  { type: 'time', flag: CLONE_NEWTIME, file: 'time' },
];

const nsByType = new Map(NAMESPACES.map((n) => [n.type as string, n]));
const nsByFile = new Map(NAMESPACES.map((n) => [n.file, n]));

export function isNamespaceType(type: string): type is LinuxNamespaceType {
  return nsByType.has(type);
}

/** Namespace info by runtime-spec type (`network`) or /proc ns file name (`net`); undefined if unknown. */
export function namespaceInfo(typeOrFile: string): NamespaceInfo | undefined {
  return nsByType.get(typeOrFile) ?? nsByFile.get(typeOrFile);
}

/** CLONE_NEW* flag of a runtime-spec namespace type; throws on an unknown type. */
export function namespaceFlag(type: string): number {
  const n = nsByType.get(type);
  if (!n) throw new Error(`unknown namespace type ${JSON.stringify(type)}`);
  return n.flag;
}

/** /proc/PID/ns/<file> name of a runtime-spec namespace type; throws on an unknown type. */
export function namespaceFile(type: string): string {
  const n = nsByType.get(type);
  if (!n) throw new Error(`unknown namespace type ${JSON.stringify(type)}`);
  return n.file;
}

/** All 16 resource limits of linux/resource.h, index = number. */
export const RLIMITS: readonly string[] = [
  'RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_DATA', 'RLIMIT_STACK', 'RLIMIT_CORE', 'RLIMIT_RSS', 'RLIMIT_NPROC',
  'RLIMIT_NOFILE', 'RLIMIT_MEMLOCK', 'RLIMIT_AS', 'RLIMIT_LOCKS', 'RLIMIT_SIGPENDING', 'RLIMIT_MSGQUEUE',
  'RLIMIT_NICE', 'RLIMIT_RTPRIO', 'RLIMIT_RTTIME',
];
const rlimitByName = new Map(RLIMITS.map((n, i) => [n, i]));

/** RLIMIT_* number of a name (`RLIMIT_NOFILE` -> 7); undefined if unknown. */
export function rlimitNumber(name: string): number | undefined {
  return rlimitByName.get(name);
}

export function rlimitName(n: number): string | undefined {
  return RLIMITS[n];
}

/** RLIM_INFINITY as the plan writes it (`0xffffffffffffffff`). */
export const RLIM_INFINITY = 0xffffffffffffffffn;

// personality(2) (linux/personality.h)
export const PERSONALITY_DOMAINS: Readonly<Record<string, number>> = { LINUX: 0x0000, LINUX32: 0x0008 };
export const PERSONALITY_FLAGS: Readonly<Record<string, number>> = {
  UNAME26: 0x0020000, ADDR_NO_RANDOMIZE: 0x0040000, FDPIC_FUNCPTRS: 0x0080000, MMAP_PAGE_ZERO: 0x0100000,
  ADDR_COMPAT_LAYOUT: 0x0200000, READ_IMPLIES_EXEC: 0x0400000, ADDR_LIMIT_32BIT: 0x0800000, SHORT_INODE: 0x1000000,
  WHOLE_SECONDS: 0x2000000, STICKY_TIMEOUTS: 0x4000000, ADDR_LIMIT_3GB: 0x8000000,
};

// ioprio_set(2) (linux/ioprio.h)
export const IOPRIO_CLASSES: Readonly<Record<string, number>> = {
  IOPRIO_CLASS_NONE: 0, IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3,
};
export const IOPRIO_CLASS_SHIFT = 13;
export const IOPRIO_WHO_PROCESS = 1;

// sched_setattr(2) (linux/sched.h, uapi/linux/sched/types.h)
export const SCHED_POLICIES: Readonly<Record<string, number>> = {
  SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6,
};
export const SCHED_FLAGS: Readonly<Record<string, number>> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01, SCHED_FLAG_RECLAIM: 0x02, SCHED_FLAG_DL_OVERRUN: 0x04, SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10, SCHED_FLAG_UTIL_CLAMP_MIN: 0x20, SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};

// set_mempolicy(2) (linux/mempolicy.h)
export const MPOL_MODES: Readonly<Record<string, number>> = {
  MPOL_DEFAULT: 0, MPOL_PREFERRED: 1, MPOL_BIND: 2, MPOL_INTERLEAVE: 3, MPOL_LOCAL: 4, MPOL_PREFERRED_MANY: 5,
  MPOL_WEIGHTED_INTERLEAVE: 6,
};
export const MPOL_FLAGS: Readonly<Record<string, number>> = {
  MPOL_F_STATIC_NODES: 1 << 15, MPOL_F_RELATIVE_NODES: 1 << 14, MPOL_F_NUMA_BALANCING: 1 << 13,
};
