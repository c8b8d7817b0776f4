import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/lib/index.js';
import {
  CAPABILITIES, CAP_LAST_CAP, DOCKER_DEFAULT_CAPS, RUNC_SPEC_CAPS, allCapsMask, capMask, capName, capNames, capNumber, isCapability,
} from '../../src/oci/index.js';

test('names and numbers', () => {
  assert.equal(CAPABILITIES.length, 41);
  assert.equal(CAP_LAST_CAP, 40);
  assert.equal(capNumber('CAP_CHOWN'), 0);
  assert.equal(capNumber('CAP_SYS_ADMIN'), 21);
  assert.equal(capNumber('CAP_CHECKPOINT_RESTORE'), 40);
  assert.equal(capName(13), 'CAP_NET_RAW');
  assert.equal(new Set(CAPABILITIES).size, 41);
  for (const [i, n] of CAPABILITIES.entries()) assert.equal(capNumber(n), i);
  assert.ok(isCapability('CAP_BPF'));
  assert.ok(!isCapability('cap_bpf'));
  assert.ok(!isCapability('BPF'));
  assert.throws(() => capName(41), /unknown capability number 41/);
});

test('capMask', () => {
  assert.equal(capMask([]), 0n);
  assert.equal(capMask(undefined), 0n);
  assert.equal(capMask(['CAP_CHOWN']), 1n);
  assert.equal(capMask(['CAP_KILL', 'CAP_KILL']), 1n << 5n);
  assert.equal(capMask(['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']), (1n << 29n) | (1n << 5n) | (1n << 10n));
  assert.equal(capMask(['CAP_CHECKPOINT_RESTORE']), 1n << 40n);
  assert.equal(capMask(CAPABILITIES), allCapsMask());
  assert.equal(allCapsMask(), 0x1ffffffffffn);
  // Docker's default set: the well-known 0xa80425fb (as in /proc/PID/status CapBnd of a docker container)
  assert.equal(capMask(DOCKER_DEFAULT_CAPS), 0xa80425fbn);
  assert.deepEqual(capNames(capMask(RUNC_SPEC_CAPS)), ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE']);
  assert.deepEqual(capNames(1n << 63n), []);
});

test('capMask throws on an unknown capability', () => {
  assert.throws(() => capMask(['CAP_CHOWN', 'CAP_FOO']), (e: unknown) =>
    e instanceof BerthError && e.kind === 'invalid' && e.message === 'unknown capability "CAP_FOO"');
  assert.throws(() => capNumber('chown'), /unknown capability "chown"/);
});

test('default sets', () => {
  assert.equal(DOCKER_DEFAULT_CAPS.length, 14);
  assert.deepEqual([...RUNC_SPEC_CAPS], ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
  for (const c of [...DOCKER_DEFAULT_CAPS, ...RUNC_SPEC_CAPS]) assert.ok(isCapability(c), c);
});
