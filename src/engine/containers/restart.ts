/**
 * Restart policies without a daemon. Whoever records an exit (reconcile, in one transaction)
 * decides with Docker's rules (moby's restartmanager, learnt, not copied) whether the container
 * restarts: `restarting` then, with the exit recorded, RestartCount + 1 and the back-off stored.
 * The restart itself is done by a *restarter*: the monitor's exit command (`berth container
 * cleanup ID`), or one spawned (detached) by the command that noticed the exit when no monitor
 * will run it (a dead monitor, an attached CLI that took the cleanup over). It tears the old run
 * down, sleeps until `FinishedAt + back-off`, and starts the container again under its lock.
 *
 * Back-off: 100 ms, doubled on each restart, at most 1 minute; back to 100 ms after a run of 10 s
 * or more. A user's `stop` (or `kill` with SIGKILL / the stop signal) cancels restarts (Docker:
 * HasBeenManuallyStopped + the restart manager cancelled); another signal from `kill` only marks
 * the container manually stopped, which `unless-stopped` honours.
 */
import { spawn } from 'node:child_process';
import { BerthError } from '../../lib/index.js';
import { helperPath } from '../../sys/index.js';
import type { Container } from '../store/index.js';
import type { EngineCore } from './core.js';
import { lockContainer, lockHeld } from './start-lock.js';

import { policyOf } from './restart-policy.js';

export * from './restart-policy.js';

/** A `restarting` record past its deadline by this much, with no restarter at work, is taken over. */
const TAKEOVER_GRACE_MS = 3_000;
const ms = (t: string | null): number => (t ? Date.parse(t) : NaN);

/** When the restarter of a `restarting` record starts it: FinishedAt + the back-off. */
export function restartDeadline(c: Container): number {
  const f = ms(c.state.finishedAt);
  return (Number.isNaN(f) ? Date.now() : f) + c.state.restartTimeoutMs;
}

/**
 * Start a restarter for `c` in the background: the container's exit command, detached (it
 * outlives this command). Several are harmless: the container's lock and its status decide.
 */
export function spawnRestarter(core: EngineCore, id: string): void {
  const cmd = core.exitCommand(id);
  if (!cmd) return;
  try {
    // the environment the monitor gives its exit command: none (the command names its roots)
    const child = spawn(cmd[0]!, cmd.slice(1), { detached: true, stdio: 'ignore', env: {} });
    child.on('error', () => undefined);
    child.unref();
  } catch { /* the next command that reads the record tries again */ }
}

/**
 * Who notices a monitor killed while no berth command runs: for a container with a restart
 * policy, a watcher (`berth-helper watch`, native/watch.c: a static C process of a few hundred
 * KiB, waiting on a pidfd) that runs the exit command when the monitor ended without its exit
 * record. It ends with the monitor; without a policy there is none (reconcile finds the orphan).
 */
export function watchMonitor(core: EngineCore, c: Container): void {
  const p = policyOf(c);
  if (!c.state.monitorPid || p.Name === 'no' || p.Name === '') return;
  const cmd = core.exitCommand(c.id);
  if (!cmd) return;
  try {
    const child = spawn(helperPath(), ['watch', String(c.state.monitorPid), core.paths(c.id).exitFile, '--', ...cmd], { detached: true, stdio: 'ignore', env: {}, cwd: '/' });
    child.on('error', () => undefined);
    child.unref();
  } catch { /* without a watcher, the next berth command notices (reconcile) */ }
}

/** Back-offs longer than this are waited by `berth-helper delay`, not by Node. */
const DELAY_IN_C_MS = 800;

function delayRestarter(core: EngineCore, id: string, ms: number): boolean {
  const cmd = core.exitCommand(id);
  if (!cmd) return false;
  try {
    const child = spawn(helperPath(), ['delay', String(Math.ceil(ms)), '--', ...cmd], { detached: true, stdio: 'ignore', env: {}, cwd: '/' });
    child.on('error', () => undefined);
    child.unref();
    return child.pid !== undefined;
  } catch { return false; }
}

/** A `restarting` record nobody is restarting (its restarter killed): have one started. */
export function adoptRestarting(core: EngineCore, c: Container): void {
  if (Date.now() < restartDeadline(c) + TAKEOVER_GRACE_MS) return;
  if (lockHeld(core, c.id)) return;
  spawnRestarter(core, c.id);
}

const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

/**
 * The restarter's work for a `restarting` record: tear the old run down, wait for the back-off,
 * start it again (unless a user stopped, started or removed it meanwhile). Returns the record.
 */
export async function runRestart(core: EngineCore, c: Container): Promise<Container | undefined> {
  const { teardown } = await import('./cleanup.js');
  const release = await lockContainer(core, c.id, false, `restart ${c.name}`);
  if (!release) return c; // a start or another restarter holds it
  try {
    const now = core.store.containers.find(c.id);
    // started (by another restarter), stopped or removed; or an exit after the one this restarter came for
    if (now?.state.status !== 'restarting' || now.state.restartCount !== c.state.restartCount) return now;
    await teardown(core, now);
  } finally { release(); }
  const wait = restartDeadline(c) - Date.now();
  // a long back-off is waited in a small C process, which runs the exit command again at the
  // deadline (this Node process would stay tens of MiB for up to a minute)
  if (wait > DELAY_IN_C_MS && delayRestarter(core, c.id, wait)) return c;
  if (wait > 0) await sleep(wait);
  const { startContainer } = await import('./start.js');
  try {
    const s = await startContainer(core, c.id, { policyRestart: true, restartCount: c.state.restartCount });
    if (s.launched) core.event('container', 'restart', s.container);
    return s.container;
  } catch (e) {
    if (e instanceof BerthError && e.kind === 'notfound') return undefined; // removed meanwhile
    const now = core.store.containers.find(c.id);
    if (!now || now.state.status !== 'restarting') return now; // a user took over
    // Docker: a restart that fails leaves the container stopped, with the error
    return core.store.tx(() => core.store.containers.setState(c.id, 'exited', {
      expect: ['restarting'], exitCode: now.state.exitCode, finishedAt: now.state.finishedAt ?? undefined,
      error: e instanceof Error ? e.message : String(e),
    }));
  }
}
