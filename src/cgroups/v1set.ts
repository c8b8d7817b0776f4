/** Applying OCI resources to cgroup v1 directories (one per controller), in runc's order and with its write ordering. */
import { BerthError, invalid } from '../lib/index.js';
import { checkPageSize, isSet, neededControllers, rdmaLine } from './convert.js';
import { DeviceState, fromSpec, ruleString } from './devices.js';
import { has, readFile, readNum, readOptional, writeFile } from './files.js';
import type { Resources } from './types.js';

/** Controller name -> cgroup directory. */
export type Dirs = Map<string, string>;

/** Reject what cannot be applied (before anything is created): unified keys, missing controllers, bad values. */
export function validateV1(res: Resources | undefined, dirs: Dirs, root: string): void {
  if (!res) return;
  if (res.unified && Object.keys(res.unified).length) {
    throw invalid('set unified', 'set unified: invalid configuration: cannot use unified on cgroup v1');
  }
  for (const [c, what] of neededControllers(res)) {
    if (!dirs.has(c)) {
      throw new BerthError({ kind: 'system', op: `set ${what}`, path: root, message: `set ${what}: the ${c} cgroup controller is not mounted under ${root}` });
    }
  }
  const sw = res.memory?.swappiness;
  if (sw !== undefined && sw !== null && sw !== -1 && (sw < 0 || sw > 100)) {
    throw invalid('set memory swappiness', `set memory swappiness: invalid value ${sw} (valid range is 0-100)`);
  }
  for (const h of res.hugepageLimits ?? []) checkPageSize(h.pageSize);
  if (res.devices?.length) DeviceState.fromRules(res.devices.map(fromSpec));
}

export function applyV1(dirs: Dirs, res: Resources | undefined, root: string): void {
  if (!res) return;
  validateV1(res, dirs, root);
  const at = (c: string) => dirs.get(c);
  let d: string | undefined;
  if ((d = at('cpuset'))) setCpuset(d, res);
  if ((d = at('devices')) && res.devices?.length) setDevices(d, res);
  if ((d = at('memory'))) setMemory(d, res);
  if ((d = at('cpu'))) setCpu(d, res);
  if ((d = at('pids')) && res.pids) writeFile('set pids limit', d, 'pids.max', res.pids.limit > 0 ? String(res.pids.limit) : 'max');
  if ((d = at('blkio'))) setBlkio(d, res);
  if ((d = at('hugetlb'))) setHugetlb(d, res);
  if ((d = at('net_cls')) && res.network && isSet(res.network.classID)) writeFile('set network classID', d, 'net_cls.classid', String(res.network.classID));
  if ((d = at('net_prio'))) for (const p of res.network?.priorities ?? []) writeFile('set network priorities', d, 'net_prio.ifpriomap', `${p.name} ${p.priority}`);
  if ((d = at('rdma'))) for (const [dev, l] of Object.entries(res.rdma ?? {})) writeFile('set rdma limit', d, 'rdma.max', rdmaLine(dev, l));
}

function setCpuset(dir: string, res: Resources): void {
  if (res.cpu?.cpus) writeFile('set cpuset cpus', dir, 'cpuset.cpus', res.cpu.cpus);
  if (res.cpu?.mems) writeFile('set cpuset mems', dir, 'cpuset.mems', res.cpu.mems);
}

/** A new cpuset cgroup starts with empty cpus/mems and cannot take tasks: copy the parent's. */
export function cpusetCopyIfNeeded(dir: string, parent: string): void {
  for (const f of ['cpuset.cpus', 'cpuset.mems']) {
    if ((readOptional(dir, f) ?? '') !== '') continue;
    const v = readFile('initialise cpuset', parent, f);
    if (v) writeFile('initialise cpuset', dir, f, v);
  }
}

function setDevices(dir: string, res: Resources): void {
  const target = DeviceState.fromRules(res.devices!.map(fromSpec));
  const current = DeviceState.fromList(readFile('set devices', dir, 'devices.list'));
  for (const r of current.transition(target)) {
    writeFile('set devices', dir, r.allow ? 'devices.allow' : 'devices.deny', ruleString(r));
  }
  const after = DeviceState.fromList(readFile('set devices', dir, 'devices.list'));
  if (target.defaultAllow ? !after.defaultAllow : !after.equals(target)) {
    throw new BerthError({ kind: 'system', op: 'set devices', path: dir, message: `set devices: ${dir}/devices.list does not match the requested rules after writing them` });
  }
}

function memoryBusyHint(dir: string, limit: number): (code: string) => string | undefined {
  return (code) => {
    if (code !== 'EBUSY') return undefined;
    return `unable to set memory limit to ${limit} (current usage: ${readNum(dir, 'memory.usage_in_bytes') ?? '?'}, peak usage: ${readNum(dir, 'memory.max_usage_in_bytes') ?? '?'})`;
  };
}

function setMemory(dir: string, res: Resources): void {
  const m = res.memory;
  if (!m) return;
  const memory = m.limit ?? 0;
  let swap = m.swap ?? 0;
  if (m.checkBeforeUpdate && (memory > 0 || swap > 0)) {
    const usage = readNum(dir, 'memory.usage_in_bytes');
    if (usage !== undefined && swap > 0 && swap <= usage) throw invalid('set memory swap', `set memory swap: rejecting memory+swap limit ${swap} <= usage ${usage}`);
    if (usage !== undefined && memory > 0 && memory <= usage) throw invalid('set memory limit', `set memory limit: rejecting memory limit ${memory} <= usage ${usage}`);
  }
  // "Unlimited memory" with swap unset means unlimited memory+swap too (when swap accounting exists).
  if (memory === -1 && swap === 0 && has(dir, 'memory.memsw.limit_in_bytes')) swap = -1;
  const setLimit = () => { if (memory !== 0) writeFile('set memory limit', dir, 'memory.limit_in_bytes', String(memory), memoryBusyHint(dir, memory)); };
  const setSwap = () => {
    if (swap !== 0) writeFile('set memory swap', dir, 'memory.memsw.limit_in_bytes', String(swap), (c) => (c === 'ENOENT' ? 'swap accounting is not enabled in this kernel' : undefined));
  };
  // memsw must stay >= limit at every moment: raise memsw first when it grows, lower the limit first otherwise.
  let swapFirst = false;
  if (memory !== 0 && swap !== 0) {
    const cur = readNum(dir, 'memory.limit_in_bytes') ?? 0;
    swapFirst = swap === -1 || cur < swap;
  }
  if (swapFirst) { setSwap(); setLimit(); } else { setLimit(); setSwap(); }
  // kernel / kernelTCP are ignored: kernel memory limits are deprecated (and gone since Linux 6.1), as in runc.
  if (isSet(m.reservation)) writeFile('set memory reservation', dir, 'memory.soft_limit_in_bytes', String(m.reservation));
  if (m.disableOOMKiller) writeFile('disable OOM killer', dir, 'memory.oom_control', '1');
  const sw = m.swappiness;
  if (sw !== undefined && sw !== null && sw !== -1) writeFile('set memory swappiness', dir, 'memory.swappiness', String(sw));
}

function setCpu(dir: string, res: Resources): void {
  const c = res.cpu;
  if (!c) return;
  // Realtime bandwidth first: a SCHED_RR task needs it before it can join.
  setRt(dir, c.realtimeRuntime, c.realtimePeriod);
  if (isSet(c.shares)) {
    writeFile('set cpu shares', dir, 'cpu.shares', String(c.shares));
    const got = readNum(dir, 'cpu.shares');
    if (got !== undefined && c.shares > got) throw invalid('set cpu shares', `set cpu shares: the maximum allowed cpu-shares is ${got}`);
    if (got !== undefined && c.shares < got) throw invalid('set cpu shares', `set cpu shares: the minimum allowed cpu-shares is ${got}`);
  }
  const retryable = (e: unknown) => (e as BerthError).code === 'EINVAL' && isSet(c.quota);
  let period = '';
  if (isSet(c.period)) {
    period = String(c.period);
    // A smaller period can be rejected until the quota is lowered too: retry after the quota.
    try { writeFile('set cpu period', dir, 'cpu.cfs_period_us', period); period = ''; } catch (e) { if (!retryable(e)) throw e; }
  }
  let burst = '';
  if (c.burst !== undefined && c.burst !== null) {
    burst = String(c.burst);
    try {
      writeFile('set cpu burst', dir, 'cpu.cfs_burst_us', burst);
      burst = '';
    } catch (e) {
      if ((e as BerthError).code === 'ENOENT') burst = ''; // no burst knob (Linux < 5.14): ignored as runc
      else if (!retryable(e)) throw e;
    }
  }
  if (isSet(c.quota)) {
    writeFile('set cpu quota', dir, 'cpu.cfs_quota_us', String(c.quota));
    if (period) writeFile('set cpu period', dir, 'cpu.cfs_period_us', period);
    if (burst) writeFile('set cpu burst', dir, 'cpu.cfs_burst_us', burst);
  }
  if (c.idle !== undefined && c.idle !== null) writeFile('set cpu idle', dir, 'cpu.idle', String(c.idle));
}

function setRt(dir: string, runtime: number | undefined, periodIn: number | undefined): void {
  let period = '';
  if (isSet(periodIn)) {
    period = String(periodIn);
    try {
      writeFile('set cpu realtime period', dir, 'cpu.rt_period_us', period);
      period = '';
    } catch (e) {
      if (!((e as BerthError).code === 'EINVAL' && isSet(runtime))) throw e;
    }
  }
  if (isSet(runtime)) {
    writeFile('set cpu realtime runtime', dir, 'cpu.rt_runtime_us', String(runtime));
    if (period) writeFile('set cpu realtime period', dir, 'cpu.rt_period_us', period);
  }
}

function setBlkio(dir: string, res: Resources): void {
  const b = res.blockIO;
  if (!b) return;
  const cfq = has(dir, 'blkio.weight');
  const weightFile = cfq ? 'blkio.weight' : 'blkio.bfq.weight';
  const weightDevFile = cfq ? 'blkio.weight_device' : 'blkio.bfq.weight_device';
  if (isSet(b.weight)) writeFile('set blkio weight', dir, weightFile, String(b.weight));
  if (isSet(b.leafWeight)) writeFile('set blkio leaf weight', dir, 'blkio.leaf_weight', String(b.leafWeight));
  for (const w of b.weightDevice ?? []) {
    if (isSet(w.weight)) writeFile('set blkio device weight', dir, weightDevFile, `${w.major}:${w.minor} ${w.weight}`);
    if (isSet(w.leafWeight)) writeFile('set blkio device leaf weight', dir, 'blkio.leaf_weight_device', `${w.major}:${w.minor} ${w.leafWeight}`);
  }
  const throttles: Array<[keyof typeof b, string]> = [
    ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'], ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
    ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'], ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
  ];
  for (const [field, file] of throttles) {
    for (const t of (b[field] as Array<{ major: number; minor: number; rate?: number }> | undefined) ?? []) {
      writeFile('set blkio limit', dir, file, `${t.major}:${t.minor} ${t.rate ?? 0}`);
    }
  }
}

function setHugetlb(dir: string, res: Resources): void {
  let rsvd = true;
  for (const h of res.hugepageLimits ?? []) {
    const prefix = `hugetlb.${h.pageSize}`;
    writeFile('set hugepage limit', dir, `${prefix}.limit_in_bytes`, String(h.limit));
    if (!rsvd) continue;
    try {
      writeFile('set hugepage limit', dir, `${prefix}.rsvd.limit_in_bytes`, String(h.limit));
    } catch (e) {
      if ((e as BerthError).code === 'ENOENT') rsvd = false; else throw e;
    }
  }
}
