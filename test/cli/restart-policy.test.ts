/**
 * Restart policies without a daemon, through the real CLI and real containers: on-failure:N
 * restarts exactly N times with Docker's growing back-off, `always` survives a kill -9 of its
 * process and of its monitor, a user's stop/kill is not restarted, `system boot` after a
 * simulated reboot (everything killed, the run root wiped) brings back `always` and
 * `unless-stopped` ones but not those their user stopped. Bad `--restart` input as Docker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { cannotRun, cgroupDir, messageLines, sleep, waitFor, withCli, CGROUP_V1, type Cli } from './run-util.js';

const skip = cannotRun();

async function inspect(c: Cli, ref: string): Promise<{ status: string; pid: number; count: number; code: number; restarting: boolean }> {
  const out = await c.ok(['inspect', '-f', '{{.State.Status}} {{.State.Pid}} {{.RestartCount}} {{.State.ExitCode}} {{.State.Restarting}}', ref]);
  const [status, pid, count, code, restarting] = out.split(' ');
  return { status: status!, pid: Number(pid), count: Number(count), code: Number(code), restarting: restarting === 'true' };
}

function ppidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); } catch { return false; }
  try { return !readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).startsWith('Z'); } catch { return false; }
}

/** `berth-helper watch` processes for container `id` (the exit command they hold names it). */
function watchersOf(id: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (argv[1] === 'watch' && argv.includes(id)) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

function vmRssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

async function events(c: Cli, ref: string): Promise<Array<{ action: string; ns: bigint }>> {
  const out = await c.ok(['events', '--since', '0', '--until', String(Date.now() / 1000 + 1), '--filter', `container=${ref}`, '--format', '{{.Action}} {{.TimeNano}}']);
  return out.split('\n').filter(Boolean).map((l) => { const [action, ns] = l.split(' '); return { action: action!, ns: BigInt(ns!) }; });
}

test('on-failure:5 restarts exactly 5 times, with a back-off that doubles (100 ms, 200 ms, … 1.6 s)', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'of', '--restart', 'on-failure:5', 'busybox', 'sh', '-c', 'cat /proc/uptime; exit 3']);
  const done = await waitFor(async () => { const s = await inspect(c, 'of'); return s.status === 'exited' && s.count === 5 ? s : undefined; }, 30000, 100);
  assert.ok(done, `not exited after 5 restarts: ${JSON.stringify(await inspect(c, 'of'))}`);
  assert.equal(done.code, 3);
  await sleep(2500); // the 6th run would come 3.2 s after the 5th exit at most: none comes
  const after = await inspect(c, 'of');
  assert.equal(after.status, 'exited');
  assert.equal(after.count, 5, 'exactly MaximumRetryCount restarts');
  // each run logged the host's uptime (10 ms resolution) as it started
  const starts = (await c.ok(['logs', 'of'])).split('\n').filter(Boolean).map((l) => Number(l.split(' ')[0]) * 1000);
  assert.equal(starts.length, 6, 'the first run and 5 restarts');
  const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
  const delays = [100, 200, 400, 800, 1600];
  for (const [i, d] of delays.entries()) assert.ok(gaps[i]! >= d - 20, `restart ${i + 1} came ${gaps[i]} ms after the previous start, before its ${d} ms back-off (gaps ${gaps})`);
  // (the first gaps also hold the restarter's start-up, ~0.5-1.5 s on a loaded machine: the lower
  // bounds above are what shows the back-off; without one, the 5th gap is that start-up only)
  const ev = (await events(c, 'of')).map((e) => e.action);
  assert.equal(ev.filter((a) => a === 'die').length, 6);
  assert.equal(ev.filter((a) => a === 'start').length, 6);
  assert.equal(ev.filter((a) => a === 'restart').length, 5, 'a restart event per policy restart');
  console.log(`on-failure:5 gaps between starts (ms): ${gaps.join(', ')}`);
  await c.ok(['rm', '-f', 'of']);
}));

test('on-failure does not restart a clean exit; no policy never restarts', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'ok', '--restart', 'on-failure', 'busybox', 'true']);
  await c.ok(['run', '-d', '--name', 'no', 'busybox', 'false']);
  await sleep(1500);
  assert.deepEqual(await inspect(c, 'ok'), { status: 'exited', pid: 0, count: 0, code: 0, restarting: false });
  assert.deepEqual(await inspect(c, 'no'), { status: 'exited', pid: 0, count: 0, code: 1, restarting: false });
}));

test('always: survives kill -9 of its process, then of its monitor', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', '--name', 'al', '--restart', 'always', 'busybox', 'sleep', '1000']);
  const first = await inspect(c, 'al');
  assert.equal(first.status, 'running');
  process.kill(first.pid, 'SIGKILL'); // the container's process, from outside berth
  const second = await waitFor(async () => { const s = await inspect(c, 'al'); return s.status === 'running' && s.pid !== first.pid ? s : undefined; }, 15000, 100);
  assert.ok(second, `not restarted after kill -9 of its process: ${JSON.stringify(await inspect(c, 'al'))}`);
  assert.equal(second.count, 1);
  // now its monitor, with no berth command running after: its watcher (a small C process waiting
  // on the monitor's pidfd) runs the exit command, which kills the orphan and restarts it
  const monitor = ppidOf(second.pid);
  assert.equal(readFileSync(`/proc/${monitor}/comm`, 'utf8').trim(), 'berth-monitor');
  const watchers = watchersOf(id);
  assert.equal(watchers.length, 1, 'one watcher for the running monitor');
  const rss = vmRssKiB(watchers[0]!);
  console.log(`watcher RSS: ${rss} KiB`);
  assert.ok(rss <= 1024, `the watcher stays small (${rss} KiB)`);
  process.kill(monitor, 'SIGKILL');
  const procs = `${cgroupDir('pids', id)}/cgroup.procs`;
  const back = await waitFor(() => {
    try { return readFileSync(procs, 'utf8').split('\n').filter(Boolean).map(Number).some((p) => p !== second.pid && readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep')); } catch { return false; }
  }, 15000, 100);
  assert.ok(back, 'back without any berth command');
  const third = await waitFor(async () => { const s = await inspect(c, 'al'); return s.status === 'running' && s.pid !== second.pid ? s : undefined; }, 15000, 100);
  assert.ok(third, `not restarted after kill -9 of its monitor: ${JSON.stringify(await inspect(c, 'al'))}`);
  assert.equal(third.count, 2);
  assert.ok(!alive(second.pid), 'the orphaned process was killed, not left running beside the new one');
  assert.equal(readFileSync(`/proc/${ppidOf(third.pid)}/comm`, 'utf8').trim(), 'berth-monitor', 'under a new monitor');
  await c.ok(['rm', '-f', 'al']);
  assert.ok(await waitFor(() => watchersOf(id).length === 0, 3000), 'the watchers end with their monitors');
}));

test('a user stop or kill is not restarted (always, unless-stopped); start resets RestartCount', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'st', '--restart', 'always', 'busybox', 'sleep', '1000']);
  await c.ok(['run', '-d', '--name', 'ki', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']);
  assert.equal(await c.ok(['stop', '-t', '1', 'st']), 'st');
  assert.equal(await c.ok(['kill', 'ki']), 'ki');
  await sleep(1500);
  const st = await inspect(c, 'st');
  const ki = await inspect(c, 'ki');
  assert.equal(st.status, 'exited');
  assert.equal(st.count, 0);
  assert.equal(ki.status, 'exited');
  assert.equal(ki.code, 137);
  await c.ok(['start', 'st']);
  assert.equal((await inspect(c, 'st')).status, 'running');
  await c.ok(['rm', '-f', 'st', 'ki']);
}));

test('system boot after a simulated reboot: always and unless-stopped come back, a stopped unless-stopped does not', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'b-always', '--restart', 'always', 'busybox', 'sleep', '1000']);
  await c.ok(['run', '-d', '--name', 'b-unless', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']);
  await c.ok(['run', '-d', '--name', 'b-no', 'busybox', 'sleep', '1000']);
  await c.ok(['run', '-d', '--name', 'b-stopped', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']);
  await c.ok(['stop', '-t', '0', 'b-stopped']);
  const ids: string[] = [];
  // the reboot: every watcher, monitor and container process dies at once; the run root is empty after
  for (const n of ['b-always', 'b-unless', 'b-no']) {
    const s = await inspect(c, n);
    const id = await c.ok(['inspect', '-f', '{{.Id}}', n]);
    ids.push(id);
    for (const w of watchersOf(id)) process.kill(w, 'SIGKILL');
    process.kill(ppidOf(s.pid), 'SIGKILL');
    process.kill(s.pid, 'SIGKILL');
  }
  await waitFor(() => ids.every((id) => !existsSync(`${cgroupDir('pids', id)}`) || readFileSync(`${cgroupDir('pids', id)}/cgroup.procs`, 'utf8').trim() === ''), 5000);
  for (const id of ids) {
    for (const ctrl of readdirSync(CGROUP_V1)) { try { rmdirSync(cgroupDir(ctrl, id)); } catch { /* not there */ } }
  }
  for (const e of readdirSync(c.runRoot)) rmSync(`${c.runRoot}/${e}`, { recursive: true, force: true });
  const r = await c.berth(['system', 'boot']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.out.split('\n').filter(Boolean).sort(), ['b-always', 'b-unless']);
  assert.equal((await inspect(c, 'b-always')).status, 'running');
  assert.equal((await inspect(c, 'b-unless')).status, 'running');
  assert.equal((await inspect(c, 'b-no')).status, 'exited');
  assert.equal((await inspect(c, 'b-stopped')).status, 'exited', 'stopped by its user: stays stopped');
  // a second boot changes nothing
  const again = await c.berth(['system', 'boot']);
  assert.equal(again.code, 0, again.err);
  assert.equal(again.out, '');
  await c.ok(['rm', '-f', 'b-always', 'b-unless', 'b-no', 'b-stopped']);
}));

test('bad --restart input: Docker\'s messages and exit codes', { skip }, () => withCli(async (c) => {
  const cases: Array<[string[], RegExp]> = [
    [['--restart', 'sometimes'], /^berth: Error response from daemon: invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'$/],
    [['--restart', 'on-failure:-1'], /^berth: Error response from daemon: invalid restart policy: maximum retry count cannot be negative$/],
    [['--restart', 'on-failure:x'], /^berth: invalid restart policy format: maximum retry count must be an integer\.$/],
    [['--rm', '--restart', 'always'], /^berth: Conflicting options: --restart and --rm\.$/],
  ];
  for (const [flags, want] of cases) {
    const r = await c.berth(['run', '-d', ...flags, 'busybox', 'true']);
    assert.equal(r.code, 125, `${flags.join(' ')}: ${r.err}`);
    assert.match(messageLines(r.err)[0]!, want);
  }
  assert.deepEqual(await c.ids(), [], 'nothing was created');
}));
