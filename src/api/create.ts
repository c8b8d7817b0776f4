/** `POST /containers/create`: Docker's ContainerConfig + HostConfig JSON as the engine's create request. */
import type { CreateRequest, spec } from '../engine/index.js';
import { ApiError } from './http.js';
import { networkJoins } from './networks.js';

type RunOptions = spec.RunOptions;
type MountSpec = spec.MountSpec;
type J = Record<string, unknown>;

const strs = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.map(String) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && v !== 0 ? v : undefined);

/** `-v` syntax: `src:dst[:opts]` (a bind when src is absolute, else a named volume) or `dst` (anonymous). */
export function parseBind(b: string): MountSpec {
  const parts = b.split(':');
  if (parts.length === 1) return { type: 'volume', target: parts[0]!, readonly: false };
  const [source, target, opts = ''] = parts as [string, string, string?];
  if (!target) throw new ApiError(400, `invalid volume specification: '${b}'`);
  const o = opts.split(',').filter(Boolean);
  const m: MountSpec = { type: source.startsWith('/') ? 'bind' : 'volume', source, target, readonly: o.includes('ro') };
  if (m.type === 'bind') m.createMountpoint = true;
  const prop = o.find((x) => /^r?(private|shared|slave)$/.test(x));
  if (prop) m.propagation = prop;
  return m;
}

/** One `HostConfig.Mounts` entry (`--mount`): bind, volume or tmpfs with their options. */
function mountOf(m: J): MountSpec {
  const type = String(m.Type ?? 'volume') as MountSpec['type'];
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') throw new ApiError(400, `invalid mount config for type "${type}": mount type unknown`);
  const out: MountSpec = { type, source: m.Source ? String(m.Source) : undefined, target: String(m.Target ?? ''), readonly: !!m.ReadOnly };
  if (!out.target) throw new ApiError(400, 'invalid mount config: Target must not be empty');
  const bo = (m.BindOptions ?? {}) as J;
  if (bo.Propagation) out.propagation = String(bo.Propagation);
  if (bo.CreateMountpoint) out.createMountpoint = true;
  if (bo.NonRecursive) out.nonRecursive = true;
  const vo = (m.VolumeOptions ?? {}) as J;
  if (vo.NoCopy) out.noCopy = true;
  if (vo.Labels && typeof vo.Labels === 'object') out.volumeLabels = vo.Labels as Record<string, string>;
  if (vo.Subpath) out.volumeSubpath = String(vo.Subpath);
  const dc = (vo.DriverConfig ?? {}) as J;
  if (dc.Name) out.volumeDriver = String(dc.Name);
  if (dc.Options && typeof dc.Options === 'object') out.volumeOptions = dc.Options as Record<string, string>;
  const to = (m.TmpfsOptions ?? {}) as J;
  if (typeof to.SizeBytes === 'number' && to.SizeBytes > 0) out.tmpfsSize = to.SizeBytes;
  if (typeof to.Mode === 'number' && to.Mode > 0) out.tmpfsMode = to.Mode;
  return out;
}

function restartOf(p: unknown): string | undefined {
  const r = (p ?? {}) as { Name?: string; MaximumRetryCount?: number };
  if (!r.Name || r.Name === 'no') return undefined;
  return r.Name === 'on-failure' && r.MaximumRetryCount ? `on-failure:${r.MaximumRetryCount}` : r.Name;
}

/** The create request for a body (`name` and `platform` come from the query). */
export function createRequest(body: J, name: string | undefined, platform: string | undefined): CreateRequest {
  if (typeof body.Image !== 'string' || !body.Image) throw new ApiError(400, 'config cannot be empty in order to create a container');
  const hc = (body.HostConfig ?? {}) as J;
  const o: RunOptions = {};
  if (body.Entrypoint !== undefined && body.Entrypoint !== null) o.entrypoint = typeof body.Entrypoint === 'string' ? [body.Entrypoint] : strs(body.Entrypoint);
  if (Array.isArray(body.Cmd)) o.cmd = strs(body.Cmd);
  else if (typeof body.Cmd === 'string') o.cmd = [body.Cmd];
  if (Array.isArray(body.Env)) o.env = strs(body.Env);
  if (body.WorkingDir) o.workdir = String(body.WorkingDir);
  if (body.User) o.user = String(body.User);
  if (body.Hostname) o.hostname = String(body.Hostname);
  if (body.Domainname) o.domainname = String(body.Domainname);
  if (body.Labels && typeof body.Labels === 'object') o.labels = body.Labels as Record<string, string>;
  if (body.StopSignal) o.stopSignal = String(body.StopSignal);
  if (typeof body.StopTimeout === 'number') o.stopTimeout = body.StopTimeout;
  if (body.Healthcheck) o.healthcheck = body.Healthcheck as RunOptions['healthcheck'];
  if (body.Tty) o.tty = true;
  if (body.OpenStdin) o.openStdin = true;
  if (body.ExposedPorts && typeof body.ExposedPorts === 'object') o.expose = Object.keys(body.ExposedPorts);
  const cs = hc.ConsoleSize as number[] | undefined;
  if (Array.isArray(cs) && cs[0] && cs[1]) o.consoleSize = [cs[0], cs[1]];
  const mounts: MountSpec[] = (strs(hc.Binds) ?? []).map(parseBind);
  for (const m of (hc.Mounts ?? []) as J[]) mounts.push(mountOf(m));
  // the image-style `Volumes` of the config (`docker run -v /dst`, compose's anonymous volumes)
  if (body.Volumes && typeof body.Volumes === 'object') {
    for (const target of Object.keys(body.Volumes)) {
      if (!mounts.some((m) => m.target === target)) mounts.push({ type: 'volume', target, readonly: false });
    }
  }
  if (mounts.length) o.mounts = mounts;
  const nm = typeof hc.NetworkMode === 'string' ? hc.NetworkMode : '';
  // "default" is the platform's default network: bridge, or none on an engine without one
  if (nm && nm !== 'default') o.network = nm;
  o.networks = networkJoins(body);
  if (hc.PortBindings && typeof hc.PortBindings === 'object' && Object.keys(hc.PortBindings).length) {
    o.publish = hc.PortBindings as RunOptions['publish'];
  }
  if (hc.PublishAllPorts) o.publishAll = true;
  if (hc.Privileged) o.privileged = true;
  if (hc.ReadonlyRootfs) o.readOnly = true;
  if (hc.Init) o.init = true;
  if (Array.isArray(hc.CapAdd)) o.capAdd = strs(hc.CapAdd);
  if (Array.isArray(hc.CapDrop)) o.capDrop = strs(hc.CapDrop);
  if (Array.isArray(hc.Dns) && hc.Dns.length) o.dns = strs(hc.Dns);
  if (Array.isArray(hc.DnsSearch) && hc.DnsSearch.length) o.dnsSearch = strs(hc.DnsSearch);
  if (Array.isArray(hc.DnsOptions) && hc.DnsOptions.length) o.dnsOptions = strs(hc.DnsOptions);
  if (Array.isArray(hc.Links) && hc.Links.length) o.links = strs(hc.Links);
  if (Array.isArray(hc.SecurityOpt) && hc.SecurityOpt.length) o.securityOpt = strs(hc.SecurityOpt);
  if (Array.isArray(hc.GroupAdd) && hc.GroupAdd.length) o.groupAdd = strs(hc.GroupAdd);
  if (hc.Sysctls && typeof hc.Sysctls === 'object') o.sysctls = hc.Sysctls as Record<string, string>;
  if (Array.isArray(hc.Ulimits) && hc.Ulimits.length) {
    o.ulimits = (hc.Ulimits as J[]).map((u) => ({ name: String(u.Name), soft: Number(u.Soft), hard: Number(u.Hard) }));
  }
  if (Array.isArray(hc.Devices) && hc.Devices.length) {
    o.devices = (hc.Devices as J[]).map((d) => ({
      pathOnHost: String(d.PathOnHost), pathInContainer: String(d.PathInContainer || d.PathOnHost), cgroupPermissions: String(d.CgroupPermissions || 'rwm'),
    }));
  }
  if (hc.UsernsMode) o.userns = String(hc.UsernsMode);
  if (hc.CgroupParent) o.cgroupParent = String(hc.CgroupParent);
  if (hc.OomKillDisable) o.oomKillDisable = true;
  if (typeof hc.OomScoreAdj === 'number' && hc.OomScoreAdj) o.oomScoreAdj = hc.OomScoreAdj;
  if (typeof hc.MemorySwappiness === 'number' && hc.MemorySwappiness >= 0) o.memorySwappiness = hc.MemorySwappiness;
  o.blkioWeight = num(hc.BlkioWeight);
  if (Array.isArray(hc.ExtraHosts) && hc.ExtraHosts.length) o.extraHosts = strs(hc.ExtraHosts);
  if (hc.Tmpfs && typeof hc.Tmpfs === 'object') o.tmpfs = hc.Tmpfs as Record<string, string>;
  if (hc.PidMode) o.pid = String(hc.PidMode);
  if (hc.IpcMode) o.ipc = String(hc.IpcMode);
  if (hc.UTSMode) o.uts = String(hc.UTSMode);
  if (hc.CgroupnsMode) o.cgroupns = String(hc.CgroupnsMode);
  o.memory = num(hc.Memory);
  o.memorySwap = num(hc.MemorySwap);
  o.memoryReservation = num(hc.MemoryReservation);
  o.nanoCpus = num(hc.NanoCpus);
  o.cpuShares = num(hc.CpuShares);
  o.cpuPeriod = num(hc.CpuPeriod);
  o.cpuQuota = num(hc.CpuQuota);
  o.pidsLimit = num(hc.PidsLimit);
  o.shmSize = num(hc.ShmSize);
  if (hc.CpusetCpus) o.cpusetCpus = String(hc.CpusetCpus);
  if (hc.CpusetMems) o.cpusetMems = String(hc.CpusetMems);
  for (const k of Object.keys(o) as (keyof RunOptions)[]) if (o[k] === undefined) delete o[k];
  return {
    image: body.Image,
    name: name || undefined,
    platform: platform || undefined,
    pull: 'never',
    options: o,
    autoRemove: !!hc.AutoRemove,
    attachStdin: !!body.AttachStdin,
    attachStdout: !!body.AttachStdout,
    attachStderr: !!body.AttachStderr,
    stdinOnce: !!body.StdinOnce,
    restart: restartOf(hc.RestartPolicy),
    volumesFrom: strs(hc.VolumesFrom),
  };
}
