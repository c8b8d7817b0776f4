/**
 * `berth run` resource limits with their real effects (cgroup v1 files, the OOM killer, fork
 * failures, CFS throttling, rlimits), through the real CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cannotRun, cgroupDir, cgroupRead, sleep, waitFor, withCli } from './run-util.js';

const skip = cannotRun() || (!existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes') ? 'needs cgroup v1 controllers (memory, cpu, pids, cpuset)' : false);

test('-m 32m: a memory hog is OOM-killed: exit 137, State.OOMKilled true', { skip }, () => withCli(async (c) => {
  // the shell itself keeps 100 MB of 'a' in a variable: the biggest process of the cgroup
  const r = await c.berth(['run', '--name', 'hog', '-m', '32m', 'busybox', 'sh', '-c', 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo survived']);
  assert.equal(r.code, 137, r.err);
  assert.doesNotMatch(r.out, /survived/);
  assert.equal(await c.ok(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}} {{.State.Status}}', 'hog']), 'true 137 exited');
  assert.equal(await c.ok(['inspect', '-f', '{{.HostConfig.Memory}}', 'hog']), String(32 * 1024 * 1024));
  // a container that stays below its limit is not marked
  await c.ok(['run', '--name', 'fine', '-m', '32m', 'busybox', 'sh', '-c', 'x=$(head -c 1000000 /dev/zero | tr "\\0" a)']);
  assert.equal(await c.ok(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'fine']), 'false 0');
}));

test('--pids-limit 20: forks beyond the limit fail, pids.current never exceeds 20', { skip }, () => withCli(async (c) => {
  // the loop runs in a subshell: when a fork fails that subshell ends, the init goes on
  const id = await c.ok(['run', '-d', '--pids-limit', '20', 'busybox', 'sh', '-c',
    '(for i in $(seq 50); do sleep 30 & done); echo loop-ended; exec sleep 30']);
  assert.equal(cgroupRead('pids', id, 'pids.max'), '20');
  let max = 0;
  const end = Date.now() + 1500;
  while (Date.now() < end) {
    max = Math.max(max, Number(cgroupRead('pids', id, 'pids.current')));
    await sleep(10);
  }
  assert.ok(max <= 20, `pids.current reached ${max}`);
  assert.ok(max >= 15, `the loop should have filled the cgroup (max ${max})`);
  assert.match(cgroupRead('pids', id, 'pids.events'), /^max [1-9]/m, 'the kernel counted refused forks');
  const logs = await waitFor(async () => { const l = await c.berth(['logs', id]); return /loop-ended/.test(l.out) && l; });
  assert.ok(logs, 'the init went on after the failed fork');
  assert.match(logs.err, /can't fork/);
  await c.ok(['rm', '-f', id]);
  assert.deepEqual(c.leftovers(id), []);
}));

test('--cpus, --cpu-shares, --cpuset-cpus, -m, --memory-reservation: cgroup files; a busy loop is throttled', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', '--cpus', '0.5', '--cpu-shares', '512', '--cpuset-cpus', '0', '-m', '64m',
    '--memory-reservation', '16m', 'busybox', 'sh', '-c', 'while :; do :; done']);
  assert.equal(cgroupRead('cpu', id, 'cpu.cfs_quota_us'), '50000');
  assert.equal(cgroupRead('cpu', id, 'cpu.cfs_period_us'), '100000');
  assert.equal(cgroupRead('cpu', id, 'cpu.shares'), '512');
  assert.equal(cgroupRead('cpuset', id, 'cpuset.cpus'), '0');
  assert.equal(cgroupRead('memory', id, 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
  assert.equal(cgroupRead('memory', id, 'memory.soft_limit_in_bytes'), String(16 * 1024 * 1024));
  if (existsSync(`${cgroupDir('memory', id)}/memory.memsw.limit_in_bytes`)) {
    assert.equal(cgroupRead('memory', id, 'memory.memsw.limit_in_bytes'), String(128 * 1024 * 1024), 'swap defaults to the memory limit again');
  }
  assert.equal(await c.ok(['exec', id, 'sh', '-c', 'grep Cpus_allowed_list /proc/1/status | cut -f2']), '0');
  const stat = await waitFor(() => {
    const s = Object.fromEntries(cgroupRead('cpu', id, 'cpu.stat').split('\n').map((l) => l.split(' ')));
    return Number(s.nr_throttled) > 0 && s;
  }, 5000);
  assert.ok(stat, `the busy loop was never throttled: ${cgroupRead('cpu', id, 'cpu.stat')}`);
  // at 0.5 CPU the loop gets about half of the wall time (well below 0.8 of it)
  const usage0 = BigInt(cgroupRead('cpuacct', id, 'cpuacct.usage'));
  const t0 = process.hrtime.bigint();
  await sleep(1000);
  const used = Number(BigInt(cgroupRead('cpuacct', id, 'cpuacct.usage')) - usage0) / Number(process.hrtime.bigint() - t0);
  assert.ok(used < 0.8, `the container used ${used.toFixed(2)} CPUs with --cpus 0.5`);
  assert.equal(await c.ok(['inspect', '-f', '{{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}}', id]), '500000000 512 0');
  await c.ok(['rm', '-f', id]);
  assert.deepEqual(c.leftovers(id), [], 'the cgroups go with the container');
}));

test('--ulimit nofile=100:200: soft and hard limits inside', { skip }, () => withCli(async (c) => {
  assert.equal(await c.ok(['run', '--rm', '--ulimit', 'nofile=100:200', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn']), '100\n200');
  // the limit is enforced: descriptor 9 can be opened, 10 cannot
  const r = await c.berth(['run', '--rm', '--ulimit', 'nofile=10:10', 'busybox', 'sh', '-c', 'exec 9</dev/null && echo nine; exec 10</dev/null && echo ten']);
  assert.notEqual(r.code, 0);
  assert.equal(r.out, 'nine\n');
  assert.match(r.err, /Bad file descriptor/);
}));
