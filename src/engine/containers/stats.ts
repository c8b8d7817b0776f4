/**
 * `stats`: a container's resource usage in the shape of Docker's stats API (StatsJSON), read from
 * its cgroup (through the runtime state), /proc/stat and the container's network namespace. CPU
 * percentages need two samples: each sample carries the previous one's CPU counters as
 * `precpu_stats`, as the daemon's stream does.
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { BlkioEntry, CgroupStats, PSIStats } from '../../cgroups/index.js';
import { Container as RtContainer } from '../../runtime/index.js';
import type { Container } from '../store/index.js';
import { reconcile } from './cleanup.js';
import type { EngineCore } from './core.js';
import { runOptionsOf } from './start.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';
/** USER_HZ: the unit of /proc/stat (fixed at 100 for user space on Linux). */
const CLOCK_TICKS = 100;

export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  /** Host CPU time (ns) from /proc/stat; absent in an empty sample. */
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
  psi?: PSIStats;
}

export interface NetworkStats {
  rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number;
  tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number;
}

export interface BlkioStatEntry { major: number; minor: number; op: string; value: number }

/** Docker's container.StatsResponse (API types/container/stats.go), Linux fields. */
export interface StatsJSON {
  name: string;
  id: string;
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: {
    io_service_bytes_recursive: BlkioStatEntry[] | null;
    io_serviced_recursive: BlkioStatEntry[] | null;
    io_queue_recursive: BlkioStatEntry[] | null;
    io_service_time_recursive: BlkioStatEntry[] | null;
    io_wait_time_recursive: BlkioStatEntry[] | null;
    io_merged_recursive: BlkioStatEntry[] | null;
    io_time_recursive: BlkioStatEntry[] | null;
    sectors_recursive: BlkioStatEntry[] | null;
    psi?: PSIStats;
  };
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; failcnt?: number; limit?: number; psi?: PSIStats };
  /** Per interface of the container's network namespace (no loopback); absent without one. */
  networks?: Record<string, NetworkStats>;
}

function emptyCpu(): CpuStats {
  return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
}

/** What the daemon answers for a container that is not running: only the name and id. */
export function emptyStats(c: Container): StatsJSON {
  return {
    name: `/${c.name}`, id: c.id, read: ZERO_TIME, preread: ZERO_TIME,
    pids_stats: {},
    blkio_stats: {
      io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null,
      io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null,
    },
    num_procs: 0, storage_stats: {}, cpu_stats: emptyCpu(), precpu_stats: emptyCpu(), memory_stats: {},
  };
}

/** Host CPU time in nanoseconds (the first 7 fields of the `cpu` line) and the online CPUs (`cpuN` lines), as the daemon reads them. */
export function systemCpu(text = readFileSync('/proc/stat', 'utf8')): { usage: number; online: number } {
  let usage = 0, online = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    const parts = line.trim().split(/\s+/);
    if (parts[0] === 'cpu') {
      const ticks = parts.slice(1, 8).reduce((s, v) => s + Number(v), 0);
      usage = (ticks * 1e9) / CLOCK_TICKS;
    } else online++;
  }
  return { usage, online };
}

/** /proc/<pid>/net/dev: the counters of the process's network namespace, loopback left out. */
export function parseNetDev(text: string): Record<string, NetworkStats> {
  const out: Record<string, NetworkStats> = {};
  for (const line of text.split('\n').slice(2)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim();
    if (!name || name === 'lo') continue;
    const f = line.slice(i + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16) continue;
    out[name] = {
      rx_bytes: f[0]!, rx_packets: f[1]!, rx_errors: f[2]!, rx_dropped: f[3]!,
      tx_bytes: f[8]!, tx_packets: f[9]!, tx_errors: f[10]!, tx_dropped: f[11]!,
    };
  }
  return out;
}

function networksOf(c: Container): Record<string, NetworkStats> | undefined {
  if ((runOptionsOf(c).network ?? 'none') === 'host') return undefined; // the host's interfaces are not the container's
  let text: string;
  try { text = readFileSync(`/proc/${c.state.pid}/net/dev`, 'utf8'); } catch { return undefined; }
  const nets = parseNetDev(text);
  return Object.keys(nets).length ? nets : undefined;
}

const entries = (list: BlkioEntry[], lower: boolean): BlkioStatEntry[] =>
  list.map((e) => ({ major: e.major, minor: e.minor, op: lower ? e.op.toLowerCase() : e.op, value: e.value }));

/** Convert cgroup counters to the API shape (v1 keeps the kernel's keys; v2 as the daemon's v2 path). */
export function toStatsJSON(c: Container, cg: CgroupStats, version: 1 | 2, sys: { usage: number; online: number }, hostMemory = totalmem()): StatsJSON {
  const s = emptyStats(c);
  s.read = new Date().toISOString();
  s.cpu_stats = {
    cpu_usage: {
      total_usage: cg.cpu.usageTotal,
      ...(version === 1 && cg.cpu.perCpu.length ? { percpu_usage: cg.cpu.perCpu } : {}),
      usage_in_kernelmode: cg.cpu.usageSystem,
      usage_in_usermode: cg.cpu.usageUser,
    },
    system_cpu_usage: sys.usage,
    online_cpus: sys.online,
    throttling_data: { periods: cg.cpu.periods, throttled_periods: cg.cpu.throttledPeriods, throttled_time: cg.cpu.throttledTime },
  };
  // No limit, or one above the machine's memory: the machine's memory (as the daemon reports it).
  const limit = cg.memory.limit === null || cg.memory.limit > hostMemory ? hostMemory : cg.memory.limit;
  s.memory_stats = version === 1
    ? { usage: cg.memory.usage, max_usage: cg.memory.maxUsage, stats: cg.memory.stat, failcnt: cg.memory.failcnt, limit }
    : { usage: cg.memory.usage, stats: cg.memory.stat, limit };
  s.pids_stats = { current: cg.pids.current, ...(cg.pids.limit !== null ? { limit: cg.pids.limit } : {}) };
  s.blkio_stats.io_service_bytes_recursive = entries(cg.blkio.ioServiceBytes, version === 2);
  s.blkio_stats.io_serviced_recursive = entries(cg.blkio.ioServiced, version === 2);
  // pressure stall information where the kernel has it (cgroup v2), in runc's `psi` shape
  if (cg.psi?.cpu) s.cpu_stats.psi = cg.psi.cpu;
  if (cg.psi?.memory) s.memory_stats.psi = cg.psi.memory;
  if (cg.psi?.io) s.blkio_stats.psi = cg.psi.io;
  return s;
}

/**
 * One sample of a container's stats; `prev` (the previous sample of the same container) fills
 * `precpu_stats` and `preread`. A container that is not running (or whose cgroup is gone) gives
 * the empty sample (`read` is the zero time).
 */
export function sampleStats(core: EngineCore, ref: string | Container, prev?: StatsJSON): StatsJSON {
  const c = reconcile(core, typeof ref === 'string' ? core.store.containers.get(ref) : ref);
  if ((c.state.status !== 'running' && c.state.status !== 'paused') || !c.state.pid) return emptyStats(c);
  let cg;
  try {
    cg = RtContainer.load(core.runtime, c.id, 'stats').cgroup();
  } catch { return emptyStats(c); }
  if (!cg || !cg.exists()) return emptyStats(c);
  const sys = systemCpu();
  const raw = cg.stats();
  const s = toStatsJSON(c, raw, cg.version, sys);
  const nets = networksOf(c);
  if (nets) s.networks = nets;
  if (prev && prev.id === c.id && prev.read !== ZERO_TIME) {
    s.precpu_stats = prev.cpu_stats;
    s.preread = prev.read;
  }
  return s;
}

export interface StatsOptions {
  /** Keep sampling every `intervalMs` until the container stops (or `signal` aborts). Default false. */
  stream?: boolean;
  /** Default 1000 ms, the daemon's collection interval. */
  intervalMs?: number;
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  if (signal?.aborted) return resolve();
  const t = setTimeout(done, ms);
  function done() { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); }
  signal?.addEventListener('abort', done, { once: true });
});

/**
 * Docker's stats endpoint. Without `stream`: one result, taken `intervalMs` after a first sample
 * so that its `precpu_stats` are filled (CPU % is meaningful); a container that is not running
 * gives the empty sample at once. With `stream`: a sample every interval, each with the previous
 * one's CPU counters, ending when the container stops.
 */
export async function* containerStats(core: EngineCore, ref: string, o: StatsOptions = {}): AsyncGenerator<StatsJSON> {
  const interval = o.intervalMs ?? 1000;
  const c = core.store.containers.get(ref);
  let prev = sampleStats(core, c);
  if (prev.read === ZERO_TIME) { yield prev; return; }
  for (;;) {
    await sleep(interval, o.signal);
    if (o.signal?.aborted) return;
    const cur = core.store.containers.find(c.id);
    if (!cur) return;
    const s = sampleStats(core, cur, prev);
    if (s.read === ZERO_TIME) { if (!o.stream) yield s; return; }
    yield s;
    if (!o.stream) return;
    prev = s;
  }
}

/** The stats sample of a container that is not running (or is gone from the kernel). */
export function isEmptySample(s: StatsJSON): boolean {
  return s.read === ZERO_TIME;
}
