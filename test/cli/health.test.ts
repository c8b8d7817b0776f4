/**
 * Healthchecks run by the container's monitor (issue 14): `--health-*` flags, State.Health in
 * inspect, `(healthy)` in ps, `--filter health=`, `health_status` events, `--health-on-failure`,
 * and Docker's errors for bad values. Real containers, real intervals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cannotRun, messageLines, waitFor, withCli, type Cli } from './run-util.js';

const skip = cannotRun();

interface Health { Status: string; FailingStreak: number; Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }> }

async function health(c: Cli, id: string): Promise<Health | null> {
  const st = JSON.parse(await c.ok(['inspect', '-f', '{{json .State}}', id])) as { Health?: Health };
  return st.Health ?? null;
}

/** VmRSS (kB) of a container's monitor: its init's parent. */
async function monitorRss(c: Cli, id: string): Promise<number> {
  const pid = Number(await c.ok(['inspect', '-f', '{{.State.Pid}}', id]));
  const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  const mon = readFileSync(`/proc/${ppid}/status`, 'utf8');
  assert.match(mon, /^Name:\s+berth-monitor$/m);
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(mon)![1]);
}

async function status(c: Cli, id: string): Promise<string> {
  return (await health(c, id))?.Status ?? '';
}

test('health: starting -> healthy -> unhealthy with real intervals; ps, filters, events, the last 5 results', { skip }, () => withCli(async (c) => {
  // healthy while /tmp/ok exists; the check prints something each time
  const id = await c.ok(['run', '-d', '--health-cmd', 'echo checked; test -e /tmp/ok', '--health-interval', '2500ms',
    '--health-timeout', '2s', '--health-retries', '2', 'busybox', 'sh', '-c', 'touch /tmp/ok; exec sleep 60']);
  try {
    const first = await health(c, id);
    assert.ok(first, 'State.Health is there from the start');
    assert.equal(first!.Status, 'starting');
    assert.match(await c.ok(['ps', '--format', '{{.Status}}']), /^Up .* \(health: starting\)$/);
    assert.equal(await c.ok(['ps', '-q', '--filter', 'health=starting']), id.slice(0, 12));
    await waitFor(async () => (await status(c, id)) === 'healthy' || undefined, 15000);
    const h = (await health(c, id))!;
    assert.equal(h.FailingStreak, 0);
    assert.equal(h.Log.at(-1)!.ExitCode, 0);
    assert.equal(h.Log.at(-1)!.Output, 'checked\n');
    assert.ok(Date.parse(h.Log.at(-1)!.End) >= Date.parse(h.Log.at(-1)!.Start));
    assert.match(await c.ok(['ps', '--format', '{{.Status}}']), /^Up .* \(healthy\)$/);
    assert.equal(await c.ok(['ps', '-q', '--filter', 'health=healthy']), id.slice(0, 12));
    assert.equal(await c.ok(['ps', '-q', '--filter', 'health=unhealthy']), '');
    await c.ok(['exec', id, 'rm', '/tmp/ok']);
    await waitFor(async () => (await status(c, id)) === 'unhealthy' || undefined, 15000);
    const u = (await health(c, id))!;
    assert.ok(u.FailingStreak >= 2, JSON.stringify(u));
    assert.equal(u.Log.at(-1)!.ExitCode, 1);
    assert.match(await c.ok(['ps', '--format', '{{.Status}}']), /^Up .* \(unhealthy\)$/);
    assert.equal(await c.ok(['ps', '-q', '--filter', 'health=unhealthy']), id.slice(0, 12));
    const ev = await c.ok(['events', '--since', '0', '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', `container=${id}`, '--format', '{{.Action}}']);
    const actions = ev.split('\n').filter((a) => a.startsWith('health_status'));
    assert.deepEqual(actions, ['health_status: healthy', 'health_status: unhealthy']);
  } finally {
    await c.berth(['rm', '-f', id]);
  }
}));

test('health: a check that outlives --health-timeout fails with -1 and Docker\'s message', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', '--health-cmd', 'sleep 5', '--health-interval', '200ms', '--health-timeout', '300ms',
    '--health-retries', '1', 'busybox', 'sleep', '60']);
  try {
    await waitFor(async () => (await status(c, id)) === 'unhealthy' || undefined, 15000);
    const h = (await health(c, id))!;
    assert.equal(h.Log[0]!.ExitCode, -1);
    assert.equal(h.Log[0]!.Output, 'Health check exceeded timeout (300ms)');
  } finally {
    await c.berth(['rm', '-f', id]);
  }
}));

test('health: start period failures do not count; the last 5 results; --no-healthcheck; none in ps filter', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', '--health-cmd', 'false', '--health-interval', '200ms', '--health-retries', '1',
    '--health-start-period', '60s', '--health-start-interval', '200ms', 'busybox', 'sleep', '60']);
  const none = await c.ok(['run', '-d', '--no-healthcheck', 'busybox', 'sleep', '60']);
  try {
    // every 200 ms during the start period: well over 5 checks, of which Docker keeps the last 5
    await new Promise((r) => setTimeout(r, 3000));
    const h = (await health(c, id))!;
    assert.equal(h.Log.length, 5);
    assert.ok(h.Log.every((l) => l.ExitCode === 1), JSON.stringify(h.Log));
    // the monitor (the init's parent) stays small between checks: Docker's shape costs no Node process
    const rss = await monitorRss(c, id), plain = await monitorRss(c, none);
    console.log(`# monitor VmRSS: ${rss} kB after ${h.Log.length}+ checks, ${plain} kB without a healthcheck`);
    // idle monitors stay within about 1 MiB, checks or not (the monitor drops its start-up's pages;
    // 944 kB with checks before the helper carried the port relay, whose read-only data pages in: ~1000)
    assert.ok(rss <= 1152 && plain <= 1024, `monitor RSS ${rss} kB, ${plain} kB without a healthcheck`);
    assert.equal(h.Status, 'starting');
    assert.equal(h.FailingStreak, 0);
    assert.equal(await c.ok(['inspect', '-f', '{{json .Config.Healthcheck.Test}}', none]), '["NONE"]');
    assert.equal(await health(c, none), null);
    assert.equal(await c.ok(['ps', '-q', '--filter', 'health=none']), none.slice(0, 12));
  } finally {
    await c.berth(['rm', '-f', id, none]);
  }
}));

test('health: --health-on-failure=kill ends the container when it turns unhealthy', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', '--health-cmd', 'exit 3', '--health-interval', '200ms', '--health-retries', '2',
    '--health-on-failure', 'kill', 'busybox', 'sleep', '60']);
  try {
    await waitFor(async () => (await c.ok(['inspect', '-f', '{{.State.Status}}', id])) === 'exited' || undefined, 15000);
    assert.equal(await c.ok(['inspect', '-f', '{{.State.ExitCode}} {{.State.Health.Status}}', id]), '137 unhealthy');
  } finally {
    await c.berth(['rm', '-f', id]);
  }
}));

test('health: bad values give Docker\'s errors (125)', { skip }, () => withCli(async (c) => {
  const cases: Array<[string[], RegExp]> = [
    [['--health-interval', '-1s'], /--health-interval cannot be negative/],
    [['--health-retries', '-1'], /--health-retries cannot be negative/],
    [['--health-timeout', 'abc'], /invalid argument "abc" for "--health-timeout" flag: time: invalid duration "abc"/],
    [['--no-healthcheck', '--health-cmd', 'true'], /--no-healthcheck conflicts with --health-\* options/],
    [['--health-interval', '10us'], /Interval in Healthcheck cannot be less than 1ms/],
    [['--health-on-failure', 'explode'], /invalid on-failure action "explode"/],
  ];
  for (const [flags, re] of cases) {
    const r = await c.berth(['create', ...flags, 'busybox', 'true']);
    assert.equal(r.code, 125, `${flags.join(' ')}: ${r.err}`);
    assert.match(messageLines(r.err).join('\n'), re);
  }
  assert.deepEqual(await c.ids(), []);
}));

test('health: --health-on-failure=stop stops with the stop signal, then kills after --stop-timeout', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', '--health-cmd', 'false', '--health-interval', '200ms', '--health-retries', '1',
    '--health-on-failure', 'stop', '--stop-timeout', '1', 'busybox', 'sleep', '60']);
  try {
    await waitFor(async () => (await c.ok(['inspect', '-f', '{{.State.Status}}', id])) === 'exited' || undefined, 15000);
    // sleep as PID 1 ignores SIGTERM: killed after the stop timeout
    assert.equal(await c.ok(['inspect', '-f', '{{.State.ExitCode}}', id]), '137');
  } finally {
    await c.berth(['rm', '-f', id]);
  }
}));

test('health: --health-on-failure=restart restarts the container; an image\'s healthcheck is inherited and merged', { skip }, () => withCli(async (c) => {
  // a committed container carries its healthcheck into the image (Docker's commit keeps Config.Healthcheck)
  const base = await c.ok(['create', '--health-cmd', 'test -e /tmp/never', '--health-interval', '30s', 'busybox', 'true']);
  await c.ok(['commit', base, 'berth-test/health:1']);
  const id = await c.ok(['run', '-d', '--health-interval', '200ms', '--health-retries', '1', '--health-on-failure', 'restart',
    'berth-test/health:1', 'sleep', '60']);
  try {
    assert.equal(await c.ok(['inspect', '-f', '{{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}}', id]),
      '["CMD-SHELL","test -e /tmp/never"] 200000000');
    const started = await c.ok(['inspect', '-f', '{{.State.StartedAt}}', id]);
    await waitFor(async () => {
      const [st, at] = (await c.ok(['inspect', '-f', '{{.State.Status}} {{.State.StartedAt}}', id])).split(' ');
      return (st === 'running' && at !== started) || undefined;
    }, 30000, 200);
  } finally {
    await c.berth(['rm', '-f', id, base]);
    await c.berth(['rmi', 'berth-test/health:1']);
  }
}));

test('health: a following `events` sees health_status as the monitor reports it', { skip }, () => withCli(async (c) => {
  const ev = c.spawn(['events', '--format', '{{.Action}} {{.Actor.ID}}']);
  let out = '';
  ev.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  let id = '';
  try {
    await new Promise((r) => setTimeout(r, 1000)); // events is listening
    id = await c.ok(['run', '-d', '--health-cmd', 'true', '--health-interval', '300ms', 'busybox', 'sleep', '60']);
    await waitFor(() => out.includes(`health_status: healthy ${id}`) || undefined, 15000);
  } finally {
    ev.kill();
    if (id) await c.berth(['rm', '-f', id]);
  }
}));

test('health: no checks run while the container is paused (Docker stops its monitor), they resume after', { skip }, () => withCli(async (c) => {
  // (a check that ran in the frozen cgroup would start during the pause and time out as a failure)
  const id = await c.ok(['run', '-d', '--health-cmd', 'true', '--health-interval', '200ms', '--health-timeout', '300ms', 'busybox', 'sleep', '60']);
  try {
    await waitFor(async () => (await status(c, id)) === 'healthy' || undefined, 15000);
    await c.ok(['pause', id]);
    const paused = Date.now();
    await new Promise((r) => setTimeout(r, 2000));
    // the monitor's state file itself (the CLI is too slow to see each result before 5 newer ones)
    const file = JSON.parse(readFileSync(join(c.root, 'containers', id, 'health.json'), 'utf8')) as Health;
    assert.deepEqual(file.Log.filter((l) => l.ExitCode !== 0 || Date.parse(l.Start) > paused), [], 'no check during the pause');
    await c.ok(['unpause', id]);
    await waitFor(async () => ((await health(c, id))!.Log.some((l) => Date.parse(l.Start) > paused)) || undefined, 15000);
    assert.equal(await status(c, id), 'healthy');
  } finally {
    await c.berth(['rm', '-f', id]);
  }
}));
