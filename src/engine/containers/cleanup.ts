/**
 * After a container's init exits, its monitor leaves an exit record. Whoever sees it first (the
 * attached CLI, the monitor's exit command `berth container cleanup`, or any later command)
 * moves the record to `exited` — one SQLite transaction decides who — and tears the container
 * down: runtime state and cgroup, the rootfs mount, the run directory. `--rm` containers are
 * removed then. Every step is idempotent, so a crash half-way is finished by the next caller.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { BerthError } from '../../lib/index.js';
import { del } from '../../runtime/index.js';
import { unmount } from '../../snapshots/index.js';
import { readExitFileSync, type MonitorExit } from '../../sys/index.js';
import type { Container } from '../store/index.js';
import type { EngineCore } from './core.js';
import { lockContainer } from './start-lock.js';

/** The exit record, or null while the container runs (the monitor writes it by tmp + rename). */
export const readExitRecord = readExitFileSync;

export function monitorAlive(pid: number): boolean {
  if (!pid) return false;
  try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'berth-monitor'; } catch { return false; }
}

/** 128+n for a signal death, else the exit status. */
export function exitCodeOf(e: MonitorExit): number {
  return e.signal ? 128 + e.signal : e.exitCode;
}

/**
 * Bring the record up to date with the monitor: a running or paused container whose exit record
 * exists (or whose monitor is gone without one) becomes `exited`. Returns the current record.
 */
export function reconcile(core: EngineCore, c: Container, observed?: MonitorExit | null): Container {
  const s = c.state.status;
  if (s !== 'running' && s !== 'paused' && s !== 'restarting') return c;
  const exit = observed ?? readExitRecord(core.paths(c.id).exitFile);
  if (!exit && monitorAlive(c.state.monitorPid)) return c;
  try {
    return core.store.tx(() => {
      const r = core.store.containers.setState(c.id, 'exited', {
        expect: ['running', 'paused', 'restarting'],
        exitCode: exit ? exitCodeOf(exit) : 255,
        oomKilled: exit?.oomKilled ?? false,
        finishedAt: exit?.finishedAt,
        error: exit ? '' : 'the container monitor exited without an exit record',
        monitorPid: 0,
      });
      if (exit?.oomKilled) core.event('container', 'oom', r);
      core.event('container', 'die', r, { exitCode: String(r.state.exitCode) });
      return r;
    });
  } catch (e) {
    if (e instanceof BerthError && (e.kind === 'conflict' || e.kind === 'notfound')) {
      return core.store.containers.find(c.id) ?? c; // someone else got there first
    }
    throw e;
  }
}

/** Present while the rootfs is mounted on the host (not only in the container's namespace). */
export function hostMountMarker(paths: { runDir: string }): string {
  return `${paths.runDir}/rootfs.mounted`;
}

/** Undo what start did (safe to repeat): runtime state and cgroup, rootfs mount, run directory. */
export async function teardown(core: EngineCore, c: Container): Promise<void> {
  const paths = core.paths(c.id);
  await del(core.runtime, c.id, true);
  if (existsSync(hostMountMarker(paths))) await unmount(paths.rootfs, { detach: true });
  if (existsSync(paths.shm)) await unmount(paths.shm, { detach: true });
  rmSync(paths.runDir, { recursive: true, force: true });
}

/** reconcile + teardown + `--rm`: returns the record, or undefined when it was removed. */
export async function settle(core: EngineCore, ref: string | Container, observed?: MonitorExit | null): Promise<Container | undefined> {
  const before = typeof ref === 'string' ? core.store.containers.find(ref) : ref;
  if (!before) return undefined;
  const c = reconcile(core, before, observed);
  if (c.state.status !== 'exited' && c.state.status !== 'created' && c.state.status !== 'dead') return c;
  if (c.state.status === 'exited') {
    // a start of the same container under way (a restart) owns its state from here
    const release = await lockContainer(core, c.id, false, `clean up ${c.name}`);
    if (!release) return c;
    try { await teardown(core, c); } finally { release(); }
  }
  if (c.hostConfig.AutoRemove === true && c.state.status === 'exited') {
    const { removeContainer } = await import("./lifecycle.js");
    await removeContainer(core, c.id, { force: true, volumes: true }).catch((e) => {
      if (!(e instanceof BerthError && e.kind === 'notfound')) throw e;
    });
    return undefined;
  }
  return c;
}
