import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../src/lib/index.js';
import {
  openStore, type Store, SCHEMA_VERSION, TRANSITIONS, CONTAINER_STATUSES, canTransition, randomName, WORD_LISTS,
  parseFilters, formatNs, parseTimeNs, parseUntil, type ContainerStatus,
} from '../../src/engine/store/index.js';

const IMG = 'sha256:' + 'ab'.repeat(32);
const IMG2 = 'sha256:' + 'cd'.repeat(32);

function withStore(fn: (s: Store, root: string) => void | Promise<void>, opts = {}): () => Promise<void> {
  return async () => {
    const root = mkdtempSync(join(tmpdir(), 'berth-store-'));
    const s = openStore(root, opts);
    try {
      await fn(s, root);
    } finally {
      s.close();
      rmSync(root, { recursive: true, force: true });
    }
  };
}

function berthErr(kind: string, re: RegExp) {
  return (e: unknown) => e instanceof BerthError && e.kind === kind && re.test(e.message) && e.op.length > 0;
}

test('openStore: engine.db in WAL with busy_timeout, every migration recorded once, reopen is a no-op', withStore((s, root) => {
  assert.equal(s.path, join(root, 'engine.db'));
  assert.ok(existsSync(s.path));
  assert.equal(s.db.pragma('journal_mode', { simple: true }), 'wal');
  assert.ok((s.db.pragma('busy_timeout', { simple: true }) as number) >= 1000);
  assert.equal(s.db.pragma('foreign_keys', { simple: true }), 1);
  assert.equal(s.schemaVersion(), SCHEMA_VERSION);
  assert.equal(SCHEMA_VERSION, 3); // 2: restart policy bookkeeping (manual_stop, restart_timeout_ms); 3: networks
  const again = openStore(root);
  try {
    assert.equal(again.db.prepare('SELECT COUNT(*) FROM schema_version').pluck().get(), SCHEMA_VERSION);
  } finally { again.close(); }
}));

test('openStore refuses a database from a newer schema', withStore((s, root) => {
  s.db.prepare("INSERT INTO schema_version (version, description, applied) VALUES (99, 'future', 'x')").run();
  assert.throws(() => openStore(root), berthErr('invalid', /schema version 99 is newer/));
}));

test('create: 64-hex id, adjective_surname name, defaults, labels from config', withStore((s, root) => {
  const c = s.containers.create({ image: 'busybox:latest', imageId: IMG, config: { Cmd: ['sh'], Labels: { a: '1' } }, hostConfig: { AutoRemove: true } });
  assert.match(c.id, /^[0-9a-f]{64}$/);
  assert.match(c.name, /^[a-z]+_[a-z]+$/);
  const [adj, sur] = c.name.split('_');
  assert.ok((WORD_LISTS.adjectives as readonly string[]).includes(adj) && (WORD_LISTS.surnames as readonly string[]).includes(sur));
  assert.equal(c.state.status, 'created');
  assert.equal(c.state.pid, 0);
  assert.equal(c.state.startedAt, null);
  assert.deepEqual(c.labels, { a: '1' });
  assert.deepEqual(c.config, { Cmd: ['sh'], Labels: { a: '1' } });
  assert.deepEqual(c.hostConfig, { AutoRemove: true });
  assert.equal(c.bundleDir, join(root, 'containers', c.id));
  assert.equal(c.logPath, join(root, 'containers', c.id, `${c.id}-json.log`));
  assert.match(c.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.ok(Math.abs(Number(parseTimeNs(c.created)! / 1_000_000n) - Date.now()) < 5000);
  assert.notEqual(s.containers.create({ image: 'x', imageId: IMG }).id, c.id);
  assert.match(randomName(1), /^[a-z]+_[a-z]+\d$/);
}));

test('create: name conflicts give Docker\'s message; invalid names are refused; nothing is half-written', withStore((s) => {
  const a = s.containers.create({ name: 'web', image: 'busybox', imageId: IMG });
  assert.equal(a.name, 'web');
  assert.throws(() => s.containers.create({ name: '/web', image: 'busybox', imageId: IMG, volumes: [{ destination: '/data' }] }),
    (e: unknown) => e instanceof BerthError && e.kind === 'conflict' && e.message ===
      `Conflict. The container name "/web" is already in use by container "${a.id}". You have to remove (or rename) that container to be able to reuse that name.`);
  assert.equal(s.volumes.list().length, 0, 'the anonymous volume of the failed create was rolled back');
  for (const bad of ['a', '-x', 'x y', 'é1', '_ab']) {
    assert.throws(() => s.containers.create({ name: bad, image: 'b', imageId: IMG }), berthErr('invalid', /^Invalid container name \(.*\), only \[a-zA-Z0-9\]\[a-zA-Z0-9_.-\] are allowed$/));
  }
  assert.equal(s.containers.create({ name: '/slashed', image: 'b', imageId: IMG }).name, 'slashed');
  assert.throws(() => s.containers.create({ image: 'b', imageId: IMG, volumes: [{ destination: '/d' }, { destination: '/d' }] }), berthErr('invalid', /Duplicate mount point: \/d/));
  assert.equal(s.containers.list({ all: true }).length, 2);
}));

test('lookup: exact id, then exact name, then unique id prefix; ambiguous prefix and unknown refs', withStore((s) => {
  const made = Array.from({ length: 40 }, (_, i) => s.containers.create({ name: `c${i}`, image: 'b', imageId: IMG }));
  const a = made[0];
  assert.equal(s.containers.get(a.id).id, a.id);
  assert.equal(s.containers.get('c0').id, a.id);
  assert.equal(s.containers.get('/c0').id, a.id);
  assert.equal(s.containers.get(a.id.slice(0, 12)).id, a.id);
  // A name that is also another container's id prefix: the name wins (Docker's order).
  const b = made[1];
  const named = s.containers.create({ name: b.id.slice(0, 8), image: 'b', imageId: IMG });
  assert.equal(s.containers.get(b.id.slice(0, 8)).id, named.id);
  // 41 ids over 16 first hex digits: some single-digit prefix is shared.
  const counts = new Map<string, number>();
  for (const c of s.containers.list({ all: true })) counts.set(c.id[0], (counts.get(c.id[0]) ?? 0) + 1);
  const shared = [...counts].find(([, n]) => n > 1)![0];
  assert.throws(() => s.containers.get(shared), berthErr('invalid', new RegExp(`^multiple IDs found with provided prefix: ${shared}$`)));
  assert.throws(() => s.containers.get('nope'), berthErr('notfound', /^No such container: nope$/));
  assert.equal(s.containers.find('0123456789abcdef'.repeat(4)), undefined);
  assert.throws(() => s.containers.get(''), berthErr('invalid', /empty/));
}));

test('state table: every allowed transition works, every other one names both states', withStore((s) => {
  assert.deepEqual([...CONTAINER_STATUSES].sort(), Object.keys(TRANSITIONS).sort());
  const reach: Record<ContainerStatus, ContainerStatus[]> = {
    created: [], running: ['running'], paused: ['running', 'paused'], restarting: ['running', 'restarting'],
    exited: ['running', 'exited'], removing: ['removing'], dead: ['dead'],
  };
  let n = 0;
  for (const from of CONTAINER_STATUSES) {
    for (const to of CONTAINER_STATUSES) {
      const c = s.containers.create({ image: 'b', imageId: IMG });
      for (const step of reach[from]) s.containers.setState(c.id, step, { pid: 42, exitCode: 3 });
      assert.equal(s.containers.get(c.id).state.status, from);
      if (canTransition(from, to)) {
        assert.equal(s.containers.setState(c.id, to, { pid: 43, exitCode: 1 }).state.status, to);
        n++;
      } else {
        assert.throws(() => s.containers.setState(c.id, to, { pid: 43, exitCode: 1 }),
          berthErr('conflict', new RegExp(`invalid state transition from ${from} to ${to}$`)));
        assert.equal(s.containers.get(c.id).state.status, from, 'unchanged after a refused transition');
      }
    }
  }
  assert.equal(n, Object.values(TRANSITIONS).reduce((t, l) => t + l.length, 0));
}));

test('state fields follow Docker: start, pause, exit with OOM, restart count, expect guard', withStore((s) => {
  const c = s.containers.create({ image: 'b', imageId: IMG });
  assert.throws(() => s.containers.setState(c.id, 'running'), berthErr('invalid', /needs a pid/));
  let r = s.containers.setState(c.id, 'running', { pid: 1234, monitorPid: 1200 });
  assert.equal(r.state.pid, 1234);
  assert.equal(r.state.monitorPid, 1200);
  assert.ok(r.state.startedAt);
  const started = r.state.startedAt;
  r = s.containers.setState(c.id, 'paused');
  r = s.containers.setState(c.id, 'running');
  assert.equal(r.state.pid, 1234, 'unpause keeps the pid');
  assert.equal(r.state.startedAt, started);
  assert.throws(() => s.containers.setState(c.id, 'exited'), berthErr('invalid', /needs an exit code/));
  r = s.containers.setState(c.id, 'exited', { exitCode: 137, oomKilled: true });
  assert.deepEqual([r.state.pid, r.state.exitCode, r.state.oomKilled, r.state.finishedAt !== null], [0, 137, true, true]);
  r = s.containers.setState(c.id, 'restarting', { exitCode: 1 });
  assert.equal(r.state.restartCount, 1);
  r = s.containers.setState(c.id, 'running', { pid: 99 });
  assert.deepEqual([r.state.exitCode, r.state.oomKilled, r.state.restartCount], [0, false, 1]);
  r = s.containers.setState(c.id, 'exited', { exitCode: 0, expect: ['running'] });
  assert.throws(() => s.containers.setState(c.id, 'running', { pid: 5, expect: ['created'] }), berthErr('conflict', /container is exited, not created/));
  r = s.containers.setState(c.id, 'running', { pid: 5, resetRestartCount: true });
  assert.equal(r.state.restartCount, 0);
  r = s.containers.update(c.id, { exitCode: 126, error: 'exec failed', monitorPid: 7, startedAt: null });
  assert.deepEqual([r.state.status, r.state.exitCode, r.state.error, r.state.monitorPid, r.state.startedAt], ['running', 126, 'exec failed', 7, null]);
  r = s.containers.update(c.id, { config: { Cmd: ['x'] }, logPath: '/tmp/l', labels: { z: '1' } });
  assert.deepEqual([r.config, r.logPath, r.labels], [{ Cmd: ['x'] }, '/tmp/l', { z: '1' }]);
  assert.throws(() => s.containers.update('missing', { error: 'x' }), berthErr('notfound', /No such container: missing/));
}));

test('rename: conflict, same name, invalid name, success keeps the id', withStore((s) => {
  const a = s.containers.create({ name: 'one', image: 'b', imageId: IMG });
  const b = s.containers.create({ name: 'two', image: 'b', imageId: IMG });
  assert.throws(() => s.containers.rename('one', 'two'), berthErr('conflict', new RegExp(`"/two" is already in use by container "${b.id}"`)));
  assert.throws(() => s.containers.rename('one', 'one'), berthErr('invalid', /same name as its current name/));
  assert.throws(() => s.containers.rename('one', 'b d'), berthErr('invalid', /Invalid container name/));
  const r = s.containers.rename(a.id.slice(0, 10), '/three');
  assert.deepEqual([r.oldName, r.container.name, r.container.id], ['one', 'three', a.id]);
  assert.equal(s.containers.find('one'), undefined);
  assert.equal(s.containers.create({ name: 'one', image: 'b', imageId: IMG }).name, 'one', 'the old name is free again');
}));

test('remove: refused while running unless forced; -v removes only unshared anonymous volumes', withStore((s) => {
  s.volumes.create({ name: 'named' });
  const a = s.containers.create({ name: 'ca', image: 'b', imageId: IMG, volumes: [{ destination: '/anon' }, { name: 'named', destination: '/n' }, { name: 'auto', destination: '/auto', rw: false }] });
  assert.equal(a.volumes.length, 3);
  const anon = a.volumes.find((v) => v.destination === '/anon')!.name;
  assert.match(anon, /^[0-9a-f]{64}$/);
  assert.equal(s.volumes.get(anon).anonymous, true);
  assert.equal(s.volumes.get('auto').anonymous, false, 'a missing named volume is created as named');
  assert.equal(a.volumes.find((v) => v.name === 'auto')!.rw, false);
  // b shares the anonymous volume (--volumes-from).
  const b = s.containers.create({ name: 'cb', image: 'b', imageId: IMG, volumes: [{ name: anon, destination: '/anon' }] });
  s.containers.setState('ca', 'running', { pid: 10 });
  assert.throws(() => s.containers.remove('ca'), berthErr('conflict', /^You cannot remove a running container [0-9a-f]{64}\. Stop the container/));
  s.containers.setState('ca', 'paused');
  assert.throws(() => s.containers.remove('ca'), berthErr('conflict', /You cannot remove a paused container/));
  let r = s.containers.remove('ca', { force: true, volumes: true });
  assert.deepEqual(r.removedVolumes, [], 'the anonymous volume is still used by b');
  assert.equal(s.containers.find('ca'), undefined);
  assert.equal(s.db.prepare('SELECT COUNT(*) FROM container_volumes WHERE container_id = ?').pluck().get(a.id), 0);
  r = s.containers.remove(b.id, { volumes: true });
  assert.deepEqual(r.removedVolumes.map((v) => v.name), [anon]);
  assert.deepEqual(s.volumes.list().map((v) => v.name).sort(), ['auto', 'named']);
  assert.throws(() => s.containers.remove('ca'), berthErr('notfound', /No such container: ca/));
}));

test('list: running only by default, newest first, -n, and every ps filter', withStore((s) => {
  s.volumes.create({ name: 'data' });
  const mk = (name: string, image: string, imageId: string, labels: Record<string, string>) =>
    s.containers.create({ name, image, imageId, labels, volumes: name === 'web' ? [{ name: 'data', destination: '/srv' }] : [] });
  const web = mk('web', 'nginx:latest', IMG, { tier: 'front', env: 'prod' });
  const db = mk('db', 'postgres:16', IMG2, { tier: 'back' });
  mk('job', 'busybox:latest', IMG, {});
  const fresh = mk('fresh', 'busybox:latest', IMG, {});
  s.containers.setState('web', 'running', { pid: 1 });
  s.containers.setState('db', 'running', { pid: 2 });
  s.containers.setState('db', 'paused');
  s.containers.setState('job', 'running', { pid: 3 });
  s.containers.setState('job', 'exited', { exitCode: 3 });
  const names = (o: Parameters<Store['containers']['list']>[0]) => s.containers.list(o).map((c) => c.name);
  assert.deepEqual(names({}), ['db', 'web']);
  assert.deepEqual(names({ all: true }), ['fresh', 'job', 'db', 'web']);
  assert.deepEqual(names({ limit: 2 }), ['fresh', 'job']);
  const f = (...args: string[]) => names({ all: true, filters: parseFilters(args) });
  assert.deepEqual(f('status=exited'), ['job']);
  assert.deepEqual(names({ filters: parseFilters(['status=exited', 'status=created']) }), ['fresh', 'job'], 'a status filter implies -a');
  assert.deepEqual(f('name=e'), ['fresh', 'web']);
  assert.deepEqual(f('name=^/we'), ['web']);
  assert.deepEqual(f(`id=${web.id.slice(0, 6)}`), ['web']);
  assert.deepEqual(f('label=tier'), ['db', 'web']);
  assert.deepEqual(f('label=tier=front'), ['web']);
  assert.deepEqual(f('label=tier', 'label=env=prod'), ['web'], 'label filters are ANDed');
  assert.deepEqual(f('ancestor=busybox'), ['fresh', 'job']);
  assert.deepEqual(f('ancestor=postgres:16', 'ancestor=nginx:latest'), ['db', 'web'], 'values of one key are ORed');
  assert.deepEqual(f(`ancestor=${IMG2.slice(7, 19)}`), ['db']);
  assert.deepEqual(f('exited=3'), ['job']);
  assert.deepEqual(f('exited=0'), []);
  assert.deepEqual(f('before=job'), ['db', 'web']);
  assert.deepEqual(f(`since=${db.id}`), ['fresh', 'job']);
  assert.deepEqual(f('volume=data'), ['web']);
  assert.deepEqual(f('volume=/srv'), ['web']);
  assert.deepEqual(f('status=running', 'label=tier'), ['web'], 'different keys are ANDed');
  assert.deepEqual(s.containers.list({ all: true, filters: { ancestor: ['mine'] } }, (v) => v === 'mine' ? [IMG2] : undefined).map((c) => c.name), ['db']);
  assert.throws(() => f('status=sleeping'), berthErr('invalid', /invalid filter 'status=sleeping'/));
  assert.throws(() => f('color=red'), berthErr('invalid', /invalid filter 'color'/));
  assert.throws(() => f('exited=x'), berthErr('invalid', /exited=x/));
  assert.throws(() => f('before=nothing'), berthErr('notfound', /No such container: nothing/));
  assert.throws(() => parseFilters(['novalue']), berthErr('invalid', /bad format of filter/));
  assert.equal(fresh.state.status, 'created');
}));

test('container prune candidates and image usage for system df', withStore((s) => {
  const a = s.containers.create({ name: 'ca', image: 'b', imageId: IMG, labels: { keep: 'yes' } });
  s.containers.create({ name: 'cb', image: 'b', imageId: IMG });
  s.containers.create({ name: 'cc', image: 'c', imageId: IMG2 });
  s.containers.setState('cc', 'running', { pid: 1 });
  assert.deepEqual(s.containers.pruneCandidates().map((c) => c.name).sort(), ['ca', 'cb']);
  assert.deepEqual(s.containers.pruneCandidates({ 'label!': ['keep'] }).map((c) => c.name), ['cb']);
  assert.deepEqual(s.containers.pruneCandidates({ label: ['keep=yes'] }).map((c) => c.name), ['ca']);
  assert.deepEqual(s.containers.pruneCandidates({ until: ['1h'] }), [], 'all were created less than an hour ago');
  assert.equal(s.containers.pruneCandidates({ until: [String(Date.now() / 1000 + 60)] }).length, 2);
  assert.throws(() => s.containers.pruneCandidates({ status: ['x'] }), berthErr('invalid', /invalid filter 'status'/));
  assert.throws(() => parseUntil('prune', 'yesterday'), berthErr('invalid', /until=yesterday/));
  assert.equal(parseUntil('p', '1h30m', 10_000_000), 10_000_000 - 5_400_000);
  assert.deepEqual([...s.containers.imageUsage()].sort(), [[IMG, 2], [IMG2, 1]]);
  const u = s.systemUsage();
  assert.equal(u.containers.length, 3);
  assert.equal(u.images.get(IMG), 2);
  s.containers.remove(a.id);
  assert.equal(s.containers.imageUsage().get(IMG), 1);
}));

test('volumes: create is idempotent, list filters, in-use removal refused, prune', withStore((s, root) => {
  const { volume: v, created } = s.volumes.create({ name: 'data', labels: { app: 'x' }, options: { type: 'tmpfs' } });
  assert.equal(created, true);
  assert.deepEqual([v.driver, v.mountpoint, v.anonymous, v.options], ['local', join(root, 'volumes', 'data', '_data'), false, { type: 'tmpfs' }]);
  assert.equal(s.volumes.create({ name: 'data' }).created, false);
  const anon = s.volumes.create().volume;
  assert.match(anon.name, /^[0-9a-f]{64}$/);
  assert.throws(() => s.volumes.create({ name: 'a/b' }), berthErr('invalid', /includes invalid characters for a local volume name/));
  assert.throws(() => s.volumes.create({ name: 'zz', driver: 'nfs' }), berthErr('invalid', /driver "nfs" is not supported/));
  const c = s.containers.create({ name: 'user', image: 'b', imageId: IMG, volumes: [{ name: 'data', destination: '/d' }] });
  assert.throws(() => s.volumes.remove('data'), berthErr('conflict', new RegExp(`^remove data: volume is in use - \\[${c.id}\\]$`)));
  assert.throws(() => s.volumes.remove('ghost'), berthErr('notfound', /^get ghost: no such volume$/));
  assert.equal(s.volumes.remove('ghost', { force: true }), undefined);
  assert.throws(() => s.volumes.get('ghost'), berthErr('notfound', /no such volume/));
  s.volumes.create({ name: 'spare' });
  assert.deepEqual(s.volumes.list({ dangling: ['true'] }).map((x) => x.name).sort(), [anon.name, 'spare'].sort());
  assert.deepEqual(s.volumes.list({ dangling: ['false'] }).map((x) => x.name), ['data']);
  assert.deepEqual(s.volumes.list({ label: ['app=x'] }).map((x) => x.name), ['data']);
  assert.deepEqual(s.volumes.list({ name: ['par'] }).map((x) => x.name), ['spare']);
  assert.throws(() => s.volumes.list({ dangling: ['maybe'] }), berthErr('invalid', /dangling=maybe/));
  const use = s.volumes.usage();
  assert.equal(use.find((u) => u.volume.name === 'data')!.refCount, 1);
  assert.deepEqual(s.volumes.users('data'), [c.id]);
  assert.deepEqual(s.volumes.prune().map((x) => x.name), [anon.name], 'default prune: unused anonymous only');
  assert.deepEqual(s.volumes.prune({ all: true }).map((x) => x.name), ['spare']);
  s.containers.remove('user');
  assert.deepEqual(s.volumes.prune({ all: true, filters: { 'label!': ['app'] } }), []);
  assert.equal(s.volumes.remove('data')!.name, 'data');
  assert.deepEqual(s.volumes.list(), []);
}));

test('events: append, since/until, afterId follow, Docker filters, cap pruning', withStore((s) => {
  const base = 1_700_000_000_000_000_000n;
  const add = (type: 'container' | 'image' | 'volume', action: string, actorId: string, attributes: Record<string, string>, dt: bigint) =>
    s.events.append({ type, action, actorId, attributes, timeNano: base + dt });
  const cid = 'e'.repeat(64);
  add('container', 'create', cid, { name: 'web', image: 'busybox:latest', tier: 'front' }, 1n);
  add('container', 'exec_create: sh -c true', cid, { name: 'web', image: 'busybox:latest' }, 2n);
  add('image', 'pull', 'busybox:latest', { name: 'busybox' }, 3n);
  add('volume', 'create', 'data', { driver: 'local' }, 4n);
  const e = add('container', 'die', cid, { name: 'web', exitCode: '0' }, 5_000_000_000n);
  assert.equal(e.time, 1_700_000_005);
  assert.equal(e.timeNano, base + 5_000_000_000n);
  assert.equal(e.scope, 'local');
  const all = s.events.query();
  assert.deepEqual(all.map((x) => x.action), ['create', 'exec_create: sh -c true', 'pull', 'create', 'die']);
  assert.ok(all.every((x, i) => i === 0 || x.id > all[i - 1].id));
  assert.equal(s.events.query({ since: base + 2n, until: base + 4n }).length, 3);
  assert.deepEqual(s.events.query({ afterId: all[3].id }).map((x) => x.action), ['die']);
  assert.equal(s.events.lastId(), all[4].id);
  const q = (f: Record<string, string[]>) => s.events.query({ filters: f }).map((x) => x.action);
  assert.deepEqual(q({ type: ['image', 'volume'] }), ['pull', 'create']);
  assert.deepEqual(q({ event: ['exec_create'] }), ['exec_create: sh -c true']);
  assert.deepEqual(q({ container: ['web'], event: ['die', 'create'] }), ['create', 'die']);
  assert.deepEqual(q({ container: [cid.slice(0, 5)] }).length, 3);
  assert.deepEqual(q({ image: ['busybox'] }), ['create', 'exec_create: sh -c true', 'pull']);
  assert.deepEqual(q({ volume: ['data'] }), ['create']);
  assert.deepEqual(q({ label: ['tier=front'] }), ['create']);
  assert.deepEqual(s.events.query({ limit: 2 }).length, 2);
  assert.throws(() => q({ colour: ['x'] }), berthErr('invalid', /invalid filter 'colour'/));
  assert.throws(() => s.events.append({ type: 'plugin' as 'image', action: 'x', actorId: 'y' }), berthErr('invalid', /unknown event type plugin/));
}));

test('events are capped: old ones pruned as new ones arrive', withStore((s) => {
  for (let i = 0; i < 300; i++) s.events.append({ type: 'container', action: 'start', actorId: String(i) });
  assert.ok(s.events.count() <= 50 + 64, `count ${s.events.count()}`);
  const evs = s.events.query();
  assert.equal(evs[evs.length - 1].actor.id, '299');
  assert.equal(s.events.pruneTo(10) >= 0, true);
  assert.equal(s.events.count(), 10);
  assert.equal(s.events.query()[0].actor.id, '290');
}, { eventCap: 50 }));

test('transaction: several changes commit together or not at all', withStore((s) => {
  const c = s.containers.create({ name: 'old', image: 'b', imageId: IMG });
  assert.throws(() => s.transaction(() => {
    s.containers.rename('old', 'new');
    s.events.append({ type: 'container', action: 'rename', actorId: c.id, attributes: { oldName: '/old', name: '/new' } });
    throw new Error('boom');
  }), /boom/);
  assert.equal(s.containers.get(c.id).name, 'old');
  assert.equal(s.events.count(), 0);
  s.transaction(() => {
    s.containers.rename('old', 'new');
    s.events.append({ type: 'container', action: 'rename', actorId: c.id, attributes: { oldName: '/old' } });
  });
  assert.equal(s.containers.get(c.id).name, 'new');
  assert.equal(s.events.count(), 1);
}));

test('schema constraints hold even for raw writes', withStore((s) => {
  assert.throws(() => s.db.prepare("INSERT INTO containers (id, name, image, image_id, created, status, log_path, bundle_dir, updated) VALUES ('xyz', 'n', 'i', 'i', 'c', 'created', '', '', '')").run(), /CHECK/);
  const c = s.containers.create({ image: 'b', imageId: IMG });
  assert.throws(() => s.db.prepare("UPDATE containers SET status = 'zombie' WHERE id = ?").run(c.id), /CHECK/);
  assert.throws(() => s.db.prepare("INSERT INTO container_volumes (container_id, volume_name, destination) VALUES (?, 'none', '/x')").run(c.id), /FOREIGN KEY/);
}));

test('time helpers: fixed-width RFC 3339 that sorts as text and round-trips', () => {
  const t = 1_700_000_000_123_456_789n;
  assert.equal(formatNs(t), '2023-11-14T22:13:20.123456789Z');
  assert.equal(parseTimeNs(formatNs(t)), t);
  assert.equal(parseTimeNs('2023-11-14T23:13:20.5+01:00'), 1_700_000_000_500_000_000n);
  assert.equal(parseTimeNs('yesterday'), undefined);
  assert.ok(formatNs(t) < formatNs(t + 1n));
});
