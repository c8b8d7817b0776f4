/**
 * Test fixture: an OCI bundle (busybox rootfs + the probe at /probe + config.json).
 * The config is plain runtime-spec JSON: a runc-spec-like base deep-merged with an override.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isAbsolute, join, resolve } from 'node:path';
import { busyboxRootfs } from './rootfs.js';
import { buildProbe, PROBE_IN_CONTAINER } from './probe.js';

/** A runtime-spec JSON object (deliberately loose: tests build invalid configs too). */
export type SpecObject = { [key: string]: any };

/** Docker's / containerd's 14 default capabilities (moby daemon/pkg/oci/caps/defaults.go). */
export const DEFAULT_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** moby's default masked paths (without the per-CPU thermal_throttle entries). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/sched_debug', '/proc/scsi', '/proc/timer_list', '/proc/timer_stats',
  '/sys/devices/virtual/powercap', '/sys/firmware',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The default mounts (as `runc spec`, without the /sys/fs/cgroup mount). */
export function defaultMounts(): SpecObject[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ];
}

/**
 * A fresh base config: runs /probe as root with the 14 default caps (bounding, effective,
 * permitted), noNewPrivileges, RLIMIT_NOFILE 1024, hostname "probe", a writable rootfs
 * "rootfs", the default mounts, namespaces pid/network/ipc/uts/mount, moby's masked and
 * readonly paths, and a deny-all device cgroup rule (runc adds the standard devices).
 */
export function baseConfig(): SpecObject {
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [PROBE_IN_CONTAINER],
      env: [DEFAULT_PATH, 'HOME=/root'],
      cwd: '/',
      capabilities: { bounding: [...DEFAULT_CAPS], effective: [...DEFAULT_CAPS], permitted: [...DEFAULT_CAPS] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: 'probe',
    mounts: defaultMounts(),
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
}

function isPlainObject(v: unknown): v is SpecObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Returns a new object: `override` deep-merged into `base`. Objects merge key by key, arrays and
 * scalars replace, `null` deletes the key, `undefined` is ignored. Inputs are not modified.
 */
export function deepMerge(base: SpecObject, override: SpecObject): SpecObject {
  const out: SpecObject = structuredClone(base);
  for (const [k, v] of Object.entries(override)) {
    if (v === undefined) continue;
    if (v === null) delete out[k];
    else if (isPlainObject(v) && isPlainObject(out[k])) out[k] = deepMerge(out[k], v);
    else out[k] = structuredClone(v);
  }
  return out;
}

export interface BundleFixture {
  /** Copy the probe to /probe (default true). */
  probe?: boolean;
  /** Called with the rootfs path after it is populated, to add files. */
  prepareRootfs?: (rootfs: string) => void;
}

export interface Bundle {
  /** Absolute bundle directory (pass as `-b`). */
  dir: string;
  rootfs: string;
  configPath: string;
  config: SpecObject;
}

/**
 * Creates an OCI bundle in `dir` (created if missing): dir/rootfs (busybox + /probe) and
 * dir/config.json = deepMerge(baseConfig(), override). The caller removes `dir`.
 */
export function makeBundle(dir: string, override: SpecObject = {}, fixture: BundleFixture = {}): Bundle {
  const abs = resolve(dir);
  const config = deepMerge(baseConfig(), override);
  const rootPath = typeof config.root?.path === 'string' ? config.root.path : 'rootfs';
  const rootfs = isAbsolute(rootPath) ? rootPath : join(abs, rootPath);
  mkdirSync(rootfs, { recursive: true });
  busyboxRootfs(rootfs);
  if (fixture.probe !== false) {
    const dst = join(rootfs, PROBE_IN_CONTAINER);
    copyFileSync(buildProbe(), dst);
    chmodSync(dst, 0o755);
  }
  fixture.prepareRootfs?.(rootfs);
  const configPath = join(abs, 'config.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2) + '\n');
  return { dir: abs, rootfs, configPath, config };
}

/** Deep-merges `override` into an existing bundle's config.json; returns the new config. */
export function updateConfig(dir: string, override: SpecObject): SpecObject {
  const configPath = join(resolve(dir), 'config.json');
  if (!existsSync(configPath)) throw new Error(`updateConfig: ${configPath}: no such file`);
  const config = deepMerge(JSON.parse(readFileSync(configPath, 'utf8')) as SpecObject, override);
  writeFileSync(configPath, JSON.stringify(config, null, 2) + '\n');
  return config;
}

let counter = 0;

/** A container id / name unique across processes: `<prefix>-<pid>-<n><random>`, [a-z0-9-] only. */
export function uniqueId(prefix = 'berth'): string {
  counter++;
  return `${prefix}-${process.pid.toString(36)}-${counter.toString(36)}${randomBytes(3).toString('hex')}`;
}
