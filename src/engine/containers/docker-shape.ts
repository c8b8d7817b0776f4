/** Docker's Config and HostConfig objects (as `inspect` shows them) from the run options. */
import type { EffectiveConfig, MountSpec, RunOptions } from '../spec/index.js';
import { parseRestartPolicy } from './restart-policy.js';

export interface CreateFlags {
  autoRemove?: boolean;
  attachStdin?: boolean;
  attachStdout?: boolean;
  attachStderr?: boolean;
  stdinOnce?: boolean;
  logMaxSize?: number;
  logMaxFile?: number;
  volumesFrom?: string[];
  restart?: string;
}

const nsMode = (v: string | undefined, dflt = '') => v ?? dflt;

export function dockerConfig(cfg: EffectiveConfig, imageName: string, o: RunOptions, f: CreateFlags): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Hostname: cfg.hostname,
    Domainname: cfg.domainname,
    User: cfg.user,
    AttachStdin: !!f.attachStdin,
    AttachStdout: !!f.attachStdout,
    AttachStderr: !!f.attachStderr,
    Tty: cfg.tty,
    OpenStdin: cfg.openStdin,
    StdinOnce: !!f.stdinOnce,
    Env: cfg.env,
    Cmd: cfg.cmd,
    Image: imageName,
    Volumes: cfg.volumes.length ? Object.fromEntries(cfg.volumes.map((v) => [v, {}])) : null,
    WorkingDir: cfg.workingDir,
    Entrypoint: cfg.entrypoint,
    OnBuild: null,
    Labels: cfg.labels,
    StopSignal: cfg.stopSignal,
  };
  if (cfg.stopTimeout !== undefined) out.StopTimeout = cfg.stopTimeout;
  if (o.init) out.Init = true;
  return out;
}

function binds(mounts: MountSpec[] | undefined): string[] | null {
  const b = (mounts ?? []).filter((m) => m.type === 'bind' || (m.type === 'volume' && m.source && !/^[0-9a-f]{64}$/.test(m.source)))
    .map((m) => `${m.source}:${m.target}${m.readonly ? ':ro' : ''}`);
  return b.length ? b : null;
}

const throttle = (list: Array<{ path: string; rate: number }> | undefined) => (list ?? []).map((t) => ({ Path: t.path, Rate: t.rate }));

export function dockerHostConfig(o: RunOptions, f: CreateFlags): Record<string, unknown> {
  return {
    Binds: binds(o.mounts),
    ContainerIDFile: '',
    LogConfig: { Type: 'json-file', Config: { ...(f.logMaxSize ? { 'max-size': String(f.logMaxSize) } : {}), ...(f.logMaxFile ? { 'max-file': String(f.logMaxFile) } : {}) } },
    NetworkMode: nsMode(o.network, 'none'),
    PortBindings: o.publish ?? {},
    RestartPolicy: f.restart ? parseRestartPolicy(f.restart) : { Name: 'no', MaximumRetryCount: 0 },
    AutoRemove: !!f.autoRemove,
    VolumeDriver: '',
    VolumesFrom: f.volumesFrom?.length ? f.volumesFrom : null,
    CapAdd: o.capAdd ?? null,
    CapDrop: o.capDrop ?? null,
    CgroupnsMode: nsMode(o.cgroupns, 'host'),
    Dns: o.dns ?? [], DnsOptions: o.dnsOptions ?? [], DnsSearch: o.dnsSearch ?? [], ExtraHosts: o.extraHosts?.length ? o.extraHosts : null,
    GroupAdd: o.groupAdd ?? null,
    IpcMode: nsMode(o.ipc, 'private'),
    Cgroup: '',
    Links: o.links?.length ? o.links : null,
    OomScoreAdj: o.oomScoreAdj ?? 0,
    PidMode: nsMode(o.pid),
    Privileged: !!o.privileged,
    PublishAllPorts: !!o.publishAll,
    ReadonlyRootfs: !!o.readOnly,
    SecurityOpt: o.securityOpt ?? null,
    Tmpfs: o.tmpfs ?? undefined,
    UTSMode: nsMode(o.uts),
    UsernsMode: nsMode(o.userns),
    ShmSize: o.shmSize ?? 64 * 1024 * 1024,
    Sysctls: o.sysctls ?? undefined,
    Runtime: 'berth',
    Isolation: '',
    CpuShares: o.cpuShares ?? 0,
    Memory: o.memory ?? 0,
    NanoCpus: o.nanoCpus ?? 0,
    CgroupParent: o.cgroupParent ?? '',
    BlkioWeight: o.blkioWeight ?? 0,
    BlkioWeightDevice: (o.blkioWeightDevice ?? []).map((w) => ({ Path: w.path, Weight: w.weight })),
    BlkioDeviceReadBps: throttle(o.deviceReadBps),
    BlkioDeviceWriteBps: throttle(o.deviceWriteBps),
    BlkioDeviceReadIOps: throttle(o.deviceReadIops),
    BlkioDeviceWriteIOps: throttle(o.deviceWriteIops),
    CpuPeriod: o.cpuPeriod ?? 0,
    CpuQuota: o.cpuQuota ?? 0,
    CpuRealtimePeriod: o.cpuRtPeriod ?? 0,
    CpuRealtimeRuntime: o.cpuRtRuntime ?? 0,
    CpusetCpus: o.cpusetCpus ?? '',
    CpusetMems: o.cpusetMems ?? '',
    Devices: (o.devices ?? []).map((d) => ({ PathOnHost: d.pathOnHost, PathInContainer: d.pathInContainer, CgroupPermissions: d.cgroupPermissions })),
    DeviceCgroupRules: null,
    DeviceRequests: null,
    MemoryReservation: o.memoryReservation ?? 0,
    MemorySwap: o.memorySwap ?? 0,
    MemorySwappiness: o.memorySwappiness ?? null,
    OomKillDisable: o.oomKillDisable ?? false,
    PidsLimit: o.pidsLimit ?? null,
    Ulimits: (o.ulimits ?? []).map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
    MaskedPaths: undefined,
    ReadonlyPaths: undefined,
    Init: o.init ?? null,
  };
}
