/** Small file helpers: atomic writes (temp file + fsync + rename) and a pid lock file. */
import { promises as fsp, constants as fsc } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { conflict, wrapError } from '../lib/index.js';

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

/** Lock files held by this process, so a second lock of the same path in-process is refused too. */
const held = new Set<string>();

/**
 * Take an exclusive lock file holding our pid. A lock whose owner process is dead is taken over.
 * Returns a release function.
 */
export async function lockFile(path: string, what: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (held.has(path)) throw conflict('lock', `${what} is in use by this process`, path);
    // Create the lock with its content in one step (write a temp file, then link it into place).
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      await fsp.writeFile(tmp, String(process.pid), { mode: 0o644 });
      await fsp.link(tmp, path);
      held.add(path);
      return async () => {
        held.delete(path);
        await fsp.rm(path, { force: true }).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw wrapError(err, 'lock', path);
    } finally {
      await fsp.rm(tmp, { force: true }).catch(() => {});
    }
    const owner = Number.parseInt(await fsp.readFile(path, 'utf8').catch(() => ''), 10);
    if (pidAlive(owner) && owner !== process.pid) throw conflict('lock', `${what} is in use by process ${owner}`, path);
    if (owner === process.pid && held.has(path)) throw conflict('lock', `${what} is in use by this process`, path);
    // Stale (its owner is dead): take it over.
    await fsp.rm(path, { force: true }).catch(() => {});
  }
  throw conflict('lock', `${what}: could not take the lock`, path);
}
