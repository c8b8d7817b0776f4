/**
 * Seccomp filters compiled once (src/runtime/seccomp-cache.ts): the step is a precompiled
 * `seccomp_bpf` whose BPF comes from `berth-helper seccomp-export`, kept in memory and in the
 * cache directory; a cache file is used as it is, a damaged one is compiled again; profiles
 * with a notify listener keep libseccomp's step; export errors name the operation and step.
 * (That the loaded filters work — denials, errno values — is checked by the runtime and CLI
 * security tests, which now load them this way.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerDefaultSeccomp, type LinuxSeccomp } from '../../src/oci/index.js';
import { forgetCompiledSeccomp, seccompStep } from '../../src/runtime/seccomp-cache.js';
import { exportSeccomp, step } from '../../src/sys/index.js';
import { BerthError } from '../../src/lib/index.js';

const haveHelper = existsSync(join(import.meta.dirname, '../../../native/build/berth-helper'));
const skip = haveHelper ? false : 'native/build/berth-helper is not built';

const profile = (): LinuxSeccomp => dockerDefaultSeccomp({ caps: [], arch: 'amd64', kernel: [6, 1] });

test('seccomp cache: compiled once, kept in the cache directory, a damaged file compiled again', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-scc-'));
  try {
    forgetCompiledSeccomp();
    const s1 = seccompStep(profile(), dir, 'create');
    assert.equal(s1.op, 'seccomp_bpf');
    assert.equal(s1.args[0], 4, 'the default flag: SECCOMP_FILTER_FLAG_SPEC_ALLOW');
    const hex = String(s1.args[1]);
    assert.match(hex, /^[0-9a-f]+$/);
    assert.equal(hex.length % 16, 0, 'whole sock_filter instructions');
    assert.ok(hex.length / 16 > 100, 'Docker\'s profile is hundreds of instructions');
    const files = readdirSync(dir);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^[0-9a-f]{64}\.bpf$/);
    const file = join(dir, files[0]!);
    assert.equal(readFileSync(file).toString('hex'), hex);

    // in memory: the file is not read again (another content there is not seen)
    const allow = Buffer.from([0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]);
    writeFileSync(file, allow);
    assert.equal(seccompStep(profile(), dir, 'create').args[1], hex);

    // from the file, as it is (here: one instruction, RET ALLOW)
    forgetCompiledSeccomp();
    assert.equal(seccompStep(profile(), dir, 'create').args[1], allow.toString('hex'));

    // a damaged file (not whole instructions) is compiled again and replaced
    forgetCompiledSeccomp();
    writeFileSync(file, Buffer.alloc(7));
    assert.equal(seccompStep(profile(), dir, 'create').args[1], hex);
    assert.equal(readFileSync(file).toString('hex'), hex);

    // another profile, another key
    const other = seccompStep({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG'], syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] }, dir, 'create');
    assert.equal(other.op, 'seccomp_bpf');
    assert.equal(other.args[0], 2, 'SECCOMP_FILTER_FLAG_LOG');
    assert.notEqual(other.args[1], hex);
    assert.equal(readdirSync(dir).length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('seccomp cache: a listener keeps the libseccomp step; without a directory, memory only', { skip }, () => {
  const withListener: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/x.sock',
    syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }],
  };
  const s = seccompStep(withListener, undefined, 'create');
  assert.equal(s.op, 'seccomp');
  assert.equal(s.desc, 'load the seccomp filter');
  const m = seccompStep({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['rmdir'], action: 'SCMP_ACT_KILL' }] }, undefined, 'exec');
  assert.equal(m.op, 'seccomp_bpf');
});

test('seccomp export: a helper error names the operation and the step', { skip }, () => {
  const broken = step('seccomp', [0x7fff0000, 1, 'x86_64', 0, '', 1, 1, 'mkdir', 0x50000, 7], 'load the seccomp filter');
  assert.throws(() => exportSeccomp(broken, 'create'), (e: unknown) => {
    assert.ok(e instanceof BerthError, String(e));
    assert.equal(e.op, 'create');
    assert.equal(e.step, 'seccomp');
    assert.match(e.message, /^create: load the seccomp filter: bad plan \(EINVAL\)/);
    return true;
  });
});
