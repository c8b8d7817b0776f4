/**
 * The constant tables against the machine's real C headers and libseccomp: a small C program
 * generated from the tables prints each value the compiler sees. Skips when no C compiler or no
 * libseccomp development files are installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oci from '../../src/oci/index.js';

function haveCc(): boolean {
  try { execFileSync('cc', ['--version'], { stdio: 'ignore' }); return existsSync('/usr/include/seccomp.h'); } catch { return false; }
}

/** name -> value as the C compiler sees it (undefined when the header lacks the name). */
function cValues(includes: string[], names: string[], extra = '', enums = false): Map<string, bigint | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-oci-headers-'));
  try {
    const print = (n: string) => `  printf("%s %llu\\n", "${n}", (unsigned long long)(${n}));`;
 // enum members and function-like macros (SCMP_ACT_ERRNO(38)) cannot be tested with #ifdef
    const lines = names.map((n) => (enums || n.includes('(') ? print(n) : `#ifdef ${n}\n${print(n)}\n#else\n  printf("%s -\\n", "${n}");\n#endif`));
    writeFileSync(join(dir, 'p.c'), `#define _GNU_SOURCE\n${includes.map((i) => `#include <${i}>`).join('\n')}\n#include <stdio.h>\n` +
      `int main(void) {\n${lines.join('\n')}\n${extra}\n  return 0;\n}\n`);
    execFileSync('cc', ['-o', join(dir, 'p'), join(dir, 'p.c'), '-lseccomp'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const out = execFileSync(join(dir, 'p'), { encoding: 'utf8' });
    const m = new Map<string, bigint | undefined>();
    for (const line of out.trim().split('\n')) {
      const [k, v] = line.split(' ');
      m.set(k, v === '-' ? undefined : BigInt(v));
    }
    return m;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function compare(table: Record<string, number | bigint>, includes: string[], allowMissing: string[] = [], enums = false): void {
  const c = cValues(includes, Object.keys(table), '', enums);
  for (const [name, value] of Object.entries(table)) {
    const got = c.get(name);
    if (got === undefined) {
      assert.ok(allowMissing.includes(name), `${name} is not defined by ${includes.join(', ')}`);
      continue;
    }
    assert.equal(BigInt(value), got, name);
  }
}

const skip = haveCc() ? false : 'no C compiler or libseccomp-dev';

test('capabilities match linux/capability.h', { skip }, () => {
  compare(Object.fromEntries(oci.CAPABILITIES.map((n, i) => [n, i])), ['linux/capability.h']);
  compare({ CAP_LAST_CAP: oci.CAP_LAST_CAP }, ['linux/capability.h']);
});

test('mount and clone flags match linux/mount.h and linux/sched.h', { skip }, () => {
  const pick = (prefix: string) => Object.fromEntries(Object.entries(oci).filter(([k, v]) => k.startsWith(prefix) && typeof v === 'number')) as Record<string, number>;
  const ms = pick('MS_');
  const attrs = pick('MOUNT_ATTR_');
  const clone = pick('CLONE_');
  assert.ok(Object.keys(ms).length >= 24 && Object.keys(attrs).length === 11 && Object.keys(clone).length >= 24);
  compare({ ...ms, ...attrs }, ['linux/mount.h']);
  compare(clone, ['linux/sched.h']);
  const macro: Record<string, string> = { user: 'USER', ipc: 'IPC', uts: 'UTS', network: 'NET', pid: 'PID', mount: 'NS', cgroup: 'CGROUP', time: 'TIME' };
  compare(Object.fromEntries(oci.NAMESPACES.map((n) => ['CLONE_NEW' + macro[n.type], oci.namespaceFlag(n.type)])), ['linux/sched.h']);
});

test('rlimits, personality, ioprio, scheduler and mempolicy values match the kernel headers', { skip }, () => {
  compare(Object.fromEntries(oci.RLIMITS.map((n, i) => [n, i])), ['linux/resource.h']);
  compare(Object.fromEntries(Object.entries(oci.PERSONALITY_DOMAINS).map(([k, v]) => ['PER_' + k, v])), ['linux/personality.h'], [], true);
  compare({ ...oci.PERSONALITY_FLAGS }, ['linux/personality.h'], [], true);
  compare({ ...oci.IOPRIO_CLASSES, IOPRIO_WHO_PROCESS: oci.IOPRIO_WHO_PROCESS }, ['linux/ioprio.h'], [], true);
  compare({ IOPRIO_CLASS_SHIFT: oci.IOPRIO_CLASS_SHIFT }, ['linux/ioprio.h']);
  // SCHED_ISO is reserved in the spec but was never merged into Linux.
  compare({ ...oci.SCHED_POLICIES }, ['sched.h'], ['SCHED_ISO']);
  compare({ ...oci.SCHED_FLAGS }, ['linux/sched.h']);
  // MPOL_WEIGHTED_INTERLEAVE (Linux 6.9) is newer than Debian 12's headers: it follows MPOL_PREFERRED_MANY.
  const { MPOL_WEIGHTED_INTERLEAVE, ...modes } = oci.MPOL_MODES;
  assert.equal(MPOL_WEIGHTED_INTERLEAVE, oci.MPOL_MODES.MPOL_PREFERRED_MANY + 1);
  compare(modes, ['linux/mempolicy.h'], [], true);
  compare({ ...oci.MPOL_FLAGS }, ['linux/mempolicy.h']);
});

test('signal numbers match signal.h (glibc SIGRTMIN/SIGRTMAX)', { skip }, () => {
  compare({ ...oci.SIGNALS }, ['signal.h']);
  const rt = cValues(['signal.h'], ['SIGRTMIN', 'SIGRTMAX']);
  assert.equal(rt.get('SIGRTMIN'), BigInt(oci.SIGRTMIN));
  assert.equal(rt.get('SIGRTMAX'), BigInt(oci.SIGRTMAX));
});

test('seccomp actions, operators and architecture names match libseccomp', { skip }, () => {
  compare({
    SCMP_ACT_KILL_PROCESS: oci.SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD: oci.SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL: oci.SCMP_ACT_KILL_THREAD,
    SCMP_ACT_TRAP: oci.SCMP_ACT_TRAP, SCMP_ACT_NOTIFY: oci.SCMP_ACT_NOTIFY, SCMP_ACT_LOG: oci.SCMP_ACT_LOG, SCMP_ACT_ALLOW: oci.SCMP_ACT_ALLOW,
    'SCMP_ACT_ERRNO(38)': oci.SCMP_ACT_ERRNO(38), 'SCMP_ACT_TRACE(1)': oci.SCMP_ACT_TRACE(1),
  }, ['seccomp.h']);
  // operators are an enum: print them as expressions
  const names = Object.keys(oci.SECCOMP_OPERATORS);
  const ops = cValues(['seccomp.h'], names, '', true);
  for (const n of names) assert.equal(ops.get(n), BigInt(oci.SECCOMP_OPERATORS[n as keyof typeof oci.SECCOMP_OPERATORS]), n);
  // every architecture `features` advertises must resolve in the installed libseccomp
  const archs = oci.runtimeFeatures().linux!.seccomp!.archs!;
  const code = archs.map((a) => `  printf("%s %llu\\n", "${a}", (unsigned long long)seccomp_arch_resolve_name("${oci.SECCOMP_ARCHES[a]}"));`).join('\n');
  const resolved = cValues(['seccomp.h'], [], code);
  for (const a of archs) assert.notEqual(resolved.get(a), 0n, `${a} (${oci.SECCOMP_ARCHES[a]}) unknown to libseccomp`);
  // and the token values equal the SCMP_ARCH_* macros
  const macros = cValues(['seccomp.h'], archs);
  for (const a of archs) assert.equal(resolved.get(a), macros.get(a), a);
});
