/** Engine `stats` and `top` on real containers (busybox image, cgroups, host ps). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { BerthError } from '../../src/lib/index.js';
import { stopContainer, type EngineCore } from '../../src/engine/containers/index.js';
import {
  containerStats, emptyStats, isEmptySample, parseNetDev, sampleStats, systemCpu, toStatsJSON, type StatsJSON,
} from '../../src/engine/containers/stats.js';
import { parsePsOutput, topContainer, validatePsArgs } from '../../src/engine/containers/top.js';
import type { RunOptions } from '../../src/engine/spec/index.js';
import { emptyStats as emptyCgroupStats } from '../../src/cgroups/stats.js';
import { busyboxEngine, type BusyboxEngine } from '../helpers/engine.js';
import { haveBusybox } from '../helpers/rootfs.js';

const MiB = 1024 * 1024;
let eng: BusyboxEngine | undefined;
const skip: string | false = !haveBusybox() ? 'needs a static /bin/busybox' : process.getuid?.() !== 0 ? 'needs root' : false;

before(async () => { if (!skip) eng = await busyboxEngine(); });
after(async () => { await eng?.cleanup(); });

async function started(options: RunOptions): Promise<{ core: EngineCore; id: string; pid: number }> {
  const c = await eng!.run(options);
  return { core: eng!.core, id: c.id, pid: c.state.pid };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The docker CLI's CPU % formula over a sample and its precpu. */
function cpuPercent(s: StatsJSON): number {
  const d = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const sys = s.cpu_stats.system_cpu_usage! - s.precpu_stats.system_cpu_usage!;
  return sys > 0 && d > 0 ? (d / sys) * s.cpu_stats.online_cpus! * 100 : 0;
}

test('stats: a busy loop under -m 64m: CPU from two samples, the 64 MiB limit, pids, no network', { skip }, async () => {
  const { core, id } = await started({ cmd: ['sh', '-c', 'while :; do :; done'], memory: 64 * MiB });
  const a = sampleStats(core, id);
  assert.ok(!isEmptySample(a), 'running: a real sample');
  assert.equal(a.id, id);
  assert.equal(a.name, `/${core.store.containers.get(id).name}`);
  assert.equal(a.preread, '0001-01-01T00:00:00Z');
  await sleep(1000);
  const b = sampleStats(core, id, a);
  assert.deepEqual(b.precpu_stats, a.cpu_stats, 'the previous sample becomes precpu');
  assert.equal(b.preread, a.read);
  assert.ok(b.cpu_stats.cpu_usage.total_usage > a.cpu_stats.cpu_usage.total_usage);
  assert.equal(b.cpu_stats.online_cpus, systemCpu().online);
  const cpu = cpuPercent(b);
  assert.ok(cpu > 20 && cpu <= 100 * b.cpu_stats.online_cpus! + 5, `busy loop CPU % ${cpu}`);
  assert.equal(b.memory_stats.limit, 64 * MiB);
  assert.ok((b.memory_stats.usage ?? 0) > 0);
  assert.ok((b.pids_stats.current ?? 0) >= 1);
  assert.equal(b.networks, undefined, 'network none: loopback only, no interfaces reported');
  await stopContainer(core, id, 0);
});

test('stats: no memory limit reports the host memory; block writes (O_DIRECT) are counted', { skip }, async () => {
  const { core, id } = await started({ cmd: ['sh', '-c', 'dd if=/dev/zero of=/f bs=1M count=4 oflag=direct 2>/dev/null; exec sleep 1000'] });
  let s = sampleStats(core, id);
  for (let i = 0; i < 50; i++) {
    const w = (s.blkio_stats.io_service_bytes_recursive ?? []).filter((e) => /^w/i.test(e.op)).reduce((n, e) => n + e.value, 0);
    if (w >= 4 * MiB) break;
    await sleep(100);
    s = sampleStats(core, id, s);
  }
  assert.equal(s.memory_stats.limit, totalmem());
  const written = (s.blkio_stats.io_service_bytes_recursive ?? []).filter((e) => /^w/i.test(e.op)).reduce((n, e) => n + e.value, 0);
  assert.ok(written >= 4 * MiB, `block writes ${written}`);
  await stopContainer(core, id, 0);
});

test('stats: containerStats without stream waits for a second sample; stream ends when the container stops', { skip }, async () => {
  const { core, id } = await started({ cmd: ['sh', '-c', 'while :; do :; done'] });
  const one: StatsJSON[] = [];
  for await (const s of containerStats(core, id, { intervalMs: 300 })) one.push(s);
  assert.equal(one.length, 1);
  assert.notEqual(one[0]!.preread, '0001-01-01T00:00:00Z');
  assert.ok(one[0]!.precpu_stats.cpu_usage.total_usage > 0);
  const got: StatsJSON[] = [];
  for await (const s of containerStats(core, id, { stream: true, intervalMs: 200 })) {
    got.push(s);
    if (got.length === 2) await stopContainer(core, id, 0);
    assert.ok(got.length < 10, 'the stream ends after the stop');
  }
  assert.ok(got.length >= 2);
  assert.equal(got[1]!.precpu_stats.cpu_usage.total_usage, got[0]!.cpu_stats.cpu_usage.total_usage);
  // Not running: the empty sample at once (name and id only).
  const t0 = Date.now();
  const after = [];
  for await (const s of containerStats(core, id)) after.push(s);
  assert.ok(Date.now() - t0 < 900);
  assert.equal(after.length, 1);
  assert.ok(isEmptySample(after[0]!));
  assert.equal(after[0]!.id, id);
  assert.deepEqual(after[0]!.memory_stats, {});
  assert.deepEqual(sampleStats(core, id), after[0]);
  assert.throws(() => sampleStats(core, 'no-such-container'), (e: unknown) => e instanceof BerthError && /No such container: no-such-container/.test(e.message));
});

test('top: the container\'s processes from the host ps, ps options, not-running and bad arguments', { skip }, async () => {
  const { core, id, pid } = await started({ cmd: ['sh', '-c', 'sleep 1001 & exec sleep 1000'] });
  let r = await topContainer(core, id);
  for (let i = 0; i < 50 && r.Processes.length < 2; i++) { await sleep(50); r = await topContainer(core, id); }
  assert.deepEqual(r.Titles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
  const init = r.Processes.find((p) => p[1] === String(pid));
  assert.ok(init, `init ${pid} in ${JSON.stringify(r.Processes)}`);
  assert.equal(init![0], 'root');
  assert.equal(init![7], 'sleep 1000');
  const child = r.Processes.find((p) => p[7] === 'sleep 1001');
  assert.ok(child, 'the background child is listed too');
  assert.equal(child![2], String(pid), 'its parent is the container init');
  assert.equal(r.Processes.length, 2, 'only the container\'s processes');
  const events = core.store.events.query({ filters: { event: ['top'] } });
  assert.ok(events.some((e) => e.actor.id === id && e.action === 'top'));

  const o = await topContainer(core, id, '-o pid,comm');
  assert.deepEqual(o.Titles, ['PID', 'COMMAND']);
  assert.deepEqual(o.Processes.map((p) => p[1]).sort(), ['sleep', 'sleep']);
  // `f` refuses -q: ps runs without it and the rows are still filtered
  const forest = await topContainer(core, id, 'axf');
  assert.ok(forest.Titles.includes('PID'));
  assert.equal(forest.Processes.length, 2);

  await assert.rejects(topContainer(core, id, '-o user=PID'), /specifying "user=PID" is not allowed/);
  await assert.rejects(topContainer(core, id, '--no-such-ps-option'), (e: unknown) => e instanceof BerthError && /^ps: /.test(e.message));
  await stopContainer(core, id, 0);
  await assert.rejects(topContainer(core, id), (e: unknown) => e instanceof BerthError && e.kind === 'conflict' && e.message === `container ${id} is not running`);
  await assert.rejects(topContainer(core, 'no-such-container'), /No such container: no-such-container/);
});

test('stats parsing: /proc/stat, net/dev without loopback, v2 shape, empty sample', () => {
  const st = systemCpu('cpu  100 2 30 400 5 0 6 7 0 0\ncpu0 50 1 15 200 2 0 3 3 0 0\ncpu1 50 1 15 200 3 0 3 4 0 0\nintr 1\n');
  assert.deepEqual(st, { usage: (100 + 2 + 30 + 400 + 5 + 0 + 6) * 1e7, online: 2 });
  const live = systemCpu();
  assert.ok(live.usage > 0 && live.online >= 1);

  const dev = 'Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\n  eth0:  123456     100    1    2    0     0          0         0    65432      50    3    4    0     0       0          0\n';
  assert.deepEqual(parseNetDev(dev), { eth0: { rx_bytes: 123456, rx_packets: 100, rx_errors: 1, rx_dropped: 2, tx_bytes: 65432, tx_packets: 50, tx_errors: 3, tx_dropped: 4 } });
  assert.ok(!('lo' in parseNetDev(readFileSync('/proc/self/net/dev', 'utf8'))));

  const rec = { id: 'a'.repeat(64), name: 'web' } as Parameters<typeof emptyStats>[0];
  const cg = emptyCgroupStats();
  cg.memory.usage = 1000; cg.memory.limit = null; cg.memory.stat = { inactive_file: 100 };
  cg.pids.current = 3;
  cg.blkio.ioServiceBytes = [{ major: 8, minor: 0, op: 'Read', value: 10 }, { major: 8, minor: 0, op: 'Write', value: 20 }];
  const v2 = toStatsJSON(rec, cg, 2, { usage: 5, online: 4 }, 8 * MiB);
  assert.equal(v2.memory_stats.limit, 8 * MiB, 'no limit: host memory');
  assert.equal(v2.memory_stats.max_usage, undefined);
  assert.deepEqual(v2.blkio_stats.io_service_bytes_recursive!.map((e) => e.op), ['read', 'write']);
  assert.equal(v2.cpu_stats.cpu_usage.percpu_usage, undefined);
  assert.deepEqual(v2.pids_stats, { current: 3 });
  cg.memory.limit = 64 * MiB;
  assert.equal(toStatsJSON(rec, cg, 1, { usage: 5, online: 4 }, 8 * MiB).memory_stats.limit, 8 * MiB, 'a limit above the host memory: the host memory');
  assert.equal(toStatsJSON(rec, cg, 1, { usage: 5, online: 4 }, 128 * MiB).memory_stats.limit, 64 * MiB);
  const e = emptyStats(rec);
  assert.equal(e.name, '/web');
  assert.ok(isEmptySample(e));
});

test('top parsing: PID column, overhanging command fields, thread rows, pid= validation', () => {
  const out = 'USER         PID %CPU CMD\nroot           1  0.0 /sbin/init splash\nroot          42  1.0 sleep   1000\n-              -  0.5 -\nroot          43  0.0 other\n-              -  0.0 -\n';
  assert.deepEqual(parsePsOutput(out, [42]), {
    Titles: ['USER', 'PID', '%CPU', 'CMD'],
    Processes: [['root', '42', '1.0', 'sleep 1000'], ['-', '-', '0.5', '-']],
  });
  assert.throws(() => parsePsOutput('USER CMD\nroot x\n', [1]), /Couldn't find PID field in ps output/);
  assert.throws(() => parsePsOutput('PID CMD\nabc x\n', [1]), /Unexpected pid 'abc'/);
  validatePsArgs('-o pid=PID,comm');
  validatePsArgs('aux');
  assert.throws(() => validatePsArgs('-o pid,user= PIDX'), /specifying "pid,user=PIDX" is not allowed/);
});
