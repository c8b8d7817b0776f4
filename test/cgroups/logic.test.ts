/** Pure logic of the cgroups layer: conversions, device rules, the BPF device program, layout detection. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  sharesToWeight, blkioToIOWeight, swapToV2, DeviceState, deviceRuleFromSpec, deviceRuleString,
  deviceProgram, encodeProgram, runProgram, detectLayout,
} from '../../src/cgroups/index.js';
import { ownCgroups, resolveDir, checkPath } from '../../src/cgroups/detect.js';
import { ACC_M, ACC_R, ACC_W } from '../../src/cgroups/devices.js';
import type { LinuxDeviceCgroup } from '../../src/cgroups/index.js';
import { tmp } from './util.js';

test('cpu.shares -> cpu.weight follows runc/crun (1024 -> 100, clamps)', () => {
  const cases: Array<[number, number]> = [[0, 0], [1, 1], [2, 1], [3, 2], [512, 59], [1024, 100], [2048, 174], [262143, 10000], [262144, 10000], [500000, 10000]];
  for (const [s, w] of cases) assert.equal(sharesToWeight(s), w, `shares ${s}`);
});

test('blkio weight -> io.weight is 1 + (w-10)*9999/990', () => {
  assert.deepEqual([0, 10, 100, 500, 1000].map(blkioToIOWeight), [0, 1, 910, 4950, 10000]);
});

test('memory.swap (memory+swap) -> memory.swap.max as runc', () => {
  assert.equal(swapToV2(0, 0), 0);
  assert.equal(swapToV2(0, -1), -1, 'unlimited memory, swap unset -> unlimited swap');
  assert.equal(swapToV2(-1, 1000), -1);
  assert.equal(swapToV2(1000, 500), 500);
  assert.equal(swapToV2(500, 500), 0);
  assert.throws(() => swapToV2(400, 500), /should be >= memory limit/);
  assert.throws(() => swapToV2(1000, 0), /without memory limit/);
  assert.throws(() => swapToV2(1000, -1), /without memory limit/);
});

const rules = (list: LinuxDeviceCgroup[]) => list.map(deviceRuleFromSpec);
const ts = (s: DeviceState, t: DeviceState) => s.transition(t).map((r) => `${r.allow ? 'allow' : 'deny'} ${deviceRuleString(r)}`);

test('device rules: normalisation and v1 strings', () => {
  assert.equal(deviceRuleString(deviceRuleFromSpec({ allow: false })), 'a *:* rwm');
  assert.equal(deviceRuleString(deviceRuleFromSpec({ allow: true, type: 'c', major: 1, minor: 3, access: 'wr' })), 'c 1:3 rw');
  assert.equal(deviceRuleString(deviceRuleFromSpec({ allow: true, type: 'c', major: 136, access: 'rwm' })), 'c 136:* rwm');
  assert.throws(() => deviceRuleFromSpec({ allow: true, type: 'x' }), /invalid type/);
  assert.throws(() => deviceRuleFromSpec({ allow: true, type: 'c', access: 'rwx' }), /invalid access/);
});

test('device transitions: allow-all cgroup -> whitelist starts with deny a', () => {
  const cur = DeviceState.fromList('a *:* rwm\n');
  const target = DeviceState.fromRules(rules([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 5, access: 'rw' }]));
  assert.deepEqual(ts(cur, target), ['deny a *:* rwm', 'allow c 1:3 rwm', 'allow c 1:5 rw']);
});

test('device transitions: whitelist -> whitelist writes only the differences', () => {
  const cur = DeviceState.fromList('c 1:3 rwm\nc 1:5 rwm\n');
  const target = DeviceState.fromRules(rules([{ allow: false }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }, { allow: true, type: 'c', major: 1, minor: 7 }]));
  assert.deepEqual(ts(cur, target), ['deny c 1:3 m', 'deny c 1:5 rwm', 'allow c 1:7 rwm']);
  assert.deepEqual(ts(target, target), []);
});

test('device transitions: to allow-all, and a deny list', () => {
  const cur = DeviceState.fromList('c 1:3 rwm\n');
  assert.deepEqual(ts(cur, DeviceState.fromRules(rules([{ allow: true }]))), ['allow a *:* rwm']);
  const deny = DeviceState.fromRules(rules([{ allow: true }, { allow: false, type: 'c', major: 10, minor: 229 }]));
  assert.equal(deny.defaultAllow, true);
  assert.deepEqual(ts(cur, deny), ['allow a *:* rwm', 'deny c 10:229 rwm']);
});

test('device rules: punching a hole in a wildcard exception is refused (as runc)', () => {
  assert.throws(() => DeviceState.fromRules(rules([
    { allow: false }, { allow: true, type: 'c', access: 'm' }, { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
  ])), /punch a hole/);
  // A deny of something never allowed is fine (docker's explicit fuse deny).
  const s = DeviceState.fromRules(rules([{ allow: false }, { allow: true, type: 'c', major: 1, minor: 3 }, { allow: false, type: 'c', major: 10, minor: 229 }]));
  assert.deepEqual(s.entries().map(deviceRuleString), ['c 1:3 rwm']);
});

test('BPF device program: whitelist semantics', () => {
  const st = DeviceState.fromRules(rules([
    { allow: false }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }, { allow: true, type: 'c', access: 'm' },
    { allow: true, type: 'c', major: 136, access: 'rwm' }, { allow: true, type: 'b', major: 8, minor: 0xfffffff0, access: 'r' },
  ]));
  const p = deviceProgram(st);
  const run = (t: 'b' | 'c', ma: number, mi: number, a: number) => runProgram(p, t, ma, mi, a);
  assert.equal(run('c', 1, 3, ACC_R), 1);
  assert.equal(run('c', 1, 3, ACC_R | ACC_W), 1);
  assert.equal(run('c', 1, 3, ACC_R | ACC_W | ACC_M), 0, 'rw rule does not grant m; the m wildcard does not grant r');
  assert.equal(run('c', 1, 3, ACC_M), 1, 'c *:* m');
  assert.equal(run('c', 1, 5, ACC_R), 0);
  assert.equal(run('b', 1, 3, ACC_R), 0);
  assert.equal(run('b', 1, 3, ACC_M), 0);
  assert.equal(run('c', 136, 7, ACC_R | ACC_W), 1);
  assert.equal(run('c', 137, 7, ACC_R), 0);
  assert.equal(run('b', 8, 0xfffffff0, ACC_R), 1, 'u32 minors compare as u32');
  assert.equal(run('b', 8, 0xfffffff0, ACC_W), 0);
});

test('BPF device program: blacklist semantics and encoding', () => {
  const st = DeviceState.fromRules(rules([{ allow: true }, { allow: false, type: 'c', major: 1, minor: 3 }]));
  const p = deviceProgram(st);
  assert.equal(runProgram(p, 'c', 1, 3, ACC_R), 0);
  assert.equal(runProgram(p, 'c', 1, 5, ACC_W), 1);
  assert.equal(runProgram(p, 'b', 8, 0, ACC_R), 1);
  const all = deviceProgram(DeviceState.fromRules(rules([{ allow: false }])));
  assert.equal(runProgram(all, 'c', 1, 3, ACC_R), 0);
  const b = encodeProgram(p);
  assert.equal(b.length, p.length * 8);
  assert.deepEqual([...b.subarray(0, 8)], [0x61, 0x12, 0, 0, 0, 0, 0, 0], 'ldxw r2, [r1+0]');
  assert.deepEqual([...b.subarray(b.length - 8)], [0x95, 0, 0, 0, 0, 0, 0, 0], 'exit');
});

const HYBRID = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
32 30 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 30 0:31 /docker/abc /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
34 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
35 30 0:38 / /sys/fs/cgroup/perf\\040x rw,relatime - cgroup cgroup rw,perf_event
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
41 22 0:50 / /other rw - cgroup cgroup rw,freezer
`;

test('layout detection from mountinfo: hybrid, v2, escapes', () => {
  const l = detectLayout('/sys/fs/cgroup', HYBRID);
  assert.equal(l.version, 1);
  assert.equal(l.fake, false);
  assert.deepEqual(l.hierarchies.map((h) => h.name), ['cpu,cpuacct', 'memory', 'pids', 'systemd', 'perf x', 'unified']);
  assert.deepEqual(l.hierarchies[0]!.controllers, ['cpu', 'cpuacct']);
  assert.deepEqual(l.hierarchies[3]!.controllers, ['name=systemd']);
  assert.equal(l.hierarchies[5]!.unified, true);
  const v2 = detectLayout('/sys/fs/cgroup', '25 22 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n');
  assert.equal(v2.version, 2);
  assert.equal(v2.hierarchies[0]!.mountpoint, '/sys/fs/cgroup');
  const u = detectLayout('/sys/fs/cgroup/unified', HYBRID);
  assert.equal(u.version, 2);
});

test('path resolution: absolute vs relative to the own cgroup, mount roots stripped', () => {
  const l = detectLayout('/sys/fs/cgroup', HYBRID);
  const own = ownCgroups('5:pids:/docker/abc/sub\n4:memory:/user.slice\n3:cpu,cpuacct:/\n1:name=systemd:/x\n0::/u\n');
  const [cpu, mem, pids, sd, , uni] = l.hierarchies;
  assert.equal(resolveDir(l, mem!, '/berth/c1', own), '/sys/fs/cgroup/memory/berth/c1');
  assert.equal(resolveDir(l, mem!, 'berth/c1', own), '/sys/fs/cgroup/memory/user.slice/berth/c1');
  assert.equal(resolveDir(l, cpu!, 'berth/c1', own), '/sys/fs/cgroup/cpu,cpuacct/berth/c1');
  assert.equal(resolveDir(l, pids!, 'c1', own), '/sys/fs/cgroup/pids/sub/c1', 'mount root /docker/abc is stripped');
  assert.equal(resolveDir(l, sd!, 'c1', own), '/sys/fs/cgroup/systemd/x/c1');
  assert.equal(resolveDir(l, uni!, 'c1', own), '/sys/fs/cgroup/unified/u/c1');
  assert.throws(() => checkPath('/berth/../etc'), /invalid cgroups path/);
  assert.throws(() => checkPath(''), /invalid cgroups path/);
});

test('fake roots: v2 by cgroup.controllers, v1 by directory names (symlinks deduplicated)', () => {
  const d = tmp();
  try {
    const v1 = join(d, 'v1');
    for (const n of ['cpu,cpuacct', 'memory', 'systemd', 'unified', 'not-a-controller']) mkdirSync(join(v1, n), { recursive: true });
    symlinkSync('cpu,cpuacct', join(v1, 'cpu'));
    symlinkSync('cpu,cpuacct', join(v1, 'cpuacct'));
    writeFileSync(join(v1, 'unified', 'cgroup.controllers'), '');
    const l = detectLayout(v1);
    assert.equal(l.version, 1);
    assert.equal(l.fake, true);
    assert.deepEqual(l.hierarchies.map((h) => h.name).sort(), ['cpu,cpuacct', 'memory', 'systemd', 'unified']);
    const v2 = join(d, 'v2');
    mkdirSync(v2);
    writeFileSync(join(v2, 'cgroup.controllers'), 'cpu memory\n');
    assert.equal(detectLayout(v2).version, 2);
    assert.throws(() => detectLayout(join(d, 'missing')), /no such directory/);
    mkdirSync(join(d, 'empty'));
    assert.throws(() => detectLayout(join(d, 'empty')), /no cgroup hierarchy/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

