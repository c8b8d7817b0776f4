/**
 * A container's I/O after `run -d`, through the real CLI, as with Docker: logs (-f, --tail,
 * --since, -t), exec (-e, -u, -w, -i, exit codes, a stopped container), attach, and a `berth run`
 * killed with SIGKILL while its container runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { cannotRun, waitFor, withCli, type Cli } from './run-util.js';

const skip = cannotRun();

async function logged(c: Cli, ref: string, want: string): Promise<void> {
  const ok = await waitFor(async () => (await c.berth(['logs', ref])).out.includes(want), 10000);
  assert.ok(ok, `${ref} never logged ${JSON.stringify(want)}`);
}

test('logs: stdout and stderr apart, --tail, -t timestamps, --since', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'lg', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; done; echo err >&2; sleep 1; echo late']);
  assert.equal(await c.ok(['wait', 'lg']), '0');
  const all = await c.berth(['logs', 'lg']);
  assert.equal(all.out, 'line1\nline2\nline3\nline4\nline5\nlate\n');
  assert.equal(all.err, 'err\n');
  assert.equal((await c.berth(['logs', '--tail', '2', 'lg'])).out, 'late\n', 'the last 2 lines (err and late), stdout part');
  assert.equal((await c.berth(['logs', '--tail', '2', 'lg'])).err, 'err\n');
  assert.equal((await c.berth(['logs', '-n', '0', 'lg'])).out, '');
  const ts = await c.ok(['logs', '-t', 'lg']);
  const lines = ts.split('\n');
  assert.equal(lines.length, 6);
  for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}Z (line\d|late)$/);
  const lateTs = lines[5]!.split(' ')[0]!;
  const line5Ts = lines[4]!.split(' ')[0]!;
  assert.ok(Date.parse(lateTs) - Date.parse(line5Ts) >= 900, 'the timestamps are the times of writing');
  // --since a timestamp (inclusive), --since in the future, --until
  assert.equal((await c.berth(['logs', '--since', lateTs, 'lg'])).out, 'late\n');
  assert.equal((await c.berth(['logs', '--since', '2000-01-01T00:00:00Z', 'lg'])).out.split('\n').length, 7);
  assert.equal((await c.berth(['logs', '--until', line5Ts, 'lg'])).out, 'line1\nline2\nline3\nline4\nline5\n');
  assert.equal((await c.berth(['logs', '--since', String(Math.floor(Date.now() / 1000) + 3600), 'lg'])).out, '');
}));

test('logs -f follows a running container and ends when it exits', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'fl', 'busybox', 'sh', '-c', 'echo first; sleep 1.5; echo second; sleep 0.5; echo third']);
  await logged(c, 'fl', 'first');
  const child = c.spawn(['logs', '-f', 'fl']);
  let out = '';
  const seen: Array<[string, number]> = [];
  const t0 = Date.now();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; seen.push([d, Date.now() - t0]); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
  const [code] = await once(child, 'close') as [number | null];
  clearTimeout(timer);
  assert.equal(code, 0);
  assert.equal(out, 'first\nsecond\nthird\n');
  assert.ok(seen.length >= 2, 'the lines came as they were written, not at the end');
  assert.ok(seen[0]![1] < seen.at(-1)![1] - 500, `output times ${JSON.stringify(seen)}`);
  assert.equal(await c.ok(['inspect', '-f', '{{.State.Status}}', 'fl']), 'exited');
  // on an exited container -f prints everything and ends at once
  assert.equal(await c.ok(['logs', '-f', 'fl'], { timeoutMs: 10000 }), 'first\nsecond\nthird');
}));

test('exec: -e, -u, -w, -i, the command\'s exit code, 127 for a missing command, refused when stopped', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'ex', '-e', 'BASE=1', '-w', '/tmp', 'busybox', 'sleep', '60']);
  assert.equal(await c.ok(['exec', '-e', 'FOO=bar', 'ex', 'sh', '-c', 'echo $FOO $BASE; pwd']), 'bar 1\n/tmp', 'the container\'s env and workdir, plus -e');
  assert.equal(await c.ok(['exec', '-u', 'user', 'ex', 'sh', '-c', 'id -u; id -g; echo $HOME']), '1000\n1000\n/home/user');
  assert.equal(await c.ok(['exec', '-u', '1234:50', 'ex', 'sh', '-c', 'id -u; id -g']), '1234\n50');
  assert.equal(await c.ok(['exec', '-w', '/etc', 'ex', 'pwd']), '/etc');
  assert.equal(await c.ok(['exec', '-i', 'ex', 'cat'], { input: 'piped\n' }), 'piped');
  assert.equal(await c.ok(['exec', 'ex', 'cat'], { input: 'not piped\n' }), '', 'without -i stdin is not passed');
  let r = await c.berth(['exec', 'ex', 'sh', '-c', 'echo out; echo err >&2; exit 42']);
  assert.equal(r.code, 42);
  assert.equal(r.out, 'out\n');
  assert.equal(r.err, 'err\n');
  r = await c.berth(['exec', 'ex', 'nosuch']);
  assert.equal(r.code, 127);
  assert.match(r.err, /"nosuch": executable file not found in \$PATH/);
  // the exec'd process runs in the container's namespaces
  const pidns = await c.ok(['exec', 'ex', 'readlink', '/proc/1/ns/pid']);
  assert.equal(await c.ok(['exec', 'ex', 'readlink', '/proc/self/ns/pid']), pidns);
  assert.equal(await c.ok(['exec', 'ex', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "']), 'sleep 60 ');
  await c.ok(['stop', '-t', '0', 'ex']);
  r = await c.berth(['exec', 'ex', 'true']);
  assert.equal(r.code, 1);
  assert.match(r.err, /is not running/);
  r = await c.berth(['exec', 'nosuch', 'true']);
  assert.equal(r.code, 1);
  assert.match(r.err, /No such container: nosuch/);
}));

test('attach: the output from then on and the exit code; a stopped container is refused', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'at', 'busybox', 'sh', '-c', 'echo before; sleep 1.5; echo attached-out; echo attached-err >&2; exit 5']);
  await logged(c, 'at', 'before');
  const r = await c.berth(['attach', 'at']);
  assert.equal(r.code, 5, r.err);
  assert.equal(r.out, 'attached-out\n', 'only what came after the attach');
  assert.equal(r.err, 'attached-err\n');
  assert.equal(await c.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'at']), 'exited 5');
  const again = await c.berth(['attach', 'at']);
  assert.equal(again.code, 1);
  assert.match(again.err, /You cannot attach to a stopped container, start it first/);
  // -i containers: attach forwards stdin
  await c.ok(['run', '-d', '-i', '--name', 'cat', 'busybox', 'sh', '-c', 'read line; echo "got $line"']);
  const a = await c.berth(['attach', 'cat'], { input: 'hello\n' });
  assert.equal(a.code, 0, a.err);
  assert.equal(a.out, 'got hello\n');
}));

test('kill -9 of `berth run`: the container runs on, its exit is recorded; a --rm one is removed by its monitor', { skip }, () => withCli(async (c) => {
  for (const rm of [false, true]) {
    const name = rm ? 'orphan-rm' : 'orphan';
    const child = c.spawn(['run', ...(rm ? ['--rm'] : []), '--name', name, 'busybox', 'sh', '-c', 'echo up; sleep 2; echo done; exit 4']);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const up = await waitFor(() => out.includes('up'), 15000);
    assert.ok(up, `${name}: the container never said up`);
    child.kill('SIGKILL');
    await once(child, 'close');
    assert.match(await c.ok(['ps', '--format', '{{.Names}} {{.Status}}']), new RegExp(`^${name} Up `), 'the container keeps running');
    if (!rm) {
      assert.equal(await c.ok(['wait', name]), '4', 'the exit code is still recorded');
      assert.equal((await c.berth(['logs', name])).out, 'up\ndone\n');
      assert.equal(await c.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name]), 'exited 4');
    } else {
      const id = await c.ok(['inspect', '-f', '{{.Id}}', name]);
      const gone = await waitFor(async () => (await c.ids()).length === 1, 10000, 100);
      assert.ok(gone, 'the monitor\'s exit command removed the --rm container');
      assert.deepEqual(await c.ok(['ps', '-a', '--format', '{{.Names}}']), 'orphan');
      assert.deepEqual(c.leftovers(id), []);
    }
  }
}));
