/**
 * The helper's `pid_spawn` (a program for the child's pid, left running, waited for on its ready
 * fd, its exit fd held by the helper) and `unix_call` (one request to a unix socket): rootless
 * slirp4netns's steps, with /bin/sh and a unix server of the test's in their place.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { step, type Plan, type Step } from '../../src/sys/index.js';
import { runPlan } from './util.js';

function plan(extra: Step[]): Plan {
  return {
    pre: [step('spawn', [0], 'create the child')],
    post: [step('report_pid', [], 'report the pid'), ...extra, step('await_go', [], 'go'), step('release', [], 'release'), step('await_ready', [], 'ready'), step('wait_exit', [], 'wait')],
    child: [step('await_release', [], 'wait'), step('exec', ['/bin/sh', 3, '/bin/sh', '-c', 'exit 0', 1, 'PATH=/bin:/usr/bin'], 'exec /bin/sh')],
  };
}

/** pid_spawn of `/bin/sh -c SCRIPT sh PID` in dir (ready fd 3, exit fd 4). */
function spawnStep(dir: string, script: string, timeoutMs = 5000): Step {
  const args = ['-c', script, 'sh'];
  return step('pid_spawn', ['/bin/sh', dir, join(dir, 'log'), join(dir, 'pid'), 3, 3, 4, timeoutMs, args.length, ...args], 'start sh', '/bin/sh');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('pid_spawn: the child\'s pid as an argument, ready on fd 3, left running until the helper is gone (EOF on fd 4)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-spawn-'));
  try {
    // fds other than 0-4 are closed; the exit fd reads EOF once the helper (monitor) exits
    const r = await runPlan(plan([spawnStep(dir, 'echo "pid $1 cwd $(pwd) fds $(ls /proc/self/fd | tr "\\n" " ")"; printf 1 >&3; exec 3>&-; cat <&4; echo eof > eof')]));
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    assert.ok(pid > 0);
    for (let i = 0; i < 40 && !existsSync(join(dir, 'eof')); i++) await sleep(50);
    assert.ok(existsSync(join(dir, 'eof')), 'the program saw EOF on its exit fd after the helper exited');
    assert.match(readFileSync(join(dir, 'log'), 'utf8'), new RegExp(`^pid ${r.pid} cwd ${dir} fds 0 1 2 3 4 \\d+ \n`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pid_spawn: a program that exits before it is ready fails the step with its exit and output; a silent one times out', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-spawn-'));
  try {
    let r = await runPlan(plan([spawnStep(dir, 'echo "cannot open tap: nope" >&2; exit 3')]));
    assert.equal(r.error?.message, 'program failed');
    assert.equal(r.error?.detail, 'exit status 3: cannot open tap: nope');
    assert.equal(r.error?.path, '/bin/sh');
    assert.ok(!existsSync(join(dir, 'pid')), 'the pid file is removed');
    r = await runPlan(plan([spawnStep(dir, 'echo waiting; exec sleep 30', 300)]));
    assert.equal(r.error?.message, 'program failed');
    assert.equal(r.error?.detail, 'timeout (signal 9): waiting');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unix_call: the request is sent, a reply without EXPECT is an error carrying the reply', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-spawn-'));
  const sock = join(dir, 'api.sock');
  const got: string[] = [];
  const srv = createServer((c) => {
    let req = '';
    c.setEncoding('utf8').on('data', (d: string) => { req += d; }).on('end', () => {
      got.push(req);
      c.end(req.includes('"bad"') ? '{"error":{"desc":"bad request"}}' : '{"return":{"id":1}}');
    });
  });
  await new Promise<void>((res) => srv.listen(sock, res));
  try {
    let r = await runPlan(plan([step('unix_call', [sock, '{"execute":"good"}', '{"return"', 2000], 'call', sock)]));
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    r = await runPlan(plan([step('unix_call', [sock, '{"execute":"bad"}', '{"return"', 2000], 'call', sock)]));
    assert.equal(r.error?.message, 'request failed');
    assert.equal(r.error?.detail, '{"error":{"desc":"bad request"}}');
    assert.deepEqual(got, ['{"execute":"good"}', '{"execute":"bad"}']);
  } finally {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
