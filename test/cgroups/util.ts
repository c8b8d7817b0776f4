/** Helpers for the cgroups tests: unique names, processes moved into a cgroup, fake roots. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CgroupManager } from '../../src/cgroups/index.js';

export function uniq(prefix = 'berth-test'): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export function tmp(prefix = 'berth-cg-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function read(p: string): string {
  return readFileSync(p, 'utf8').trim();
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  out: () => string;
  err: () => string;
  /** Send a line on stdin (the scripts below wait on `read` before acting). */
  go: () => void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start `argv`, move it into `cg` by writing its pid to every procsFiles() entry (as the helper does). */
export async function spawnIn(cg: CgroupManager, argv: string[]): Promise<Proc> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  await new Promise<void>((res, rej) => { child.once('spawn', () => res()); child.once('error', rej); });
  const pid = child.pid!;
  try {
    for (const f of cg.procsFiles()) writeFileSync(f, String(pid));
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    throw e;
  }
  return { child, pid, out: () => out, err: () => err, go: () => child.stdin!.write('\n'), exited };
}

/** /proc/PID/status State letter (R, S, D, T, Z...). */
export function procState(pid: number): string {
  const m = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? m[1]! : '?';
}

/** Remove the now-empty parent directories of a cgroup up to (not including) each hierarchy top. */
export function removeParents(cg: CgroupManager, levels: number): void {
  for (const dir of Object.values(cg.dirs())) {
    let d = dirname(dir);
    for (let i = 0; i < levels; i++, d = dirname(d)) {
      try { if (existsSync(d)) rmdirSync(d); } catch { /* shared or busy */ }
    }
  }
}

export function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  return new Promise((resolve) => {
    const tick = () => {
      if (cond()) return resolve(true);
      if (Date.now() > end) return resolve(false);
      setTimeout(tick, 10);
    };
    tick();
  });
}

/** Create `files` (name -> content) under `dir`, making directories as needed. */
export function populate(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    const p = join(dir, name);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

export const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));
