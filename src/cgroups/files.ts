/** Reading and writing cgroup interface files, with errors that name the operation, file, value and cause. */
import { closeSync, constants, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError, errnoName } from '../lib/index.js';

/** Write `value` to `dir/file` (no O_CREAT: a missing interface file is an error, as on cgroupfs). */
export function writeFile(op: string, dir: string, file: string, value: string, hint?: (code: string) => string | undefined): void {
  const p = join(dir, file);
  let fd: number;
  try {
    fd = openSync(p, constants.O_WRONLY | constants.O_TRUNC);
  } catch (e) {
    throw writeError(op, p, value, e, hint);
  }
  try {
    writeSync(fd, value);
  } catch (e) {
    throw writeError(op, p, value, e, hint);
  } finally {
    closeSync(fd);
  }
}

/** Write a multi-line value one line at a time (cgroupfs takes one entry per write). */
export function writeLines(op: string, dir: string, file: string, value: string): void {
  const lines = value.split('\n').filter((l) => l.length > 0);
  if (!lines.length) { writeFile(op, dir, file, ''); return; }
  for (const l of lines) writeFile(op, dir, file, l);
}

export function writeError(op: string, p: string, value: string, e: unknown, hint?: (code: string) => string | undefined): BerthError {
  const err = e as NodeJS.ErrnoException;
  const errno = typeof err?.errno === 'number' ? Math.abs(err.errno) : undefined;
  const code = err?.code ?? (errno !== undefined ? errnoName(errno) : undefined);
  const extra = code && hint ? hint(code) : undefined;
  const shown = value.length > 200 ? `${value.slice(0, 200)}...` : value;
  return new BerthError({
    kind: code === 'ENOENT' ? 'notfound' : 'system', op, path: p, errno, code,
    message: `${op}: write ${shown} to ${p}: ${code ?? err?.message ?? String(e)}${extra ? ` (${extra})` : ''}`,
    cause: e,
  });
}

export function readError(op: string, p: string, e: unknown): BerthError {
  const err = e as NodeJS.ErrnoException;
  const errno = typeof err?.errno === 'number' ? Math.abs(err.errno) : undefined;
  const code = err?.code;
  return new BerthError({
    kind: code === 'ENOENT' ? 'notfound' : 'system', op, path: p, errno, code,
    message: `${op}: read ${p}: ${code ?? err?.message ?? String(e)}`, cause: e,
  });
}

/** The file's content, trimmed; throws a BerthError naming `op`. */
export function readFile(op: string, dir: string, file: string): string {
  const p = join(dir, file);
  try {
    return readFileSync(p, 'utf8').trim();
  } catch (e) {
    throw readError(op, p, e);
  }
}

/** The file's content, trimmed, or undefined when it does not exist. */
export function readOptional(dir: string, file: string): string | undefined {
  try {
    return readFileSync(join(dir, file), 'utf8').trim();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return undefined;
    throw readError('read cgroup file', join(dir, file), e);
  }
}

export function has(dir: string, file: string): boolean {
  return existsSync(join(dir, file));
}

/** A number from a cgroup file ("max" and absent give undefined; huge values stay approximate). */
export function parseNum(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (t === '' || t === 'max') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

export function readNum(dir: string, file: string): number | undefined {
  return parseNum(readOptional(dir, file));
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, ...) into a record. */
export function readKV(dir: string, file: string): Record<string, number> {
  const out: Record<string, number> = {};
  const s = readOptional(dir, file);
  if (!s) return out;
  for (const line of s.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (!k || v === undefined) continue;
    const n = Number(v);
    if (Number.isFinite(n)) out[k] = n;
  }
  return out;
}

/** v1 limits at or above this are "unlimited" (the kernel shows PAGE_COUNTER_MAX * page size). */
export const V1_UNLIMITED = 2 ** 62;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
