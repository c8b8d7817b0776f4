/**
 * Atomic file replacement: write a temp file beside the target, chmod, rename over it. Readers
 * see the old or the new file, never a part. Not fsynced: these are a container's generated
 * files (hostname, hosts, resolv.conf), written again at every start; synchronous calls, as the
 * files are tiny (six thread-pool round trips cost more than the writes).
 */
import { chmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { wrapError } from '../../lib/index.js';

/** Write `content` to `path` atomically; the temp file is removed when anything fails. */
export async function writeFileAtomic(path: string, content: string | Buffer, mode = 0o644, op = 'write'): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    writeFileSync(tmp, content, { mode, flag: 'wx' });
    chmodSync(tmp, mode); // the umask applied at open
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw wrapError(err, op, path);
  }
}
