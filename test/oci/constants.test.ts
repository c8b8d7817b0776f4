import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import {
  CLONE_NEWCGROUP, CLONE_NEWTIME, NAMESPACES, RLIMITS, isNamespaceType, namespaceFile, namespaceFlag, namespaceInfo, rlimitName, rlimitNumber,
} from '../../src/oci/index.js';

test('namespace types <-> clone flags <-> /proc/PID/ns names', () => {
  const expect: [string, string][] = [['pid', 'pid'], ['network', 'net'], ['mount', 'mnt'], ['ipc', 'ipc'], ['uts', 'uts'],
    ['user', 'user'], ['cgroup', 'cgroup'], ['time', 'time']];
  assert.equal(NAMESPACES.length, 8);
  for (const [type, file] of expect) {
    assert.equal(namespaceFile(type), file);
    assert.equal(namespaceInfo(file)?.type, type);
    assert.equal(namespaceInfo(type)?.file, file);
    assert.ok(isNamespaceType(type));
  }
  assert.equal(namespaceFlag('time'), CLONE_NEWTIME);
  assert.equal(CLONE_NEWTIME, 0x80);
  assert.equal(namespaceFlag('cgroup'), CLONE_NEWCGROUP);
  assert.equal(NAMESPACES[0].type, 'user');
  assert.ok(!isNamespaceType('net'));
  assert.equal(namespaceInfo('bogus'), undefined);
  assert.throws(() => namespaceFlag('net'), /unknown namespace type "net"/);
  assert.throws(() => namespaceFile('bogus'), /unknown namespace type/);
  const flags = NAMESPACES.map((n) => n.flag);
  assert.equal(new Set(flags).size, 8);
});

test('the ns file names exist under /proc/self/ns', (t) => {
  const present = new Set(readdirSync('/proc/self/ns'));
  for (const n of NAMESPACES) {
    // cgroup (4.6) and time (5.6) namespaces depend on the kernel's age and configuration
    if (!present.has(n.file) && (n.type === 'cgroup' || n.type === 'time')) { t.diagnostic(`kernel has no ${n.file} namespace`); continue; }
    assert.ok(present.has(n.file), `/proc/self/ns/${n.file}`);
  }
});

test('rlimits', () => {
  assert.equal(RLIMITS.length, 16);
  assert.equal(rlimitNumber('RLIMIT_NOFILE'), 7);
  assert.equal(rlimitNumber('RLIMIT_RTTIME'), 15);
  assert.equal(rlimitNumber('RLIMIT_CPU'), 0);
  assert.equal(rlimitNumber('RLIMIT_FOO'), undefined);
  assert.equal(rlimitName(9), 'RLIMIT_AS');
  assert.equal(rlimitName(16), undefined);
});
