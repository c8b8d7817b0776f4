/** v1 -> v2 value conversions, exactly as runc (opencontainers/cgroups utils.go) and crun do them. */
import { invalid } from '../lib/index.js';
import type { Resources } from './types.js';

/** cpu.shares [2, 262144] -> cpu.weight [1, 10000]; 0 means unset (1024 -> 100). */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
  return Math.ceil(Math.pow(10, exponent));
}

/** blkio.weight [10, 1000] -> io.weight [1, 10000] (integer arithmetic as runc). */
export function blkioToIOWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * The OCI memory.swap (memory+swap) as memory.swap.max (swap alone): -1 is "max", 0 is unset.
 * Throws on the combinations runc rejects.
 */
export function swapToV2(swap: number, memory: number): number {
  if (memory === -1 && swap === 0) return -1;
  if (swap === -1 || swap === 0) return swap;
  if (memory === 0 || memory === -1) throw invalid('set memory swap', 'set memory swap: unable to set swap limit without memory limit');
  if (memory < 0) throw invalid('set memory swap', `set memory swap: invalid memory value: ${memory}`);
  if (swap < memory) throw invalid('set memory swap', `set memory swap: memory+swap limit (${swap}) should be >= memory limit (${memory})`);
  return swap - memory;
}

/** v2 value text for .max/.low files: 0 -> unset (""), -1 -> "max". */
export function numToStr(v: number | undefined): string {
  if (v === undefined || v === null || v === 0) return '';
  if (v === -1) return 'max';
  return String(v);
}

/** The value is set in runc's sense (present and non-zero). */
export function isSet(v: number | undefined | null): v is number {
  return v !== undefined && v !== null && v !== 0;
}

/** The controllers (v1 names) that `res` needs, each with the setting that needs it. */
export function neededControllers(res: Resources | undefined): Map<string, string> {
  const need = new Map<string, string>();
  if (!res) return need;
  const m = res.memory;
  if (m && (isSet(m.limit) || isSet(m.reservation) || isSet(m.swap) || m.swappiness !== undefined && m.swappiness !== null && m.swappiness !== -1 || m.disableOOMKiller)) need.set('memory', 'memory limits');
  const c = res.cpu;
  if (c && (isSet(c.shares) || isSet(c.quota) || isSet(c.period) || c.burst !== undefined && c.burst !== null || c.idle !== undefined && c.idle !== null || isSet(c.realtimeRuntime) || isSet(c.realtimePeriod))) need.set('cpu', 'cpu limits');
  if (c && (c.cpus || c.mems)) need.set('cpuset', 'cpuset cpus/mems');
  if (res.pids) need.set('pids', 'pids limit');
  const b = res.blockIO;
  if (b && (isSet(b.weight) || isSet(b.leafWeight) || b.weightDevice?.length || b.throttleReadBpsDevice?.length || b.throttleWriteBpsDevice?.length ||
    b.throttleReadIOPSDevice?.length || b.throttleWriteIOPSDevice?.length)) need.set('blkio', 'block IO limits');
  if (res.hugepageLimits?.length) need.set('hugetlb', 'hugepage limits');
  if (res.network && res.network.classID !== undefined && res.network.classID !== null) need.set('net_cls', 'network classID');
  if (res.network?.priorities?.length) need.set('net_prio', 'network priorities');
  if (res.devices?.length) need.set('devices', 'device rules');
  if (res.rdma && Object.keys(res.rdma).length) need.set('rdma', 'rdma limits');
  return need;
}

/** rdma.max line for one device (kernel syntax: "mlx4_0 hca_handle=2 hca_object=2000"). */
export function rdmaLine(dev: string, l: { hcaHandles?: number; hcaObjects?: number }): string {
  let s = dev;
  if (l.hcaHandles !== undefined && l.hcaHandles !== null) s += ` hca_handle=${l.hcaHandles}`;
  if (l.hcaObjects !== undefined && l.hcaObjects !== null) s += ` hca_object=${l.hcaObjects}`;
  return s;
}

/** A page size as the spec and the kernel spell it ("2MB", "1GB", "64KB"). */
export function checkPageSize(p: string): void {
  if (!/^[1-9][0-9]*[KMG]B$/.test(p)) throw invalid('set hugepage limits', `set hugepage limits: invalid page size ${JSON.stringify(p)} (like 2MB or 1GB)`);
}
