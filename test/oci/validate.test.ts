import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/lib/index.js';
import {
  configProblems, exampleSpec, runtimeFeatures, validateConfig, validateFeatures, validateProcess, validateState, type Spec,
} from '../../src/oci/index.js';
import { fullConfig } from './fixtures.js';

const RUNC_MASKED = exampleSpec().linux!.maskedPaths!.length;

function messages(spec: unknown): string[] {
  return configProblems(spec).map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
}

function thrown(fn: () => void): BerthError {
  try { fn(); } catch (e) {
    assert.ok(e instanceof BerthError, `not a BerthError: ${e}`);
    return e;
  }
  assert.fail('did not throw');
}

function broken(patch: (s: any) => void): any {
  const s: any = exampleSpec();
  patch(s);
  return s;
}

test('the example specs and a full config validate', () => {
  validateConfig(exampleSpec());
  validateConfig(exampleSpec({ rootless: true, uid: 1000, gid: 1000 }));
  validateConfig(exampleSpec({ cgroupns: true }));
  validateConfig(fullConfig());
});

test('a schema problem gives kind invalid, op "validate config.json" and a path-style message', () => {
  const e = thrown(() => validateConfig(broken((s) => { s.process.user.uid = 'root'; }), '/b/config.json'));
  assert.equal(e.kind, 'invalid');
  assert.equal(e.op, 'validate config.json');
  assert.equal(e.path, '/b/config.json');
  assert.equal(e.message, 'validate config.json /b/config.json: process.user.uid: must be integer');
});

test('semantic problems the schema cannot express', () => {
  const cases: [(s: any) => void, string][] = [
    [(s) => { delete s.root; }, 'root.path: is required'],
    [(s) => { s.root = {}; }, 'root.path: is required'],
    [(s) => { s.root.path = ''; }, 'root.path: must not be empty'],
    [(s) => { s.process.cwd = 'tmp'; }, 'process.cwd: must be an absolute path'],
    [(s) => { s.process.args = []; }, 'process.args: must have at least one entry'],
    [(s) => { s.mounts[2].destination = 'dev/pts'; }, 'mounts[2].destination: must be an absolute path'],
    [(s) => { s.process.capabilities.bounding.push('CAP_FOO'); }, 'process.capabilities.bounding[3]: unknown capability "CAP_FOO"'],
    [(s) => { s.process.capabilities.ambient = ['cap_kill']; }, 'process.capabilities.ambient[0]: unknown capability "cap_kill"'],
    [(s) => { s.linux.namespaces.push({ type: 'pid' }); }, 'linux.namespaces[5].type: namespace "pid" is listed twice'],
    [(s) => { s.linux.namespaces.push({ type: 'user', path: 'proc/1/ns/user' }); s.linux.uidMappings = undefined; },
      'linux.namespaces[5].path: must be an absolute path'],
    [(s) => { s.process.rlimits.push({ type: 'RLIMIT_FOO', soft: 1, hard: 1 }); }, 'process.rlimits[1].type: unknown resource limit "RLIMIT_FOO"'],
    [(s) => { s.process.rlimits.push({ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }); }, 'process.rlimits[1].type: RLIMIT_NOFILE is listed twice'],
    [(s) => { s.process.rlimits[0].soft = 2048; }, 'process.rlimits[0]: soft limit is above the hard limit'],
    [(s) => { s.hooks = { poststop: [{ path: 'rm' }] }; }, 'hooks.poststop[0].path: must be an absolute path'],
    [(s) => { s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]; }, 'linux.uidMappings: needs a user namespace'],
    [(s) => { s.linux.timeOffsets = { monotonic: { secs: 1 } }; }, 'linux.timeOffsets: needs a time namespace'],
    [(s) => { s.linux.devices = [{ path: 'dev/x', type: 'c', major: 1, minor: 3 }]; }, 'linux.devices[0].path: must be an absolute path'],
    [(s) => { s.linux.maskedPaths.push('proc/kcore'); }, `linux.maskedPaths[${RUNC_MASKED}]: must be an absolute path`],
    [(s) => { s.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 8 }; }, 'process.ioPriority.priority: must be between 0 and 7'],
  ];
  for (const [patch, expected] of cases) {
    assert.deepEqual(messages(broken(patch)), [expected]);
    const e = thrown(() => validateConfig(broken(patch)));
    assert.equal(e.message, `validate config.json: ${expected}`);
  }
});
test('schema problems: types, enums, required members', () => {
  assert.deepEqual(messages(broken((s) => { s.linux.namespaces[0].type = 'pidns'; })),
    ['linux.namespaces[0].type: must be one of "mount", "pid", "network", "uts", "ipc", "user", "cgroup", "time"']);
  assert.deepEqual(messages(broken((s) => { delete s.process.cwd; })), ['process.cwd: is required']);
  assert.deepEqual(messages(broken((s) => { s.process.rlimits[0].hard = -1; })), ['process.rlimits[0].hard: must be >= 0']);
  assert.deepEqual(messages(broken((s) => { s.process.terminal = 'yes'; })), ['process.terminal: must be boolean']);
  assert.deepEqual(messages(null), ['must be object']);
  assert.deepEqual(messages({}), ['ociVersion: is required', 'root.path: is required']);
});

test('the message lists five problems and counts the rest', () => {
  const s: any = exampleSpec();
  s.mounts = s.mounts.map((m: any) => ({ ...m, destination: m.destination.slice(1) }));
  const e = thrown(() => validateConfig(s));
  assert.equal(e.message, 'validate config.json: ' + [0, 1, 2, 3, 4].map((i) => `mounts[${i}].destination: must be an absolute path`).join('; ') + ' (and 2 more)');
});

test('validateConfig narrows the type', () => {
  const raw: unknown = JSON.parse(JSON.stringify(exampleSpec()));
  validateConfig(raw);
  const spec: Spec = raw;
  assert.equal(spec.process?.args?.[0], 'sh');
});

test('state documents', () => {
  validateState({ ociVersion: '1.3.0', id: 'c1', status: 'running', pid: 42, bundle: '/b', annotations: { a: 'b' } });
  validateState({ ociVersion: '1.3.0', id: 'c1', status: 'stopped', bundle: '/b' });
  assert.match(thrown(() => validateState({ ociVersion: '1.3.0', id: 'c1', status: 'paused', bundle: '/b', pid: 1 })).message,
    /^validate state: status: must be one of "creating", "created", "running", "stopped"$/);
  assert.equal(thrown(() => validateState({ ociVersion: '1.3.0', id: 'c1', status: 'created', bundle: '/b' })).message,
    'validate state: pid: is required when the status is created');
  assert.equal(thrown(() => validateState({ ociVersion: '1.3.0', status: 'stopped', bundle: '/b', pid: -1 })).message,
    'validate state: id: is required; pid: must be >= 0');
});

test('features documents', () => {
  validateFeatures(runtimeFeatures());
  assert.equal(thrown(() => validateFeatures({ ociVersionMin: '1.0.0' })).message, 'validate features: ociVersionMax: is required');
  assert.equal(thrown(() => validateFeatures({ ...runtimeFeatures(), linux: { namespaces: ['net'] } })).message,
    'validate features: linux.namespaces[0]: must be one of "mount", "pid", "network", "uts", "ipc", "user", "cgroup", "time"');
});

test('process.json on its own', () => {
  validateProcess(exampleSpec().process);
  const e = thrown(() => validateProcess({ cwd: 'tmp', args: [], user: { uid: -1 } }, '/tmp/p.json'));
  assert.equal(e.op, 'validate process.json');
  assert.equal(e.message, 'validate process.json /tmp/p.json: user.uid: must be >= 0; cwd: must be an absolute path; args: must have at least one entry');
  assert.equal(thrown(() => validateProcess('x')).message, 'validate process.json: must be object');
  assert.equal(thrown(() => validateProcess({ args: ['sh'] })).message, 'validate process.json: cwd: is required');
});

test('linux.rootfsPropagation: every keyword runc and crun accept (containerd writes rshared/rslave), and "" as unset', () => {
  for (const v of ['private', 'shared', 'slave', 'unbindable', 'rprivate', 'rshared', 'rslave', 'runbindable', '']) {
    assert.deepEqual(messages(broken((s) => { s.linux.rootfsPropagation = v; })), [], v);
  }
  assert.deepEqual(messages(broken((s) => { s.linux.rootfsPropagation = 'recursive'; })),
    ['linux.rootfsPropagation: must be one of "private", "shared", "slave", "unbindable", "rprivate", "rshared", "rslave", "runbindable"']);
  assert.deepEqual(messages(broken((s) => { s.linux.rootfsPropagation = 1; })), ['linux.rootfsPropagation: must be string']);
});
