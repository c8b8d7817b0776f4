/**
 * Resource limits: moby's validation (daemon/daemon_unix.go verifyPlatformContainerResources,
 * adaptContainerSettings) and conversion (daemon/oci_linux.go WithResources, getMemoryResources,
 * getCPUResources, getPidsLimit, getBlkio*Devices), plus ulimits (withRlimits).
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { BerthError, wrapError } from '../../lib/index.js';
import type { LinuxResources, LinuxThrottleDevice, LinuxWeightDevice, POSIXRlimit, Spec } from '../../oci/index.js';
import type { RunOptions, SpecContext, ThrottleDevice, Ulimit } from './types.js';

export const MIN_MEMORY = 6 * 1024 * 1024;
const MIN_SHARES = 2;
const MAX_SHARES = 262144;
/** RLIM_INFINITY (2^64 - 1; as a JSON number this is 2^64, which is how runtimes read "unlimited"). */
export const RLIMIT_INFINITY = 18446744073709551615;

const bad = (message: string) => new BerthError({ kind: 'invalid', op: 'create container', message });

/** Docker's cpuset syntax: `0-3,5`, ascending ranges, numbers only. */
export function parseCpuset(text: string, what: 'cpus' | 'mems'): number[] {
  const out: number[] = [];
  if (text === '') return out;
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) throw bad(`Invalid value ${text} for cpuset ${what}`);
    for (let i = Number(m[1]); i <= Number(m[2] ?? m[1]); i++) out.push(i);
  }
  return out;
}

/** The checks dockerd makes before creating a container; warnings go to ctx.warn. */
export function validateResources(opts: RunOptions, ctx: Pick<SpecContext, 'ncpu' | 'warn'>): void {
  const warn = ctx.warn ?? (() => {});
  const mem = opts.memory ?? 0;
  const swap = opts.memorySwap ?? 0;
  const res = opts.memoryReservation ?? 0;
  if (mem !== 0 && mem < MIN_MEMORY) throw bad('Minimum memory limit allowed is 6MB');
  if (mem > 0 && swap > 0 && swap < mem) throw bad('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (mem === 0 && swap > 0) throw bad('You should always set the Memory limit when using Memoryswap limit, see usage');
  const swappiness = opts.memorySwappiness;
  if (swappiness !== undefined && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw bad(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  if (res > 0 && res < MIN_MEMORY) throw bad('Minimum memory reservation allowed is 6MB');
  if (mem > 0 && res > 0 && mem < res) throw bad('Minimum memory limit can not be less than memory reservation limit, see usage');
  if (opts.oomKillDisable && mem === 0) warn('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  const adj = opts.oomScoreAdj ?? 0;
  if (!Number.isInteger(adj) || adj < -1000 || adj > 1000) throw bad(`Invalid value ${adj}, range for oom score adj is [-1000, 1000]`);

  const nano = opts.nanoCpus ?? 0;
  if (nano > 0 && opts.cpuPeriod) throw bad('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && opts.cpuQuota) throw bad('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  const ncpu = ctx.ncpu ?? availableParallelism();
  if (nano < 0 || nano > ncpu * 1e9) throw bad(`Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
  const period = opts.cpuPeriod ?? 0;
  if (period !== 0 && (period < 1000 || period > 1000000)) throw bad('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  const quota = opts.cpuQuota ?? 0;
  if (quota > 0 && quota < 1000) throw bad('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (opts.cpusetCpus) parseCpuset(opts.cpusetCpus, 'cpus');
  if (opts.cpusetMems) parseCpuset(opts.cpusetMems, 'mems');
  const weight = opts.blkioWeight ?? 0;
  if (weight > 0 && (weight < 10 || weight > 1000)) throw bad('Range of blkio weight is from 10 to 1000');
}

function deviceNumbers(path: string): { major: number; minor: number } {
  let rdev: number;
  try { rdev = statSync(path).rdev; } catch (e) { throw wrapError(e, 'stat device', path); }
  // Linux new_encode_dev layout, as glibc's major()/minor().
  return { major: ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff), minor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00) };
}

export { deviceNumbers };

function throttle(list: ThrottleDevice[] | undefined): LinuxThrottleDevice[] | undefined {
  if (!list?.length) return undefined;
  return list.map((d) => ({ ...deviceNumbers(d.path), rate: d.rate }));
}

/** linux.resources memory/cpu/blockIO/pids, as dockerd writes them (empty objects included). */
export function buildResources(opts: RunOptions): LinuxResources {
  const mem = opts.memory ?? 0;
  let swap = opts.memorySwap ?? 0;
  if (mem > 0 && swap === 0) swap = mem * 2; // adaptContainerSettings: twice the memory by default
  const memory: LinuxResources['memory'] = {};
  if (mem > 0) memory.limit = mem;
  if ((opts.memoryReservation ?? 0) > 0) memory.reservation = opts.memoryReservation;
  if (swap !== 0) memory.swap = swap;
  if (opts.memorySwappiness !== undefined && opts.memorySwappiness >= 0) memory.swappiness = opts.memorySwappiness;
  if (opts.oomKillDisable !== undefined) memory.disableOOMKiller = opts.oomKillDisable;

  const cpu: LinuxResources['cpu'] = {};
  let shares = opts.cpuShares ?? 0;
  if (shares !== 0) shares = Math.min(Math.max(shares, MIN_SHARES), MAX_SHARES);
  if (shares > 0) cpu.shares = shares;
  if (opts.cpusetCpus) cpu.cpus = opts.cpusetCpus;
  if (opts.cpusetMems) cpu.mems = opts.cpusetMems;
  if ((opts.nanoCpus ?? 0) > 0) {
    cpu.period = 100000;
    cpu.quota = Math.floor((opts.nanoCpus! * 100000) / 1e9);
  }
  if (opts.cpuPeriod) cpu.period = opts.cpuPeriod;
  if (opts.cpuQuota) cpu.quota = opts.cpuQuota;
  if (opts.cpuRtPeriod) cpu.realtimePeriod = opts.cpuRtPeriod;
  if (opts.cpuRtRuntime) cpu.realtimeRuntime = opts.cpuRtRuntime;

  const blockIO: LinuxResources['blockIO'] = {};
  const weights: LinuxWeightDevice[] = (opts.blkioWeightDevice ?? []).map((d) => ({ ...deviceNumbers(d.path), weight: d.weight }));
  if (weights.length) blockIO.weightDevice = weights;
  const sets = [
    ['throttleReadBpsDevice', opts.deviceReadBps], ['throttleWriteBpsDevice', opts.deviceWriteBps],
    ['throttleReadIOPSDevice', opts.deviceReadIops], ['throttleWriteIOPSDevice', opts.deviceWriteIops],
  ] as const;
  for (const [key, list] of sets) {
    const t = throttle(list as ThrottleDevice[] | undefined);
    if (t) blockIO[key] = t;
  }
  if ((opts.blkioWeight ?? 0) > 0) blockIO.weight = opts.blkioWeight;

  const out: LinuxResources = { memory, cpu, blockIO };
  // The API lets 0 and negative values mean "unlimited"; runc spells that -1.
  if (opts.pidsLimit !== undefined) out.pids = { limit: opts.pidsLimit > 0 ? opts.pidsLimit : -1 };
  return out;
}

/** process.rlimits from the daemon's defaults overridden by the container's ulimits. */
export function buildRlimits(ulimits: readonly Ulimit[] = [], defaults: readonly Ulimit[] = []): POSIXRlimit[] | undefined {
  const byName = new Map<string, Ulimit>();
  for (const u of defaults) byName.set(u.name, u);
  for (const u of ulimits) byName.set(u.name, u);
  if (byName.size === 0) return undefined;
  const lim = (n: number) => (n < 0 ? RLIMIT_INFINITY : n);
  return [...byName.values()].map((u) => ({ type: `RLIMIT_${u.name.toUpperCase()}`, soft: lim(u.soft), hard: lim(u.hard) }));
}

/** Put the resources, rlimits and oom score into the spec (the default device rules stay). */
export function applyResources(spec: Spec, opts: RunOptions, ctx: SpecContext): void {
  validateResources(opts, ctx);
  const linux = (spec.linux ??= {});
  linux.resources = { ...(linux.resources ?? {}), ...buildResources(opts) };
  const rlimits = buildRlimits(opts.ulimits, ctx.defaultUlimits);
  if (rlimits) spec.process!.rlimits = rlimits;
  spec.process!.oomScoreAdj = opts.oomScoreAdj ?? 0;
}
