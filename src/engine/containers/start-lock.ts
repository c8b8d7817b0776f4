/**
 * A per-container lock between a start and a teardown. A monitor's exit command (`berth container
 * cleanup`) may come late, while the same container is being started again (`restart`): its
 * teardown must not remove the runtime state the new start is writing. The lock is
 * `<run-root>/<id>.lock`, made with O_EXCL and holding the owner's pid; one whose owner is gone
 * (or that stayed empty) is stale and taken over.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BerthError } from '../../lib/index.js';
import type { EngineCore } from './core.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ownerGone(path: string): boolean {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (!text) return Date.now() - statSync(path).mtimeMs > 5000; // made, pid not yet written
    const pid = Number(text);
    if (!(pid > 0)) return true;
    try { process.kill(pid, 0); return false; } catch (e) { return (e as NodeJS.ErrnoException).code === 'ESRCH'; }
  } catch {
    return false; // released meanwhile: try again
  }
}

export function startLockPath(core: EngineCore, id: string): string {
  return join(core.options.runRoot, `${id}.lock`);
}

/** Another start or teardown holds the lock now (this process included). */
export function lockHeld(core: EngineCore, id: string): boolean {
  const path = startLockPath(core, id);
  return existsSync(path) && !ownerGone(path);
}

/**
 * Take the lock: its release function, or undefined when another holds it and `wait` is false.
 * Waiting gives up with an error after `timeoutMs`.
 */
export function lockContainer(core: EngineCore, id: string, wait: boolean, op: string, timeoutMs = 60_000): Promise<(() => void) | undefined> {
  return lockFile(startLockPath(core, id), wait, op, 'the container is busy', timeoutMs);
}

/**
 * A lock file as the container's (O_EXCL, its owner's pid, a stale one taken over): its release
 * function, or undefined when another holds it and `wait` is false. Waiting gives up after
 * `timeoutMs` with an error saying `busy`.
 */
export async function lockFile(path: string, wait: boolean, op: string, busy: string, timeoutMs = 60_000): Promise<(() => void) | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try { writeSync(fd, String(process.pid)); } finally { closeSync(fd); }
      return () => rmSync(path, { force: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') { mkdirSync(dirname(path), { recursive: true, mode: 0o700 }); continue; } // a new run root
      if (code !== 'EEXIST') throw e;
    }
    if (ownerGone(path)) { rmSync(path, { force: true }); continue; }
    if (!wait) return undefined;
    if (Date.now() > end) throw new BerthError({ kind: 'conflict', op, path, message: `${op}: ${busy} (${path} held for ${timeoutMs / 1000} s)` });
    await sleep(10);
  }
}
