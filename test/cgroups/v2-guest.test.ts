/**
 * cgroup v2 parity in a real cgroup-v2-only kernel (issue 14): a QEMU guest booted once by
 * scripts/cgroup2-vm.sh runs a batch of berth commands; their output is checked here. On v2 berth
 * does what Docker does there: a private cgroup namespace by default, `--oom-kill-disable` and
 * `--memory-swappiness` warned about and discarded, memory.max / memory.low (runc maps the
 * reservation to memory.low), cpu.weight from shares as runc converts them, io.max for device
 * throttles, memory.oom.group left at the kernel's 0 (Docker sets none), OOM kills seen through
 * memory.events, PSI in stats, `berth-runtime spec` with a cgroup namespace, and healthchecks
 * whose exec joins the container's cgroup. Skips (with the reason) where qemu & co are missing;
 * the first run builds the guest into /var/cache/berth-test (minutes, needs the Debian mirror).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePressure, sharesToWeight } from '../../src/cgroups/index.js';
import { adaptToCgroupV2 } from '../../src/engine/index.js';
import type { RunOptions } from '../../src/engine/spec/index.js';
import { withCli } from '../cli/run-util.js';
import { guestMissing, withGuestBatch } from './guest-util.js';

const skip = guestMissing();

/** The batch: `@@ NAME` before each command's output, `@@ rc=N` after it. */
const BATCH = String.raw`
set -u
export BERTH_NO_WORKER=1 BERTH_ROOT=/var/lib/berth-guest/root BERTH_RUN_ROOT=/run/berth BERTH_BRIDGE=none
B=/mnt/repo/dist/berth
R=/mnt/repo/dist/berth-runtime
t() { n=$1; shift; echo "@@ $n"; "$@" 2>&1; echo "@@ rc=$?"; }
t controllers cat /sys/fs/cgroup/cgroup.controllers
t load $B load -q -i /mnt/work/busybox.tar
t cgroupns $B run --rm busybox cat /proc/self/cgroup
t limits $B run --rm --memory 64m --memory-reservation 32m --cpu-shares 512 --cpus 0.5 --pids-limit 50 \
  --device-read-bps /dev/vda:1mb --device-write-iops /dev/vda:100 busybox sh -c \
  'cd /sys/fs/cgroup; for f in memory.max memory.low memory.swap.max cpu.weight cpu.max pids.max io.max memory.oom.group; do echo "$f: $(cat $f | tr "\n" " ")"; done; for f in cpu.pressure memory.pressure io.pressure; do [ -e $f ] && echo "has $f"; done'
t vda sh -c 'cat /sys/block/vda/dev'
t oomdisable $B run --rm --oom-kill-disable --memory-swappiness 10 busybox true
t hostconfig sh -c "$B create --name insp --oom-kill-disable busybox true >/dev/null 2>&1; $B inspect -f '{{.HostConfig.CgroupnsMode}} {{.HostConfig.OomKillDisable}}' insp"
t spec sh -c "mkdir -p /tmp/sp && cd /tmp/sp && $R spec && node -p 'require(\"/tmp/sp/config.json\").linux.namespaces.map((n) => n.type).join(\" \")'"
t oom sh -c "$B run --name oom --memory 16m --memory-swap 16m busybox sh -c 'x=aaaaaaaa; while :; do x=\$x\$x; done' >/dev/null 2>&1; $B inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' oom"
t health sh -c "$B run -d --name hc --health-cmd 'cat /proc/self/cgroup' --health-interval 1s busybox sleep 300 >/dev/null && sleep 12 && $B inspect -f '{{.State.Health.Status}} {{(index .State.Health.Log 0).Output}}' hc"
t psi sh -c "$B run -d --name st busybox sh -c 'while :; do :; done' >/dev/null && sleep 3 && node --input-type=module -e \"
  const m = await import('/mnt/repo/build/src/engine/index.js');
  const core = new m.EngineCore({ root: process.env.BERTH_ROOT, runRoot: process.env.BERTH_RUN_ROOT, env: {} });
  const s = m.sampleStats(core, 'st');
  console.log(JSON.stringify({ cpu: s.cpu_stats.psi, memory: s.memory_stats.psi, io: s.blkio_stats.psi }));
  await core.close();\""
t update sh -c "$B run -d --name up --memory 64m busybox sleep 300 >/dev/null && $B update --memory 128m --cpus 0.25 --pids-limit 33 up >/dev/null && $B exec up cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max && $B inspect -f '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}' up"
t cleanup $B rm -f hc st oom insp up
`;

test('cgroup v2 guest: berth behaves as Docker does on a v2 host (one boot, one batch)', { skip, timeout: 40 * 60_000 }, () => withCli((c) => withGuestBatch(c, 'cgroup v2 guest', BATCH, ({ get, ok }) => {
    assert.match(ok('controllers'), /\bmemory\b.*\bpids\b|\bpids\b.*\bmemory\b/);
    ok('load');
    // a private cgroup namespace by default: the container sees its cgroup as the root
    assert.equal(ok('cgroupns'), '0::/\n');
    const lim = Object.fromEntries(ok('limits').split('\n').filter((l) => l.includes(': ')).map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2).trim()]));
    assert.equal(lim['memory.max'], String(64 * 1024 * 1024));
    assert.equal(lim['memory.low'], String(32 * 1024 * 1024), 'runc maps --memory-reservation to memory.low');
    assert.equal(lim['memory.swap.max'], String(64 * 1024 * 1024), 'swap = 2 x memory by default, swap.max holds the swap part');
    assert.equal(lim['cpu.weight'], String(sharesToWeight(512)));
    assert.equal(lim['cpu.max'], '50000 100000');
    assert.equal(lim['pids.max'], '50');
    const dev = ok('vda').trim();
    assert.equal(lim['io.max'], `${dev} rbps=1048576 wbps=max riops=max wiops=100`);
    assert.equal(lim['memory.oom.group'], '0', 'Docker sets no memory.oom.group');
    const limits = get('limits').text;
    for (const f of ['cpu.pressure', 'memory.pressure', 'io.pressure']) assert.match(limits, new RegExp(`has ${f.replace('.', '\\.')}`));
    // --oom-kill-disable and --memory-swappiness: Docker's warnings, then the container runs
    const od = ok('oomdisable');
    assert.match(od, /WARNING: Your kernel does not support OomKillDisable\. OomKillDisable discarded\./);
    assert.match(od, /WARNING: Your kernel does not support memory swappiness capabilities or the cgroup is not mounted\. Memory swappiness discarded\./);
    assert.equal(ok('hostconfig').trim(), 'private false');
    assert.match(ok('spec'), /\bcgroup\b/, 'berth-runtime spec has a cgroup namespace on v2');
    assert.equal(ok('oom').trim(), 'true 137');
    // the healthcheck's exec joined the container's cgroup (and its cgroup namespace)
    assert.equal(ok('health').trim(), 'healthy 0::/');
    const psi = JSON.parse(ok('psi').trim().split('\n').at(-1)!) as Record<string, { some: { avg10: number; total: number } }>;
    for (const k of ['cpu', 'memory', 'io']) assert.ok(psi[k] && typeof psi[k]!.some.total === 'number', `${k} psi: ${JSON.stringify(psi)}`);
    assert.ok(psi.cpu!.some.total > 0, 'a busy loop under a cpu limit stalls');
    // update on v2: the cgroup files and inspect
    assert.equal(ok('update').trim(), '134217728\n25000 100000\n33\n134217728 250000000 33');
    ok('cleanup');
})));

test('v2 adaptations as dockerd makes them (no guest needed): cgroupns private, discarded settings warned about', () => {
  const warnings: string[] = [];
  const o: RunOptions = { oomKillDisable: true, memorySwappiness: 10 };
  adaptToCgroupV2(o, (w) => warnings.push(w), 2);
  assert.deepEqual(o, { cgroupns: 'private' });
  assert.deepEqual(warnings, [
    'Your kernel does not support OomKillDisable. OomKillDisable discarded.',
    'Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.',
  ]);
  const host: RunOptions = { cgroupns: 'host', oomKillDisable: false };
  adaptToCgroupV2(host, (w) => warnings.push(w), 2);
  assert.deepEqual(host, { cgroupns: 'host' }, 'an explicit mode stays; disabling nothing warns about nothing');
  assert.equal(warnings.length, 2);
  const v1: RunOptions = { oomKillDisable: true };
  adaptToCgroupV2(v1, () => assert.fail('no warning on v1'), 1);
  assert.deepEqual(v1, { oomKillDisable: true });
});

test('parsePressure: the kernel\'s PSI files in runc\'s shape', () => {
  assert.deepEqual(parsePressure('some avg10=1.50 avg60=0.20 avg300=0.00 total=12345\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n'),
    { some: { avg10: 1.5, avg60: 0.2, avg300: 0, total: 12345 }, full: { avg10: 0, avg60: 0, avg300: 0, total: 7 } });
  // cpu.pressure of older kernels has no "full" line
  assert.deepEqual(parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=3\n')!.some.total, 3);
  assert.equal(parsePressure(undefined), undefined);
  assert.equal(parsePressure(''), undefined);
});
