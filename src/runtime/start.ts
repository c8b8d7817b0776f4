/** `start`: release the init blocked on the exec fifo, then run poststart hooks. */
import { closeSync, constants, openSync, readSync, unlinkSync } from 'node:fs';
import { BerthError, wrapError } from '../lib/index.js';
import { Container, type RuntimeOptions } from './container.js';
import { runHooks } from './hooks.js';

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function readSyncQuiet(fd: number, buf: Buffer): number {
  try { return readSync(fd, buf, 0, 1, null); } catch { return 0; }
}

/** Open the fifo for reading and take the init's byte: from then on it execs the user program. */
export function releaseFifo(c: Container, op: string): void {
  let fd: number;
  try { fd = openSync(c.dir.fifo, constants.O_RDONLY | constants.O_NONBLOCK); } catch (e) {
    throw wrapError(e, `${op} ${c.id}: open exec fifo`, c.dir.fifo);
  }
  try {
    const buf = Buffer.alloc(1);
    const end = Date.now() + 30000;
    for (;;) {
      let n = 0;
      try { n = readSync(fd, buf, 0, 1, null); } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw wrapError(e, `${op} ${c.id}: read exec fifo`, c.dir.fifo);
      }
      if (n === 1) break;
      // the init may have taken the start signal and exited between the read and this check:
      // its byte is then waiting in the fifo, so read once more before calling it a failure
      if (!c.alive()) {
        if (readSyncQuiet(fd, buf) === 1) break;
        throw new BerthError({ kind: 'system', op, message: `${op} ${c.id}: the container process exited before it could start` });
      }
      if (Date.now() > end) throw new BerthError({ kind: 'system', op, message: `${op} ${c.id}: the container process did not take the start signal within 30s` });
      Atomics.wait(sleeper, 0, 0, 1);
    }
  } finally {
    closeSync(fd);
  }
  try { unlinkSync(c.dir.fifo); } catch { /* already gone */ }
}

export async function start(opts: RuntimeOptions, id: string): Promise<void> {
  const c = Container.load(opts, id, 'start');
  const status = c.status();
  if (status !== 'created') throw new BerthError({ kind: 'conflict', op: 'start', message: `start ${id}: cannot start a container that is ${status}` });
  if (!c.st.config.process) throw new BerthError({ kind: 'invalid', op: 'start', message: `start ${id}: config.json has no process to run` });
  releaseFifo(c, 'start');
  await poststart(c);
}

/** poststart hooks; since runtime-spec 1.3 a failure stops the container and fails the operation. */
export async function poststart(c: Container): Promise<void> {
  try {
    await runHooks('poststart', c.st.config.hooks?.poststart, c.stateJson('running'));
  } catch (e) {
    c.signal(9, 'start');
    await c.waitGone();
    throw e;
  }
}
