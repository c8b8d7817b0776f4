/** cgroup v2 driver on fake roots (plain directories with the interface files): the exact values written. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openCgroup, runProgram, type Resources, type Insn } from '../../src/cgroups/index.js';
import { ACC_R, ACC_W } from '../../src/cgroups/devices.js';
import { BerthError } from '../../src/lib/index.js';
import { populate, read, tmp } from './util.js';

const CONTROLLERS = 'cpuset cpu io memory hugetlb pids rdma';
const LEAF_FILES = [
  'cgroup.procs', 'cgroup.freeze', 'cgroup.kill', 'cpu.weight', 'cpu.max', 'cpu.max.burst', 'cpu.idle', 'memory.max', 'memory.low',
  'memory.high', 'memory.swap.max', 'io.weight', 'io.max', 'pids.max', 'cpuset.cpus', 'cpuset.mems', 'hugetlb.2MB.max',
  'hugetlb.2MB.rsvd.max', 'rdma.max',
];

function fakeRoot(leaf = 'berth/c1', extra: Record<string, string> = {}): { root: string; leafDir: string; programs: Buffer[]; done: () => void } {
  const root = tmp('berth-cg2-');
  const files: Record<string, string> = { 'cgroup.controllers': `${CONTROLLERS}\n`, 'cgroup.subtree_control': '', 'berth/cgroup.subtree_control': '', 'berth/cgroup.type': 'domain\n' };
  files[`${leaf}/cgroup.controllers`] = `${CONTROLLERS}\n`;
  files[`${leaf}/cgroup.type`] = 'domain\n';
  files[`${leaf}/cgroup.events`] = 'populated 0\nfrozen 0\n';
  for (const f of LEAF_FILES) files[`${leaf}/${f}`] = '';
  for (const [k, v] of Object.entries(extra)) files[`${leaf}/${k}`] = v;
  populate(root, files);
  return { root, leafDir: join(root, leaf), programs: [], done: () => rmSync(root, { recursive: true, force: true }) };
}

const FULL: Resources = {
  memory: { limit: 64 << 20, swap: 128 << 20, reservation: 32 << 20, kernel: 1 << 20, swappiness: 10 },
  cpu: { shares: 512, quota: 50000, period: 100000, burst: 1000, idle: 0, cpus: '0-1', mems: '0' },
  pids: { limit: 7 },
  blockIO: { weight: 500, throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2048 }] },
  hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }],
  rdma: { mlx4_0: { hcaHandles: 2, hcaObjects: 2000 } },
  devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }],
  unified: { 'memory.high': '50000000' },
};

test('v2 create writes runc-converted values to every file', () => {
  const f = fakeRoot();
  try {
    const programs: Insn[][] = [];
    const cg = openCgroup({ path: '/berth/c1', root: f.root, attachDevices: (dir, insns) => {
      assert.equal(dir, f.leafDir);
      const list: Insn[] = [];
      for (let i = 0; i < insns.length; i += 8) {
        const b = insns.readUInt8(i + 1);
        list.push({ code: insns.readUInt8(i), dst: b & 0xf, src: b >> 4, off: insns.readInt16LE(i + 2), imm: insns.readInt32LE(i + 4) });
      }
      programs.push(list);
    } });
    assert.equal(cg.version, 2);
    cg.create(FULL);
    const v = (name: string) => read(join(f.leafDir, name));
    assert.equal(v('memory.max'), String(64 << 20));
    assert.equal(v('memory.swap.max'), String(64 << 20), 'memory+swap 128M minus memory 64M');
    assert.equal(v('memory.low'), String(32 << 20));
    assert.equal(v('memory.high'), '50000000', 'unified written as-is');
    assert.equal(v('cpu.weight'), '59', 'shares 512 -> weight 59');
    assert.equal(v('cpu.max'), '50000 100000');
    assert.equal(v('cpu.max.burst'), '1000');
    assert.equal(v('cpu.idle'), '0');
    assert.equal(v('cpuset.cpus'), '0-1');
    assert.equal(v('cpuset.mems'), '0');
    assert.equal(v('pids.max'), '7');
    assert.equal(v('io.weight'), '4950', 'blkio 500 -> io.weight 4950 without BFQ');
    assert.equal(v('io.max'), '8:0 wbps=2048');
    assert.equal(v('hugetlb.2MB.max'), String(4 << 20));
    assert.equal(v('hugetlb.2MB.rsvd.max'), String(4 << 20));
    assert.equal(v('rdma.max'), 'mlx4_0 hca_handle=2 hca_object=2000');
    const all = CONTROLLERS.split(' ').map((c) => `+${c}`).join(' ');
    assert.equal(read(join(f.root, 'cgroup.subtree_control')), all, 'the root enables its controllers for the children');
    assert.equal(read(join(f.root, 'berth/cgroup.subtree_control')), all);
    assert.equal(programs.length, 1);
    assert.equal(runProgram(programs[0]!, 'c', 1, 3, ACC_R | ACC_W), 1);
    assert.equal(runProgram(programs[0]!, 'c', 1, 5, ACC_R), 0);
    assert.deepEqual(cg.procsFiles(), [join(f.leafDir, 'cgroup.procs')]);
    assert.ok(cg.exists());
  } finally { f.done(); }
});

test('v2 conversions: unlimited, no swap, quota -1, BFQ weight, unified overrides', () => {
  const f = fakeRoot('berth/c1', { 'io.bfq.weight': 'default 100\n' });
  try {
    const cg = openCgroup({ path: '/berth/c1', root: f.root, attachDevices: () => {} });
    cg.create({ memory: { limit: -1 }, cpu: { quota: -1, period: 250000, shares: 2 }, blockIO: { weight: 300, weightDevice: [{ major: 8, minor: 16, weight: 700 }] } });
    const v = (name: string) => read(join(f.leafDir, name));
    assert.equal(v('memory.max'), 'max');
    assert.equal(v('memory.swap.max'), 'max', 'unlimited memory with swap unset: unlimited swap');
    assert.equal(v('cpu.max'), 'max 250000');
    assert.equal(v('cpu.weight'), '1');
    assert.equal(v('io.bfq.weight'), '8:16 700', 'BFQ: raw weight, then per-device weights');
    assert.equal(v('io.weight'), '', 'io.weight untouched when BFQ is there');
    cg.update({ memory: { limit: 100 << 20, swap: 100 << 20 }, cpu: { shares: 1024 }, unified: { 'cpu.weight': '42' } });
    assert.equal(v('memory.swap.max'), '0', 'swap == limit disables swap');
    assert.equal(v('memory.max'), String(100 << 20));
    assert.equal(v('cpu.weight'), '42', 'unified is applied last and wins');
    cg.update({ pids: { limit: 0 } });
    assert.equal(v('pids.max'), 'max');
    cg.update({ pids: { limit: -1 } });
    assert.equal(v('pids.max'), 'max');
  } finally { f.done(); }
});

test('v2 rejects what v2 cannot do, before creating anything', () => {
  const f = fakeRoot();
  try {
    const cg = openCgroup({ path: '/new/c2', root: f.root, attachDevices: () => {} });
    const bad: Array<[Resources, RegExp]> = [
      [{ memory: { limit: 1 << 20, disableOOMKiller: true } }, /disableOOMKiller is not supported on cgroup v2/],
      [{ memory: { swap: 1 << 20 } }, /without memory limit/],
      [{ memory: { limit: 2 << 20, swap: 1 << 20 } }, /should be >= memory limit/],
      [{ unified: { '../x': '1' } }, /must be a file name/],
      [{ network: { classID: 5 } }, /net_cls/],
      [{ cpu: { realtimeRuntime: 1000 } }, /realtime/],
      [{ hugepageLimits: [{ pageSize: '2M', limit: 1 }] }, /invalid page size/],
      [{ devices: [{ allow: true, type: 'c', access: 'rwq' }] }, /invalid access/],
    ];
    for (const [res, re] of bad) {
      assert.throws(() => cg.create(res), (e: unknown) => e instanceof BerthError && re.test(e.message), JSON.stringify(res));
      assert.equal(existsSync(join(f.root, 'new')), false, 'nothing created');
    }
  } finally { f.done(); }
});

test('v2 create failure names file, value and cause, and removes what it created', () => {
  const f = fakeRoot();
  try {
    // A new leaf has no interface files: the memory controller is not "enabled" there.
    const cg = openCgroup({ path: '/new/deeper/c3', root: f.root, attachDevices: () => {} });
    assert.throws(() => cg.create({ memory: { limit: 1 << 20 } }), /set memory limits: cgroup v2 controller memory is not enabled for .*\/new\/deeper\/c3/);
    assert.equal(existsSync(join(f.root, 'new')), false, 'created parents removed too');
    // A write failure: memory.max is a directory.
    mkdirSync(join(f.root, 'berth/c4/memory.max'), { recursive: true });
    populate(join(f.root, 'berth/c4'), { 'cgroup.controllers': CONTROLLERS });
    const cg4 = openCgroup({ path: 'berth/c4', root: f.root, attachDevices: () => {} });
    assert.throws(() => cg4.create({ memory: { limit: 12 } }), (e: unknown) => {
      assert.ok(e instanceof BerthError);
      assert.equal(e.message, `set memory limit: write 12 to ${join(f.root, 'berth/c4/memory.max')}: EISDIR`);
      assert.equal(e.code, 'EISDIR');
      return true;
    });
    assert.ok(existsSync(join(f.root, 'berth/c4')), 'pre-existing directories are not removed');
    // A unified key for a controller that is not there.
    assert.throws(() => openCgroup({ path: '/berth/c1', root: f.root, attachDevices: () => {} }).create({ unified: { 'misc.max': 'x 1' } }),
      /set unified: resource "misc.max" can't be set: controller misc not available/);
  } finally { f.done(); }
});

test('v2 stats, pids, oom kills and destroy on a fake root', async () => {
  const f = fakeRoot('berth/c1', {
    'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 3\nthrottled_usec 7\n',
    'memory.current': '4096000\n', 'memory.peak': '5000000\n', 'memory.max': 'max\n', 'memory.swap.current': '8192\n',
    'memory.stat': 'anon 1000\nfile 2000\nshmem 0\n', 'memory.events': 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 2\n',
    'pids.current': '3\n', 'pids.max': '50\n', 'io.stat': '8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n',
    'hugetlb.2MB.current': '2097152\n', 'hugetlb.2MB.events': 'max 1\n', 'cgroup.procs': '12\n34\n', 'sub/cgroup.procs': '56\n',
  });
  try {
    const cg = openCgroup({ path: '/berth/c1', root: f.root });
    const s = cg.stats();
    assert.deepEqual(s.cpu, { usageTotal: 1500000, usageUser: 1000000, usageSystem: 500000, perCpu: [], periods: 10, throttledPeriods: 3, throttledTime: 7000 });
    assert.equal(s.memory.usage, 4096000);
    assert.equal(s.memory.maxUsage, 5000000);
    assert.equal(s.memory.limit, null);
    assert.equal(s.memory.rss, 1000);
    assert.equal(s.memory.cache, 2000);
    assert.equal(s.memory.swap, 8192);
    assert.equal(s.memory.failcnt, 4);
    assert.equal(s.memory.oomKill, 2);
    assert.deepEqual(s.pids, { current: 3, limit: 50 });
    assert.deepEqual(s.blkio.ioServiceBytes.filter((e) => e.value), [{ major: 8, minor: 0, op: 'Read', value: 100 }, { major: 8, minor: 0, op: 'Write', value: 200 }]);
    assert.deepEqual(s.blkio.ioServiced.filter((e) => e.op !== 'Discard').map((e) => e.value), [1, 2]);
    assert.deepEqual(s.hugetlb['2MB'], { usage: 2097152, maxUsage: 0, failcnt: 1 });
    assert.equal(cg.oomKillCount(), 2);
    assert.deepEqual(cg.pids(), [12, 34, 56]);
    assert.equal(cg.isFrozen(), false);
    await cg.destroy();
    assert.equal(existsSync(f.leafDir), false);
    assert.ok(existsSync(join(f.root, 'berth')), 'destroy removes the leaf only');
    await cg.destroy();
    assert.equal(cg.exists(), false);
    assert.throws(() => cg.stats(), /does not exist/);
  } finally { f.done(); }
});

test('v2 on a fake root cannot attach a device filter by default, and says why', () => {
  const f = fakeRoot();
  try {
    const cg = openCgroup({ path: '/berth/c1', root: f.root });
    assert.throws(() => cg.create({ devices: [{ allow: false }] }), /set devices: .* is not on a cgroup2 filesystem/);
  } finally { f.done(); }
});
