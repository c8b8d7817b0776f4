/**
 * Container lifecycle through the real CLI, as with Docker: create → start → ps, stop (-t, the
 * stop signal), kill -s, restart, pause/unpause, rename, wait. (Logs, exec, attach and a killed
 * `berth run`: lifecycle-io.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { cannotRun, cgroupRead, sleep, waitFor, withCli, type Cli } from './run-util.js';

const skip = cannotRun();

async function state(c: Cli, ref: string): Promise<string> {
  return c.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', ref]);
}

/** Wait until the container's log has `want` (the container is up and has run that far). */
async function logged(c: Cli, ref: string, want: string): Promise<void> {
  const ok = await waitFor(async () => (await c.berth(['logs', ref])).out.includes(want), 10000);
  assert.ok(ok, `${ref} never logged ${JSON.stringify(want)}`);
}

test('create → start → ps: Created, then Up with a live process', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['create', '--name', 'lc', 'busybox', 'sleep', '60']);
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.equal(await c.ok(['ps', '-a', '--format', '{{.Names}}|{{.Status}}|{{.State}}']), 'lc|Created|created');
  assert.equal(await c.ok(['ps', '-q']), '', 'a created container is not listed without -a');
  assert.equal(await state(c, 'lc'), 'created 0');
  assert.equal(await c.ok(['start', 'lc']), 'lc');
  assert.match(await c.ok(['ps', '--format', '{{.Names}}|{{.Status}}|{{.State}}']), /^lc\|Up .*\|running$/);
  const pid = Number(await c.ok(['inspect', '-f', '{{.State.Pid}}', 'lc']));
  assert.ok(pid > 0);
  assert.equal(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), 'sleep\x0060\x00');
  assert.equal(await c.ok(['start', 'lc']), 'lc', 'starting a running container is fine');
  await c.ok(['rm', '-f', 'lc']);
  assert.ok(!existsSync(`/proc/${pid}`) || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep'), 'rm -f killed it');
  assert.deepEqual(c.leftovers(id), []);
}));

test('stop: SIGTERM first (a handler runs), SIGKILL after -t; --stop-signal; stopping a stopped one is fine', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'polite', 'busybox', 'sh', '-c', 'trap "echo got-term; exit 7" TERM; echo ready; sleep 60 & wait']);
  await logged(c, 'polite', 'ready');
  let t0 = Date.now();
  assert.equal(await c.ok(['stop', '-t', '10', 'polite']), 'polite');
  assert.ok(Date.now() - t0 < 5000, 'the handler ended it before the timeout');
  assert.equal(await state(c, 'polite'), 'exited 7');
  assert.equal((await c.berth(['logs', 'polite'])).out, 'ready\ngot-term\n');
  assert.equal(await c.ok(['stop', 'polite']), 'polite');

  // sleep as PID 1 has no handler: SIGTERM is dropped, SIGKILL comes after 1 s
  await c.ok(['run', '-d', '--name', 'stubborn', 'busybox', 'sleep', '60']);
  t0 = Date.now();
  await c.ok(['stop', '-t', '1', 'stubborn']);
  const took = Date.now() - t0;
  assert.ok(took >= 1000 && took < 8000, `stop -t 1 took ${took} ms`);
  assert.equal(await state(c, 'stubborn'), 'exited 137');

  await c.ok(['run', '-d', '--name', 'usr1', '--stop-signal', 'USR1', 'busybox', 'sh', '-c', 'trap "exit 11" USR1; echo ready; sleep 60 & wait']);
  await logged(c, 'usr1', 'ready');
  await c.ok(['stop', 'usr1']);
  assert.equal(await state(c, 'usr1'), 'exited 11');
}));

test('kill: SIGKILL by default (137), -s delivers the signal; a stopped container is refused', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'kk', 'busybox', 'sh', '-c', 'trap "echo got-hup" HUP; trap "exit 5" USR1; echo ready; while :; do sleep 60 & wait; done']);
  await logged(c, 'kk', 'ready');
  assert.equal(await c.ok(['kill', '-s', 'HUP', 'kk']), 'kk');
  await logged(c, 'kk', 'got-hup');
  assert.equal((await state(c, 'kk')).split(' ')[0], 'running', 'a handled HUP does not end it');
  await c.ok(['kill', '--signal', 'SIGUSR1', 'kk']);
  assert.equal(await c.ok(['wait', 'kk']), '5');
  const r = await c.berth(['kill', 'kk']);
  assert.equal(r.code, 1);
  assert.match(r.err, /is not running/);
  await c.ok(['run', '-d', '--name', 'k9', 'busybox', 'sleep', '60']);
  await c.ok(['kill', 'k9']);
  assert.equal(await state(c, 'k9'), 'exited 137');
}));

test('restart: a new process, the old log kept, the container running', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'rs', 'busybox', 'sh', '-c', 'echo run-$$-$(date +%s%N); trap "exit 0" TERM; sleep 60 & wait']);
  await logged(c, 'rs', 'run-');
  const pid1 = await c.ok(['inspect', '-f', '{{.State.Pid}}', 'rs']);
  const started1 = await c.ok(['inspect', '-f', '{{.State.StartedAt}}', 'rs']);
  assert.equal(await c.ok(['restart', '-t', '5', 'rs']), 'rs');
  assert.equal(await state(c, 'rs'), 'running 0');
  const pid2 = await c.ok(['inspect', '-f', '{{.State.Pid}}', 'rs']);
  assert.notEqual(pid2, pid1);
  assert.notEqual(await c.ok(['inspect', '-f', '{{.State.StartedAt}}', 'rs']), started1);
  const ok = await waitFor(async () => (await c.berth(['logs', 'rs'])).out.split('\n').filter((l) => l.startsWith('run-')).length === 2, 10000);
  assert.ok(ok, 'both runs are in the log');
  // restart of a stopped container starts it
  await c.ok(['stop', 'rs']);
  await c.ok(['restart', 'rs']);
  assert.equal((await state(c, 'rs')).split(' ')[0], 'running');
  await c.ok(['rm', '-f', 'rs']);
}));

test('pause/unpause: frozen (ps, inspect, freezer), no progress while paused, exec refused', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', '--name', 'pp', 'busybox', 'sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done']);
  const counter = async () => Number(await c.ok(['exec', 'pp', 'cat', '/tmp/n']));
  await waitFor(async () => (await c.berth(['exec', 'pp', 'cat', '/tmp/n'])).code === 0);
  assert.equal(await c.ok(['pause', 'pp']), 'pp');
  assert.match(await c.ok(['ps', '--format', '{{.Status}}|{{.State}}']), /^Up .* \(Paused\)\|paused$/);
  assert.equal(await c.ok(['inspect', '-f', '{{.State.Status}} {{.State.Paused}} {{.State.Running}}', 'pp']), 'paused true true');
  assert.equal(cgroupRead('freezer', id, 'freezer.state'), 'FROZEN');
  const n = readFileSync(`/proc/${await c.ok(['inspect', '-f', '{{.State.Pid}}', 'pp'])}/root/tmp/n`, 'utf8');
  await sleep(400);
  const pid = await c.ok(['inspect', '-f', '{{.State.Pid}}', 'pp']);
  assert.equal(readFileSync(`/proc/${pid}/root/tmp/n`, 'utf8'), n, 'the loop made no progress');
  const ex = await c.berth(['exec', 'pp', 'true']);
  assert.equal(ex.code, 1);
  assert.match(ex.err, /paused/);
  const again = await c.berth(['pause', 'pp']);
  assert.equal(again.code, 1);
  assert.match(again.err, /already paused/);
  assert.equal(await c.ok(['unpause', 'pp']), 'pp');
  assert.equal(await c.ok(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'pp']), 'running false');
  assert.equal(cgroupRead('freezer', id, 'freezer.state'), 'THAWED');
  const before = await counter();
  assert.ok(await waitFor(async () => (await counter()) > before, 5000), 'the loop goes on');
  await c.ok(['rm', '-f', 'pp']);
}));

test('rename: the new name everywhere, the old one free', { skip }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', '--name', 'old', 'busybox', 'sleep', '60']);
  await c.ok(['rename', 'old', 'new']);
  assert.equal(await c.ok(['ps', '--format', '{{.Names}}']), 'new');
  assert.equal(await c.ok(['inspect', '-f', '{{.Id}} {{.Name}}', 'new']), `${id} /new`);
  const r = await c.berth(['inspect', 'old']);
  assert.equal(r.code, 1);
  assert.match(r.err, /No such object: old/);
  const taken = await c.berth(['rename', 'new', 'new']);
  assert.notEqual(taken.code, 0);
  // the old name can be used again
  await c.ok(['create', '--name', 'old', 'busybox', 'true']);
  await c.ok(['rm', '-f', 'new', 'old']);
}));

test('wait: blocks until the exit and prints the code, for each container', { skip }, () => withCli(async (c) => {
  await c.ok(['run', '-d', '--name', 'w1', 'busybox', 'sh', '-c', 'sleep 1; exit 9']);
  await c.ok(['run', '-d', '--name', 'w2', 'busybox', 'sh', '-c', 'exit 0']);
  const t0 = Date.now();
  assert.equal(await c.ok(['wait', 'w1', 'w2']), '9\n0');
  assert.ok(Date.now() - t0 >= 300, 'wait blocked until w1 exited');
  assert.equal(await c.ok(['wait', 'w1']), '9', 'an exited container: its code at once');
  const r = await c.berth(['wait', 'nosuch']);
  assert.equal(r.code, 1);
  assert.match(r.err, /No such container: nosuch/);
}));
