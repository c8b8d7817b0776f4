/**
 * `update`: change a container's resources and restart policy, as dockerd does (daemon/update.go,
 * container.UpdateContainer): zero values mean "unchanged", the checks of create apply to the
 * result, a running (or paused) container gets the new limits in its cgroup at once (through the
 * runtime's update: v1 files, or v2's with its conversions), a created or stopped one at its next
 * start (the start builds its spec from the stored options). HostConfig follows, for inspect.
 */
import { existsSync, readFileSync } from 'node:fs';
import { BerthError } from '../../lib/index.js';
import type { LinuxResources } from '../../oci/index.js';
import { update as runtimeUpdate } from '../../runtime/index.js';
import { validateResources, type RunOptions } from '../spec/index.js';
import type { Container } from '../store/index.js';
import { reconcile } from './cleanup.js';
import type { EngineCore } from './core.js';
import { RUN_OPTIONS_KEY } from './create.js';
import { policyOf, validateRestartPolicy, type RestartPolicy } from './restart-policy.js';
import { watchMonitor } from './restart.js';

export type UpdateRequest = Pick<RunOptions,
  'memory' | 'memorySwap' | 'memoryReservation' | 'nanoCpus' | 'cpuShares' | 'cpuPeriod' | 'cpuQuota' |
  'cpuRtPeriod' | 'cpuRtRuntime' | 'cpusetCpus' | 'cpusetMems' | 'pidsLimit' | 'blkioWeight'> & {
  /** Accepted and ignored, as Docker does (kmem limits are deprecated; v2 has none). */
  kernelMemory?: number;
  restartPolicy?: RestartPolicy;
};

export interface UpdateResult { container: Container; warnings: string[] }

const KMEM_WARNING = 'Specifying a kernel memory limit is deprecated and will be removed in a future release.';
const BLKIO_WARNING = 'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.';

/** Whether the host's cgroups can weigh block I/O (v1: CFQ's or BFQ's weight file; v2: the io controller). */
function blkioWeightSupported(root = '/sys/fs/cgroup'): boolean {
  if (existsSync(`${root}/blkio`)) return existsSync(`${root}/blkio/blkio.weight`) || existsSync(`${root}/blkio/blkio.bfq.weight`);
  try { return readFileSync(`${root}/cgroup.controllers`, 'utf8').split(/\s+/).includes('io'); } catch { return false; }
}

/** Checks that need no container (the daemon makes them before looking it up). */
export function checkUpdateRequest(req: UpdateRequest): string[] {
  const warnings: string[] = [];
  if (req.kernelMemory) warnings.push(KMEM_WARNING);
  if (req.blkioWeight && !blkioWeightSupported()) {
    warnings.push(BLKIO_WARNING);
    req.blkioWeight = undefined; // as dockerd: discarded
  }
  if (req.restartPolicy) validateRestartPolicy(req.restartPolicy);
  // the per-value checks of create, on the values given
  validateResources({
    memory: req.memory, memoryReservation: req.memoryReservation, nanoCpus: req.nanoCpus, cpuPeriod: req.cpuPeriod,
    cpuQuota: req.cpuQuota, cpusetCpus: req.cpusetCpus, cpusetMems: req.cpusetMems, blkioWeight: req.blkioWeight,
  } as RunOptions, {});
  return warnings;
}

export async function updateContainer(core: EngineCore, ref: string, req: UpdateRequest): Promise<UpdateResult> {
  const warnings = checkUpdateRequest(req);
  const c = reconcile(core, core.store.containers.get(ref));
  const cannot = (message: string, kind: BerthError['kind'] = 'invalid') =>
    new BerthError({ kind, op: `update ${c.name}`, message: `Cannot update container ${c.id}: ${message}` });
  if (c.state.status === 'removing' || c.state.status === 'dead') throw cannot(`Container is marked for removal and cannot be "update"`, 'conflict');
  const o = (c.hostConfig[RUN_OPTIONS_KEY] ?? {}) as RunOptions;
  const hc = c.hostConfig as Record<string, unknown>;

  // NanoCPUs replace period and quota: one may not be updated over the other
  if ((req.nanoCpus ?? 0) > 0 && (o.cpuPeriod ?? 0) > 0) throw cannot('Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
  if ((req.nanoCpus ?? 0) > 0 && (o.cpuQuota ?? 0) > 0) throw cannot('Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
  if ((req.cpuPeriod ?? 0) > 0 && (o.nanoCpus ?? 0) > 0) throw cannot('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
  if ((req.cpuQuota ?? 0) > 0 && (o.nanoCpus ?? 0) > 0) throw cannot('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
  const curSwap = o.memorySwap ?? ((o.memory ?? 0) > 0 ? o.memory! * 2 : 0); // Docker stores twice the memory by default
  if (req.memory && curSwap > 0 && req.memory > curSwap && !req.memorySwap) {
    throw cannot('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
  }
  if (req.restartPolicy && req.restartPolicy.Name !== 'no' && req.restartPolicy.Name !== '' && hc.AutoRemove === true) {
    throw cannot('Restart policy cannot be updated because AutoRemove is enabled for the container');
  }

  // the new options (zero: unchanged) and their check as a whole, as at create
  const next: RunOptions = { ...o };
  const set = <K extends keyof RunOptions>(k: K, v: RunOptions[K] | undefined) => { if (v !== undefined && v !== 0 && v !== '') next[k] = v; };
  set('memory', req.memory); set('memorySwap', req.memorySwap); set('memoryReservation', req.memoryReservation);
  set('nanoCpus', req.nanoCpus); set('cpuShares', req.cpuShares); set('cpuPeriod', req.cpuPeriod); set('cpuQuota', req.cpuQuota);
  set('cpuRtPeriod', req.cpuRtPeriod); set('cpuRtRuntime', req.cpuRtRuntime); set('cpusetCpus', req.cpusetCpus);
  set('cpusetMems', req.cpusetMems); set('blkioWeight', req.blkioWeight);
  if (req.pidsLimit !== undefined) next.pidsLimit = req.pidsLimit;
  validateResources(next, {});

  const res = resourcesOf(req);
  const live = c.state.status === 'running' || c.state.status === 'paused';
  if (live && Object.keys(res).length) {
    try {
      await runtimeUpdate(core.runtime, c.id, res);
    } catch (e) {
      throw cannot(e instanceof Error ? e.message : String(e), 'system');
    }
  }
  const hostConfig: Record<string, unknown> = { ...hc, [RUN_OPTIONS_KEY]: next };
  const show = (k: string, v: unknown) => { if (v !== undefined && v !== 0 && v !== '') hostConfig[k] = v; };
  show('Memory', req.memory); show('MemorySwap', req.memorySwap); show('MemoryReservation', req.memoryReservation);
  show('NanoCpus', req.nanoCpus); show('CpuShares', req.cpuShares); show('CpuPeriod', req.cpuPeriod); show('CpuQuota', req.cpuQuota);
  show('CpuRealtimePeriod', req.cpuRtPeriod); show('CpuRealtimeRuntime', req.cpuRtRuntime); show('CpusetCpus', req.cpusetCpus);
  show('CpusetMems', req.cpusetMems); show('BlkioWeight', req.blkioWeight);
  if (req.pidsLimit !== undefined) hostConfig.PidsLimit = req.pidsLimit;
  if (req.restartPolicy && req.restartPolicy.Name !== '') hostConfig.RestartPolicy = { ...req.restartPolicy };
  const container = core.store.tx(() => {
    const r = core.store.containers.update(c.id, { hostConfig });
    core.event('container', 'update', r);
    return r;
  });
  // a running container given a policy now gets its watcher (a second one is harmless)
  const before = policyOf(c).Name;
  if (live && (before === 'no' || before === '') && req.restartPolicy) watchMonitor(core, container);
  return { container, warnings };
}

/** The cgroup side of the request: only what was given (runc update's flags). */
function resourcesOf(req: UpdateRequest): LinuxResources {
  const res: LinuxResources = {};
  const memory: NonNullable<LinuxResources['memory']> = {};
  if (req.memory) memory.limit = req.memory;
  if (req.memorySwap) memory.swap = req.memorySwap;
  if (req.memoryReservation) memory.reservation = req.memoryReservation;
  if (Object.keys(memory).length) res.memory = memory;
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (req.cpuShares) cpu.shares = req.cpuShares;
  if (req.nanoCpus) { cpu.period = 100000; cpu.quota = Math.floor((req.nanoCpus * 100000) / 1e9); }
  if (req.cpuPeriod) cpu.period = req.cpuPeriod;
  if (req.cpuQuota) cpu.quota = req.cpuQuota;
  if (req.cpuRtPeriod) cpu.realtimePeriod = req.cpuRtPeriod;
  if (req.cpuRtRuntime) cpu.realtimeRuntime = req.cpuRtRuntime;
  if (req.cpusetCpus) cpu.cpus = req.cpusetCpus;
  if (req.cpusetMems) cpu.mems = req.cpusetMems;
  if (Object.keys(cpu).length) res.cpu = cpu;
  if (req.pidsLimit !== undefined) res.pids = { limit: req.pidsLimit > 0 ? req.pidsLimit : -1 };
  if (req.blkioWeight) res.blockIO = { weight: req.blkioWeight };
  return res;
}
