/** Helpers shared by the v1 and v2 drivers: creating and removing directory chains, listing and signalling pids. */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { BerthError, wrapError } from '../lib/index.js';
import { sleep } from './files.js';

/**
 * mkdir every missing component of `dir` below `top` (which must exist). Returns the directories it
 * created, top-down, so that a failure can remove exactly those.
 */
export function mkdirChain(top: string, dir: string, op: string): string[] {
  const rel = posix.relative(top, dir);
  const created: string[] = [];
  if (!rel) return created;
  let cur = top;
  try {
    for (const part of rel.split('/')) {
      cur = posix.join(cur, part);
      try {
        mkdirSync(cur, 0o755);
        created.push(cur);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
  } catch (e) {
    removeCreated(created);
    throw wrapError(e, `${op}: mkdir`, cur);
  }
  return created;
}

/** Undo mkdirChain (leaf first), ignoring errors: used on a failure path. */
export function removeCreated(created: string[]): void {
  for (const d of [...created].reverse()) {
    try { rmdirSync(d); } catch { /* best effort */ }
  }
}

/** rmdir `dir`, its sub-cgroups first; EBUSY (tasks still exiting) is retried with backoff (~1 s). */
export async function removeTree(dir: string, fake: boolean): Promise<void> {
  if (fake) { rmSync(dir, { recursive: true, force: true }); return; }
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw wrapError(e, 'destroy cgroup: read', dir);
  }
  for (const name of entries) await removeTree(join(dir, name), fake);
  let delay = 1;
  for (let tries = 0; ; tries++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if ((code === 'EBUSY' || code === 'EINTR') && tries < 11) { await sleep(delay); delay = Math.min(delay * 2, 256); continue; }
      const pids = code === 'EBUSY' ? procsIn(dir) : [];
      const err = wrapError(e, 'destroy cgroup: rmdir', dir);
      if (pids.length) err.message += ` (processes still inside: ${pids.slice(0, 10).join(' ')})`;
      throw err;
    }
  }
}

function procsIn(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch { return []; }
}

/** The pids in `dir`'s cgroup.procs and in every sub-cgroup's. */
export function pidsRecursive(dir: string): number[] {
  const out = new Set<number>();
  const walk = (d: string): void => {
    let text: string;
    try {
      text = readFileSync(join(d, 'cgroup.procs'), 'utf8');
    } catch (e) {
      // A cgroup that does not exist (or was just removed) has no processes.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw wrapError(e, 'list cgroup processes: read', join(d, 'cgroup.procs'));
    }
    for (const l of text.split('\n')) if (l.trim()) out.add(Number(l));
    let subs: string[] = [];
    try { subs = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name); } catch { /* raced with rmdir */ }
    for (const s of subs) walk(join(d, s));
  };
  walk(dir);
  return [...out].sort((a, b) => a - b);
}

export function isSigkill(sig: NodeJS.Signals | number): boolean {
  return sig === 9 || sig === 'SIGKILL';
}

/** Send `sig` to every pid; a process that is already gone is not an error. */
export function signalAll(pids: number[], sig: NodeJS.Signals | number, op: string): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ESRCH') continue;
      throw new BerthError({ kind: 'system', op, code, message: `${op}: signal ${sig} to pid ${pid}: ${code ?? (e as Error).message}`, cause: e });
    }
  }
}

/** Poll `cond` every `intervalMs` until true or `timeoutMs` passed; returns its last value. */
export async function waitFor(cond: () => boolean, timeoutMs: number, intervalMs = 10): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= end) return false;
    await sleep(intervalMs);
  }
}
