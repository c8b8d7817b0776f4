/**
 * Local volume directories, laid out as Docker's local driver does:
 * `<root>/volumes` (0701) / `<name>` (0701) / `_data` (0755).
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { invalid, wrapError } from '../../lib/index.js';

export const VOLUME_NAME_CHARS = '[a-zA-Z0-9][a-zA-Z0-9_.-]';
const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Throw Docker's error for a name the local driver refuses. */
export function validateVolumeName(name: string): void {
  if (!VOLUME_NAME_RE.test(name)) {
    throw invalid('volume', `create ${name}: "${name}" includes invalid characters for a local volume name, only "${VOLUME_NAME_CHARS}" are allowed. If you intended to pass a host directory, use absolute path`);
  }
}

export function volumesDir(root: string): string {
  return join(root, 'volumes');
}

export function volumeDir(root: string, name: string): string {
  validateVolumeName(name);
  return join(root, 'volumes', name);
}

export function volumeDataPath(root: string, name: string): string {
  return join(volumeDir(root, name), '_data');
}

async function mkdirMode(path: string, mode: number): Promise<boolean> {
  try {
    await fsp.mkdir(path, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const st = await fsp.lstat(path);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    return false;
  }
  await fsp.chmod(path, mode); // the umask applied at mkdir
  return true;
}

/** Create `<root>/volumes/<name>/_data` (an existing volume is kept: Docker's create is
 *  idempotent). Returns the data path and whether the data directory was created now. */
export async function createVolumeDir(root: string, name: string): Promise<{ data: string; created: boolean }> {
  const dir = volumeDir(root, name);
  const data = join(dir, '_data');
  let madeDir = false;
  try {
    await fsp.mkdir(root, { recursive: true });
    await mkdirMode(volumesDir(root), 0o701);
    madeDir = await mkdirMode(dir, 0o701);
    const created = await mkdirMode(data, 0o755);
    return { data, created };
  } catch (err) {
    if (madeDir) await fsp.rm(dir, { recursive: true, force: true }).catch(() => {});
    throw wrapError(err, `create volume ${name}`, data);
  }
}

/** Remove a volume's directory and everything in it. Returns false when it did not exist. */
export async function removeVolumeDir(root: string, name: string): Promise<boolean> {
  const dir = volumeDir(root, name);
  try {
    await fsp.lstat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw wrapError(err, `remove volume ${name}`, dir);
  }
  try {
    await fsp.rm(dir, { recursive: true, force: true });
  } catch (err) {
    throw wrapError(err, `remove volume ${name}`, dir);
  }
  return true;
}

/** True when the directory has no entries (a volume never populated). */
export async function isEmptyDir(path: string): Promise<boolean> {
  try {
    const d = await fsp.opendir(path);
    try { return (await d.read()) === null; } finally { await d.close().catch(() => {}); }
  } catch (err) {
    throw wrapError(err, 'read volume', path);
  }
}
