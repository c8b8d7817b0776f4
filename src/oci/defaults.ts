/**
 * Default specs: what `runc spec [--rootless]` writes (runc libcontainer/specconv/example.go,
 * Example + ToRootless), and Docker's defaults for the engine (moby daemon/pkg/oci/defaults.go
 * DefaultLinuxSpec, as summarised in /work/shared/oci/README.md section 3).
 */
import { DOCKER_DEFAULT_CAPS, RUNC_SPEC_CAPS } from './capabilities.js';
import { OCI_VERSION, type LinuxDeviceCgroup, type LinuxNamespace, type Mount, type Spec } from './spec.js';

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The read-only paths runc, containerd and Docker all use. */
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const RUNC_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi', '/sys/devices/virtual/tpm',
];

export interface ExampleSpecOptions {
  /** As `runc spec --rootless`. */
  rootless?: boolean;
  /** Host uid/gid mapped to root in rootless mode (default: the effective ids of this process). */
  uid?: number;
  gid?: number;
  /** Add a cgroup namespace, as runc does on a cgroup v2 (unified) host. */
  cgroupns?: boolean;
}

function runcMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ];
}

/** The config.json `runc spec` writes (with this runtime's spec version), optionally made rootless. */
export function exampleSpec(opts: ExampleSpecOptions = {}): Spec {
  const caps = () => [...RUNC_SPEC_CAPS];
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: [DEFAULT_PATH_ENV, 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: caps(), effective: caps(), permitted: caps() },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: runcMounts(),
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [...RUNC_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  if (opts.cgroupns) spec.linux!.namespaces!.push({ type: 'cgroup' });
  if (opts.rootless) toRootless(spec, opts.uid ?? process.geteuid?.() ?? 0, opts.gid ?? process.getegid?.() ?? 0);
  return spec;
}

/** runc's ToRootless: user namespace mapping the given ids to root, no network namespace, /sys as a
 *  read-only rbind, no uid=/gid= mount options, no cgroup resources. */
export function toRootless(spec: Spec, uid: number, gid: number): void {
  const linux = (spec.linux ??= {});
  linux.namespaces = [...(linux.namespaces ?? []).filter((n) => n.type !== 'network' && n.type !== 'user'), { type: 'user' }];
  linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
  linux.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }];
  spec.mounts = (spec.mounts ?? []).map((m): Mount => {
    if (m.destination.replace(/\/+$/, '') === '/sys') {
      return { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
    }
    const options = m.options?.filter((o) => !o.startsWith('gid=') && !o.startsWith('uid='));
    const out: Mount = { ...m };
    if (options?.length) out.options = options; else delete out.options;
    return out;
  });
  delete linux.resources;
}

// ---- Docker (moby docker-v29.7.2) defaults, for the engine ----

export const DOCKER_DEFAULT_MOUNTS: readonly Mount[] = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777'] },
];

/** Static part of moby's defaultLinuxMaskedPaths; add dockerThermalThrottlePaths() entries that exist. */
export const DOCKER_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/sched_debug', '/proc/scsi', '/proc/timer_list', '/proc/timer_stats', '/sys/devices/virtual/powercap',
  '/sys/firmware',
];

/** Candidates moby masks for every possible CPU (only those that exist on the host are masked). */
export function dockerThermalThrottlePaths(possibleCpus: readonly number[]): string[] {
  return possibleCpus.map((n) => `/sys/devices/system/cpu/cpu${n}/thermal_throttle`);
}

export const DOCKER_DEFAULT_NAMESPACES: readonly LinuxNamespace[] = [
  { type: 'mount' }, { type: 'network' }, { type: 'uts' }, { type: 'pid' }, { type: 'ipc' },
];

/** Device cgroup rules: deny all, allow zero, null, urandom, random, tty, console; deny fuse. */
export const DOCKER_DEFAULT_DEVICE_RULES: readonly LinuxDeviceCgroup[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
];

/** moby's DefaultLinuxSpec (a fresh deep copy): the engine fills root, process and the rest.
 *  `maskedPaths` defaults to DOCKER_MASKED_PATHS (pass the thermal_throttle paths that exist too). */
export function dockerDefaultSpec(maskedPaths: readonly string[] = DOCKER_MASKED_PATHS): Spec {
  const caps = () => [...DOCKER_DEFAULT_CAPS];
  return structuredClone({
    ociVersion: OCI_VERSION,
    process: { cwd: '/', capabilities: { bounding: caps(), permitted: caps(), effective: caps() } },
    root: { path: '' },
    mounts: DOCKER_DEFAULT_MOUNTS as Mount[],
    linux: {
      maskedPaths: [...maskedPaths],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
      namespaces: DOCKER_DEFAULT_NAMESPACES as LinuxNamespace[],
      devices: [],
      resources: { devices: DOCKER_DEFAULT_DEVICE_RULES as LinuxDeviceCgroup[] },
    },
  });
}
