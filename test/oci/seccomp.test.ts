import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/lib/index.js';
import {
  SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_LOG, SCMP_ACT_NOTIFY, SCMP_ACT_TRACE,
  SCMP_ACT_TRAP, convertSeccomp, seccompArgs, seccompStepArgs, type LinuxSeccomp,
} from '../../src/oci/index.js';

test('action values are libseccomp\'s', () => {
  assert.equal(SCMP_ACT_ALLOW, 0x7fff0000);
  assert.equal(SCMP_ACT_ERRNO(1), 0x00050001);
  assert.equal(SCMP_ACT_ERRNO(0x12345), 0x00052345);
  assert.equal(SCMP_ACT_TRACE(1), 0x7ff00001);
  assert.equal(SCMP_ACT_KILL_PROCESS, 0x80000000);
  assert.equal(SCMP_ACT_KILL_THREAD, 0);
});

test('a sample profile becomes the seccomp step\'s fields', () => {
  const profile: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86'],
    flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
    listenerPath: '/run/agent.sock',
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['mount'], action: 'SCMP_ACT_ERRNO' }, // same as the default: dropped
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      // two conditions on argument 0: one rule each (runc)
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [
        { index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      // conditions on different arguments: one rule
      { names: ['socket'], action: 'SCMP_ACT_LOG', args: [
        { index: 0, value: 2, op: 'SCMP_CMP_EQ' }, { index: 1, value: 0xff, valueTwo: 1, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['ptrace'], action: 'SCMP_ACT_TRACE' },
      { names: ['kexec_load'], action: 'SCMP_ACT_KILL' },
      { names: ['reboot'], action: 'SCMP_ACT_KILL_PROCESS' },
      { names: ['swapon'], action: 'SCMP_ACT_KILL_THREAD' },
      { names: ['acct'], action: 'SCMP_ACT_TRAP' },
      { names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' },
      { names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 18446744073709551615, op: 'SCMP_CMP_NE' },
        { index: 2, value: 2n ** 63n, op: 'SCMP_CMP_GE' }] },
    ],
  };
  assert.deepEqual(seccompStepArgs(profile), [
    0x00050001, 3, 'x86_64', 'x86', 'x32', 2, 'log', 'spec_allow', '/run/agent.sock', 13,
    2, 'read', 'write', 0x7fff0000, 0,
    1, 'clone3', 0x00050026, 0,
    1, 'personality', 0x7fff0000, 1, 0, 0n, 0n, 4,
    1, 'personality', 0x7fff0000, 1, 0, 8n, 0n, 4,
    1, 'socket', 0x7ffc0000, 2, 0, 2n, 0n, 4, 1, 255n, 1n, 7,
    1, 'clone', 0x7fff0000, 1, 0, 2114060288n, 0n, 7,
    1, 'ptrace', 0x7ff00001, 0,
    1, 'kexec_load', 0, 0,
    1, 'reboot', 0x80000000, 0,
    1, 'swapon', 0, 0,
    1, 'acct', 0x00030000, 0,
    1, 'mkdir', 0x7fc00000, 0,
    1, 'ioctl', 0x7fff0000, 2, 1, 0xffffffffffffffffn, 0n, 1, 2, 0x8000000000000000n, 0n, 5,
  ]);
  assert.equal(SCMP_ACT_NOTIFY, 0x7fc00000);
  assert.equal(SCMP_ACT_TRAP, 0x30000);
  assert.equal(SCMP_ACT_LOG, 0x7ffc0000);
});

test('flags default to spec_allow (runc), an explicit empty list means none', () => {
  assert.deepEqual(convertSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }).flags, ['spec_allow']);
  assert.deepEqual(convertSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: [] }).flags, []);
  assert.deepEqual(convertSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] }).flags,
    ['tsync', 'wait_killable_recv']);
  const p = convertSeccomp({ defaultAction: 'SCMP_ACT_KILL_PROCESS', defaultErrnoRet: undefined, flags: [] });
  assert.deepEqual(seccompArgs(p), [0x80000000, 0, 0, '', 0]);
  assert.equal(convertSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38 }).defaultAction, 0x50026);
  assert.equal(convertSeccomp({ defaultAction: 'SCMP_ACT_TRACE', defaultErrnoRet: 7 }).defaultAction, 0x7ff00007);
});

test('errors name the problem', () => {
  const bad = (s: unknown, re: RegExp) => assert.throws(() => convertSeccomp(s as LinuxSeccomp), (e: unknown) =>
    e instanceof BerthError && e.kind === 'invalid' && e.op === 'convert seccomp profile' && re.test(e.message), String(re));
  const base = { defaultAction: 'SCMP_ACT_ERRNO' };
  bad({ defaultAction: 'SCMP_ACT_BOGUS' }, /defaultAction: unknown action "SCMP_ACT_BOGUS"/);
  bad({ ...base, syscalls: [{ names: ['read'], action: 'ALLOW' }] }, /syscalls\[0\]: unknown action "ALLOW"/);
  bad({ ...base, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_BOGUS' }] }] },
    /syscalls\[0\]\.args\[0\]: unknown operator "SCMP_CMP_BOGUS"/);
  bad({ ...base, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }] },
    /argument index 6 is out of range 0-5/);
  bad({ ...base, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }] },
    /value: -1 is not a 64-bit unsigned value/);
  bad({ ...base, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2n ** 64n, op: 'SCMP_CMP_EQ' }] }] },
    /is not a 64-bit unsigned value/);
  bad({ ...base, architectures: ['SCMP_ARCH_PDP11'] }, /unknown architecture "SCMP_ARCH_PDP11"/);
  bad({ ...base, flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'] }, /unknown flag "SECCOMP_FILTER_FLAG_NEW_LISTENER"/);
  bad({ ...base, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', errnoRet: 5 }] },
    /syscalls\[0\]: errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW/);
  bad({ defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1 }, /defaultAction: errnoRet is only valid/);
  bad({ ...base, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', errnoRet: 70000 }] }, /errnoRet 70000 is out of range/);
  bad({ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/l' }, /SCMP_ACT_NOTIFY cannot be used as the default action/);
  bad({ ...base, listenerPath: '/l', syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_NOTIFY' }] },
    /SCMP_ACT_NOTIFY cannot be used for the write syscall/);
  bad({ ...base, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }, /SCMP_ACT_NOTIFY needs linux\.seccomp\.listenerPath/);
  bad({ ...base, syscalls: [{ names: [], action: 'SCMP_ACT_ALLOW' }] }, /syscalls\[0\]: no syscall names/);
  bad({ ...base, syscalls: [{ names: [''], action: 'SCMP_ACT_ALLOW' }] }, /syscalls\[0\]: empty syscall name/);
});
