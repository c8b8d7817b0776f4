/** cgroup v1 for real on this machine's /sys/fs/cgroup: limits in the kernel's files, real processes inside. */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openCgroup, detectLayout, type CgroupManager, type Resources } from '../../src/cgroups/index.js';
import { BerthError } from '../../src/lib/index.js';
import { haveBusybox } from '../helpers/rootfs.js';
import { procState, read, removeParents, spawnIn, uniq, until } from './util.js';

function v1Available(t: TestContext): boolean {
  try {
    const l = detectLayout('/sys/fs/cgroup');
    if (l.version !== 1) { t.skip('the host is not cgroup v1'); return false; }
    const need = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'pids', 'blkio'];
    const have = new Set(l.hierarchies.flatMap((h) => h.controllers));
    const missing = need.filter((c) => !have.has(c));
    if (missing.length) { t.skip(`v1 controllers not mounted: ${missing.join(', ')}`); return false; }
    if (process.getuid!() !== 0) { t.skip('needs root'); return false; }
    return true;
  } catch (e) { t.skip(`no cgroup root: ${(e as Error).message}`); return false; }
}

/** A fresh cgroup /berth-test-*\/c, removed (with its parent) afterwards whatever happens. */
async function withCgroup(res: Resources | undefined, body: (cg: CgroupManager, d: Record<string, string>) => Promise<void>): Promise<void> {
  const cg = openCgroup({ path: `/${uniq()}/c` });
  cg.create(res);
  try {
    await body(cg, cg.dirs());
  } finally {
    await cg.killAll('SIGKILL').catch(() => {});
    await cg.destroy();
    removeParents(cg, 1);
    for (const d of Object.values(cg.dirs())) assert.equal(existsSync(d), false, `${d} removed`);
  }
}

const MiB = 1 << 20;

test('v1 create: limits land in the kernel files; a real process joins and is killed; destroy leaves nothing', async (t) => {
  if (!v1Available(t)) return;
  const res: Resources = {
    memory: { limit: 64 * MiB, swap: 128 * MiB, reservation: 32 * MiB, swappiness: 20 },
    cpu: { shares: 512, quota: 20000, period: 100000, cpus: '0', mems: '0' },
    pids: { limit: 20 },
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 5, access: 'rw' }],
  };
  let parentDirs: string[] = [];
  await withCgroup(res, async (cg, d) => {
    parentDirs = Object.values(d).map((x) => join(x, '..'));
    assert.equal(cg.version, 1);
    assert.equal(read(join(d.memory!, 'memory.limit_in_bytes')), String(64 * MiB));
    assert.equal(read(join(d.memory!, 'memory.memsw.limit_in_bytes')), String(128 * MiB));
    assert.equal(read(join(d.memory!, 'memory.soft_limit_in_bytes')), String(32 * MiB));
    assert.equal(read(join(d.memory!, 'memory.swappiness')), '20');
    assert.equal(read(join(d.cpu!, 'cpu.shares')), '512');
    assert.equal(read(join(d.cpu!, 'cpu.cfs_quota_us')), '20000');
    assert.equal(read(join(d.cpu!, 'cpu.cfs_period_us')), '100000');
    assert.equal(read(join(d.pids!, 'pids.max')), '20');
    assert.equal(read(join(d.cpuset!, 'cpuset.cpus')), '0');
    assert.equal(read(join(d.cpuset!, 'cpuset.mems')), '0');
    assert.equal(read(join(d.devices!, 'devices.list')), 'c 1:3 rwm\nc 1:5 rw');
    assert.ok(cg.exists());
    const p = await spawnIn(cg, ['sleep', '1000']);
    const own = readFileSync(`/proc/${p.pid}/cgroup`, 'utf8');
    const rel = d.memory!.slice('/sys/fs/cgroup/memory'.length);
    for (const c of ['memory', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'blkio', 'pids']) {
      assert.match(own, new RegExp(`^\\d+:${c}:${rel}$`, 'm'), `${c} membership in /proc/PID/cgroup`);
    }
    assert.deepEqual(cg.pids(), [p.pid]);
    assert.equal(cg.stats().pids.current, 1);
    await cg.killAll('SIGKILL');
    assert.deepEqual(await p.exited, { code: null, signal: 'SIGKILL' });
    assert.deepEqual(cg.pids(), []);
  });
  for (const pd of parentDirs) assert.equal(existsSync(pd), false);
});

test('v1 devices: a denied /dev/null cannot be opened, an allowed /dev/zero can', async (t) => {
  if (!v1Available(t)) return;
  await withCgroup({ devices: [{ allow: false }, { allow: true, type: 'c', major: 1, minor: 5, access: 'r' }] }, async (cg) => {
    const p = await spawnIn(cg, ['/bin/sh', '-c', 'read x; exec 3</dev/zero && echo zero-ok; exec 4>/dev/null && echo null-ok']);
    p.go();
    const ex = await p.exited;
    assert.notEqual(ex.code, 0);
    assert.match(p.out(), /zero-ok/);
    assert.doesNotMatch(p.out(), /null-ok/);
    assert.match(p.err(), /Operation not permitted/);
    // Back to allow-all with update.
    cg.update({ devices: [{ allow: true }] });
    assert.equal(read(join(cg.dirs().devices!, 'devices.list')), 'a *:* rwm');
  });
});

test('v1 stats move when a process allocates, runs and writes; throttling counts', async (t) => {
  if (!v1Available(t)) return;
  const shm = `/dev/shm/${uniq()}`;
  await withCgroup({ memory: { limit: 256 * MiB }, cpu: { quota: 10000, period: 100000 } }, async (cg) => {
    const before = cg.stats();
    assert.equal(before.memory.limit, 256 * MiB);
    const p = await spawnIn(cg, ['/bin/sh', '-c', `read x; dd if=/dev/zero of=${shm} bs=1M count=16 2>/dev/null; echo written; while :; do :; done`]);
    try {
      p.go();
      assert.ok(await until(() => p.out().includes('written')), 'the writer finished');
      await new Promise((r) => setTimeout(r, 600));
      const s = cg.stats();
      assert.ok(s.memory.usage >= 16 * MiB, `memory usage ${s.memory.usage} grew by the 16 MiB in /dev/shm`);
      assert.ok(s.memory.cache >= 16 * MiB, `cache ${s.memory.cache}`);
      assert.ok(s.memory.maxUsage >= s.memory.usage);
      assert.ok(s.cpu.usageTotal > before.cpu.usageTotal + 20e6, `cpu usage ${s.cpu.usageTotal} ns`);
      assert.ok(s.cpu.perCpu.length >= 1 && s.cpu.perCpu.reduce((a, b) => a + b, 0) > 0);
      assert.ok(s.cpu.periods > 0 && s.cpu.throttledPeriods > 0, `throttled ${s.cpu.throttledPeriods}/${s.cpu.periods}`);
      assert.ok(s.cpu.throttledTime > 0);
      assert.equal(s.pids.current, 1);
      assert.equal(s.memory.oomKill, 0);
    } finally {
      await cg.killAll('SIGKILL');
      rmSync(shm, { force: true });
    }
  });
});

/** The whole disk holding `path` ("major:minor"), or undefined. */
function diskOf(path: string): { major: number; minor: number } | undefined {
  const dev = statSync(path).dev;
  let major = (dev >> 8) & 0xfff, minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  if (!existsSync(`/sys/dev/block/${major}:${minor}`)) return undefined;
  if (existsSync(`/sys/dev/block/${major}:${minor}/partition`)) {
    const parent = readFileSync(`/sys/dev/block/${major}:${minor}/../dev`, 'utf8').trim().split(':').map(Number);
    [major, minor] = [parent[0]!, parent[1]!];
  }
  return { major, minor };
}

test('v1 blkio: a write throttle lands in the kernel, and stats count direct writes', async (t) => {
  if (!v1Available(t)) return;
  if (!existsSync('/usr/bin/dd') && !existsSync('/bin/dd')) return t.skip('GNU dd not installed');
  const disk = diskOf('/var/tmp');
  if (!disk) return t.skip('/var/tmp is not on a block device');
  const file = `/var/tmp/${uniq()}`;
  // Recent kernels only keep v1 throttle statistics for devices with a throttle rule.
  const res: Resources = { blockIO: { throttleWriteBpsDevice: [{ ...disk, rate: 1e9 }], throttleReadIOPSDevice: [{ ...disk, rate: 100000 }] } };
  await withCgroup(res, async (cg, d) => {
    assert.equal(read(join(d.blkio!, 'blkio.throttle.write_bps_device')), `${disk.major}:${disk.minor} 1000000000`);
    assert.equal(read(join(d.blkio!, 'blkio.throttle.read_iops_device')), `${disk.major}:${disk.minor} 100000`);
    const p = await spawnIn(cg, ['/bin/sh', '-c', `read x; dd if=/dev/zero of=${file} bs=1M count=4 oflag=direct 2>&1 && echo ok`]);
    p.go();
    await p.exited;
    rmSync(file, { force: true });
    if (!p.out().includes('ok')) return t.skip(`direct I/O not possible here: ${p.out().trim()}`);
    const s = cg.stats();
    const w = s.blkio.ioServiceBytes.filter((e) => e.op === 'Write' && e.major === disk.major && e.minor === disk.minor).reduce((a, e) => a + e.value, 0);
    assert.ok(w >= 4 * MiB, `blkio write bytes ${w}`);
    assert.ok(s.blkio.ioServiced.some((e) => e.op === 'Write' && e.value >= 4));
  });
});

test('v1 freeze and thaw a real process', async (t) => {
  if (!v1Available(t)) return;
  await withCgroup({}, async (cg, d) => {
    const p = await spawnIn(cg, ['/bin/sh', '-c', 'while :; do :; done']);
    await cg.freeze();
    assert.equal(read(join(d.freezer!, 'freezer.state')), 'FROZEN');
    assert.equal(cg.isFrozen(), true);
    assert.equal(procState(p.pid), 'D');
    const u1 = cg.stats().cpu.usageTotal;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(cg.stats().cpu.usageTotal, u1, 'no CPU time while frozen');
    await cg.thaw();
    assert.equal(cg.isFrozen(), false);
    assert.equal(read(join(d.freezer!, 'freezer.state')), 'THAWED');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(cg.stats().cpu.usageTotal > u1, 'runs again after thaw');
    // killAll on a frozen cgroup still kills (it thaws for SIGKILL).
    await cg.freeze();
    await cg.killAll('SIGKILL');
    assert.equal((await p.exited).signal, 'SIGKILL');
    assert.equal(cg.isFrozen(), false);
  });
});

test('v1 killAll signals every process, including children the caller does not know', async (t) => {
  if (!v1Available(t)) return;
  await withCgroup({}, async (cg) => {
    const p = await spawnIn(cg, ['/bin/sh', '-c', 'read x; sleep 1000 & sleep 1000 & sleep 1000 & echo started; wait']);
    p.go();
    assert.ok(await until(() => cg.pids().length === 4), `4 processes, got ${cg.pids().length}`);
    await cg.killAll('SIGTERM');
    assert.equal((await p.exited).signal, 'SIGTERM');
    assert.ok(await until(() => cg.pids().length === 0), 'every sleep got SIGTERM too');
  });
});

test('v1 pids limit of 5 stops a fork loop (busybox sh)', async (t) => {
  if (!v1Available(t)) return;
  if (!haveBusybox()) return t.skip('busybox-static not installed');
  await withCgroup({ pids: { limit: 5 } }, async (cg, d) => {
    const p = await spawnIn(cg, ['/bin/busybox', 'sh', '-c', 'read x; i=0; while [ $i -lt 20 ]; do sleep 1000 & i=$((i+1)); done; echo loop-done; sleep 1000']);
    p.go();
    assert.ok(await until(() => p.out().includes('loop-done') || p.child.exitCode !== null), 'the loop ran');
    assert.match(p.err(), /fork|Resource temporarily unavailable/i);
    const n = cg.pids().length;
    assert.ok(n <= 5, `${n} processes under a limit of 5`);
    assert.equal(cg.stats().pids.limit, 5);
    assert.match(read(join(d.pids!, 'pids.events')), /max [1-9]/);
    await cg.killAll(9);
    assert.deepEqual(cg.pids(), []);
  });
});

test('v1 an allocation beyond the memory limit is OOM-killed and counted', async (t) => {
  if (!v1Available(t)) return;
  await withCgroup({ memory: { limit: 32 * MiB, swap: 32 * MiB } }, async (cg) => {
    assert.equal(cg.oomKillCount(), 0);
    const p = await spawnIn(cg, ['/bin/sh', '-c', 'read x; x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo survived']);
    p.go();
    await p.exited;
    assert.doesNotMatch(p.out(), /survived/);
    assert.ok(await until(() => cg.oomKillCount() >= 1), `oom_kill ${cg.oomKillCount()}`);
    const s = cg.stats();
    assert.ok(s.memory.oomKill >= 1);
    assert.equal(s.memory.maxUsage, 32 * MiB, 'the peak reached the limit (failcnt is not kept by recent kernels)');
  });
});

test('v1 memory+swap updates are ordered so the kernel accepts them', async (t) => {
  if (!v1Available(t)) return;
  await withCgroup({ memory: { limit: 64 * MiB, swap: 128 * MiB } }, async (cg, d) => {
    const v = (f: string) => Number(read(join(d.memory!, f)));
    cg.update({ memory: { limit: 256 * MiB, swap: 512 * MiB } }); // memsw must grow first
    assert.equal(v('memory.limit_in_bytes'), 256 * MiB);
    assert.equal(v('memory.memsw.limit_in_bytes'), 512 * MiB);
    cg.update({ memory: { limit: 32 * MiB, swap: 48 * MiB } }); // limit must shrink first
    assert.equal(v('memory.limit_in_bytes'), 32 * MiB);
    assert.equal(v('memory.memsw.limit_in_bytes'), 48 * MiB);
    cg.update({ memory: { limit: -1 } }); // unlimited memory: unlimited memory+swap too
    assert.ok(v('memory.limit_in_bytes') > 2 ** 62 && v('memory.memsw.limit_in_bytes') > 2 ** 62);
    cg.update({ memory: { limit: 16 * MiB, swap: 16 * MiB }, cpu: { shares: 2048, quota: -1 }, pids: { limit: -1 } });
    assert.equal(v('memory.memsw.limit_in_bytes'), 16 * MiB);
    assert.equal(read(join(d.cpu!, 'cpu.cfs_quota_us')), '-1');
    assert.equal(read(join(d.pids!, 'pids.max')), 'max');
    assert.throws(() => cg.update({ memory: { limit: 64 * MiB, swap: 32 * MiB } }), (e: unknown) =>
      e instanceof BerthError && /set memory (limit|swap): write \d+ to .*memory\.(memsw\.)?limit_in_bytes: EINVAL/.test(e.message));
  });
});

test('v1 create failure names the file, value and cause and leaves nothing behind', async (t) => {
  if (!v1Available(t)) return;
  const top = uniq();
  const cg = openCgroup({ path: `/${top}/c` });
  assert.throws(() => cg.create({ memory: { limit: 64 * MiB }, cpu: { cpus: '4095' } }), (e: unknown) => {
    assert.ok(e instanceof BerthError);
    // The kernel says ERANGE (beyond nr_cpu_ids) or EINVAL (not a subset of the parent's cpus).
    assert.match(e.message, new RegExp(`^set cpuset cpus: write 4095 to /sys/fs/cgroup/cpuset/${top}/c/cpuset\\.cpus: (ERANGE|EINVAL)$`));
    assert.equal(e.path, `/sys/fs/cgroup/cpuset/${top}/c/cpuset.cpus`);
    return true;
  });
  for (const h of ['memory', 'cpu', 'cpuset', 'pids', 'devices', 'freezer', 'unified', 'systemd']) {
    assert.equal(existsSync(`/sys/fs/cgroup/${h}/${top}`), false, `${h}: nothing left`);
  }
});

test('v1 refuses what is not mounted or not v1 before creating anything', (t) => {
  if (!v1Available(t)) return;
  const layout = detectLayout('/sys/fs/cgroup');
  const have = new Set(layout.hierarchies.flatMap((h) => h.controllers));
  const top = uniq();
  const cg = openCgroup({ path: `/${top}/c` });
  assert.throws(() => cg.create({ unified: { 'memory.high': '1' } }), /cannot use unified on cgroup v1/);
  if (!have.has('hugetlb')) assert.throws(() => cg.create({ hugepageLimits: [{ pageSize: '2MB', limit: 2 * MiB }] }), /set hugepage limits: the hugetlb cgroup controller is not mounted/);
  if (!have.has('net_cls')) assert.throws(() => cg.create({ network: { classID: 0x100001 } }), /set network classID: the net_cls cgroup controller is not mounted/);
  if (!have.has('net_prio')) assert.throws(() => cg.create({ network: { priorities: [{ name: 'eth0', priority: 5 }] } }), /net_prio cgroup controller is not mounted/);
  assert.throws(() => cg.create({ memory: { swappiness: 101 } }), /valid range is 0-100/);
  assert.equal(existsSync(`/sys/fs/cgroup/memory/${top}`), false);
  // Nothing needed from a missing controller: fine (and hugepageLimits: [] needs nothing).
  cg.create({ hugepageLimits: [], network: {} });
  return cg.destroy().then(() => removeParents(cg, 1));
});

test('v1 relative paths are relative to the runtime\'s own cgroup', async (t) => {
  if (!v1Available(t)) return;
  const top = uniq();
  const cg = openCgroup({ path: `${top}/c` });
  const own = readFileSync('/proc/self/cgroup', 'utf8');
  const memOwn = /^\d+:memory:(.*)$/m.exec(own)![1]!;
  assert.equal(cg.dirs().memory, join('/sys/fs/cgroup/memory', memOwn, top, 'c'));
  cg.create({ memory: { limit: 32 * MiB } });
  try {
    assert.ok(existsSync(cg.dirs().memory!));
    assert.equal(read(join(cg.dirs().memory!, 'memory.limit_in_bytes')), String(32 * MiB));
  } finally {
    await cg.destroy();
    removeParents(cg, 1);
  }
  assert.equal(cg.exists(), false);
});
