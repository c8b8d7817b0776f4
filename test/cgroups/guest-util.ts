/**
 * Running a batch of shell commands in the cgroup-v2-only QEMU guest (scripts/cgroup2-vm.sh: one
 * boot per batch) and reading its sections: `@@ NAME` before each command's output, `@@ rc=N` after.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cannotRun, type Cli } from '../cli/run-util.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const VM_SCRIPT = join(REPO, 'scripts/cgroup2-vm.sh');

/** Why the guest cannot run here, or false. */
export function guestMissing(): string | false {
  const c = cannotRun();
  if (c) return c;
  if (process.env.BERTH_SKIP_VM) return 'BERTH_SKIP_VM is set';
  const r = spawnSync('bash', [VM_SCRIPT, 'check'], { encoding: 'utf8' });
  return r.status === 0 ? false : `the cgroup v2 guest cannot run here: ${(r.stdout + r.stderr).trim()}`;
}

function sections(out: string): Map<string, { text: string; rc: number }> {
  const m = new Map<string, { text: string; rc: number }>();
  const re = /^@@ (\S+)\n([\s\S]*?)^@@ rc=(\d+)$/gm;
  for (let x; (x = re.exec(out)); ) m.set(x[1]!, { text: x[2]!, rc: Number(x[3]) });
  return m;
}

export interface GuestOutput {
  /** a section's text and exit code (it must exist) */
  get(name: string): { text: string; rc: number };
  /** a section that must have exited 0: its text */
  ok(name: string): string;
  /** a section that must have failed, with output matching `re` */
  refused(name: string, re: RegExp): void;
}

/**
 * Boot the guest with the engine's busybox saved to /mnt/work/busybox.tar, run `batch` there and
 * hand its sections to `check`. When `check` throws, the whole output is printed (to see what differed).
 */
export async function withGuestBatch(c: Cli, label: string, batch: string, check: (g: GuestOutput) => void): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'berth-v2vm-'));
  let out = '', passed = false;
  try {
    await c.ok(['save', '-o', join(work, 'busybox.tar'), 'busybox']);
    writeFileSync(join(work, 'cmd.sh'), batch);
    const t0 = Date.now();
    const r = spawnSync('bash', [VM_SCRIPT, 'run', work], { encoding: 'utf8', timeout: 38 * 60_000 });
    out = (() => { try { return readFileSync(join(work, 'out.txt'), 'utf8'); } catch { return ''; } })();
    console.log(`# ${label}: build (if needed) + boot + batch took ${Math.round((Date.now() - t0) / 1000)} s`);
    assert.ok(out, `the guest wrote no output: ${r.stderr}`);
    const s = sections(out);
    const get = (n: string) => { const v = s.get(n); assert.ok(v, `no section ${n} in:\n${out}`); return v!; };
    check({
      get,
      ok: (n) => { const v = get(n); assert.equal(v.rc, 0, `${n}:\n${v.text}`); return v.text; },
      refused: (n, re) => { const v = get(n); assert.notEqual(v.rc, 0, `${n} must be refused:\n${v.text}`); assert.match(v.text, re); },
    });
    passed = true;
  } finally {
    if (!passed && out) console.log(out.replace(/^/gm, '# guest: '));
    rmSync(work, { recursive: true, force: true });
  }
}
