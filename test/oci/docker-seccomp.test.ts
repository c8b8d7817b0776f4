import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DOCKER_DEFAULT_CAPS, convertDockerSeccomp, convertSeccomp, dockerDefaultSeccomp, dockerSeccompProfile, exampleSpec, kernelVersion,
  validateConfig,
} from '../../src/oci/index.js';
import { readJson } from './util.js';

const derived = () => readJson('test/oci/data/seccomp-default.oci-linux-amd64-defaultcaps.json');
const names = (s: { syscalls?: { names: string[] }[] }) => (s.syscalls ?? []).flatMap((c) => c.names);

test('amd64 + Docker\'s default caps + kernel >= 4.8 gives exactly moby\'s converted profile', () => {
  const got = dockerDefaultSeccomp({ arch: 'amd64', caps: DOCKER_DEFAULT_CAPS, kernel: [6, 18] });
  assert.deepEqual(got, derived());
  assert.equal(got.syscalls!.length, 15);
  assert.equal(names(got).length, 377);
  // Node's name for the architecture works too
  assert.deepEqual(dockerDefaultSeccomp({ arch: 'x64', caps: DOCKER_DEFAULT_CAPS, kernel: [4, 8] }), derived());
});

test('the shipped profile is moby\'s file', () => {
  const p = dockerSeccompProfile();
  assert.deepEqual(p, readJson('src/oci/data/moby-docker-v29.7.2/seccomp-default.json'));
  assert.equal(p.syscalls!.length, 33);
  assert.equal(names(p as never).length, 442);
});

test('capabilities, kernel version and architecture select rules', () => {
  const admin = dockerDefaultSeccomp({ arch: 'amd64', caps: [...DOCKER_DEFAULT_CAPS, 'CAP_SYS_ADMIN'], kernel: [6, 1] });
  const n = names(admin);
  assert.ok(n.includes('mount') && n.includes('setns') && n.includes('bpf'));
  assert.ok(!names(dockerDefaultSeccomp({ arch: 'amd64', caps: DOCKER_DEFAULT_CAPS, kernel: [6, 1] })).includes('mount'));
  assert.ok(!admin.syscalls!.some((c) => c.names.includes('clone3') && c.action === 'SCMP_ACT_ERRNO'), 'clone3 ENOSYS rule is excluded with CAP_SYS_ADMIN');
  assert.ok(admin.syscalls!.some((c) => c.names.includes('clone3') && c.action === 'SCMP_ACT_ALLOW'));
  assert.ok(admin.syscalls!.some((c) => c.names.includes('clone') && !c.args), 'unrestricted clone with CAP_SYS_ADMIN');
  const old = dockerDefaultSeccomp({ arch: 'amd64', caps: DOCKER_DEFAULT_CAPS, kernel: [4, 7] });
  assert.ok(!names(old).includes('ptrace'));
  assert.ok(names(dockerDefaultSeccomp({ arch: 'amd64', caps: DOCKER_DEFAULT_CAPS, kernel: [4, 8] })).includes('ptrace'));
  const arm = dockerDefaultSeccomp({ arch: 'arm64', caps: DOCKER_DEFAULT_CAPS, kernel: [6, 1] });
  assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.ok(names(arm).includes('arm_fadvise64_64') && !names(arm).includes('arch_prctl'));
  const s390 = dockerDefaultSeccomp({ arch: 's390x', caps: DOCKER_DEFAULT_CAPS, kernel: [6, 1] });
  assert.deepEqual(s390.syscalls!.find((c) => c.names.includes('clone'))!.args![0].index, 1);
  // an architecture moby has no archMap entry for: no architectures, arch-specific rules dropped
  const other = dockerDefaultSeccomp({ arch: 'sparc64', caps: [], kernel: [6, 1] });
  assert.equal(other.architectures, undefined);
  assert.ok(!names(other).includes('arch_prctl'));
});

test('moby\'s format rules: name vs names, architectures vs archMap, disabled profile', () => {
  assert.equal(convertDockerSeccomp({}, { caps: [], kernel: [6, 1] }), undefined);
  assert.deepEqual(convertDockerSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'read', action: 'SCMP_ACT_ERRNO', errnoRet: 5 }] },
    { caps: [], kernel: [6, 1] }), { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', errnoRet: 5 }] });
  assert.throws(() => convertDockerSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'read', names: ['write'], action: 'SCMP_ACT_ALLOW' }] },
    { caps: [], kernel: [6, 1] }), /both 'name' and 'names'/);
  assert.throws(() => convertDockerSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'],
    archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: null }] }, { caps: [], kernel: [6, 1] }), /both 'architectures' and 'archMap'/);
  assert.deepEqual(convertDockerSeccomp({ defaultAction: 'SCMP_ACT_LOG', architectures: ['SCMP_ARCH_X86'], flags: ['SECCOMP_FILTER_FLAG_LOG'] },
    { arch: 'amd64', caps: [], kernel: [6, 1] }), { defaultAction: 'SCMP_ACT_LOG', architectures: ['SCMP_ARCH_X86'], flags: ['SECCOMP_FILTER_FLAG_LOG'] });
});

test('kernelVersion', () => {
  assert.deepEqual(kernelVersion('6.18.0-1-amd64'), [6, 18]);
  assert.deepEqual(kernelVersion('3.12-1-amd64'), [3, 12]);
  assert.deepEqual(kernelVersion('4.8'), [4, 8]);
  assert.throws(() => kernelVersion('six'), /cannot parse kernel version "six"/);
});

test('the converted profile is a valid linux.seccomp and converts to a plan step', () => {
  const seccomp = dockerDefaultSeccomp({ caps: DOCKER_DEFAULT_CAPS, kernel: [6, 1] });
  const spec = exampleSpec();
  spec.linux!.seccomp = seccomp;
  validateConfig(spec);
  const p = convertSeccomp(seccomp);
  assert.equal(p.defaultAction, 0x50001);
  assert.deepEqual(p.flags, ['spec_allow']);
  assert.ok(p.rules.length >= 14);
});
