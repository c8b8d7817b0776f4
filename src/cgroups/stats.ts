/** Reading a cgroup's counters into CgroupStats, for v1 (one directory per controller) and v2. */
import { readdirSync } from 'node:fs';
import { V1_UNLIMITED, parseNum, readKV, readNum, readOptional } from './files.js';
import type { BlkioEntry, CgroupStats, HugetlbStats, PSIData, PSIStats } from './types.js';

/** USER_HZ, the unit of cpuacct.stat (fixed at 100 for user space on Linux). */
const NS_PER_TICK = 1e9 / 100;

export function emptyStats(): CgroupStats {
  return {
    cpu: { usageTotal: 0, usageUser: 0, usageSystem: 0, perCpu: [], periods: 0, throttledPeriods: 0, throttledTime: 0 },
    memory: { usage: 0, maxUsage: 0, limit: null, cache: 0, rss: 0, swap: 0, failcnt: 0, oomKill: 0, stat: {} },
    pids: { current: 0, limit: null },
    blkio: { ioServiceBytes: [], ioServiced: [] },
    hugetlb: {},
  };
}

function files(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}

/** v1 blkio "8:0 Read 4096" lines (the trailing "Total N" line has no device and is skipped). */
export function parseBlkioV1(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+)\s+(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

/** v2 io.stat "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" as v1-style entries. */
export function parseIoStat(text: string | undefined): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [], ios: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const major = Number(m[1]), minor = Number(m[2]);
    const kv: Record<string, number> = {};
    for (const p of kvs) { const [k, v] = p.split('='); if (k && v !== undefined) kv[k] = Number(v); }
    const add = (list: BlkioEntry[], op: string, k: string) => { if (kv[k] !== undefined) list.push({ major, minor, op, value: kv[k]! }); };
    add(bytes, 'Read', 'rbytes'); add(bytes, 'Write', 'wbytes'); add(bytes, 'Discard', 'dbytes');
    add(ios, 'Read', 'rios'); add(ios, 'Write', 'wios'); add(ios, 'Discard', 'dios');
  }
  return { bytes, ios };
}

const limitOf = (v: number | undefined): number | null => (v === undefined || v >= V1_UNLIMITED ? null : v);

/** v1: `dirs` maps a controller name to its directory (missing controllers are skipped). */
export function statsV1(dirs: Map<string, string>): CgroupStats {
  const st = emptyStats();
  const acct = dirs.get('cpuacct');
  if (acct) {
    st.cpu.usageTotal = readNum(acct, 'cpuacct.usage') ?? 0;
    const s = readKV(acct, 'cpuacct.stat');
    st.cpu.usageUser = (s.user ?? 0) * NS_PER_TICK;
    st.cpu.usageSystem = (s.system ?? 0) * NS_PER_TICK;
    st.cpu.perCpu = (readOptional(acct, 'cpuacct.usage_percpu') ?? '').split(/\s+/).filter(Boolean).map(Number);
  }
  const cpu = dirs.get('cpu');
  if (cpu) {
    const s = readKV(cpu, 'cpu.stat');
    st.cpu.periods = s.nr_periods ?? 0;
    st.cpu.throttledPeriods = s.nr_throttled ?? 0;
    st.cpu.throttledTime = s.throttled_time ?? 0;
  }
  const mem = dirs.get('memory');
  if (mem) {
    const m = st.memory;
    m.usage = readNum(mem, 'memory.usage_in_bytes') ?? 0;
    m.maxUsage = readNum(mem, 'memory.max_usage_in_bytes') ?? 0;
    m.limit = limitOf(readNum(mem, 'memory.limit_in_bytes'));
    m.failcnt = readNum(mem, 'memory.failcnt') ?? 0;
    m.stat = readKV(mem, 'memory.stat');
    m.cache = m.stat.cache ?? 0;
    m.rss = m.stat.rss ?? 0;
    const memsw = readNum(mem, 'memory.memsw.usage_in_bytes');
    m.swap = memsw !== undefined ? Math.max(0, memsw - m.usage) : 0;
    m.oomKill = readKV(mem, 'memory.oom_control').oom_kill ?? 0;
  }
  const pids = dirs.get('pids');
  if (pids) {
    st.pids.current = readNum(pids, 'pids.current') ?? 0;
    st.pids.limit = parseNum(readOptional(pids, 'pids.max')) ?? null;
  }
  const blkio = dirs.get('blkio');
  if (blkio) {
    // The throttle counters see every bio; the BFQ/CFQ ones only devices using those schedulers.
    for (const prefix of ['blkio.throttle.', 'blkio.bfq.', 'blkio.']) {
      const bytes = parseBlkioV1(readOptional(blkio, `${prefix}io_service_bytes_recursive`));
      const ios = parseBlkioV1(readOptional(blkio, `${prefix}io_serviced_recursive`));
      if (bytes.length || ios.length) { st.blkio = { ioServiceBytes: bytes, ioServiced: ios }; break; }
    }
  }
  const huge = dirs.get('hugetlb');
  if (huge) {
    for (const f of files(huge)) {
      const m = /^hugetlb\.([0-9]+[KMG]B)\.usage_in_bytes$/.exec(f);
      if (!m) continue;
      const size = m[1]!;
      st.hugetlb[size] = {
        usage: readNum(huge, f) ?? 0,
        maxUsage: readNum(huge, `hugetlb.${size}.max_usage_in_bytes`) ?? 0,
        failcnt: readNum(huge, `hugetlb.${size}.failcnt`) ?? 0,
      };
    }
  }
  return st;
}

export function statsV2(dir: string): CgroupStats {
  const st = emptyStats();
  const cs = readKV(dir, 'cpu.stat');
  st.cpu.usageTotal = (cs.usage_usec ?? 0) * 1000;
  st.cpu.usageUser = (cs.user_usec ?? 0) * 1000;
  st.cpu.usageSystem = (cs.system_usec ?? 0) * 1000;
  st.cpu.periods = cs.nr_periods ?? 0;
  st.cpu.throttledPeriods = cs.nr_throttled ?? 0;
  st.cpu.throttledTime = (cs.throttled_usec ?? 0) * 1000;
  const m = st.memory;
  m.usage = readNum(dir, 'memory.current') ?? 0;
  m.maxUsage = readNum(dir, 'memory.peak') ?? 0;
  m.limit = parseNum(readOptional(dir, 'memory.max')) ?? null;
  m.stat = readKV(dir, 'memory.stat');
  m.cache = m.stat.file ?? 0;
  m.rss = m.stat.anon ?? 0;
  m.swap = readNum(dir, 'memory.swap.current') ?? 0;
  const ev = readKV(dir, 'memory.events');
  m.failcnt = ev.max ?? 0;
  m.oomKill = ev.oom_kill ?? 0;
  st.pids.current = readNum(dir, 'pids.current') ?? 0;
  st.pids.limit = parseNum(readOptional(dir, 'pids.max')) ?? null;
  for (const [k, f] of [['cpu', 'cpu.pressure'], ['memory', 'memory.pressure'], ['io', 'io.pressure']] as const) {
    const psi = parsePressure(readOptional(dir, f));
    if (psi) (st.psi ??= {})[k] = psi;
  }
  const io = parseIoStat(readOptional(dir, 'io.stat'));
  st.blkio = { ioServiceBytes: io.bytes, ioServiced: io.ios };
  for (const f of files(dir)) {
    const hm = /^hugetlb\.([0-9]+[KMG]B)\.current$/.exec(f);
    if (!hm) continue;
    const size = hm[1]!;
    const h: HugetlbStats = {
      usage: readNum(dir, f) ?? 0,
      maxUsage: 0,
      failcnt: readKV(dir, `hugetlb.${size}.events`).max ?? 0,
    };
    st.hugetlb[size] = h;
  }
  return st;
}

/** A PSI file ("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull …"); undefined when absent or unreadable. */
export function parsePressure(text: string | undefined): PSIStats | undefined {
  if (!text) return undefined;
  const zero = (): PSIData => ({ avg10: 0, avg60: 0, avg300: 0, total: 0 });
  const out: PSIStats = { some: zero(), full: zero() };
  let seen = false;
  for (const line of text.split('\n')) {
    const [kind, ...kv] = line.trim().split(/\s+/);
    if (kind !== 'some' && kind !== 'full') continue;
    seen = true;
    for (const pair of kv) {
      const [k, v] = pair.split('=');
      if (k === 'avg10' || k === 'avg60' || k === 'avg300' || k === 'total') out[kind][k] = Number(v) || 0;
    }
  }
  return seen ? out : undefined;
}
