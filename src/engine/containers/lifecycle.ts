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

export async function killContainer(core: EngineCore, ref: string, signal = 'SIGKILL'): Promise<Container> {
  const c = reconcile(core, core.store.containers.get(ref));
  const op = `kill ${c.name}`;
  let sig: number;
  try { sig = parseSignal(signal); } catch { throw new BerthError({ kind: 'invalid', op, message: `${op}: invalid signal: ${signal}` }); }
  if (!running(c)) throw conflict(op, `cannot kill container: ${ref}: container ${c.id} is not running`);
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
  if (!running(c)) return c;
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

/** `wait`: block until the container is not running; its exit code. */
export async function waitContainer(core: EngineCore, ref: string, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running'): Promise<number> {
  const c = reconcile(core, core.store.containers.get(ref));
  if (!running(c) && condition === 'not-running') return c.state.exitCode;
  if (running(c)) {
    const e = await waitExit(core, c);
    const after = await settle(core, c.id, e);
    return after?.state.exitCode ?? (e ? (e.signal ? 128 + e.signal : e.exitCode) : 255);
  }
  // created (next-exit): wait for it to start and exit
  for (;;) {
    await sleep(50);
    const cur = core.store.containers.find(c.id);
    if (!cur) return c.state.exitCode;
    if (running(cur)) return waitContainer(core, cur.id, 'not-running');
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
  if (running(c)) {
    if (!o.force) {
      throw conflict(op, c.state.status === 'paused'
        ? `cannot remove container "/${c.name}": container is paused and must be unpaused first`
        : `cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`);
    }
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

