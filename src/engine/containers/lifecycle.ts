/** stop, kill, restart, pause, unpause, wait, remove, rename. */
import { sweepViews } from './export.js';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BerthError, conflict } from '../../lib/index.js';
import { parseSignal, signalName } from '../../oci/index.js';
import { snapshotter } from '../../image/index.js';
import { pause as rtPause, resume as rtResume } from '../../runtime/index.js';
import { attach, type MonitorExit } from '../../sys/index.js';
import type { Container } from '../store/index.js';
import { monitorAlive, readExitRecord, reconcile, settle, teardown } from './cleanup.js';
import type { EngineCore } from './core.js';
import { lockContainer, startLockPath } from './start-lock.js';
import { MANUAL_CANCEL, MANUAL_SIGNAL } from './restart.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function running(c: Container): boolean {
  return c.state.status === 'running' || c.state.status === 'paused';
}

/**
 * Wait for the monitor's exit record (the attach socket's exit frame, else the file); null on
 * timeout. A monitor that dies without a record ends the wait too (reconcile marks it 255).
 */
export async function waitExit(core: EngineCore, c: Container, timeoutMs = Infinity): Promise<MonitorExit | null> {
  const paths = core.paths(c.id);
  const end = Date.now() + timeoutMs;
  const rec = readExitRecord(paths.exitFile);
  if (rec) return rec;
  try {
    const conn = await attach(paths.socket, {});
    const timer = timeoutMs === Infinity ? undefined : setTimeout(() => conn.detach(), timeoutMs);
    const e = await conn.exit;
    clearTimeout(timer);
    conn.detach();
    if (e) return e;
  } catch { /* the monitor is gone or not listening: poll */ }
  for (;;) {
    const r = readExitRecord(paths.exitFile);
    if (r) return r;
    if (!monitorAlive(c.state.monitorPid)) return readExitRecord(paths.exitFile);
    if (Date.now() >= end) return null;
    await sleep(20);
  }
}

function signalInit(c: Container, sig: number, op: string): void {
  try { process.kill(c.state.pid, sig); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw new BerthError({ kind: 'system', op, message: `${op}: signal ${signalName(sig)} to pid ${c.state.pid}: ${(e as Error).message}` });
  }
}

/**
 * A user's stop or kill marks the record first (the monitor's exit command then reads it):
 * MANUAL_CANCEL (no restart by any policy) for a stop, SIGKILL or the stop signal, else
 * MANUAL_SIGNAL (Docker's HasBeenManuallyStopped, which `unless-stopped` honours).
 */
function markManual(core: EngineCore, c: Container, level: number): void {
  try {
    core.store.tx(() => {
      const now = core.store.containers.get(c.id);
      if (now.state.manualStop < level) core.store.containers.update(c.id, { manualStop: level });
    });
  } catch (e) {
    if (!(e instanceof BerthError && e.kind === 'notfound')) throw e;
  }
}

/** A `restarting` container stopped by its user: the pending restart is cancelled, it stays exited. */
function cancelRestart(core: EngineCore, c: Container, action: string, extra: Record<string, string> = {}): Container {
  try {
    return core.store.tx(() => {
      const r = core.store.containers.setState(c.id, 'exited', { expect: ['restarting'], exitCode: c.state.exitCode, finishedAt: c.state.finishedAt ?? undefined, manualStop: MANUAL_CANCEL });
      core.event('container', action, r, extra);
      return r;
    });
  } catch (e) {
    if (e instanceof BerthError && e.kind === 'conflict') return core.store.containers.get(c.id); // its restarter won
    throw e;
  }
}

export async function killContainer(core: EngineCore, ref: string, signal = 'SIGKILL'): Promise<Container> {
  const c = reconcile(core, core.store.containers.get(ref));
  const op = `kill ${c.name}`;
  let sig: number;
  try { sig = parseSignal(signal); } catch { throw new BerthError({ kind: 'invalid', op, message: `${op}: invalid signal: ${signal}` }); }
  const stopSig = (() => { try { return parseSignal((c.config as { StopSignal?: string }).StopSignal || 'SIGTERM'); } catch { return 15; } })();
  const level = sig === 9 || sig === stopSig ? MANUAL_CANCEL : MANUAL_SIGNAL;
  if (c.state.status === 'restarting') {
    // Docker: no signal to send, the restart is cancelled (or, for another signal, only marked)
    if (level === MANUAL_CANCEL) return cancelRestart(core, c, 'kill', { signal: String(sig) });
    markManual(core, c, level);
    return c;
  }
  if (!running(c)) throw conflict(op, `cannot kill container: ${ref}: container ${c.id} is not running`);
  markManual(core, c, level);
  if (c.state.status === 'paused' && sig === 9) await rtResume(core.runtime, c.id).catch(() => undefined);
  signalInit(c, sig, op);
  core.event('container', 'kill', c, { signal: String(sig) });
  if (sig === 9) {
    const e = await waitExit(core, c, 10000);
    return (await settle(core, c.id, e)) ?? c;
  }
  return c;
}

/** Docker's stop: the stop signal, then SIGKILL after the timeout (config StopTimeout, else 10 s). */
export async function stopContainer(core: EngineCore, ref: string, timeoutS?: number, signal?: string): Promise<Container | undefined> {
  let c = reconcile(core, core.store.containers.get(ref));
  const op = `stop ${c.name}`;
  if (c.state.status === 'restarting') {
    c = cancelRestart(core, c, 'stop');
    return c;
  }
  if (!running(c)) return c;
  markManual(core, c, MANUAL_CANCEL);
  const cfg = c.config as { StopSignal?: string; StopTimeout?: number };
  const sig = parseSignal(signal || cfg.StopSignal || 'SIGTERM');
  const t = timeoutS ?? cfg.StopTimeout ?? 10;
  if (c.state.status === 'paused') await rtResume(core.runtime, c.id).catch(() => undefined);
  signalInit(c, sig, op);
  let e = t < 0 ? await waitExit(core, c) : await waitExit(core, c, t * 1000);
  if (!e) {
    signalInit(c, 9, op);
    core.event('container', 'kill', c, { signal: '9' });
    e = await waitExit(core, c, 10000);
    if (!e && monitorAlive(c.state.monitorPid)) throw new BerthError({ kind: 'system', op, message: `${op}: the container did not exit after SIGKILL` });
  }
  c = (await settle(core, c.id, e)) ?? c;
  core.event('container', 'stop', c);
  return c;
}

export async function pauseContainer(core: EngineCore, ref: string): Promise<void> {
  const c = reconcile(core, core.store.containers.get(ref));
  const op = `pause ${c.name}`;
  if (c.state.status === 'paused') throw conflict(op, `Container ${c.id} is already paused`);
  if (c.state.status !== 'running') throw conflict(op, `Container ${c.id} is not running`);
  await rtPause(core.runtime, c.id);
  core.store.tx(() => { core.store.containers.setState(c.id, 'paused', { expect: ['running'] }); core.event('container', 'pause', c); });
}

export async function unpauseContainer(core: EngineCore, ref: string): Promise<void> {
  const c = reconcile(core, core.store.containers.get(ref));
  const op = `unpause ${c.name}`;
  if (c.state.status !== 'paused') throw conflict(op, `Container ${c.id} is not paused`);
  await rtResume(core.runtime, c.id);
  core.store.tx(() => { core.store.containers.setState(c.id, 'running', { expect: ['paused'] }); core.event('container', 'unpause', c); });
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';
export const WAIT_CONDITIONS: readonly string[] = ['not-running', 'next-exit', 'removed'];

/** Running for Docker (State.Running): a `restarting` container too. */
function active(c: Container): boolean {
  return running(c) || c.state.status === 'restarting';
}

/**
 * `wait` with Docker's conditions: `not-running` (the default) returns at once for a container
 * that is not running (created, exited) and otherwise when it stops for good (not while its
 * policy restarts it); `next-exit` waits for the next exit of a run, starting now or later;
 * `removed` waits until it stopped and its record is gone. The exit code of the last run.
 */
export async function waitContainer(core: EngineCore, ref: string, condition: string = 'not-running'): Promise<number> {
  if (!WAIT_CONDITIONS.includes(condition)) throw new BerthError({ kind: 'invalid', op: 'wait', message: `invalid condition: ${JSON.stringify(condition)}` });
  let c = reconcile(core, core.store.containers.get(ref));
  const id = c.id;
  /** the record now, or undefined when it is gone */
  const again = (): Container | undefined => {
    const n = core.store.containers.find(id);
    return n && reconcile(core, n);
  };
  /** wait for the current run's exit; the record after it (undefined: removed) */
  const exitOfRun = async (cur: Container): Promise<{ after?: Container; code: number }> => {
    const e = await waitExit(core, cur);
    const after = await settle(core, id, e);
    return { after, code: after?.state.exitCode ?? (e ? (e.signal ? 128 + e.signal : e.exitCode) : 255) };
  };
  if (condition === 'next-exit') {
    const finishedBefore = c.state.finishedAt;
    for (;;) {
      if (running(c)) return (await exitOfRun(c)).code;
      if (c.state.finishedAt !== finishedBefore) return c.state.exitCode; // a run that began and ended between two looks
      await sleep(50);
      const n = again();
      if (!n) return c.state.exitCode;
      c = n;
    }
  }
  let code = c.state.exitCode;
  while (active(c)) {
    if (running(c)) {
      const r = await exitOfRun(c);
      code = r.code;
      if (!r.after) break;
    } else {
      await sleep(50);
    }
    const n = again();
    if (!n) break;
    c = n;
    code = c.state.exitCode;
  }
  if (condition === 'not-running') return code;
  for (;;) { // removed
    const n = core.store.containers.find(id);
    if (!n) return code;
    code = n.state.exitCode;
    await sleep(100);
  }
}

export interface RemoveOptions { force?: boolean; volumes?: boolean; link?: boolean }

/**
 * `rm`: refused while running unless forced (then killed); the snapshot and data go with it. It
 * holds the container's lock (no start of it under way; a stale one, its owner killed, is taken
 * over) and removes it last: nothing of the container stays, whatever its record said.
 */
export async function removeContainer(core: EngineCore, ref: string, o: RemoveOptions = {}): Promise<Container> {
  const first = core.store.containers.get(ref);
  const release = await lockContainer(core, first.id, true, `remove container ${first.name}`, o.force ? 15_000 : 60_000).catch((e) => {
    if (!o.force) throw e;
    return () => rmSync(startLockPath(core, first.id), { force: true }); // forced: a holder that never lets go
  });
  let held = true;
  const unlock = () => { if (held) { held = false; release!(); } };
  try {
    return await removeLocked(core, first.id, o, unlock);
  } finally {
    unlock();
  }
}

async function removeLocked(core: EngineCore, id: string, o: RemoveOptions, unlock: () => void): Promise<Container> {
  let c = reconcile(core, core.store.containers.get(id), undefined, { ownLock: true });
  const op = `remove container ${c.name}`;
  if (c.state.status === 'restarting' && !o.force) {
    throw conflict(op, `cannot remove container "/${c.name}": container is restarting: stop the container before removing or force remove`);
  }
  if (running(c)) {
    if (!o.force) {
      throw conflict(op, c.state.status === 'paused'
        ? `cannot remove container "/${c.name}": container is paused and must be unpaused first`
        : `cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`);
    }
    markManual(core, c, MANUAL_CANCEL); // its exit command must not restart it
    if (c.state.status === 'paused') await rtResume(core.runtime, c.id).catch(() => undefined);
    signalInit(c, 9, op);
    const e = await waitExit(core, c, 10000);
    c = reconcile(core, c, e, { ownLock: true });
  }
  await teardown(core, c);
  // everything before the record goes (as dockerd does): a removal killed half-way is finished
  // by the next `rm -f`; the snapshot by its key even when a create killed before recording it
  const snaps = await snapshotter(core.images);
  // a cp or export killed mid-copy may still hold a view of the snapshot mounted
  sweepViews(core.options.runRoot);
  const key = c.snapshotKey || `container-${c.id}`;
  if (snaps.stat(key)) await snaps.remove(key);
  await rm(core.paths(c.id).dataDir, { recursive: true, force: true });
  // the lock too: killed after the record went, the lock file would have no container left to
  // remove it (a start that slips in now finds no snapshot and fails, leaving nothing)
  unlock();
  const { container, removedVolumes } = core.store.tx(() => {
    const r = core.store.containers.remove(c.id, { force: true, volumes: o.volumes });
    core.event('container', 'destroy', c);
    for (const v of r.removedVolumes) core.store.events.append({ type: 'volume', action: 'destroy', actorId: v.name, attributes: { driver: v.driver } });
    return r;
  });
  for (const v of removedVolumes) await rm(dirname(v.mountpoint), { recursive: true, force: true });
  return container;
}

export async function restartContainer(core: EngineCore, ref: string, timeoutS?: number): Promise<void> {
  await stopContainer(core, ref, timeoutS);
  const { startContainer } = await import('./start.js');
  await startContainer(core, ref);
  const c = core.store.containers.get(ref);
  core.event('container', 'restart', c);
}

export function renameContainer(core: EngineCore, ref: string, newName: string): void {
  core.store.tx(() => {
    const { container, oldName } = core.store.containers.rename(ref, newName);
    core.event('container', 'rename', container, { oldName: `/${oldName}` });
  });
}

