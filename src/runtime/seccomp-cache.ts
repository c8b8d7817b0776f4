/**
 * Seccomp filters compiled once. libseccomp takes ~15 ms to build Docker's default profile, at
 * every container start and exec; the same profile gives the same BPF on one machine, so the
 * filter is compiled by `berth-helper seccomp-export`, kept in memory and (given a cache
 * directory) in `<dir>/<sha256>.bpf`, and loaded by a `seccomp_bpf` step with seccomp(2).
 * The key covers the plan arguments, the kernel release and the helper binary. A profile with a
 * notify listener keeps the libseccomp step (its notify fd comes from libseccomp).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { convertSeccomp, seccompArgs, type LinuxSeccomp } from '../oci/index.js';
import { exportSeccomp, helperPath, step, type Step } from '../sys/index.js';

/** SECCOMP_FILTER_FLAG_* for the profile's flags (libseccomp's attribute names). */
const FLAG_BITS: Record<string, number> = { tsync: 1, log: 2, spec_allow: 4 };
const DESC = 'load the seccomp filter';
const MAX_MEMORY = 32;
const memory = new Map<string, string>();

function helperIdentity(): string {
  try {
    const st = statSync(helperPath());
    return `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch { return ''; }
}

function readCached(file: string): string | undefined {
  try {
    const b = readFileSync(file);
    return b.length > 0 && b.length % 8 === 0 ? b.toString('hex') : undefined;
  } catch { return undefined; }
}

function writeCached(dir: string, file: string, bpf: Buffer): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, bpf, { mode: 0o600 });
    renameSync(tmp, file);
  } catch { /* no cache: compiled again next time */ }
}

/** The step loading `s`: a precompiled `seccomp_bpf`, or libseccomp's `seccomp` for a listener. */
export function seccompStep(s: LinuxSeccomp, cacheDir: string | undefined, what: string): Step {
  const prog = convertSeccomp(s);
  const args = seccompArgs(prog);
  const lib = step('seccomp', args, DESC);
  if (prog.listenerPath || prog.flags.some((f) => !(f in FLAG_BITS))) return lib;
  const key = createHash('sha256').update(JSON.stringify([release(), helperIdentity(), args], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))).digest('hex');
  let hex = memory.get(key);
  const file = cacheDir ? join(cacheDir, `${key}.bpf`) : undefined;
  if (!hex && file) hex = readCached(file);
  if (!hex) {
    const bpf = exportSeccomp(lib, what);
    hex = bpf.toString('hex');
    if (cacheDir && file) writeCached(cacheDir, file, bpf);
  }
  if (memory.size >= MAX_MEMORY) memory.delete(memory.keys().next().value!);
  memory.set(key, hex);
  const flags = prog.flags.reduce((m, f) => m | FLAG_BITS[f]!, 0);
  return step('seccomp_bpf', [flags, hex], DESC);
}

/** Forget the filters compiled in this process (tests: the file cache alone). */
export function forgetCompiledSeccomp(): void {
  memory.clear();
}
