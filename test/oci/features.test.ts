import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { CAPABILITIES, knownMountOptions, runtimeFeatures, validateFeatures } from '../../src/oci/index.js';
import { ajvValidators } from './util.js';

const ajv = await ajvValidators();

test('features validate against features-schema.json (ajv and ours)', () => {
  const f = runtimeFeatures({ annotations: { 'org.example.berth.version': '0.1.0' } });
  assert.equal(ajv.runtime('features-schema.json')(f), true);
  validateFeatures(f);
  assert.equal(ajv.runtime('features-schema.json')({ ...f, linux: { ...f.linux, seccomp: { actions: ['SCMP_ACT_FOO'] } } }), false);
});

test('what berth-runtime claims', () => {
  const f = runtimeFeatures();
  assert.equal(f.ociVersionMin, '1.0.0');
  assert.equal(f.ociVersionMax, '1.3.0');
  assert.deepEqual(f.hooks, ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
  const l = f.linux!;
  assert.deepEqual(l.namespaces, ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts']);
  assert.deepEqual(l.capabilities, [...CAPABILITIES]);
  assert.deepEqual(l.cgroup, { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false });
  assert.equal(l.seccomp!.enabled, true);
  assert.equal(l.seccomp!.actions!.length, 9);
  assert.equal(l.seccomp!.operators!.length, 7);
  assert.ok(l.seccomp!.archs!.includes('SCMP_ARCH_X86_64'));
  assert.deepEqual(l.seccomp!.knownFlags, ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
    'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV']);
  assert.deepEqual(l.seccomp!.supportedFlags, ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW']);
  assert.deepEqual([l.apparmor, l.selinux, l.intelRdt, l.mountExtensions], [{ enabled: false }, { enabled: false }, { enabled: false }, { idmap: { enabled: false } }]);
  assert.ok(!f.mountOptions!.includes('idmap') && f.mountOptions!.includes('rro') && f.mountOptions!.includes('tmpcopyup'));
  assert.deepEqual(f.mountOptions, knownMountOptions().filter((o) => !o.endsWith('idmap')));
  assert.equal(f.annotations, undefined);
  assert.deepEqual(runtimeFeatures({ supportedSeccompFlags: [] }).linux!.seccomp!.supportedFlags, []);
});

test('covers what the installed runc claims', (t) => {
  let out: string;
  try { out = execFileSync('runc', ['features'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }); } catch { return t.skip('runc features is not available'); }
  const runc = JSON.parse(out);
  const f = runtimeFeatures();
  for (const o of runc.mountOptions as string[]) if (o !== 'acl' && o !== 'noacl') assert.ok(f.mountOptions!.includes(o), o);
  for (const n of runc.linux.namespaces as string[]) assert.ok(f.linux!.namespaces!.includes(n as never), n);
  for (const c of runc.linux.capabilities as string[]) assert.ok(f.linux!.capabilities!.includes(c), c);
  for (const a of (runc.linux.seccomp?.archs ?? []) as string[]) assert.ok(f.linux!.seccomp!.archs!.includes(a), a);
});
