/** `inspect`: a container in the shape of Docker's ContainerJSON. */
import type { MountSpec, RunOptions } from '../spec/index.js';
import { containerFilePaths } from '../files/index.js';
import type { Container } from '../store/index.js';
import type { EngineCore } from './core.js';
import { RUN_OPTIONS_KEY } from './create.js';
import { networkSettings, type NetworkMemo } from '../networks/shape.js';
import { ingestHealthEvents, readHealth } from './health.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

function mountsOf(core: EngineCore, c: Container): Record<string, unknown>[] {
  const o = (c.hostConfig[RUN_OPTIONS_KEY] ?? {}) as RunOptions;
  return (o.mounts ?? []).map((m: MountSpec) => {
    if (m.type === 'volume') {
      const v = core.store.volumes.find(m.source!);
      return { Type: 'volume', Name: m.source, Source: v?.mountpoint ?? '', Destination: m.target, Driver: 'local', Mode: m.readonly ? 'ro' : 'z', RW: !m.readonly, Propagation: '' };
    }
    if (m.type === 'tmpfs') return { Type: 'tmpfs', Source: '', Destination: m.target, Mode: '', RW: !m.readonly, Propagation: '' };
    return { Type: 'bind', Source: m.source, Destination: m.target, Mode: m.readonly ? 'ro' : '', RW: !m.readonly, Propagation: m.propagation ?? 'rprivate' };
  });
}

export function inspectContainer(core: EngineCore, c: Container): Record<string, unknown> {
  const st = c.state;
  const paths = core.paths(c.id);
  const files = containerFilePaths(paths.dataDir);
  const hostConfig = { ...c.hostConfig };
  delete hostConfig[RUN_OPTIONS_KEY];
  const cfg = c.config as { Entrypoint?: string[] | null; Cmd?: string[] | null };
  const args = [...(cfg.Entrypoint ?? []), ...(cfg.Cmd ?? [])];
  const health = readHealth(core, c);
  if (health) ingestHealthEvents(core, c);
  return {
    Id: c.id,
    Created: c.created,
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      Status: st.status,
      Running: st.status === 'running' || st.status === 'paused',
      Paused: st.status === 'paused',
      Restarting: st.status === 'restarting',
      OOMKilled: st.oomKilled,
      Dead: st.status === 'dead',
      Pid: st.pid,
      ExitCode: st.exitCode,
      Error: st.error,
      StartedAt: st.startedAt ?? ZERO_TIME,
      FinishedAt: st.finishedAt ?? ZERO_TIME,
      ...(health ? { Health: health } : {}),
    },
    Image: c.imageId,
    ResolvConfPath: files.resolvConf,
    HostnamePath: files.hostname,
    HostsPath: files.hosts,
    LogPath: c.logPath,
    Name: `/${c.name}`,
    RestartCount: st.restartCount,
    Driver: c.driver,
    Platform: c.platform,
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: hostConfig,
    GraphDriver: { Name: c.driver, Data: graphData(core, c) },
    Mounts: mountsOf(core, c),
    Config: c.config,
    NetworkSettings: networkSettings(core, c, (c.hostConfig[RUN_OPTIONS_KEY] ?? {}) as RunOptions),
  };
}

/**
 * What a list row (`GET /containers/json`, `ps`) takes from inspect, without the rest: Path/Args,
 * HostConfig.NetworkMode, NetworkSettings.Ports and .Networks, Mounts — the same values, from the
 * store only (no health file, no paths).
 */
export function listView(core: EngineCore, c: Container, memo?: NetworkMemo): { path: string; args: string[]; networkMode: string; ports: Record<string, unknown>; networks: Record<string, unknown>; mounts: Record<string, unknown>[] } {
  const cfg = c.config as { Entrypoint?: string[] | null; Cmd?: string[] | null };
  const args = [...(cfg.Entrypoint ?? []), ...(cfg.Cmd ?? [])];
  const ns = networkSettings(core, c, (c.hostConfig[RUN_OPTIONS_KEY] ?? {}) as RunOptions, memo) as { Ports: Record<string, unknown>; Networks: Record<string, unknown> };
  const mode = (c.hostConfig as { NetworkMode?: string }).NetworkMode;
  return { path: args[0] ?? '', args: args.slice(1), networkMode: mode ?? '', ports: ns.Ports, networks: ns.Networks, mounts: mountsOf(core, c) };
}

function graphData(core: EngineCore, c: Container): Record<string, string> {
  const paths = core.paths(c.id);
  return { MergedDir: paths.rootfs, WorkDir: '', UpperDir: '', LowerDir: '' };
}
