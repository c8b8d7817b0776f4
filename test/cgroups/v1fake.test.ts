/** cgroup v1 driver on a fake root: the controllers this machine does not mount (hugetlb, net_cls, net_prio, rdma, CFQ blkio). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { openCgroup } from '../../src/cgroups/index.js';
import { populate, read, tmp } from './util.js';

const LEAF: Record<string, string[]> = {
  'cpu,cpuacct': ['cgroup.procs', 'cpu.shares', 'cpu.cfs_quota_us', 'cpu.cfs_period_us', 'cpu.rt_runtime_us', 'cpu.rt_period_us'],
  cpuset: ['cgroup.procs', 'cpuset.cpus', 'cpuset.mems'],
  memory: ['cgroup.procs', 'memory.limit_in_bytes', 'memory.soft_limit_in_bytes', 'memory.oom_control', 'memory.swappiness'],
  hugetlb: ['cgroup.procs', 'hugetlb.2MB.limit_in_bytes', 'hugetlb.1GB.limit_in_bytes'],
  net_cls: ['cgroup.procs', 'net_cls.classid'],
  net_prio: ['cgroup.procs', 'net_prio.ifpriomap'],
  rdma: ['cgroup.procs', 'rdma.max'],
  blkio: ['cgroup.procs', 'blkio.weight', 'blkio.leaf_weight', 'blkio.weight_device', 'blkio.leaf_weight_device', 'blkio.throttle.read_bps_device'],
  systemd: ['cgroup.procs'],
};

function fakeV1(): { root: string; done: () => void } {
  const root = tmp('berth-cg1-');
  const files: Record<string, string> = { 'cpuset/cpuset.cpus': '0-3\n', 'cpuset/cpuset.mems': '0\n', 'cpuset/berth/cpuset.cpus': '', 'cpuset/berth/cpuset.mems': '' };
  for (const [h, fs] of Object.entries(LEAF)) for (const f of fs) files[`${h}/berth/c1/${f}`] = '';
  files['memory/berth/c1/memory.limit_in_bytes'] = '9223372036854771712\n';
  populate(root, files);
  symlinkSync('cpu,cpuacct', join(root, 'cpu'));
  return { root, done: () => rmSync(root, { recursive: true, force: true }) };
}

test('v1 fake: every v1 file gets runc\'s value; cpuset inherits the parent; kernel memory is ignored', () => {
  const f = fakeV1();
  try {
    const cg = openCgroup({ path: '/berth/c1', root: f.root });
    assert.equal(cg.version, 1);
    assert.deepEqual(Object.keys(cg.dirs()).sort(), ['blkio', 'cpu,cpuacct', 'cpuset', 'hugetlb', 'memory', 'net_cls', 'net_prio', 'rdma', 'systemd']);
    cg.create({
      memory: { limit: 1 << 26, kernel: 1 << 20, kernelTCP: 1 << 20, disableOOMKiller: true, swappiness: 0, reservation: 1 << 25 },
      cpu: { realtimeRuntime: 950000, realtimePeriod: 1000000 },
      hugepageLimits: [{ pageSize: '2MB', limit: 1 << 22 }, { pageSize: '1GB', limit: 1 << 30 }],
      network: { classID: 0x100001, priorities: [{ name: 'eth0', priority: 5 }] },
      rdma: { mlx5_1: { hcaHandles: 3 } },
      blockIO: { weight: 300, leafWeight: 200, weightDevice: [{ major: 8, minor: 0, weight: 400, leafWeight: 100 }], throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }] },
    });
    const v = (h: string, file: string) => read(join(f.root, h, 'berth/c1', file));
    assert.equal(v('memory', 'memory.limit_in_bytes'), String(1 << 26));
    assert.equal(v('memory', 'memory.soft_limit_in_bytes'), String(1 << 25));
    assert.equal(v('memory', 'memory.oom_control'), '1');
    assert.equal(v('memory', 'memory.swappiness'), '0');
    assert.equal(existsSync(join(f.root, 'memory/berth/c1/memory.kmem.limit_in_bytes')), false, 'kernel memory ignored');
    assert.equal(v('cpu,cpuacct', 'cpu.rt_runtime_us'), '950000');
    assert.equal(v('cpu,cpuacct', 'cpu.rt_period_us'), '1000000');
    assert.equal(v('hugetlb', 'hugetlb.2MB.limit_in_bytes'), String(1 << 22));
    assert.equal(v('hugetlb', 'hugetlb.1GB.limit_in_bytes'), String(1 << 30));
    assert.equal(v('net_cls', 'net_cls.classid'), String(0x100001));
    assert.equal(v('net_prio', 'net_prio.ifpriomap'), 'eth0 5');
    assert.equal(v('rdma', 'rdma.max'), 'mlx5_1 hca_handle=3');
    assert.equal(v('blkio', 'blkio.weight'), '300');
    assert.equal(v('blkio', 'blkio.leaf_weight'), '200');
    assert.equal(v('blkio', 'blkio.weight_device'), '8:0 400');
    assert.equal(v('blkio', 'blkio.leaf_weight_device'), '8:0 100');
    assert.equal(v('blkio', 'blkio.throttle.read_bps_device'), '8:0 1048576');
    assert.equal(read(join(f.root, 'cpuset/berth/cpuset.cpus')), '0-3', 'intermediate cpuset initialised from its parent');
    assert.equal(v('cpuset', 'cpuset.cpus'), '0-3');
    assert.equal(v('cpuset', 'cpuset.mems'), '0');
    assert.deepEqual(cg.procsFiles().map((p) => p.slice(f.root.length)).sort(),
      ['blkio', 'cpu,cpuacct', 'cpuset', 'hugetlb', 'memory', 'net_cls', 'net_prio', 'rdma', 'systemd'].map((h) => `/${h}/berth/c1/cgroup.procs`));
  } finally { f.done(); }
});

test('v1 fake: stats read the v1 files (cpuacct ticks to ns, unlimited to null, blkio lines)', () => {
  const f = fakeV1();
  try {
    populate(join(f.root, 'cpu,cpuacct/berth/c1'), {
      'cpuacct.usage': '3000000000\n', 'cpuacct.stat': 'user 150\nsystem 50\n', 'cpuacct.usage_percpu': '1000000000 2000000000 \n',
      'cpu.stat': 'nr_periods 20\nnr_throttled 5\nthrottled_time 123456\n',
    });
    populate(join(f.root, 'memory/berth/c1'), {
      'memory.usage_in_bytes': '1048576\n', 'memory.max_usage_in_bytes': '2097152\n', 'memory.failcnt': '3\n',
      'memory.memsw.usage_in_bytes': '1052672\n', 'memory.stat': 'cache 4096\nrss 8192\ntotal_cache 4096\n',
      'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 4\n',
    });
    populate(join(f.root, 'blkio/berth/c1'), {
      'blkio.throttle.io_service_bytes_recursive': '8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n',
      'blkio.throttle.io_serviced_recursive': '8:0 Read 1\n8:0 Write 2\nTotal 3\n',
    });
    populate(join(f.root, 'hugetlb/berth/c1'), { 'hugetlb.2MB.usage_in_bytes': '2097152\n', 'hugetlb.2MB.max_usage_in_bytes': '4194304\n', 'hugetlb.2MB.failcnt': '1\n' });
    const cg = openCgroup({ path: 'berth/c1', root: f.root });
    const s = cg.stats();
    assert.deepEqual(s.cpu, { usageTotal: 3e9, usageUser: 1.5e9, usageSystem: 0.5e9, perCpu: [1e9, 2e9], periods: 20, throttledPeriods: 5, throttledTime: 123456 });
    assert.equal(s.memory.limit, null, 'v1 "unlimited" is null');
    assert.equal(s.memory.usage, 1048576);
    assert.equal(s.memory.swap, 4096, 'memsw minus memory');
    assert.equal(s.memory.cache, 4096);
    assert.equal(s.memory.rss, 8192);
    assert.equal(s.memory.failcnt, 3);
    assert.equal(s.memory.oomKill, 4);
    assert.equal(cg.oomKillCount(), 4);
    assert.deepEqual(s.blkio.ioServiceBytes, [
      { major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'Write', value: 8192 }, { major: 8, minor: 0, op: 'Total', value: 12288 },
    ]);
    assert.equal(s.blkio.ioServiced.length, 2);
    assert.deepEqual(s.hugetlb, { '2MB': { usage: 2097152, maxUsage: 4194304, failcnt: 1 } });
    assert.equal(s.pids.current, 0, 'no pids hierarchy: zeros');
  } finally { f.done(); }
});

test('v1 fake: a failure in one hierarchy removes the directories created in all of them', () => {
  const f = fakeV1();
  try {
    const cg = openCgroup({ path: '/fresh/c9', root: f.root });
    // The new cpuset leaf has no cpuset.cpus file (a plain directory): initialising it fails.
    assert.throws(() => cg.create({}), /initialise cpuset: write 0-3 to .*\/cpuset\/fresh\/cpuset\.cpus: ENOENT/);
    for (const h of Object.keys(LEAF)) assert.equal(existsSync(join(f.root, h, 'fresh')), false, `${h}/fresh removed`);
  } finally { f.done(); }
});
