/** Applying OCI resources to a cgroup v2 directory, in runc's order and with runc's conversions. */
import { BerthError, invalid } from '../lib/index.js';
import { blkioToIOWeight, checkPageSize, isSet, neededControllers, numToStr, rdmaLine, sharesToWeight, swapToV2 } from './convert.js';
import { DeviceState, fromSpec } from './devices.js';
import { BPF_LICENSE, deviceProgram, encodeProgram } from './devfilter.js';
import { has, readNum, readOptional, writeFile, writeLines } from './files.js';
import type { DeviceProgramAttacher, Resources } from './types.js';

/** Reject what cgroup v2 cannot express, before anything is created or written. */
export function validateV2(res: Resources | undefined): void {
  if (!res) return;
  const m = res.memory;
  if (m) swapToV2(m.swap ?? 0, m.limit ?? 0);
  if (m?.disableOOMKiller) throw invalid('set memory', 'set memory: disableOOMKiller is not supported on cgroup v2 (there is no memory.oom_control)');
  if (res.network && (res.network.classID !== undefined && res.network.classID !== null || res.network.priorities?.length)) {
    throw invalid('set network', 'set network: net_cls/net_prio (network classID/priorities) do not exist on cgroup v2');
  }
  const c = res.cpu;
  if (c && (isSet(c.realtimeRuntime) || isSet(c.realtimePeriod))) {
    throw invalid('set cpu', 'set cpu: realtimeRuntime/realtimePeriod (cpu.rt_*) are not supported on cgroup v2');
  }
  if (isSet(res.blockIO?.leafWeight) || res.blockIO?.weightDevice?.some((w) => isSet(w.leafWeight))) {
    throw invalid('set block IO', 'set block IO: leafWeight is not supported on cgroup v2');
  }
  for (const h of res.hugepageLimits ?? []) checkPageSize(h.pageSize);
  for (const k of Object.keys(res.unified ?? {})) {
    if (k.includes('/')) throw invalid('set unified', `set unified: resource ${JSON.stringify(k)} must be a file name (no slashes)`);
  }
  if (res.devices?.length) DeviceState.fromRules(res.devices.map(fromSpec));
}

function controllersOf(dir: string): Set<string> {
  return new Set((readOptional(dir, 'cgroup.controllers') ?? '').split(/\s+/).filter(Boolean));
}

const V2_NAME: Record<string, string> = { blkio: 'io' };

/** Apply `res` to `dir` (create and update). */
export function applyV2(dir: string, res: Resources | undefined, attach: DeviceProgramAttacher): void {
  if (!res) return;
  validateV2(res);
  const avail = controllersOf(dir);
  for (const [c, what] of neededControllers(res)) {
    if (c === 'devices') continue;
    const v2 = V2_NAME[c] ?? c;
    if (!avail.has(v2)) {
      throw new BerthError({
        kind: 'system', op: `set ${what}`, path: dir,
        message: `set ${what}: cgroup v2 controller ${v2} is not enabled for ${dir} (cgroup.controllers: ${[...avail].join(' ') || 'none'})`,
      });
    }
  }
  setPids(dir, res);
  setMemory(dir, res);
  setIo(dir, res);
  setCpu(dir, res);
  if (res.devices?.length) setDevices(dir, res, attach);
  if (res.cpu?.cpus) writeFile('set cpuset cpus', dir, 'cpuset.cpus', res.cpu.cpus);
  if (res.cpu?.mems) writeFile('set cpuset mems', dir, 'cpuset.mems', res.cpu.mems);
  setHugetlb(dir, res);
  for (const [dev, l] of Object.entries(res.rdma ?? {})) writeFile('set rdma limit', dir, 'rdma.max', rdmaLine(dev, l));
  setUnified(dir, res, avail);
}

function setPids(dir: string, res: Resources): void {
  if (!res.pids) return;
  const l = res.pids.limit;
  writeFile('set pids limit', dir, 'pids.max', l > 0 ? String(l) : 'max');
}

function setMemory(dir: string, res: Resources): void {
  const m = res.memory;
  if (!m || !(isSet(m.limit) || isSet(m.reservation) || isSet(m.swap))) return;
  const limit = m.limit ?? 0, swapIn = m.swap ?? 0;
  if (m.checkBeforeUpdate) {
    const usage = readNum(dir, 'memory.current');
    if (usage !== undefined && swapIn > 0 && swapIn <= usage) throw invalid('set memory swap', `set memory swap: rejecting memory+swap limit ${swapIn} <= usage ${usage}`);
    if (usage !== undefined && limit > 0 && limit <= usage) throw invalid('set memory limit', `set memory limit: rejecting memory limit ${limit} <= usage ${usage}`);
  }
  const swap = swapToV2(swapIn, limit);
  let swapStr = numToStr(swap);
  if (swapStr === '' && swap === 0 && swapIn > 0) swapStr = '0';
  if (swapStr !== '') {
    try {
      writeFile('set memory swap', dir, 'memory.swap.max', swapStr);
    } catch (e) {
      // No swap accounting: setting "no limit" or "no swap" is then already true.
      if (!((e as BerthError).code === 'ENOENT' && (swapStr === 'max' || swapStr === '0'))) throw e;
    }
  }
  const lim = numToStr(limit);
  if (lim) writeFile('set memory limit', dir, 'memory.max', lim);
  const low = numToStr(m.reservation);
  if (low) writeFile('set memory reservation', dir, 'memory.low', low);
}

/** io.bfq.weight shows per-device weights ("default 100\n8:0 200") only on kernels that support them. */
function bfqPerDevice(dir: string): boolean {
  const s = readOptional(dir, 'io.bfq.weight');
  return s !== undefined && !/^\d+$/.test(s.trim());
}

function setIo(dir: string, res: Resources): void {
  const b = res.blockIO;
  if (!b) return;
  const bfq = has(dir, 'io.bfq.weight');
  const perDevice = bfq && bfqPerDevice(dir);
  if (isSet(b.weight)) {
    if (bfq) writeFile('set io weight', dir, 'io.bfq.weight', String(b.weight));
    else writeFile('set io weight', dir, 'io.weight', String(blkioToIOWeight(b.weight)));
  }
  const devWeights = (b.weightDevice ?? []).filter((w) => isSet(w.weight));
  if (devWeights.length) {
    if (!perDevice) {
      throw invalid('set io device weight', `set io device weight: per-device weights need the BFQ I/O scheduler's io.bfq.weight in ${dir}`);
    }
    for (const w of devWeights) writeFile('set io device weight', dir, 'io.bfq.weight', `${w.major}:${w.minor} ${w.weight}`);
  }
  const throttles: Array<[keyof typeof b, string]> = [
    ['throttleReadBpsDevice', 'rbps'], ['throttleWriteBpsDevice', 'wbps'],
    ['throttleReadIOPSDevice', 'riops'], ['throttleWriteIOPSDevice', 'wiops'],
  ];
  for (const [field, name] of throttles) {
    for (const t of (b[field] as Array<{ major: number; minor: number; rate?: number }> | undefined) ?? []) {
      writeFile('set io limit', dir, 'io.max', `${t.major}:${t.minor} ${name}=${t.rate ?? 0}`);
    }
  }
}

function setCpu(dir: string, res: Resources): void {
  const c = res.cpu;
  if (!c) return;
  const weight = sharesToWeight(c.shares ?? 0);
  const hasBurst = c.burst !== undefined && c.burst !== null;
  const hasIdle = c.idle !== undefined && c.idle !== null;
  if (!(weight || isSet(c.quota) || isSet(c.period) || hasBurst || hasIdle)) return;
  if (hasIdle) writeFile('set cpu idle', dir, 'cpu.idle', String(c.idle));
  if (weight) writeFile('set cpu weight', dir, 'cpu.weight', String(weight));
  let burst = '';
  if (hasBurst) {
    burst = String(c.burst);
    try {
      writeFile('set cpu burst', dir, 'cpu.max.burst', burst);
      burst = '';
    } catch (e) {
      // A burst larger than the current quota allows is rejected: retry after setting the quota.
      if (!((e as BerthError).code === 'EINVAL' && isSet(c.quota))) throw e;
    }
  }
  if (isSet(c.quota) || isSet(c.period)) {
    let v = (c.quota ?? 0) > 0 ? String(c.quota) : 'max';
    if (isSet(c.period)) v += ` ${c.period}`;
    writeFile('set cpu max', dir, 'cpu.max', v);
    if (burst) writeFile('set cpu burst', dir, 'cpu.max.burst', burst);
  }
}

function setDevices(dir: string, res: Resources, attach: DeviceProgramAttacher): void {
  const state = DeviceState.fromRules(res.devices!.map(fromSpec));
  attach(dir, encodeProgram(deviceProgram(state)), BPF_LICENSE);
}

function setHugetlb(dir: string, res: Resources): void {
  let rsvd = true;
  for (const h of res.hugepageLimits ?? []) {
    checkPageSize(h.pageSize);
    const prefix = `hugetlb.${h.pageSize}`;
    writeFile('set hugepage limit', dir, `${prefix}.max`, String(h.limit));
    if (!rsvd) continue;
    try {
      writeFile('set hugepage limit', dir, `${prefix}.rsvd.max`, String(h.limit));
    } catch (e) {
      if ((e as BerthError).code === 'ENOENT') rsvd = false; else throw e;
    }
  }
}

function setUnified(dir: string, res: Resources, avail: Set<string>): void {
  for (const [k, v] of Object.entries(res.unified ?? {})) {
    try {
      writeLines(`set unified ${k}`, dir, k, v);
    } catch (e) {
      const code = (e as BerthError).code;
      if (code === 'ENOENT' || code === 'EPERM' || code === 'EACCES') {
        const dot = k.indexOf('.');
        if (dot < 0) throw invalid('set unified', `set unified: resource ${JSON.stringify(k)} must be in the form CONTROLLER.PARAMETER`);
        const c = k.slice(0, dot);
        if (!avail.has(c) && c !== 'cgroup') throw invalid('set unified', `set unified: resource ${JSON.stringify(k)} can't be set: controller ${c} not available in ${dir}`);
      }
      throw e;
    }
  }
}

/** The cgroup.type check runc does on each level it creates or passes through. */
export function checkType(dir: string): void {
  const t = readOptional(dir, 'cgroup.type');
  if (t === 'domain invalid') {
    throw new BerthError({
      kind: 'system', op: 'create cgroup', path: dir,
      message: `create cgroup: ${dir} is in "domain invalid" mode (a process lives in a parent cgroup with controllers enabled)`,
    });
  }
}

/** Enable every controller of the root in `dir`'s subtree_control (all at once, else one by one; errors ignored, as runc). */
export function enableControllers(dir: string, controllers: string[]): void {
  if (!controllers.length) return;
  try {
    writeFile('enable controllers', dir, 'cgroup.subtree_control', controllers.map((c) => `+${c}`).join(' '));
  } catch {
    for (const c of controllers) {
      try { writeFile('enable controllers', dir, 'cgroup.subtree_control', `+${c}`); } catch { /* unavailable here: caught when set */ }
    }
  }
}
