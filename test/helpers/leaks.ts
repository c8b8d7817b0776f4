/**
 * What a container of a test engine may leave behind, and whether its record tells the truth.
 * Shared by the state tests (test/cli/state-truth.test.ts), the fault suite
 * (test/cli/fault-kill.test.ts) and bench/soak.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mountsUnder } from './engine.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';

/** The container's cgroup directories (every v1 controller and the v2 hierarchy, parent /berth). */
export function cgroupDirs(id: string): string[] {
  const out: string[] = [];
  let ctrls: string[] = [];
  try { ctrls = readdirSync(CGROUP_ROOT); } catch { return out; }
  for (const ctrl of ctrls) {
    // a v2 root has cgroup.controllers: the container's dir is right under it
    if (existsSync(`${CGROUP_ROOT}/${ctrl}/berth`) || existsSync(`${CGROUP_ROOT}/${ctrl}/cgroup.procs`)) out.push(`${CGROUP_ROOT}/${ctrl}/berth/${id}`);
  }
  if (existsSync(`${CGROUP_ROOT}/cgroup.controllers`)) out.push(`${CGROUP_ROOT}/berth/${id}`);
  return out;
}

/** Pids in the container's cgroups (any controller). */
export function cgroupPids(id: string): number[] {
  const pids = new Set<number>();
  for (const d of cgroupDirs(id)) {
    try { for (const l of readFileSync(`${d}/cgroup.procs`, 'utf8').split('\n')) if (l) pids.add(Number(l)); } catch { /* none */ }
  }
  return [...pids];
}

export interface Roots { root: string; runRoot: string }

/** Everything of container `id` still present: mounts, dirs, lock, runtime state, cgroups. */
export function leaks(r: Roots, id: string): string[] {
  const found: string[] = [];
  for (const m of [...mountsUnder(r.runRoot), ...mountsUnder(r.root)]) if (m.includes(id)) found.push(`mount ${m}`);
  for (const p of [`${r.runRoot}/${id}`, `${r.runRoot}/${id}.lock`, `${r.runRoot}/runtime/${id}`, `${r.root}/containers/${id}`]) {
    if (existsSync(p)) found.push(`path ${p}`);
  }
  for (const d of cgroupDirs(id)) if (existsSync(d)) found.push(`cgroup ${d}`);
  return found;
}

/** /proc/PID/stat state, undefined when gone. */
function procState(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[0];
  } catch { return undefined; }
}

/** Alive: exists and is neither a zombie nor dead. */
export function alive(pid: number): boolean {
  if (!(pid > 0)) return false;
  const s = procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}
