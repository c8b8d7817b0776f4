/**
 * The kernel's side of a container record: its runtime state (init pid + start time, cgroup), its
 * monitor (the init's parent, named `berth-monitor`), and the means to end a container nobody
 * controls any more. Used by reconcile (cleanup.ts) when a monitor or a CLI died at the wrong
 * moment. Everything here is synchronous: reconcile is called by every command that reads a
 * record, and must return the truth.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Container as RuntimeContainer } from '../../runtime/index.js';
import { readSmallFile } from '../../lib/index.js';
import { procStat, processAlive } from '../../sys/index.js';
import type { EngineCore } from './core.js';

const pause = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void { Atomics.wait(pause, 0, 0, ms); }

/** A live berth monitor (not a zombie: an orphaned monitor's zombie may never be reaped). */
export function monitorAlive(pid: number): boolean {
  if (!pid) return false;
  // one read: /proc/PID/stat carries the comm (in parentheses) and the state after it
  const text = readSmallFile(`/proc/${pid}/stat`);
  if (text === undefined) return false;
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open || text.slice(open + 1, close) !== 'berth-monitor') return false;
  const state = text[close + 2];
  return state !== 'Z' && state !== 'X';
}

/** The runtime's view of the container (`<run-root>/runtime/<id>/state.json`), if it has one. */
export function runtimeContainer(core: EngineCore, id: string): RuntimeContainer | undefined {
  if (!existsSync(join(core.runtime.root, id, 'state.json'))) return undefined;
  try { return RuntimeContainer.load(core.runtime, id, 'reconcile'); } catch { return undefined; }
}

/** The init's monitor (its parent) when that is a live berth monitor, else 0. */
export function monitorOf(rt: RuntimeContainer): number {
  const st = procStat(rt.st.pid);
  return st && monitorAlive(st.ppid) ? st.ppid : 0;
}

/** The init was released to run the user program (no exec fifo: `run -d` never has one). */
export function wasReleased(rt: RuntimeContainer): boolean {
  return !rt.st.creating && !existsSync(rt.dir.fifo);
}

/**
 * SIGKILL every process of the container now — the init (with its own pid namespace that ends
 * them all) and whatever its cgroup holds — thawing a frozen cgroup so the kill lands, and wait
 * (2 s at most) until none is alive. Returns whether the init was alive. As containerd does for a
 * container whose shim died: it must not run on outside any control.
 */
export function killNow(rt: RuntimeContainer): boolean {
  const wasAlive = rt.alive();
  let cg: ReturnType<RuntimeContainer['cgroup']> = null;
  try { cg = rt.cgroup(); } catch { /* no cgroup driver: the init only */ }
  const pids = (): number[] => { try { return cg?.exists() ? cg.pids().filter((p) => processAlive(p)) : []; } catch { return []; } };
  const signal = (): void => {
    for (const p of [...(rt.alive() ? [rt.st.pid] : []), ...pids()]) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    // frozen (v1) tasks die of SIGKILL only once thawed; thaw() writes the state synchronously
    try { if (cg?.isFrozen()) void cg.thaw().catch(() => undefined); } catch { /* gone */ }
  };
  signal();
  const end = Date.now() + 2000;
  while ((rt.alive() || pids().length) && Date.now() < end) { sleepSync(5); signal(); }
  return wasAlive;
}
