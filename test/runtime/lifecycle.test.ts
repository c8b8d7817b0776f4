import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeBundle, uniqueId } from '../helpers/bundle.js';
import { parseProbe, capsFromHex, type ProbeInfo } from '../helpers/probe.js';
import { Rt, waitFor } from '../helpers/runtime.js';

let rt: Rt;
before(() => { rt = new Rt('life'); });
after(() => rt.cleanup());

test('run: the probe sees the configured environment', () => {
  const b = makeBundle(join(rt.work, 'b1'), { process: { args: ['/probe'], env: ['PATH=/bin', 'FOO=bar'], cwd: '/tmp' }, hostname: 'probe-host' });
  const r = rt.run(['run', '-b', b.dir, uniqueId('run')]);
  assert.equal(r.status, 0, r.stderr);
  const p = parseProbe<ProbeInfo>(r.stdout);
  assert.equal(p.hostname, 'probe-host');
  assert.equal(p.pid, 1);
  assert.equal(p.cwd, '/tmp');
  assert.ok(p.env.includes('FOO=bar'));
  assert.deepEqual(capsFromHex(p.capabilities.effective).sort(), [...b.config.process.capabilities.effective].sort());
  assert.equal(p.fds.filter((f) => f.fd > 2).length, 0, `no fd beyond 0-2 leaks in: ${JSON.stringify(p.fds)}`);
  const mounts = new Map((p.mounts ?? []).map((m) => [m.mountPoint, m]));
  assert.ok(mounts.has('/proc') && mounts.has('/dev') && mounts.has('/dev/pts'), 'proc, dev and devpts are mounted');
  assert.equal(rt.run(['list', '-q']).stdout.trim(), '', 'run deletes the container when it exits');
});

test('run: exit code and signals are reported like a shell', () => {
  const b = makeBundle(join(rt.work, 'b2'), { process: { args: ['/bin/sh', '-c', 'exit 7'] } });
  assert.equal(rt.run(['run', '-b', b.dir, uniqueId('exit')]).status, 7);
  // Without a pid namespace the shell is not pid 1, so its own SIGKILL is not ignored.
  const b2 = makeBundle(join(rt.work, 'b3'), { process: { args: ['/bin/sh', '-c', 'kill -9 $$'] }, linux: { namespaces: [{ type: 'mount' }, { type: 'uts' }, { type: 'ipc' }] } });
  assert.equal(rt.run(['run', '-b', b2.dir, uniqueId('sig')]).status, 137);
});

test('create, start, state, kill, delete: the lifecycle as runc has it', async () => {
  const id = uniqueId('life');
  const b = makeBundle(join(rt.work, 'b4'), { process: { args: ['/bin/sh', '-c', 'echo started; exec sleep 1000'] } });
  const c = rt.createTo(id, b.dir);
  assert.equal(c.result.status, 0, c.result.stderr);
  let st = rt.state(id);
  assert.equal(st.status, 'created');
  assert.ok(st.pid > 0);
  assert.equal(st.bundle, b.dir);
  assert.equal(readFileSync(c.out, 'utf8'), '', 'the user program has not run yet');
  assert.notEqual(rt.run(['start', 'nope']).status, 0);
  rt.ok(['start', id]);
  await waitFor(() => readFileSync(c.out, 'utf8').includes('started'), 5000, 'container output');
  st = rt.state(id);
  assert.equal(st.status, 'running');
  const s2 = rt.run(['start', id]);
  assert.notEqual(s2.status, 0, 'start of a running container fails');
  assert.match(s2.stderr, /running/);
  const del = rt.run(['delete', id]);
  assert.notEqual(del.status, 0, 'delete of a running container fails without --force');
  rt.ok(['kill', id, 'KILL']);
  await waitFor(() => rt.state(id).status === 'stopped', 5000, 'stopped');
  assert.equal(rt.state(id).pid, 0);
  assert.notEqual(rt.run(['kill', id, 'TERM']).status, 0, 'kill of a stopped container fails');
  rt.ok(['delete', id]);
  assert.notEqual(rt.run(['state', id]).status, 0);
  assert.ok(!existsSync(join(rt.root, id)), 'state directory removed');
});

test('delete of a created, never started container works (containerd relies on it)', () => {
  const id = uniqueId('cdel');
  const b = makeBundle(join(rt.work, 'b5'), { process: { args: ['/bin/true'] } });
  assert.equal(rt.createTo(id, b.dir).result.status, 0);
  const pid = rt.state(id).pid;
  rt.ok(['delete', id]);
  assert.ok(!existsSync(`/proc/${pid}/stat`) || readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'), 'init is gone');
});

test('a failed create names the step and leaves nothing behind', () => {
  const id = uniqueId('fail');
  const b = makeBundle(join(rt.work, 'b6'), { process: { args: ['/does/not/exist'] } });
  const r = rt.createTo(id, b.dir).result;
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /\/does\/not\/exist/);
  assert.ok(!existsSync(join(rt.root, id)), 'no state left');
  assert.ok(!existsSync(`/sys/fs/cgroup/memory/berth/${id}`), 'no cgroup left');
  const b2 = makeBundle(join(rt.work, 'b7'), { mounts: [{ destination: '/x', type: 'bind', source: '/nonexistent-source', options: ['bind'] }] });
  const r2 = rt.createTo(uniqueId('fail'), b2.dir).result;
  assert.notEqual(r2.status, 0);
  assert.match(r2.stderr, /nonexistent-source/);
  assert.equal(readdirSync(rt.root).length, 0);
});

test('duplicate ids and bad ids are refused', () => {
  const id = uniqueId('dup');
  const b = makeBundle(join(rt.work, 'b8'), { process: { args: ['/bin/sleep', '100'] } });
  assert.equal(rt.createTo(id, b.dir).result.status, 0);
  const r = rt.createTo(id, b.dir).result;
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /already exists/);
  assert.equal(rt.state(id).status, 'created', 'the first container is untouched');
  rt.ok(['delete', '-f', id]);
  assert.match(rt.run(["create", "-b", b.dir, "bad/id"]).stderr, /invalid container id/);
});

test('exec runs in the container namespaces with its own args, env, cwd and user', async () => {
  const id = uniqueId('exec');
  const b = makeBundle(join(rt.work, 'b9'), { process: { args: ['/bin/sleep', '1000'] }, hostname: 'exec-host' });
  assert.equal(rt.createTo(id, b.dir).result.status, 0);
  rt.ok(['start', id]);
  const r = rt.run(['exec', '--env', 'X=1', '--cwd', '/etc', '--user', '1000:1000', id, '/probe']);
  assert.equal(r.status, 0, r.stderr);
  const p = parseProbe<ProbeInfo>(r.stdout);
  assert.equal(p.hostname, 'exec-host');
  assert.equal(p.cwd, '/etc');
  assert.equal(p.uid, 1000);
  assert.equal(p.gid, 1000);
  assert.ok(p.env.includes('X=1'));
  assert.equal(rt.run(['exec', id, '/bin/sh', '-c', 'exit 3']).status, 3);
  const ps = JSON.parse(rt.ok(['ps', '--format', 'json', id]).stdout) as number[];
  assert.ok(ps.includes(rt.state(id).pid));
  rt.ok(['delete', '-f', id]);
});
