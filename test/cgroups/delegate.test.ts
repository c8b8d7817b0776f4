/**
 * Finding the cgroup v2 subtree systemd delegates to a user (issue 17, rootless), on fake cgroup
 * trees (this machine may be v1): the topmost cgroup above the process's own that the user owns,
 * its controllers; and what a rootless container gets from it (limits allowed or refused, its
 * cgroup kept in the spec or not). The real kernel's side runs in v2-rootless-guest.test.ts.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findDelegation, type DelegationResult } from '../../src/cgroups/index.js';
import { checkRootlessResources, rootlessSpec } from '../../src/engine/rootless/spec.js';
import { limitRefusal, rootlessCgroupParent } from '../../src/engine/rootless/cgroup.js';
import type { Spec } from '../../src/oci/index.js';
import type { RootlessIds } from '../../src/sys/index.js';

const UID = 4321;
const SVC = `/user.slice/user-${UID}.slice/user@${UID}.service`;

/** A cgroup directory with the interface files a delegate looks at, owned by `uid`. */
function cg(root: string, path: string, controllers: string, uid = 0): void {
  const d = join(root, path);
  mkdirSync(d, { recursive: true });
  for (const [f, v] of [['cgroup.controllers', controllers], ['cgroup.procs', ''], ['cgroup.subtree_control', ''], ['cgroup.threads', '']]) writeFileSync(join(d, f!), v!);
  if (uid) for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) chownSync(join(d, f), uid, uid);
}

const isRoot = process.getuid?.() === 0;

describe('cgroup v2 delegation to a user (fake trees)', { skip: isRoot ? false : 'needs root (chown)' }, () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'berth-deleg-'));
    cg(root, '', 'cpuset cpu io memory hugetlb pids');
    cg(root, '/user.slice', 'cpuset cpu io memory pids');
    cg(root, `/user.slice/user-${UID}.slice`, 'cpu memory pids');
    cg(root, `/user.slice/user-${UID}.slice/session-3.scope`, 'cpu memory pids');
    cg(root, SVC, 'cpu memory pids', UID);
    cg(root, `${SVC}/app.slice`, 'cpu memory pids', UID);
    cg(root, `${SVC}/app.slice/run-1.scope`, '', UID);
    cg(root, '/user.slice/user-99.slice/user@99.service', 'memory', 99);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('a process in user@UID.service (or below): the service is the delegated root, with its controllers', () => {
    for (const own of [SVC, `${SVC}/app.slice/run-1.scope`]) {
      const r = findDelegation({ root, uid: UID, procSelfCgroup: `0::${own}\n` });
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.delegation, { path: SVC, dir: join(root, SVC), controllers: ['cpu', 'memory', 'pids'], own });
      assert.equal(rootlessCgroupParent(r), `${SVC}/berth.slice`);
    }
  });

  it('a login session scope (root\'s) is not delegated: the reason says to run inside user@UID.service', () => {
    const r = findDelegation({ root, uid: UID, procSelfCgroup: `0::/user.slice/user-${UID}.slice/session-3.scope\n` });
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, new RegExp(`session-3\\.scope is not delegated to uid ${UID} \\(${SVC.replace(/[.@]/g, '\\$&')} is delegated to it: run berth inside it, e.g. systemd-run --user --scope`));
    assert.equal(rootlessCgroupParent(r), undefined);
  });

  it('another user\'s delegated cgroup, the root cgroup, or a missing v2 entry: none', () => {
    const other = findDelegation({ root, uid: 98, procSelfCgroup: '0::/user.slice/user-99.slice/user@99.service\n' });
    assert.equal(other.ok, false);
    assert.match((other as { reason: string }).reason, /not delegated to uid 98 \(systemd delegates user@UID\.service/);
    assert.equal(findDelegation({ root, uid: UID, procSelfCgroup: '0::/\n' }).ok, false);
    assert.match((findDelegation({ root, uid: UID, procSelfCgroup: '1:name=systemd:/x\n' }) as { reason: string }).reason, /no cgroup v2 entry/);
  });

  it('cgroup v1: no delegation', () => {
    const v1 = mkdtempSync(join(tmpdir(), 'berth-deleg1-'));
    try {
      for (const h of ['memory', 'cpu,cpuacct', 'pids']) mkdirSync(join(v1, h));
      const r = findDelegation({ root: v1, uid: UID, procSelfCgroup: `4:memory:${SVC}\n0::${SVC}\n` });
      assert.equal(r.ok, false);
      assert.match((r as { reason: string }).reason, /cgroup v1/);
    } finally { rmSync(v1, { recursive: true, force: true }); }
  });
});

describe('rootless limits and spec with and without a delegated cgroup', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-deleg-spec-'));
  writeFileSync(join(dir, 'cgroup.subtree_control'), 'memory pids');
  writeFileSync(join(dir, 'cgroup.procs'), '');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const delegated: DelegationResult = { ok: true, delegation: { path: SVC, dir, controllers: ['memory', 'pids'], own: SVC } };
  const none: DelegationResult = { ok: false, reason: 'cgroup v1 has no delegation to users' };

  it('a limit whose controller is delegated passes; one whose controller is not is refused, naming it', () => {
    checkRootlessResources({ memory: 64 << 20, pidsLimit: 20, memorySwap: -1 }, 'run', delegated);
    assert.equal(limitRefusal('memory', delegated), undefined);
    assert.throws(() => checkRootlessResources({ memory: 64 << 20, nanoCpus: 5e8 }, 'run', delegated),
      /^.*run: --cpus: Your kernel does not support CPU CFS scheduler or the cgroup is not mounted \(rootless: the cpu controller is not delegated to this user \(.*cgroup\.controllers: memory pids; systemd: Delegate=memory pids cpu/);
    assert.throws(() => checkRootlessResources({ memory: 64 << 20 }, 'create', none),
      /create: -m\/--memory: Your kernel does not support memory limit capabilities or the cgroup is not mounted \(rootless: cgroup v1, or cgroup v2 without systemd delegation to this user, gives no cgroup to set limits in: cgroup v1 has no delegation/);
    checkRootlessResources({ pidsLimit: -1, memorySwap: -1 }, 'run', none); // "unlimited" is no limit
  });

  const ids: RootlessIds = {
    uid: UID, gid: UID, user: String(UID), mode: 'single', reason: 'test',
    uidMappings: [{ containerID: 0, hostID: UID, size: 1 }], gidMappings: [{ containerID: 0, hostID: UID, size: 1 }],
    storageUid: [], storageGid: [], uidCount: 1, gidCount: 1,
  };
  const spec = (): Spec => ({
    ociVersion: '1.2.0', process: { cwd: '/', args: ['true'], user: { uid: 0, gid: 0 } }, root: { path: '/r' },
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'cgroup' }], cgroupsPath: `${SVC}/berth.slice/abc`,
      resources: { memory: { limit: 64 << 20 }, pids: { limit: 20 }, devices: [{ allow: false, access: 'rwm' }] },
    },
  });

  it('delegated: the spec keeps its cgroup, limits and cgroup namespace, without the device rules', () => {
    const s = spec();
    rootlessSpec(s, ids, { cgroup: delegated });
    assert.equal(s.linux!.cgroupsPath, `${SVC}/berth.slice/abc`);
    assert.deepEqual(s.linux!.resources, { memory: { limit: 64 << 20 }, pids: { limit: 20 } });
    assert.deepEqual(s.linux!.namespaces!.map((n) => n.type), ['pid', 'mount', 'cgroup', 'user']);
  });

  it('not delegated: no cgroup, no resources, no cgroup namespace (as before)', () => {
    const s = spec();
    rootlessSpec(s, ids, { cgroup: none });
    assert.equal(s.linux!.cgroupsPath, undefined);
    assert.equal(s.linux!.resources, undefined);
    assert.deepEqual(s.linux!.namespaces!.map((n) => n.type), ['pid', 'mount', 'user']);
  });
});
