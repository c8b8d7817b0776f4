/** Small filesystem helpers shared by the stores. */
import { closeSync, openSync, promises as fsp, readSync } from 'node:fs';
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

const small = Buffer.allocUnsafe(4096);
/**
 * A small file's text, or undefined when it cannot be opened or read (no exception thrown). For
 * /proc files readFileSync costs ten times as much: their size is 0, so it reads through growing
 * buffers; this is open, read until EOF into one reused buffer, close.
 */
export function readSmallFile(path: string, encoding: BufferEncoding = 'latin1'): string | undefined {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch { return undefined; }
  try {
    const parts: Buffer[] = [];
    let len = 0;
    for (;;) {
      const r = readSync(fd, small, len, small.length - len, null);
      if (r === 0) break;
      len += r;
      if (len === small.length) { parts.push(Buffer.from(small)); len = 0; }
    }
    if (!parts.length) return small.toString(encoding, 0, len);
    parts.push(Buffer.from(small.subarray(0, len)));
    return Buffer.concat(parts).toString(encoding);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
