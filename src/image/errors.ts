/** Errors of the image use cases name their operation: `pull busybox: write …: no space left on device`. */
import { BerthError, wrapError } from '../lib/index.js';

/**
 * `err` with `op` in front of its message, unless it names it already (a registry error does; a
 * write that failed deep in the content store or the snapshotter does not).
 */
export function withOp(op: string, err: unknown): BerthError {
  const e = err instanceof BerthError ? err : wrapError(err, op);
  if (e.message.startsWith(`${op}:`) || e.message.startsWith(`${op} `)) return e;
  return new BerthError({ kind: e.kind, op, path: e.path, errno: e.errno, code: e.code, step: e.step, message: `${op}: ${e.message}`, cause: e });
}
