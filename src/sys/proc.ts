/** Reading process facts from /proc. */
import { readFileSync, writeFileSync } from 'node:fs';
import { readSmallFile } from '../lib/index.js';

export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  /** Start time in clock ticks after boot (field 22): with the pid it identifies a process. */
  startTime: number;
}

export function procStat(pid: number): ProcStat | null {
  const text = readSmallFile(`/proc/${pid}/stat`);
  if (text === undefined) return null;
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state); field 22 is fields[19].
  return { pid, state: fields[0]!, ppid: Number(fields[1]), startTime: Number(fields[19]) };
}

/** True when the process with this pid and start time is alive (not gone, not a zombie). */
export function processAlive(pid: number, startTime?: number): boolean {
  if (!pid) return false;
  const st = procStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || st.startTime === startTime;
}

/** Move `pid` into a cgroup by writing it to each of its cgroup.procs files. */
export function joinCgroupFiles(files: string[], pid: number): void {
  for (const f of files) writeFileSync(f, String(pid));
}

/** The mount point (from /proc/self/mountinfo) that contains `path`, which must be a real path. */
export function mountPointOf(path: string): string {
  let best = '/';
  let text = '';
  try { text = readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return best; }
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if ((path === p || path.startsWith(p === '/' ? '/' : p + '/')) && p.length > best.length) best = p;
  }
  return best;
}
