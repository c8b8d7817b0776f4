/** Small file helpers: atomic writes (temp file + fsync + rename) and a pid lock file. */
import { promises as fsp, constants as fsc } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { conflict, ownerAlive, ownerTag, wrapError } from '../lib/index.js';

export { ownerTag };

/** Write `data` to `path` so that readers see either the old or the new content, never a mix. */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.tmp-${basename(path)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await fsp.mkdir(dir, { recursive: true });
    const fh = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw wrapError(err, 'write', path);
  }
  await syncDir(dir);
}

export async function writeJSONAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

export async function readJSONFile<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw wrapError(err, 'read', path);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw wrapError(err, 'parse', path, 'invalid');
  }
}

export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await fsp.open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    try { await fh.sync(); } finally { await fh.close(); }
  } catch { /* best effort: some filesystems refuse fsync on directories */ }
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the writer a lock file names still runs: `<pid>` (older locks) or `<pid> <ownerTag>`. */
export function lockOwnerAlive(text: string): boolean {
  const [pidText, tag] = text.trim().split(/\s+/);
  const pid = Number.parseInt(pidText ?? '', 10);
  if (!tag) return pidAlive(pid);
  return ownerAlive(tag, pid);
}

/** The pid a lock file names (NaN when unreadable). */
export function lockOwnerPid(text: string): number {
  return Number.parseInt(text.trim().split(/\s+/)[0] ?? '', 10);
}

/** Lock files held by this process, so a second lock of the same path in-process is refused too. */
const held = new Set<string>();

async function readText(path: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Create `path` holding `content` in one step (a temp file linked into place); false if it exists. */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await fsp.writeFile(tmp, content, { mode: 0o644 });
    await fsp.link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    await fsp.rm(tmp, { force: true }).catch(() => {});
  }
}

/**
 * Remove the lock at `path` if it still holds `stale` (a dead owner's content). Takeovers of one
 * lock are serialised by `<path>.takeover` (held for microseconds), so two processes that both
 * found the same dead owner cannot remove each other's fresh lock; one left by a process killed
 * inside that window is itself taken over once its owner is dead.
 */
async function removeStale(path: string, stale: string): Promise<void> {
  const mutex = `${path}.takeover`;
  const me = `${process.pid} ${ownerTag()}`;
  if (!(await createExclusive(mutex, me))) {
    const holder = await readText(mutex);
    if (holder !== undefined && !lockOwnerAlive(holder)) await fsp.rm(mutex, { force: true });
    return; // someone is taking it over: try again from the start
  }
  try {
    if ((await readText(path)) === stale) await fsp.rm(path, { force: true });
  } finally {
    await fsp.rm(mutex, { force: true }).catch(() => {});
  }
}

/**
 * Take an exclusive lock file holding our pid and owner tag. A lock whose owner process is dead
 * (pid gone, or reused by another process) is taken over. Returns a release function.
 */
export async function lockFile(path: string, what: string): Promise<() => Promise<void>> {
  const content = `${process.pid} ${ownerTag()}`;
  for (let attempt = 0; attempt < 20; attempt++) {
    if (held.has(path)) throw conflict('lock', `${what} is in use by this process`, path);
    try {
      if (await createExclusive(path, content)) {
        held.add(path);
        return async () => {
          held.delete(path);
          await fsp.rm(path, { force: true }).catch(() => {});
        };
      }
    } catch (err) {
      throw wrapError(err, 'lock', path);
    }
    const text = await readText(path).catch(() => undefined);
    if (text === undefined) continue; // released meanwhile
    const owner = lockOwnerPid(text);
    if (lockOwnerAlive(text)) {
      throw conflict('lock', owner === process.pid ? `${what} is in use by this process` : `${what} is in use by process ${owner}`, path);
    }
    await removeStale(path, text).catch(() => {});
    if (attempt > 2) await new Promise((r) => setTimeout(r, 2 * attempt));
  }
  throw conflict('lock', `${what}: could not take the lock`, path);
}
