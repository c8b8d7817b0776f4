import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, readlinkSync, symlinkSync, mkdirSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultMounts, makeBundle, uniqueId } from '../helpers/bundle.js';
import { parseProbe, type ProbeInfo } from '../helpers/probe.js';
import { Rt } from '../helpers/runtime.js';

let rt: Rt;
before(() => { rt = new Rt('sec'); });
after(() => rt.cleanup());

test('the runtime binary cannot be written through /proc/PID/exe (CVE-2019-5736 class)', () => {
  const id = uniqueId('exe');
  const b = makeBundle(join(rt.work, 'exe'), { process: { args: ['/bin/true'] } });
  assert.equal(rt.createTo(id, b.dir).result.status, 0);
  const pid = rt.state(id).pid;
  // Until start, the container's init is the helper: it runs from a sealed memfd copy.
  assert.match(readlinkSync(`/proc/${pid}/exe`), /memfd:berth-helper/);
  assert.throws(() => openSync(`/proc/${pid}/exe`, 'r+'), /EPERM|ETXTBSY|EACCES/);
  rt.ok(['delete', '-f', id]);
});

test('mount destinations resolve inside the rootfs, never through a symlink out (CVE-2021-30465 class)', () => {
  const hostDir = join(rt.work, 'host-target');
  mkdirSync(hostDir);
  const src = join(rt.work, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'marker'), 'x');
  const b = makeBundle(join(rt.work, 'sym'), {
    process: { args: ['/bin/sh', '-c', 'ls /evil/'] },
    mounts: [...defaultMounts(), { destination: '/evil', type: 'bind', source: src, options: ['bind'] }],
  }, { prepareRootfs: (rootfs) => symlinkSync(hostDir, join(rootfs, 'evil')) });
  const r = rt.run(['run', '-b', b.dir, uniqueId('sym')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /marker/);
  assert.deepEqual(readdirSync(hostDir), [], 'nothing was mounted on the host directory the symlink names');
  assert.ok(existsSync(join(b.rootfs, hostDir)), 'the target was created inside the rootfs instead');
});

test('only stdio and the preserved fds reach the container (CVE-2024-21626 class)', () => {
  const b = makeBundle(join(rt.work, 'fds'), { process: { args: ['/probe'], cwd: '/' } });
  const r = rt.run(['run', '-b', b.dir, uniqueId('fds')]);
  assert.equal(r.status, 0, r.stderr);
  const p = parseProbe<ProbeInfo>(r.stdout);
  assert.deepEqual(p.fds.map((f) => f.fd).filter((n) => n > 2), []);
  assert.ok(p.fds.every((f) => !f.target || !f.target.includes('berth-runtime')), JSON.stringify(p.fds));
});
