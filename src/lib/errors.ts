/** Typed errors: every failure names the operation, the object and the cause. */
import { constants as osConstants } from 'node:os';

export type ErrorKind =
  | 'usage'      // wrong flag or argument
  | 'invalid'    // bad input data (config, image, archive)
  | 'notfound'   // object does not exist
  | 'conflict'   // object exists / wrong state
  | 'system'     // a syscall or kernel interface failed
  | 'hook'       // a lifecycle hook failed
  | 'remote'     // a registry or other peer failed
  | 'internal';

export interface BerthErrorInit {
  kind: ErrorKind;
  op: string;
  message: string;
  path?: string;
  errno?: number;
  code?: string;
  cause?: unknown;
  /** the helper plan step that failed (e.g. `lookup`, `mount`) */
  step?: string;
}

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(osConstants.errno)) if (!errnoNames.has(num)) errnoNames.set(num, name);

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

export class BerthError extends Error {
  readonly kind: ErrorKind;
  readonly op: string;
  readonly path?: string;
  readonly errno?: number;
  readonly code?: string;
  readonly step?: string;

  constructor(init: BerthErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'BerthError';
    this.kind = init.kind;
    this.op = init.op;
    if (init.path !== undefined) this.path = init.path;
    if (init.errno !== undefined) this.errno = init.errno;
    this.code = init.code ?? (init.errno !== undefined ? errnoName(init.errno) : undefined);
    if (init.step !== undefined) this.step = init.step;
  }

  toJSON(): Record<string, unknown> {
    return { kind: this.kind, op: this.op, path: this.path, errno: this.errno, code: this.code, message: this.message };
  }
}

/** Wrap an unknown error (typically a Node fs error) with the operation and object it concerns. */
export function wrapError(err: unknown, op: string, path?: string, kind: ErrorKind = 'system'): BerthError {
  if (err instanceof BerthError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const errno = typeof e?.errno === 'number' ? Math.abs(e.errno) : undefined;
  const cause = code ? describeCode(code, e?.message) : String(e?.message ?? err);
  const kindFor = code === 'ENOENT' && kind === 'system' ? 'notfound' : kind;
  return new BerthError({
    kind: kindFor, op, path, errno, code,
    message: `${op}${path ? ` ${path}` : ''}: ${cause}`,
    cause: err,
  });
}

function describeCode(code: string, fallback?: string): string {
  const text: Record<string, string> = {
    ENOENT: 'no such file or directory', EACCES: 'permission denied', EPERM: 'operation not permitted',
    EEXIST: 'file exists', ENOTDIR: 'not a directory', EISDIR: 'is a directory', EBUSY: 'device or resource busy',
    EINVAL: 'invalid argument', ENOSPC: 'no space left on device', EROFS: 'read-only file system',
    ELOOP: 'too many levels of symbolic links', ESRCH: 'no such process', EXDEV: 'cross-device link',
  };
  return text[code] ? `${text[code]} (${code})` : (fallback ?? code);
}

export function usage(op: string, message: string): BerthError {
  return new BerthError({ kind: 'usage', op, message });
}

export function invalid(op: string, message: string, path?: string): BerthError {
  return new BerthError({ kind: 'invalid', op, message, path });
}

export function notFound(op: string, message: string, path?: string): BerthError {
  return new BerthError({ kind: 'notfound', op, message, path });
}

export function conflict(op: string, message: string, path?: string): BerthError {
  return new BerthError({ kind: 'conflict', op, message, path });
}

/**
 * One line for an error nothing more specific caught: a Node system error as
 * `<syscall> <path>: <cause>` (`open /x: no such file or directory`), anything else its message
 * (first line, without a leading `Error: `). Never a stack.
 */
export function describeError(err: unknown): string {
  if (err instanceof BerthError) return err.message;
  const e = err as (NodeJS.ErrnoException & { dest?: string }) | undefined;
  if (e && typeof e === 'object' && typeof e.code === 'string' && typeof e.syscall === 'string') {
    const cause = describeCode(e.code, e.message).replace(/ \([A-Z0-9]+\)$/, '');
    return `${e.syscall}${e.path ? ` ${e.path}` : ''}${e.dest ? ` -> ${e.dest}` : ''}: ${cause}`;
  }
  let msg = e && typeof e === 'object' && typeof e.message === 'string' ? e.message : String(err);
  while (/^(Error|TypeError|RangeError): /.test(msg)) msg = msg.replace(/^[A-Za-z]*Error: /, '');
  const line = msg.split('\n')[0]!.trim();
  return line ? line[0]!.toLowerCase() + line.slice(1) : 'unknown error';
}

/** Whether errors should show their stacks (`berth --debug`, `BERTH_DEBUG=1`). */
export function debugEnabled(): boolean {
  const v = process.env.BERTH_DEBUG;
  return !!v && v !== '0' && v !== 'false';
}

/** With --debug (or `force`): the stacks of `err` and its causes, one after the other; else ''. */
export function debugStacks(err: unknown, force = false): string {
  if (!force && !debugEnabled()) return '';
  let out = '';
  for (let e = err as Error | undefined, depth = 0; e?.stack && depth < 4; e = e.cause as Error | undefined, depth++) out += `${e.stack}\n`;
  return out;
}
