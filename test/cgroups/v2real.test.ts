/**
 * cgroup v2 for real on a cgroup2 mount (here /sys/fs/cgroup/unified: no cpu/memory controllers, but the
 * core files cgroup.procs, cgroup.freeze, cgroup.kill, cgroup.events, and BPF device programs).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCgroup, detectLayout, deviceProgramIds, type CgroupManager, type Resources } from '../../src/cgroups/index.js';
import { procState, read, removeParents, spawnIn, uniq, until } from './util.js';

const ROOT = process.env.BERTH_TEST_CGROUP2 ?? '/sys/fs/cgroup/unified';

function v2Available(t: TestContext, ...files: string[]): boolean {
  try {
    if (process.getuid!() !== 0) { t.skip('needs root'); return false; }
    const l = detectLayout(ROOT);
    if (l.version !== 2 || l.fake) { t.skip(`${ROOT} is not a cgroup2 mount`); return false; }
  } catch (e) { t.skip(`${ROOT}: ${(e as Error).message}`); return false; }
  // Probe the files of a child cgroup (the root lacks some of them).
  const probe = join(ROOT, uniq('berth-probe'));
  mkdirSync(probe);
  try {
    const missing = files.filter((f) => !existsSync(join(probe, f)));
    if (missing.length) { t.skip(`the kernel lacks ${missing.join(', ')}`); return false; }
    return true;
  } finally {
    rmdirSync(probe);
  }
}

/** The root's subtree_control before a test, restored after (create enables the root's controllers, as runc). */
function saveSubtree(): () => void {
  const p = join(ROOT, 'cgroup.subtree_control');
  const before = new Set(read(p).split(/\s+/).filter(Boolean));
  return () => {
    for (const c of read(p).split(/\s+/).filter(Boolean)) {
      if (!before.has(c)) { try { writeFileSync(p, `-${c}`); } catch { /* still used by someone else */ } }
    }
  };
}

async function withCgroup(res: Resources | undefined, body: (cg: CgroupManager, dir: string) => Promise<void>): Promise<void> {
  const restore = saveSubtree();
  const cg = openCgroup({ path: `/${uniq()}/c`, root: ROOT });
  try {
    cg.create(res);
    try {
      await body(cg, cg.dirs()['']!);
    } finally {
      await cg.killAll('SIGKILL').catch(() => {});
      await cg.destroy();
      removeParents(cg, 1);
      assert.equal(existsSync(cg.dirs()['']!), false);
    }
  } finally {
    restore();
  }
}

test('v2 real: create, move a process in, kill with cgroup.kill, destroy', async (t) => {
  if (!v2Available(t, 'cgroup.kill', 'cgroup.events')) return;
  await withCgroup(undefined, async (cg, dir) => {
    assert.equal(cg.version, 2);
    assert.equal(read(join(dir, 'cgroup.type')), 'domain');
    const a = await spawnIn(cg, ['sleep', '1000']);
    const b = await spawnIn(cg, ['/bin/sh', '-c', 'read x; sleep 1000 & wait']);
    b.go();
    assert.ok(await until(() => cg.pids().length === 3), `3 processes, got ${cg.pids().length}`);
    const rel = dir.slice(ROOT.length);
    assert.match(readFileSync(`/proc/${a.pid}/cgroup`, 'utf8'), new RegExp(`^0::${rel}$`, 'm'));
    assert.match(read(join(dir, 'cgroup.events')), /populated 1/);
    await cg.killAll('SIGKILL');
    assert.equal((await a.exited).signal, 'SIGKILL');
    assert.equal((await b.exited).signal, 'SIGKILL');
    assert.deepEqual(cg.pids(), []);
    assert.match(read(join(dir, 'cgroup.events')), /populated 0/);
  });
});

test('v2 real: freeze and thaw a process (cgroup.freeze + cgroup.events)', async (t) => {
  if (!v2Available(t, 'cgroup.freeze', 'cgroup.events')) return;
  await withCgroup(undefined, async (cg, dir) => {
    const p = await spawnIn(cg, ['/bin/sh', '-c', 'while :; do :; done']);
    await until(() => procState(p.pid) === 'R');
    await cg.freeze();
    assert.equal(read(join(dir, 'cgroup.freeze')), '1');
    assert.match(read(join(dir, 'cgroup.events')), /frozen 1/);
    assert.equal(cg.isFrozen(), true);
    const usage = () => Number(/usage_usec (\d+)/.exec(read(join(dir, 'cpu.stat')))![1]);
    const u1 = usage();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(usage(), u1, 'no CPU time while frozen');
    assert.notEqual(procState(p.pid), 'R');
    await cg.thaw();
    assert.equal(cg.isFrozen(), false);
    assert.match(read(join(dir, 'cgroup.events')), /frozen 0/);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(usage() > u1, 'runs again after thaw');
    assert.ok(cg.stats().cpu.usageTotal > 0, 'cpu.stat is there without the cpu controller');
    // A signal other than SIGKILL goes through freeze / signal / thaw.
    await cg.killAll('SIGTERM');
    assert.equal((await p.exited).signal, 'SIGTERM');
    assert.equal(cg.isFrozen(), false);
  });
});

test('v2 real: a BPF device program denies /dev/null; update replaces the program', async (t) => {
  if (!v2Available(t, 'cgroup.procs')) return;
  const res: Resources = { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 5, access: 'r' }] };
  await withCgroup(res, async (cg, dir) => {
    const ids = deviceProgramIds(dir);
    assert.equal(ids.length, 1, 'one program attached');
    const p = await spawnIn(cg, ['/bin/sh', '-c', 'read x; exec 3</dev/zero && echo zero-ok; echo > /dev/null && echo null-ok']);
    p.go();
    const ex = await p.exited;
    assert.notEqual(ex.code, 0);
    assert.match(p.out(), /zero-ok/);
    assert.doesNotMatch(p.out(), /null-ok/);
    assert.match(p.err(), /Operation not permitted/);
    cg.update({ devices: [{ allow: true }, { allow: false, type: 'c', major: 1, minor: 5 }] });
    const ids2 = deviceProgramIds(dir);
    assert.equal(ids2.length, 1, 'still one program');
    assert.notEqual(ids2[0], ids[0], 'the old program was replaced');
    const q = await spawnIn(cg, ['/bin/sh', '-c', 'read x; echo > /dev/null && echo null-ok; exec 3</dev/zero && echo zero-ok']);
    q.go();
    await q.exited;
    assert.match(q.out(), /null-ok/);
    assert.doesNotMatch(q.out(), /zero-ok/);
  });
});

test('v2 real: controllers of the root are enabled for the new cgroup and their limits apply (hugetlb)', async (t) => {
  if (!v2Available(t, 'cgroup.procs')) return;
  const avail = read(join(ROOT, 'cgroup.controllers')).split(/\s+/);
  if (!avail.includes('hugetlb')) return t.skip(`${ROOT} has no hugetlb controller`);
  const sizes = existsSync('/sys/kernel/mm/hugepages') ? readdirSync('/sys/kernel/mm/hugepages') : [];
  if (!sizes.includes('hugepages-2048kB')) return t.skip('no 2MB huge pages');
  await withCgroup({ hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }] }, async (cg, dir) => {
    assert.match(read(join(dir, '..', 'cgroup.subtree_control')), /hugetlb/);
    assert.equal(read(join(dir, 'hugetlb.2MB.max')), String(4 << 20));
    if (existsSync(join(dir, 'hugetlb.2MB.rsvd.max'))) assert.equal(read(join(dir, 'hugetlb.2MB.rsvd.max')), String(4 << 20));
    assert.deepEqual(cg.stats().hugetlb['2MB'], { usage: 0, maxUsage: 0, failcnt: 0 });
    // Missing controllers are reported with the setting that needs them.
    assert.throws(() => cg.update({ memory: { limit: 1 << 24 } }), /set memory limits: cgroup v2 controller memory is not enabled/);
  });
});
