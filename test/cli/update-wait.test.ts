/**
 * `berth update` on running and created containers (the cgroup v1 files and inspect's
 * HostConfig change; Docker's errors) and `berth wait --condition` (not-running, next-exit,
 * removed; an invalid condition), through the real CLI and real containers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { cannotRun, cgroupDir, cgroupRead, messageLines, sleep, withCli, type Cli } from './run-util.js';

const skip = cannotRun() || (!existsSync('/sys/fs/cgroup/memory') ? 'needs cgroup v1 (the v2 guest runs the v2 half)' : false);

async function hostConfig(c: Cli, ref: string): Promise<Record<string, unknown>> {
  return JSON.parse(await c.ok(['inspect', '-f', '{{json .HostConfig}}', ref])) as Record<string, unknown>;
}

function collect(child: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  child.stdin!.end();
  return new Promise((r) => child.on('close', (code) => r({ code, out, err })));
}

test('update a running container: cgroup files and inspect change', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', '--name', 'up', 'busybox', 'sleep', '1000']);
  assert.equal(await c.ok(['update', '--memory', '64m', '--memory-swap', '128m', '--memory-reservation', '32m', '--cpu-shares', '512',
    '--cpus', '0.5', '--pids-limit', '50', '--cpuset-cpus', '0', '--restart', 'on-failure:2', 'up']), 'up');
  assert.equal(cgroupRead('memory', id, 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
  assert.equal(cgroupRead('memory', id, 'memory.soft_limit_in_bytes'), String(32 * 1024 * 1024));
  if (existsSync(`${cgroupDir('memory', id)}/memory.memsw.limit_in_bytes`)) assert.equal(cgroupRead('memory', id, 'memory.memsw.limit_in_bytes'), String(128 * 1024 * 1024));
  assert.equal(cgroupRead('cpu', id, 'cpu.shares'), '512');
  assert.equal(cgroupRead('cpu', id, 'cpu.cfs_period_us'), '100000');
  assert.equal(cgroupRead('cpu', id, 'cpu.cfs_quota_us'), '50000');
  assert.equal(cgroupRead('pids', id, 'pids.max'), '50');
  assert.equal(cgroupRead('cpuset', id, 'cpuset.cpus'), '0');
  const hc = await hostConfig(c, 'up');
  assert.equal(hc.Memory, 64 * 1024 * 1024);
  assert.equal(hc.MemorySwap, 128 * 1024 * 1024);
  assert.equal(hc.MemoryReservation, 32 * 1024 * 1024);
  assert.equal(hc.CpuShares, 512);
  assert.equal(hc.NanoCpus, 5e8);
  assert.equal(hc.PidsLimit, 50);
  assert.equal(hc.CpusetCpus, '0');
  assert.deepEqual(hc.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
  // a second update changes only what it names; -1: unlimited pids
  const blkio = existsSync(`${cgroupDir('blkio', id)}/blkio.weight`) || existsSync(`${cgroupDir('blkio', id)}/blkio.bfq.weight`);
  const second = await c.berth(['update', '--pids-limit', '-1', '--blkio-weight', '300', 'up']);
  assert.equal(second.code, 0, second.err);
  if (!blkio) assert.match(second.err, /Your kernel does not support Block I\/O weight or the cgroup is not mounted\. Weight discarded\./);
  assert.equal(cgroupRead('pids', id, 'pids.max'), 'max');
  assert.equal(cgroupRead('memory', id, 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
  if (existsSync(`${cgroupDir('blkio', id)}/blkio.weight`)) assert.equal(cgroupRead('blkio', id, 'blkio.weight'), '300');
  const hc2 = await hostConfig(c, 'up');
  assert.equal(hc2.PidsLimit, -1);
  assert.equal(hc2.BlkioWeight, blkio ? 300 : 0);
  assert.equal(hc2.Memory, 64 * 1024 * 1024);
  // NanoCPUs set: the period may not be updated over it (Docker's conflict)
  const conflict = await c.berth(['update', '--cpu-period', '50000', 'up']);
  assert.equal(conflict.code, 1);
  assert.equal(messageLines(conflict.err)[0], `Error response from daemon: Cannot update container ${id}: Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set`);
  await c.ok(['rm', '-f', 'up']);
}));

test('update a created container: the new limits apply at its start', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['create', '--name', 'cr', 'busybox', 'sleep', '1000']);
  assert.equal(await c.ok(['update', '-m', '32m', '--pids-limit', '20', 'cr']), 'cr');
  assert.equal((await hostConfig(c, 'cr')).Memory, 32 * 1024 * 1024);
  await c.ok(['start', 'cr']);
  assert.equal(cgroupRead('memory', id, 'memory.limit_in_bytes'), String(32 * 1024 * 1024));
  assert.equal(cgroupRead('pids', id, 'pids.max'), '20');
  await c.ok(['stop', '-t', '0', 'cr']);
  assert.equal(await c.ok(['update', '--cpu-shares', '256', 'cr']), 'cr', 'a stopped container can be updated');
  assert.equal((await hostConfig(c, 'cr')).CpuShares, 256);
  await c.ok(['rm', '-f', 'cr']);
}));

test('update: Docker\'s errors', { skip }, () => withCli(async (c) => {
  const missing = await c.berth(['update', '--memory', '64m', 'nope']);
  assert.equal(missing.code, 1);
  assert.deepEqual(messageLines(missing.err), ['Error response from daemon: No such container: nope']);
  const none = await c.berth(['update', 'nope']);
  assert.equal(none.code, 1);
  assert.deepEqual(messageLines(none.err), ['you must provide one or more flags when using this command']);
  const id = await c.ok(['create', '--rm', '--name', 'arm', 'busybox', 'true']);
  const rm = await c.berth(['update', '--restart', 'always', 'arm']);
  assert.equal(rm.code, 1);
  assert.deepEqual(messageLines(rm.err), [`Error response from daemon: Cannot update container ${id}: Restart policy cannot be updated because AutoRemove is enabled for the container`]);
  const small = await c.berth(['update', '--memory', '1k', 'arm']);
  assert.equal(small.code, 1);
  assert.deepEqual(messageLines(small.err), ['Error response from daemon: Minimum memory limit allowed is 6MB']);
  const bad = await c.berth(['update', '--restart', 'bogus', 'arm']);
  assert.equal(bad.code, 1);
  assert.deepEqual(messageLines(bad.err), ["Error response from daemon: invalid restart policy: unknown policy 'bogus'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"]);
  const neg = await c.berth(['update', '--restart', 'on-failure:-1', 'arm']);
  assert.deepEqual(messageLines(neg.err), ['Error response from daemon: invalid restart policy: maximum retry count cannot be negative']);
  const flag = await c.berth(['update', '--memory', 'lots', 'arm']);
  assert.equal(flag.code, 125);
  assert.match(flag.err, /^invalid argument "lots" for "-m, --memory" flag: /);
}));

test('wait --condition: not-running, next-exit, removed; an invalid condition', { skip }, () => withCli(async (c) => {
  const bad = await c.berth(['wait', '--condition', 'bogus', 'x']);
  assert.equal(bad.code, 1);
  assert.deepEqual(messageLines(bad.err), ['Error response from daemon: invalid condition: "bogus"']);
  await c.ok(['create', '--name', 'w1', 'busybox', 'sh', '-c', 'exit 7']);
  assert.equal(await c.ok(['wait', 'w1']), '0', 'not-running: a created container is not running');
  const next = collect(c.spawn(['wait', '--condition', 'next-exit', 'w1']));
  await sleep(700);
  await c.ok(['start', 'w1']);
  const n = await next;
  assert.equal(n.code, 0, n.err);
  assert.equal(n.out.trim(), '7', 'next-exit waits for the run that starts later');
  // removed: returns only once the record is gone
  await c.ok(['run', '-d', '--name', 'r1', 'busybox', 'sh', '-c', 'sleep 1; exit 4']);
  let finished = false;
  const removed = collect(c.spawn(['wait', '--condition', 'removed', 'r1'])).then((x) => { finished = true; return x; });
  await sleep(2500);
  assert.equal(finished, false, 'still waiting: exited, not removed');
  assert.equal(await c.ok(['wait', 'r1']), '4');
  await c.ok(['rm', 'r1']);
  const rr = await removed;
  assert.equal(rr.code, 0, rr.err);
  assert.equal(rr.out.trim(), '4');
  // not-running waits through restarts by policy, until a stop
  await c.ok(['run', '-d', '--name', 'ra', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.3; exit 2']);
  let done = false;
  const through = collect(c.spawn(['wait', 'ra'])).then((x) => { done = true; return x; });
  await sleep(2000);
  assert.equal(done, false, 'a container its policy restarts is still running for wait');
  await c.ok(['stop', '-t', '1', 'ra']);
  const t = await through;
  assert.equal(t.code, 0, t.err);
  await c.ok(['rm', '-f', 'w1', 'ra']);
}));
