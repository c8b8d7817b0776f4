import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DOCKER_DEFAULT_CAPS, DOCKER_DEFAULT_DEVICE_RULES, DOCKER_MASKED_PATHS, OCI_VERSION, dockerDefaultSpec, dockerThermalThrottlePaths,
  exampleSpec, parseMountOptions, validateConfig, MS_BIND, MS_REC, MS_RDONLY, type Spec,
} from '../../src/oci/index.js';

function runcSpec(rootless: boolean): Spec | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'berth-oci-runc-spec-'));
  try {
    execFileSync('runc', ['spec', '--bundle', dir, ...(rootless ? ['--rootless'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
    return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Spec;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Differences between runc releases that are not ours to copy: the spec version, the ambient set
 *  runc < 1.2 added, and masked paths added in later releases. */
function normalise(s: Spec): Spec {
  const c = structuredClone(s);
  c.ociVersion = 'X';
  delete c.process!.capabilities!.ambient;
  c.linux!.maskedPaths = c.linux!.maskedPaths!.filter((p) => p !== '/sys/devices/virtual/tpm');
  return c;
}

test('exampleSpec is what runc spec writes', () => {
  const s = exampleSpec();
  validateConfig(s);
  assert.equal(s.ociVersion, OCI_VERSION);
  assert.deepEqual(s.process!.args, ['sh']);
  assert.equal(s.process!.terminal, true);
  assert.deepEqual(s.process!.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
  assert.deepEqual(s.linux!.namespaces!.map((n) => n.type), ['pid', 'network', 'ipc', 'uts', 'mount']);
  assert.deepEqual(s.mounts!.map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup']);
  assert.ok(s.mounts![2].options!.includes('gid=5'));
  assert.deepEqual(exampleSpec({ cgroupns: true }).linux!.namespaces!.map((n) => n.type).at(-1), 'cgroup');
  // each call returns a fresh object
  s.mounts!.pop();
  assert.equal(exampleSpec().mounts!.length, 7);
});

test('exampleSpec({rootless}) is what runc spec --rootless writes', () => {
  const s = exampleSpec({ rootless: true, uid: 1000, gid: 1001 });
  validateConfig(s);
  assert.deepEqual(s.linux!.namespaces!.map((n) => n.type), ['pid', 'ipc', 'uts', 'mount', 'user']);
  assert.deepEqual(s.linux!.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  assert.deepEqual(s.linux!.gidMappings, [{ containerID: 0, hostID: 1001, size: 1 }]);
  const sys = s.mounts!.find((m) => m.destination === '/sys')!;
  assert.deepEqual(sys, { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  assert.equal(parseMountOptions(sys.options).flags & (MS_BIND | MS_REC | MS_RDONLY), MS_BIND | MS_REC | MS_RDONLY);
  assert.ok(!s.mounts!.find((m) => m.destination === '/dev/pts')!.options!.some((o) => o.startsWith('gid=')));
  assert.equal(s.linux!.resources, undefined);
  assert.equal(s.mounts!.find((m) => m.destination === '/proc')!.options, undefined);
  assert.deepEqual(exampleSpec({ rootless: true }).linux!.uidMappings![0].hostID, process.geteuid!());
});

test('matches the installed runc, modulo release differences', (t) => {
  const plain = runcSpec(false);
  if (!plain) return t.skip('runc is not installed');
  assert.deepEqual(normalise(exampleSpec()), normalise(plain));
  assert.deepEqual(normalise(exampleSpec({ rootless: true })), normalise(runcSpec(true)!));
});

test('Docker defaults', () => {
  const s = dockerDefaultSpec();
  s.root!.path = '/rootfs';
  s.process!.args = ['sh'];
  validateConfig(s);
  assert.deepEqual(s.process!.capabilities!.bounding, [...DOCKER_DEFAULT_CAPS]);
  assert.deepEqual(s.linux!.namespaces!.map((n) => n.type), ['mount', 'network', 'uts', 'pid', 'ipc']);
  assert.equal(DOCKER_MASKED_PATHS.length, 12);
  assert.ok(s.linux!.maskedPaths!.includes('/proc/interrupts') && s.linux!.maskedPaths!.includes('/sys/devices/virtual/powercap'));
  assert.deepEqual(s.linux!.readonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  assert.deepEqual(s.linux!.resources!.devices, [...DOCKER_DEFAULT_DEVICE_RULES]);
  assert.deepEqual(s.mounts!.find((m) => m.destination === '/dev/shm')!.options, ['nosuid', 'noexec', 'nodev', 'mode=1777']);
  // fresh copies: editing one spec does not change the constants
  s.mounts![0].options!.push('x');
  assert.deepEqual(dockerDefaultSpec().mounts![0].options, ['nosuid', 'noexec', 'nodev']);
  const extra = dockerThermalThrottlePaths([0, 1]);
  assert.deepEqual(extra, ['/sys/devices/system/cpu/cpu0/thermal_throttle', '/sys/devices/system/cpu/cpu1/thermal_throttle']);
  assert.equal(dockerDefaultSpec([...DOCKER_MASKED_PATHS, ...extra]).linux!.maskedPaths!.length, 14);
});
