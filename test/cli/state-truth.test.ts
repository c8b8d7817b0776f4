/**
 * The record tells the truth after a process died at the wrong moment:
 * - the monitor killed (kill -9): the container is killed too (as containerd does when a shim
 *   dies) and recorded exited (137), never "exited" while its processes run on;
 * - the CLI killed during a start, between the launch and the record's `running` (simulated here
 *   by putting the record back to `created`, pid 0): the next command adopts the container as
 *   running (podman's sync with the runtime), so stop/exec/rm work on it;
 * - `rm -f` removes the cgroups (every controller) and the lock whatever the record says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { cannotRun, waitFor, withCli, type Cli } from './run-util.js';
import { alive, cgroupDirs, cgroupPids, leaks } from '../helpers/leaks.js';

const skip = cannotRun();

function state(c: Cli, id: string) {
  return c.core.store.containers.get(id).state;
}

async function inspectState(c: Cli, id: string): Promise<{ Status: string; Running: boolean; Pid: number; ExitCode: number; Error: string }> {
  return JSON.parse(await c.ok(['inspect', '--format', '{{json .State}}', id]));
}

/** A pid that is certainly not running any more. */
function deadPid(): number {
  return Number(spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim());
}

/** What the CLI killed after its launch and before it recorded `running` leaves. */
function interruptStart(c: Cli, id: string, lock = true): void {
  c.core.store.db.prepare("UPDATE containers SET status = 'created', pid = 0, monitor_pid = 0, started_at = NULL WHERE id = ?").run(id);
  if (lock) writeFileSync(`${c.runRoot}/${id}.lock`, String(deadPid()));
}

test('a killed monitor: the container is killed and recorded exited (137), then rm -f leaves nothing', { skip, timeout: 60_000 }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', 'busybox', 'sleep', '1000']);
  const { pid, monitorPid } = state(c, id);
  assert.ok(alive(pid) && alive(monitorPid));
  process.kill(monitorPid, 'SIGKILL');
  assert.ok(await waitFor(() => !alive(monitorPid)), 'the monitor is gone');
  const s = await inspectState(c, id);
  assert.equal(alive(pid), false, `the init ${pid} must not run on once the record says ${s.Status}`);
  assert.equal(s.Status, 'exited');
  assert.equal(s.ExitCode, 137);
  assert.match(s.Error, /monitor/);
  await c.ok(['rm', '-f', id]);
  assert.deepEqual(leaks(c, id), []);
}));

test('a killed monitor of a container without its own pid namespace: all its processes are killed', { skip, timeout: 60_000 }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', '--pid', 'host', 'busybox', 'sh', '-c', 'sleep 1001 & sleep 1002 & wait']);
  assert.ok(await waitFor(() => cgroupPids(id).length >= 3), 'the container\'s processes are in its cgroup');
  const { monitorPid } = state(c, id);
  process.kill(monitorPid, 'SIGKILL');
  assert.ok(await waitFor(() => !alive(monitorPid)), 'the monitor is gone');
  const out = await c.ok(['ps', '-a', '--filter', `id=${id}`, '--format', '{{.Status}}']);
  assert.match(out, /^Exited \(137\)/);
  assert.deepEqual(cgroupPids(id).filter(alive), [], 'no process of the container runs on');
  await c.ok(['rm', '-f', id]);
  assert.deepEqual(leaks(c, id), []);
}));

test('a killed monitor of a paused container: its frozen processes are killed too', { skip, timeout: 60_000 }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', 'busybox', 'sh', '-c', 'sleep 1001 & sleep 1002']);
  assert.ok(await waitFor(() => cgroupPids(id).length >= 2), 'the container\'s processes are in its cgroup');
  await c.ok(['pause', id]);
  const { monitorPid } = state(c, id);
  process.kill(monitorPid, 'SIGKILL');
  assert.ok(await waitFor(() => !alive(monitorPid)), 'the monitor is gone');
  const s = await inspectState(c, id);
  assert.equal(s.Status, 'exited');
  assert.equal(s.ExitCode, 137);
  assert.deepEqual(cgroupPids(id).filter(alive), [], 'no process of the container stays (frozen)');
  await c.ok(['rm', '-f', id]);
  assert.deepEqual(leaks(c, id), []);
}));

test('a start whose CLI was killed before recording it: the running container is adopted (stop, exec, rm work)', { skip, timeout: 60_000 }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', 'busybox', 'sleep', '1000']);
  const { pid, monitorPid } = state(c, id);
  interruptStart(c, id);
  const s = await inspectState(c, id);
  assert.equal(s.Status, 'running');
  assert.equal(s.Pid, pid);
  assert.equal(state(c, id).monitorPid, monitorPid);
  assert.equal(await c.ok(['exec', id, 'echo', 'in']), 'in');
  await c.ok(['stop', '-t', '1', id]);
  assert.equal(alive(pid), false, 'stop stopped it');
  assert.equal((await inspectState(c, id)).Status, 'exited');
  await c.ok(['rm', '-f', id]);
  assert.deepEqual(leaks(c, id), []);
}));

test('an unrecorded start whose container then exits is recorded exited with its code', { skip, timeout: 60_000 }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', 'busybox', 'sleep', '1000']);
  const { pid } = state(c, id);
  interruptStart(c, id, false);
  process.kill(pid, 'SIGKILL'); // the monitor records the exit and its exit command settles it
  await waitFor(async () => (await inspectState(c, id)).Status === 'exited', 10_000);
  const s = await inspectState(c, id);
  assert.equal(s.Status, 'exited');
  assert.equal(s.ExitCode, 137);
  await c.ok(['rm', '-f', id]);
  assert.deepEqual(leaks(c, id), []);
}));

test('rm -f of an interrupted start kills it and removes cgroups, lock and runtime state', { skip, timeout: 60_000 }, () => withCli(async (c) => {
  const id = await c.ok(['run', '-d', 'busybox', 'sleep', '1000']);
  const { pid } = state(c, id);
  interruptStart(c, id);
  await c.ok(['rm', '-f', id]);
  assert.equal(alive(pid), false);
  assert.deepEqual(leaks(c, id), []);
}));

test('rm -f of a created container removes cgroups and lock a killed start left (no runtime state)', { skip, timeout: 60_000 }, () => withCli(async (c) => {
  const id = await c.ok(['create', 'busybox', 'true']);
  for (const d of cgroupDirs(id)) mkdirSync(d, { recursive: true });
  writeFileSync(`${c.runRoot}/${id}.lock`, String(deadPid()));
  mkdirSync(`${c.runRoot}/runtime/${id}`, { recursive: true });
  assert.notDeepEqual(leaks(c, id), []);
  await c.ok(['rm', '-f', id]);
  assert.deepEqual(leaks(c, id), []);
}));
