/** Inputs of the spec builder: Docker's `run`/`create` options, typed, and the engine's context. */
import type { EndpointRequest } from '../../network/index.js';

/** A `--mount`, `-v` or `--tmpfs` entry. For `buildSpec`, the caller has resolved bind and volume
 *  sources to host paths (a volume's `_data` directory): both become bind mounts. */
export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Host path (bind), volume name or host path (volume, none = anonymous); unused for tmpfs. */
  source?: string;
  target: string;
  readonly: boolean;
  /** bind: rprivate (default), private, rshared, shared, rslave, slave. */
  propagation?: string;
  /** bind: `bind-nonrecursive` / `bind-recursive=disabled`. */
  nonRecursive?: boolean;
  /** bind: `bind-recursive=writable` (readonly applies to the top mount only). */
  readonlyNonRecursive?: boolean;
  /** bind: create a missing source directory at start (`-v`; Docker's BindOptions.CreateMountpoint).
   *  A `--mount` bind source must exist when the container is created. */
  createMountpoint?: boolean;
  /** `-v ...:z` / `:Z` (accepted; no SELinux relabel here). */
  selinuxLabel?: 'z' | 'Z';
  /** volume: `nocopy` / `volume-nocopy`. */
  noCopy?: boolean;
  /** volume: `--mount volume-label=`, `volume-driver=`, `volume-opt=`, `volume-subpath=`. */
  volumeLabels?: Record<string, string>;
  volumeDriver?: string;
  volumeOptions?: Record<string, string>;
  volumeSubpath?: string;
  /** tmpfs: bytes (`tmpfs-size`), mode (`tmpfs-mode`, octal in the flag). */
  tmpfsSize?: number;
  tmpfsMode?: number;
  /** tmpfs: `tmpfs-options` flags such as `exec`, `noexec`. */
  tmpfsOptions?: string[];
  /** `--tmpfs dest:opts` keeps its option string as given (the kernel parses `size=64m`). */
  tmpfsData?: string;
}

/** `--device /dev/x[:/dev/y][:rwm]`. */
export interface DeviceMapping {
  pathOnHost: string;
  pathInContainer: string;
  cgroupPermissions: string;
}

/** `--ulimit nofile=1024:2048` (-1 = unlimited). */
export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

/** `--device-read-bps /dev/sda:1mb` and the like: a host device path and a rate. */
export interface ThrottleDevice {
  path: string;
  rate: number;
}

/** `--blkio-weight-device /dev/sda:200`. */
export interface WeightDevice {
  path: string;
  weight: number;
}

/** Docker's run/create options (the typed form of the flags, values already parsed). */
export interface RunOptions {
  /** `--entrypoint`: a string is one word (the flag); `''` or `[]` clears the image's. */
  entrypoint?: string | string[];
  /** The words after the image name. */
  cmd?: string[];
  /** `-e` values, after `--env-file` contents, in command-line order (`K=V`, or `K` to unset). */
  env?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  domainname?: string;
  labels?: Record<string, string>;
  init?: boolean;
  stopSignal?: string;
  stopTimeout?: number;
  /** `--health-*` / `--no-healthcheck` (Docker's HealthConfig, durations in ns; Test ["NONE"] disables). */
  healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number };
  /** `--health-on-failure` (podman): none, kill, restart, stop. */
  healthOnFailure?: string;
  tty?: boolean;
  openStdin?: boolean;
  /** `[height, width]` of the terminal, when known. */
  consoleSize?: [number, number];
  readOnly?: boolean;
  /** `--tmpfs dest[:opts]`: destination -> option string. */
  tmpfs?: Record<string, string>;
  mounts?: MountSpec[];
  /** Bytes; default 64 MiB. */
  shmSize?: number;
  /** none | host | bridge | a network's name or id | container:<pid|ns path>. */
  network?: string;
  /** The networks to join (the first is `network`), with what was asked on each. */
  networks?: NetworkJoin[];
  /** `-p` (HostConfig.PortBindings). */
  publish?: Record<string, { HostIp: string; HostPort: string }[]>;
  /** `-P`: publish every exposed port on a free host port. */
  publishAll?: boolean;
  /** `--expose` (keys like `80/tcp`). */
  expose?: string[];
  /** `--add-host` (`name:ip`, ip may be `host-gateway`). */
  extraHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** `--link name[:alias]` (default bridge: /etc/hosts records). */
  links?: string[];
  /** '' (private) | host | container:<pid|ns path>. */
  pid?: string;
  /** '' | private | shareable | none | host | container:<pid|ns path>. */
  ipc?: string;
  /** A host directory bound on /dev/shm (set at start: a shareable container's tmpfs, or the
   *  one of the shareable container whose IPC namespace is joined). */
  shmSource?: string;
  /** '' | host. */
  uts?: string;
  /** '' | host | private. */
  cgroupns?: string;
  /** '' | host (no remapping in this engine). */
  userns?: string;
  cgroupParent?: string;
  memory?: number;
  /** -1 = unlimited; 0/unset with a memory limit = twice the memory limit. */
  memorySwap?: number;
  memoryReservation?: number;
  /** 0..100; -1 or unset = the host's. */
  memorySwappiness?: number;
  oomKillDisable?: boolean;
  oomScoreAdj?: number;
  /** `--cpus`, as nano-CPUs (see parseCpus). */
  nanoCpus?: number;
  cpuShares?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuRtPeriod?: number;
  cpuRtRuntime?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  /** 0 or negative = unlimited. */
  pidsLimit?: number;
  blkioWeight?: number;
  blkioWeightDevice?: WeightDevice[];
  deviceReadBps?: ThrottleDevice[];
  deviceWriteBps?: ThrottleDevice[];
  deviceReadIops?: ThrottleDevice[];
  deviceWriteIops?: ThrottleDevice[];
  ulimits?: Ulimit[];
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  /** `seccomp=<profile JSON>|unconfined|builtin`, `no-new-privileges[=bool]`, `label=...`,
   *  `apparmor=...`, `systempaths=unconfined` (seccomp files are read by parseSecurityOpt). */
  securityOpt?: string[];
  devices?: DeviceMapping[];
  groupAdd?: string[];
  sysctls?: Record<string, string>;
}

/** What the engine knows that the options do not say. */
export interface SpecContext {
  /** Absolute path of the container's root filesystem (becomes root.path). */
  rootfs: string;
  /** The 64-hex container id. */
  id: string;
  /** Host files bind-mounted on /etc/hosts, /etc/resolv.conf, /etc/hostname (skipped when unset or missing). */
  hostsFile?: string;
  resolvFile?: string;
  hostnameFile?: string;
  /** Parent of the container's cgroup (cgroupfs form), e.g. `/berth`; cgroupsPath = parent/id. */
  cgroupParent: string;
  /** [major, minor] of the host kernel (selects seccomp rules, `rro` support). */
  kernel: readonly [number, number];
  /** GOARCH or Node arch; default process.arch. */
  arch?: string;
  /** Host path of the init binary for `--init` (bind-mounted read-only at initInContainer). */
  initPath?: string;
  /** Where the init binary appears in the container; default `/sbin/docker-init`. */
  initInContainer?: string;
  /** Host name used for `--network host` / `--uts host` when no --hostname; default os.hostname(). */
  hostHostname?: string;
  /** The daemon's default cgroup namespace mode; default `host` (cgroup v1 hosts) . */
  defaultCgroupns?: 'host' | 'private';
  /** Daemon default ulimits (merged under the container's). */
  defaultUlimits?: Ulimit[];
  /** Masked paths; default DOCKER_MASKED_PATHS plus the host's thermal_throttle directories. */
  maskedPaths?: readonly string[];
  /** Whether AppArmor is enabled on the host (apparmor= applies only then); default false. */
  apparmor?: boolean;
  /** Number of host CPUs for the `--cpus` range check; default os.availableParallelism(). */
  ncpu?: number;
  /** Host /dev for `--privileged` device discovery; default `/dev`. */
  hostDevDir?: string;
  /** Reads a file of the container's filesystem (for /etc/passwd, /etc/group) when `rootfs` is not
   *  mounted where this process can see it; default: read inside `rootfs`. */
  readFile?: (path: string) => string | undefined;
  /** Receives Docker's warnings (e.g. the OOM killer disabled without a memory limit). */
  warn?: (message: string) => void;
}

/** The container config after merging the image's (what `inspect` shows under Config). */
export interface EffectiveConfig {
  /** Executable and arguments before `--init`: Path = args[0], Args = the rest. */
  args: string[];
  entrypoint: string[] | null;
  cmd: string[] | null;
  env: string[];
  workingDir: string;
  user: string;
  hostname: string;
  domainname: string;
  labels: Record<string, string>;
  stopSignal: string;
  stopTimeout?: number;
  tty: boolean;
  openStdin: boolean;
  volumes: string[];
}

/** One network a container joins, and what it asked for there. */
export interface NetworkJoin extends EndpointRequest {
  network: string;
}
