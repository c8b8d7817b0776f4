/**
 * After a container's init exits, its monitor leaves an exit record. Whoever sees it first (the
 * attached CLI, the monitor's exit command `berth container cleanup`, or any later command)
 * moves the record to `exited` — one SQLite transaction decides who — and tears the container
 * down: runtime state and cgroup, the rootfs mount, the run directory. `--rm` containers are
 * removed then. Every step is idempotent, so a crash half-way is finished by the next caller.
 */
import { stopPasta } from '../rootless/network.js';
import { stopFuse } from '../rootless/fuse.js';
import { releaseNetworks } from '../networks/attach.js';
import { existsSync, rmSync } from 'node:fs';
import { posix } from 'node:path';
import { BerthError } from '../../lib/index.js';
import { openCgroup } from '../../cgroups/index.js';
import { del } from '../../runtime/index.js';
import { unmount } from '../../snapshots/index.js';
import { readExitFileSync, type MonitorExit } from '../../sys/index.js';
import type { Container } from '../store/index.js';
import type { EngineCore } from './core.js';
import { lockContainer, lockHeld } from './start-lock.js';
import { killNow, monitorAlive, monitorOf, runtimeContainer, wasReleased } from './orphans.js';
import { RUN_OPTIONS_KEY } from './create.js';
import { adoptRestarting, decideRestart, runRestart, spawnRestarter } from './restart.js';

export { monitorAlive };

/** The exit record, or null while the container runs (the monitor writes it by tmp + rename). */
export const readExitRecord = readExitFileSync;

/** 128+n for a signal death, else the exit status. */
export function exitCodeOf(e: MonitorExit): number {
  return e.signal ? 128 + e.signal : e.exitCode;
}

/** A record change that lost the race to another process: the record as it is now. */
function lostRace<T>(core: EngineCore, c: Container, fn: () => T): T | Container {
  try {
    return fn();
  } catch (e) {
    if (e instanceof BerthError && (e.kind === 'conflict' || e.kind === 'notfound')) {
      return core.store.containers.find(c.id) ?? c; // someone else got there first
    }
    throw e;
  }
}

/**
 * Bring the record up to date with the kernel and the monitor:
 * - a running or paused container whose exit record exists becomes `exited` with its code;
 * - one whose monitor died without a record is killed (all its processes: as containerd does
 *   when a shim dies) and becomes `exited` (137), or (255) when it had already ended unseen;
 * - either becomes `restarting` instead when its restart policy says so (restart.ts); unless the
 *   caller is the restarter (`o.restarter`), one is spawned to bring it back. A `restarting`
 *   record whose restarter is gone (past its deadline, its lock free) gets a new one;
 * - a `created` or `exited` one whose start was interrupted (its CLI killed after the launch,
 *   before it recorded `running`; no start holds its lock) is adopted as `running` when it runs
 *   under its monitor, as podman syncs its records with the runtime (see reconcileStart).
 * Returns the current record.
 */
export function reconcile(core: EngineCore, c: Container, observed?: MonitorExit | null, o: { ownLock?: boolean; restarter?: boolean } = {}): Container {
  const s = c.state.status;
  if (s === 'created' || s === 'exited') return reconcileStart(core, c, !!o.ownLock);
  if (s === 'restarting') {
    if (!o.ownLock && !o.restarter) adoptRestarting(core, c);
    return c;
  }
  if (s !== 'running' && s !== 'paused') return c;
  const first = observed ?? readExitRecord(core.paths(c.id).exitFile);
  if (!first && monitorAlive(c.state.monitorPid)) return c;
  // a monitor that wrote its record and exited between the two looks
  const exit = first ?? readExitRecord(core.paths(c.id).exitFile);
  let killed = false;
  if (!exit) {
    const rt = runtimeContainer(core, c.id);
    if (rt) killed = killNow(rt);
  }
  const exitCode = exit ? exitCodeOf(exit) : killed ? 137 : 255;
  const r = lostRace(core, c, () => core.store.tx(() => {
    // the policy decides on the record as it is now (a user's stop may have marked it meanwhile)
    const now = core.store.containers.get(c.id);
    const decision = decideRestart(now, exitCode, exit?.finishedAt);
    const r = core.store.containers.setState(c.id, decision.restart ? 'restarting' : 'exited', {
      expect: ['running', 'paused'],
      exitCode,
      oomKilled: exit?.oomKilled ?? false,
      finishedAt: exit?.finishedAt,
      error: exit ? '' : killed ? 'the container monitor died: the container was killed' : 'the container monitor exited without an exit record',
      monitorPid: 0,
      restartTimeoutMs: decision.timeoutMs,
    });
    if (exit?.oomKilled) core.event('container', 'oom', r);
    core.event('container', 'die', r, { exitCode: String(r.state.exitCode) });
    return r;
  }));
  if (r.state.status === 'restarting' && c.state.status !== 'restarting' && !o.restarter && !o.ownLock) spawnRestarter(core, c.id);
  return r;
}

/**
 * A `created` or `exited` record with runtime state and no start under way (its lock free): a
 * start whose CLI was killed between the launch and recording `running`. Docker users expect a
 * `run -d` that got as far as starting the process to have started it (dockerd would have), and
 * podman adopts what its runtime runs: a released init under a live monitor becomes `running`
 * (pid, monitor); one that ran and exited becomes `exited` with its code. An init still held at
 * the exec fifo, or running with no monitor, is killed: the record stays (or becomes) the truth.
 * `ownLock`: the caller holds the container's lock (start, rm), so no one else is starting it.
 */
function reconcileStart(core: EngineCore, c: Container, ownLock: boolean): Container {
  if (!existsSync(`${core.runtime.root}/${c.id}`)) return c; // the common case: one stat
  if (!ownLock && lockHeld(core, c.id)) return c; // a start (or teardown) under way owns it
  const rt = runtimeContainer(core, c.id);
  if (!rt) return c;
  const from = c.state.status;
  const exitFile = core.paths(c.id).exitFile;
  const released = wasReleased(rt);
  if (rt.alive()) {
    const monitorPid = monitorOf(rt);
    if (released && monitorPid && !readExitRecord(exitFile)) {
      return lostRace(core, c, () => core.store.tx(() => {
        const r = core.store.containers.setState(c.id, 'running', { expect: [from], pid: rt.st.pid, monitorPid, resetRestartCount: true });
        core.event('container', 'start', r);
        return r;
      }));
    }
    // the monitor first: with the init still at the fifo, no exit record for a process that never ran
    if (!released && monitorPid) { try { process.kill(monitorPid, 'SIGKILL'); } catch { /* gone */ } }
    killNow(rt);
    if (!released || from !== 'created') return c;
    return ranAndExited(core, c, rt.st.pid, null, 137, 'the container monitor died: the container was killed');
  }
  if (from !== 'created' || !released) return c;
  // it ran (released, its launch complete) and ended before anyone recorded it
  const exit = readExitRecord(exitFile);
  return ranAndExited(core, c, rt.st.pid, exit, 255, exit ? '' : 'the container monitor exited without an exit record');
}

/** created → running → exited in one transaction: a start nobody recorded, and its end. */
function ranAndExited(core: EngineCore, c: Container, pid: number, exit: MonitorExit | null, code: number, error: string): Container {
  return lostRace(core, c, () => core.store.tx(() => {
    const r0 = core.store.containers.setState(c.id, 'running', { expect: ['created'], pid, monitorPid: 0, resetRestartCount: true });
    core.event('container', 'start', r0);
    const r = core.store.containers.setState(c.id, 'exited', {
      exitCode: exit ? exitCodeOf(exit) : code,
      oomKilled: exit?.oomKilled ?? false, finishedAt: exit?.finishedAt, error, monitorPid: 0,
    });
    core.event('container', 'die', r, { exitCode: String(r.state.exitCode) });
    return r;
  }));
}

/** Present while the rootfs is mounted on the host (not only in the container's namespace). */
export function hostMountMarker(paths: { runDir: string }): string {
  return `${paths.runDir}/rootfs.mounted`;
}

/** Undo what start did (safe to repeat): runtime state and cgroup, rootfs mount, run directory. */
export async function teardown(core: EngineCore, c: Container): Promise<void> {
  const paths = core.paths(c.id);
  await del(core.runtime, c.id, true);
  await destroyCgroup(core, c);
  await releaseNetworks(core, c);
  stopPasta(paths.runDir); // rootless user-mode networking (rootless/network.ts)
  await stopFuse(paths.runDir); // rootless fuse-overlayfs serving the rootfs (rootless/fuse.ts)
  if (existsSync(hostMountMarker(paths))) await unmount(paths.rootfs, { detach: true });
  if (existsSync(paths.shm)) await unmount(paths.shm, { detach: true });
  rmSync(paths.runDir, { recursive: true, force: true });
}

/**
 * The container's cgroup (every hierarchy), even when the runtime has no state for it: a start
 * killed between creating the cgroup and saving its state leaves one that `del` cannot know of.
 */
async function destroyCgroup(core: EngineCore, c: Container): Promise<void> {
  const parent = (c.hostConfig[RUN_OPTIONS_KEY] as { cgroupParent?: string } | undefined)?.cgroupParent || core.options.cgroupParent;
  let cg;
  try { cg = openCgroup({ path: posix.join(parent, c.id) }); } catch { return; } // no cgroup filesystem
  if (!cg.exists()) return;
  await cg.killAll(9);
  await cg.destroy();
}

/**
 * reconcile + teardown + `--rm`: returns the record, or undefined when it was removed. The
 * restarter (`o.restarter`: the monitor's exit command) also restarts a `restarting` container
 * after its back-off; other callers leave that to a restarter (spawned by reconcile).
 */
export async function settle(core: EngineCore, ref: string | Container, observed?: MonitorExit | null, o: { restarter?: boolean } = {}): Promise<Container | undefined> {
  const before = typeof ref === 'string' ? core.store.containers.find(ref) : ref;
  if (!before) return undefined;
  const c = reconcile(core, before, observed, { restarter: o.restarter });
  if (c.state.status === 'restarting') return o.restarter ? runRestart(core, c) : c;
  if (c.state.status !== 'exited' && c.state.status !== 'created' && c.state.status !== 'dead') return c;
  if (c.state.status === 'exited') {
    // a start of the same container under way (a restart) owns its state from here
    const release = await lockContainer(core, c.id, false, `clean up ${c.name}`);
    if (!release) return c;
    try {
      // a start may have come and gone between the look above and the lock (a late exit command of
      // the run before a restart): the container it started is not this exit's to tear down
      const now = core.store.containers.find(c.id);
      if (!now || now.state.status !== 'exited' || now.state.startedAt !== c.state.startedAt) return now;
      await teardown(core, now);
    } finally { release(); }
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
