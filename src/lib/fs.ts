/** Small filesystem helpers shared by the stores. */
import { promises as fsp } from 'node:fs';
import { wrapError } from './errors.js';

/** The names in `dir`, or none when it does not exist. */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw wrapError(err, 'readdir', dir);
  }
}
