import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeBundle, uniqueId } from '../helpers/bundle.js';
import { parseProbe, capsFromHex, type ProbeInfo } from '../helpers/probe.js';
import { Rt, runtimeCommand, waitFor } from '../helpers/runtime.js';
import { validateFeatures } from '../../src/oci/index.js';

let rt: Rt;
before(() => { rt = new Rt('cli'); });
after(() => rt.cleanup());

test('--preserve-fds passes extra fds into the container, and only those', () => {
  const b = makeBundle(join(rt.work, 'pfds'), { process: { args: ['/probe'] } });
  const extra = openSync(join(rt.work, 'extra.txt'), 'w');
  const out = join(rt.work, 'pfds.out');
  const fo = openSync(out, 'w');
  try {
    const r = spawnSync(...runtimeCommand(['--root', rt.root, 'run', '--preserve-fds', '1', '-b', b.dir, uniqueId('pfds')]), { stdio: ['ignore', fo, 'pipe', extra] });
    assert.equal(r.status, 0, String(r.stderr));
  } finally { closeSync(fo); closeSync(extra); }
  const p = parseProbe<ProbeInfo>(readFileSync(out, 'utf8'));
  const fds = p.fds.filter((f) => f.fd > 2);
  assert.equal(fds.length, 1, JSON.stringify(p.fds));
  assert.equal(fds[0]!.fd, 3);
  assert.match(fds[0]!.target ?? '', /extra\.txt$/);
});

test('exec -d with --pid-file and --cap; kill by number and --all; list formats', async () => {
  const id = uniqueId('execd');
  const b = makeBundle(join(rt.work, 'execd'), { process: { args: ['/bin/sleep', '1000'] } });
  assert.equal(rt.createTo(id, b.dir).result.status, 0);
  rt.ok(['start', id]);
  const pidFile = join(rt.work, 'exec.pid');
  const out = join(rt.work, 'exec-caps.out');
  const fo = openSync(out, 'w');
  try {
    const r = spawnSync(...runtimeCommand(['--root', rt.root, 'exec', '-d', '--pid-file', pidFile, '--cap', 'CAP_SYS_ADMIN', id, '/probe']), { stdio: ['ignore', fo, 'pipe'] });
    assert.equal(r.status, 0, String(r.stderr));
  } finally { closeSync(fo); }
  assert.match(readFileSync(pidFile, 'utf8'), /^\d+$/);
  await waitFor(() => readFileSync(out, 'utf8').includes('}'), 5000, 'probe output');
  const p = parseProbe<ProbeInfo>(readFileSync(out, 'utf8'));
  assert.ok(capsFromHex(p.capabilities.effective).includes('CAP_SYS_ADMIN'));
  const list = JSON.parse(rt.ok(['list', '--format', 'json']).stdout) as Array<{ id: string; status: string }>;
  assert.equal(list.find((e) => e.id === id)?.status, 'running');
  assert.match(rt.ok(['list']).stdout, new RegExp(`^ID\\s+PID\\s+STATUS\\s+BUNDLE\\s+CREATED\\s+OWNER\\n${id}\\s+\\d+\\s+running`));
  assert.notEqual(rt.run(['kill', id, 'SIGNOPE']).status, 0);
  rt.ok(['kill', '--all', id, '9']);
  await waitFor(() => rt.state(id).status === 'stopped', 5000, 'stopped');
  rt.ok(['delete', id]);
});

test('features validates against the spec schema; spec writes config.json once', () => {
  const f = JSON.parse(rt.ok(['features']).stdout);
  validateFeatures(f);
  assert.equal(f.ociVersionMax, '1.3.0');
  const dir = join(rt.work, 'specdir');
  spawnSync('mkdir', ['-p', dir]);
  rt.ok(['spec', '-b', dir]);
  assert.ok(existsSync(join(dir, 'config.json')));
  const again = rt.run(['spec', '-b', dir]);
  assert.notEqual(again.status, 0);
  assert.match(again.stderr, /exists/);
});

test('update -r resources.json and events --stats', () => {
  const id = uniqueId('upd');
  const b = makeBundle(join(rt.work, 'upd'), { process: { args: ['/bin/sleep', '1000'] }, linux: { resources: { pids: { limit: 50 } } } });
  assert.equal(rt.createTo(id, b.dir).result.status, 0);
  const res = join(rt.work, 'res.json');
  writeFileSync(res, JSON.stringify({ pids: { limit: 77 }, memory: { limit: 100 * 1024 * 1024 } }));
  rt.ok(['update', '-r', res, id]);
  assert.equal(readFileSync(`/sys/fs/cgroup/pids/berth/${id}/pids.max`, 'utf8').trim(), '77');
  const ev = JSON.parse(rt.ok(['events', '--stats', id]).stdout);
  assert.equal(ev.type, 'stats');
  assert.equal(ev.id, id);
  assert.equal(ev.data.pids.limit, 77);
  assert.equal(ev.data.memory.limit, 100 * 1024 * 1024);
  rt.ok(['delete', '-f', id]);
});

test('errors go to --log as JSON lines with level and msg (as runc), and name the object', () => {
  const log = join(rt.work, 'log.json');
  const r = rt.run(['--log', log, '--log-format', 'json', 'state', 'no-such-container']);
  assert.notEqual(r.status, 0);
  const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string; time: string });
  assert.equal(lines.at(-1)!.level, 'error');
  assert.match(lines.at(-1)!.msg, /no-such-container does not exist/);
  assert.ok(!Number.isNaN(Date.parse(lines.at(-1)!.time)));
  assert.match(rt.run(['--systemd-cgroup', 'run', '-b', join(rt.work, 'upd'), uniqueId('sd')]).stderr, /systemd/);
  assert.match(rt.run(['frobnicate']).stderr, /frobnicate/);
  assert.match(rt.run(['create', '--bogus', 'x']).stderr, /flag provided but not defined: -bogus/);
});
