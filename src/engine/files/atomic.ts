/** Atomic file replacement: write a temp file beside the target, fsync, chmod, rename over it. */
import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { wrapError } from '../../lib/index.js';

/** Write `content` to `path` atomically (readers see the old or the new file, never a part).
 *  The temp file is removed when anything fails. */
export async function writeFileAtomic(path: string, content: string | Buffer, mode = 0o644, op = 'write'): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(tmp, 'wx', mode);
    await fh.writeFile(content);
    await fh.chmod(mode); // the umask applied at open
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fsp.rename(tmp, path);
  } catch (err) {
    if (fh) await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw wrapError(err, op, path);
  }
}
