/**
 * /proc and mount helpers for bench/engine.ts: a process's parent, name and memory (VmRSS, and PSS
 * from smaps_rollup when readable), the host's MemAvailable, and the last-resort clean-up of what
 * an engine may leave behind (processes in cgroups named after our container ids or whose command
 * line names one of our temp dirs, those cgroups, mounts under our temp dirs).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

function read(path: string): string | undefined {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}

export function comm(pid: number): string | undefined { return read(`/proc/${pid}/comm`)?.trim(); }

export function ppid(pid: number): number | undefined {
  const m = /^PPid:\s+(\d+)$/m.exec(read(`/proc/${pid}/status`) ?? '');
  return m ? Number(m[1]) : undefined;
}

export function cmdline(pid: number): string {
  return (read(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean).join(' ');
}

export interface Mem { pid: number; comm: string; rssKiB: number; pssKiB?: number; anonKiB?: number }

/** VmRSS, its anonymous part (RssAnon) and Pss (when /proc/PID/smaps_rollup is readable) of one process, in KiB. */
export function memOf(pid: number): Mem {
  const status = read(`/proc/${pid}/status`);
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status ?? '');
  if (!status || !rss) throw new Error(`memory of pid ${pid}: /proc/${pid}/status has no VmRSS (process gone?)`);
  const pss = /^Pss:\s+(\d+) kB$/m.exec(read(`/proc/${pid}/smaps_rollup`) ?? '');
  const anon = /^RssAnon:\s+(\d+) kB$/m.exec(status);
  return { pid, comm: comm(pid) ?? '?', rssKiB: Number(rss[1]), ...(pss ? { pssKiB: Number(pss[1]) } : {}), ...(anon ? { anonKiB: Number(anon[1]) } : {}) };
}

/** MemAvailable of the host, KiB. */
export function memAvailableKiB(): number {
  return Number(/^MemAvailable:\s+(\d+) kB$/m.exec(read('/proc/meminfo') ?? '')?.[1] ?? NaN);
}

export function pidsAlive(): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo, octal escapes decoded). */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of (read('/proc/self/mountinfo') ?? '').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = mp.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (p === dir || p.startsWith(dir + '/')) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Lazily unmount everything at or below each dir; returns what was unmounted. */
export function unmountUnder(dirs: string[]): string[] {
  const done: string[] = [];
  for (const dir of dirs) {
    for (const mp of mountsUnder(dir)) {
      if (spawnSync('umount', ['-l', mp], { stdio: 'ignore' }).status === 0) done.push(mp);
    }
  }
  return done;
}

const ID = /[0-9a-f]{64}/g;

/** Container ids (64 hex) named in a process's cgroup paths. */
function cgroupIds(pid: number): string[] {
  return (read(`/proc/${pid}/cgroup`) ?? '').match(ID) ?? [];
}

/**
 * Last resort after the engines' own clean-up: SIGKILL processes that sit in a cgroup named after
 * one of `ids` (a container's processes) and their parent when it is a monitor (`monitors` names),
 * and processes whose command line contains one of `dirs` (daemons, shims, conmon on our temp
 * roots); then rmdir such container cgroups. Returns a description of what it killed/removed.
 */
export async function killLeftovers(ids: ReadonlySet<string>, dirs: string[], monitors: string[], graceMs = 15000): Promise<string[]> {
  const victims = new Map<number, string>();
  // A dir as a whole path component: /tmp/bre-abc must not match /tmp/bre-abcd.
  const onDirs = dirs.map((d) => new RegExp(d.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '(?=/|\\s|$)'));
  // Exit commands the monitors ran (`berth container cleanup`, `podman container cleanup`) may
  // still be finishing: give them time before anything is killed.
  const onOurDirs = () => pidsAlive().filter((pid) => pid !== process.pid && onDirs.some((re) => re.test(cmdline(pid))));
  for (const end = Date.now() + graceMs; onOurDirs().length && Date.now() < end;) await new Promise((r) => setTimeout(r, 200));
  for (const pid of pidsAlive()) {
    if (pid === process.pid) continue;
    const line = cmdline(pid);
    if (onDirs.some((re) => re.test(line))) { victims.set(pid, line); continue; }
    if (ids.size && cgroupIds(pid).some((id) => ids.has(id))) {
      victims.set(pid, `${comm(pid)} (container process)`);
      const parent = ppid(pid);
      const pc = parent ? comm(parent) : undefined;
      if (parent && pc && monitors.includes(pc)) victims.set(parent, `${pc} (monitor)`);
    }
  }
  const report: string[] = [];
  for (const [pid, what] of victims) {
    try { process.kill(pid, 'SIGKILL'); report.push(`killed ${pid} ${what}`); } catch { /* gone */ }
  }
  if (victims.size) await new Promise((r) => setTimeout(r, 300));
  if (ids.size) {
    for (const c of controllers()) {
      const walk = (dir: string, depth: number): void => {
        let entries: string[];
        try { entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name); } catch { return; }
        for (const e of entries) {
          const p = join(dir, e);
          if ((e.match(ID) ?? []).some((id) => ids.has(id))) {
            try { rmdirSync(p); report.push(`removed cgroup ${p}`); } catch { /* busy or gone */ }
          } else if (depth < 2) walk(p, depth + 1);
        }
      };
      walk(join('/sys/fs/cgroup', c), 0);
    }
  }
  return report;
}

function controllers(): string[] {
  try { return readdirSync('/sys/fs/cgroup'); } catch { return []; }
}

/** Which of these cgroups (paths relative to each controller's root) exist now. */
export function cgroupsPresent(rel: string[]): Set<string> {
  const out = new Set<string>();
  for (const c of controllers()) for (const r of rel) if (existsSync(join('/sys/fs/cgroup', c, r))) out.add(join('/sys/fs/cgroup', c, r));
  return out;
}

/** rmdir the cgroups among `rel` (deepest first) that were not in `before`; busy ones stay. */
export function removeCgroupsCreated(rel: string[], before: Set<string>): string[] {
  const done: string[] = [];
  const paths = [...cgroupsPresent(rel)].filter((p) => !before.has(p)).sort((a, b) => b.length - a.length);
  for (const p of paths) { try { rmdirSync(p); done.push(`removed cgroup ${p}`); } catch { /* in use */ } }
  return done;
}
