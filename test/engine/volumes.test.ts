import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../src/lib/index.js';
import { EngineCore } from '../../src/engine/containers/index.js';
import {
  ANONYMOUS_LABEL, createVolume, inspectVolume, listVolumes, pruneVolumes, removeVolume, treeSize,
} from '../../src/engine/volumes.js';
import { watchEvents } from '../../src/engine/system.js';
import type { EngineEvent } from '../../src/engine/store/index.js';

const IMG = 'sha256:' + 'ab'.repeat(32);

function withCore(fn: (core: EngineCore, root: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const root = mkdtempSync(join(tmpdir(), 'berth-vol-'));
    const core = new EngineCore({ root, runRoot: join(root, 'run'), env: {}, bridge: 'none' });
    try {
      await fn(core, root);
    } finally {
      await core.close();
      rmSync(root, { recursive: true, force: true });
    }
  };
}

function berthErr(kind: string, message: string | RegExp) {
  return (e: unknown) => e instanceof BerthError && e.kind === kind
    && (typeof message === 'string' ? e.message === message : message.test(e.message));
}

const volumeEvents = (core: EngineCore) => core.store.events.query({ filters: { type: ['volume'] } }).map((e) => `${e.action} ${e.actor.id} ${JSON.stringify(e.actor.attributes)}`);

test('createVolume: Docker\'s directory layout and modes, idempotent, one create event, anonymous label', withCore(async (core, root) => {
  const v = await createVolume(core, { name: 'data', labels: { team: 'a' } });
  assert.equal(v.mountpoint, join(root, 'volumes', 'data', '_data'));
  assert.equal(statSync(join(root, 'volumes')).mode & 0o777, 0o701);
  assert.equal(statSync(join(root, 'volumes', 'data')).mode & 0o777, 0o701);
  assert.equal(statSync(v.mountpoint).mode & 0o777, 0o755);
  const again = await createVolume(core, { name: 'data', labels: { other: 'x' } });
  assert.deepEqual(again.labels, { team: 'a' }, 'an existing volume is returned unchanged');
  assert.deepEqual(volumeEvents(core), ['create data {"driver":"local"}']);

  const anon = await createVolume(core);
  assert.match(anon.name, /^[0-9a-f]{64}$/);
  assert.ok(existsSync(anon.mountpoint));
  const j = inspectVolume(core, anon.name);
  assert.deepEqual(j.Labels, { [ANONYMOUS_LABEL]: '' });
  assert.equal(j.Scope, 'local');
  assert.equal(j.Driver, 'local');
  assert.match(j.CreatedAt as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual(Object.keys(inspectVolume(core, 'data')), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
  assert.deepEqual(listVolumes(core).map((x) => x.name), [anon.name, 'data'].sort());
  assert.deepEqual(listVolumes(core, { label: ['team=a'] }).map((x) => x.name), ['data']);
}));

test('createVolume refuses bad names, other drivers and driver options, leaving nothing behind', withCore(async (core, root) => {
  await assert.rejects(createVolume(core, { name: 'a/b' }), berthErr('invalid', /^create a\/b: "a\/b" includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed/));
  await assert.rejects(createVolume(core, { name: 'x' }), berthErr('invalid', /^create x: "x" includes invalid characters/));
  await assert.rejects(createVolume(core, { name: 'xx', driver: 'nfs' }), berthErr('invalid', /driver "nfs" is not supported/));
  await assert.rejects(createVolume(core, { name: 'xx', options: { foo: 'bar' } }), berthErr('invalid', 'create xx: invalid option: "foo"'));
  await assert.rejects(createVolume(core, { name: 'xx', options: { type: 'tmpfs', device: 'tmpfs' } }), berthErr('invalid', /driver options \(type, device\) are not supported/));
  assert.deepEqual(listVolumes(core), []);
  assert.deepEqual(existsSync(join(root, 'volumes')) ? readdirSync(join(root, 'volumes')) : [], []);
  assert.deepEqual(volumeEvents(core), []);
}));

test('removeVolume: in use is refused even forced, with Docker\'s message; missing is notfound unless forced', withCore(async (core, root) => {
  await createVolume(core, { name: 'vol' });
  const c = core.store.containers.create({ image: 'busybox', imageId: IMG, volumes: [{ name: 'vol', destination: '/data' }] });
  const c2 = core.store.containers.create({ image: 'busybox', imageId: IMG, volumes: [{ name: 'vol', destination: '/other' }] });
  await assert.rejects(removeVolume(core, 'vol'), berthErr('conflict', `remove vol: volume is in use - [${c.id}, ${c2.id}]`));
  await assert.rejects(removeVolume(core, 'vol', { force: true }), berthErr('conflict', /volume is in use/));
  assert.ok(existsSync(join(root, 'volumes', 'vol', '_data')), 'the data stays');
  core.store.containers.remove(c.id, { force: true });
  core.store.containers.remove(c2.id, { force: true });
  writeFileSync(join(root, 'volumes', 'vol', '_data', 'f'), 'x');
  assert.equal(await removeVolume(core, 'vol'), true);
  assert.ok(!existsSync(join(root, 'volumes', 'vol')));
  assert.deepEqual(readdirSync(join(root, 'volumes')), [], 'no trash left behind');
  await assert.rejects(removeVolume(core, 'vol'), berthErr('notfound', 'get vol: no such volume'));
  assert.equal(await removeVolume(core, 'vol', { force: true }), false);
  assert.deepEqual(volumeEvents(core), ['create vol {"driver":"local"}', 'destroy vol {"driver":"local"}']);
  await assert.rejects(async () => inspectVolume(core, 'vol'), berthErr('notfound', 'get vol: no such volume'));
}));

test('pruneVolumes: only unused anonymous volumes unless all; labels; bytes reclaimed; prune event', withCore(async (core, root) => {
  const anon = await createVolume(core);
  const anonUsed = await createVolume(core);
  const anonLabelled = await createVolume(core, { labels: { keep: 'yes' } });
  await createVolume(core, { name: 'named' });
  core.store.containers.create({ image: 'busybox', imageId: IMG, volumes: [{ name: anonUsed.name, destination: '/d' }] });
  writeFileSync(join(anon.mountpoint, 'a'), Buffer.alloc(1000));
  mkdirSync(join(anon.mountpoint, 'sub'));
  writeFileSync(join(anon.mountpoint, 'sub', 'b'), Buffer.alloc(234));

  let r = await pruneVolumes(core, { filters: { 'label!': ['keep=yes'] } });
  assert.deepEqual(r, { VolumesDeleted: [anon.name], SpaceReclaimed: 1234 });
  assert.ok(!existsSync(join(root, 'volumes', anon.name)));
  r = await pruneVolumes(core);
  assert.deepEqual(r.VolumesDeleted, [anonLabelled.name]);
  assert.deepEqual(listVolumes(core).map((v) => v.name).sort(), [anonUsed.name, 'named'].sort());
  r = await pruneVolumes(core, { filters: { all: ['true'] } });
  assert.deepEqual(r.VolumesDeleted, ['named']);
  assert.deepEqual(listVolumes(core).map((v) => v.name), [anonUsed.name], 'a volume in use is never pruned');
  assert.deepEqual(readdirSync(join(root, 'volumes')), [anonUsed.name]);
  await assert.rejects(pruneVolumes(core, { filters: { until: ['1h'] } }), berthErr('invalid', "invalid filter 'until'"));
  await assert.rejects(pruneVolumes(core, { filters: { all: ['maybe'] } }), berthErr('invalid', "invalid filter 'all=maybe'"));
  const prunes = core.store.events.query({ filters: { type: ['volume'], event: ['prune'] } });
  assert.deepEqual(prunes.map((e) => e.actor.attributes.reclaimed), ['1234', '0', '0']);
}));

test('pruneVolumes sweeps trash a crashed removal left behind, but not fresh trash', withCore(async (core, root) => {
  await createVolume(core, { name: 'vv' });
  const old = join(root, 'volumes', '.removing-old-00000000');
  const fresh = join(root, 'volumes', '.removing-fresh-00000000');
  mkdirSync(join(old, '_data'), { recursive: true });
  mkdirSync(fresh);
  utimesSync(old, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
  await pruneVolumes(core);
  assert.ok(!existsSync(old));
  assert.ok(existsSync(fresh));
  assert.ok(existsSync(join(root, 'volumes', 'vv', '_data')));
}));

test('treeSize: apparent bytes of files, directories not counted, hard links once, missing tree 0', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-size-'));
  try {
    writeFileSync(join(dir, 'a'), Buffer.alloc(100));
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'd', 'b'), Buffer.alloc(50));
    linkSync(join(dir, 'a'), join(dir, 'd', 'a-link'));
    writeFileSync(join(dir, 'empty'), '');
    assert.equal(treeSize(dir), 150);
    assert.equal(treeSize(join(dir, 'nope')), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function collect(gen: AsyncGenerator<EngineEvent>): Promise<EngineEvent[]> {
  const out: EngineEvent[] = [];
  for await (const e of gen) out.push(e);
  return out;
}

test('watchEvents: past window with since/until, filters, following new events until aborted', withCore(async (core) => {
  const t0 = BigInt(Date.now()) * 1_000_000n;
  await createVolume(core, { name: 'e1' });
  await createVolume(core, { name: 'e2' });
  await removeVolume(core, 'e1');
  const past = await collect(watchEvents(core, { since: t0, until: BigInt(Date.now() + 1) * 1_000_000n }));
  assert.deepEqual(past.map((e) => `${e.action} ${e.actor.id}`), ['create e1', 'create e2', 'destroy e1']);
  const filtered = await collect(watchEvents(core, { since: t0, follow: false, filters: { event: ['destroy'] } }));
  assert.deepEqual(filtered.map((e) => e.actor.id), ['e1']);
  await assert.rejects(collect(watchEvents(core, { filters: { bogus: ['x'] } })), berthErr('invalid', "invalid filter 'bogus'"));

  // Following: no since/until = only what happens from now on.
  const ac = new AbortController();
  const seen: string[] = [];
  const follower = (async () => {
    for await (const e of watchEvents(core, { signal: ac.signal, pollMs: 20 })) {
      seen.push(`${e.action} ${e.actor.id}`);
      if (seen.length === 2) ac.abort();
    }
  })();
  await new Promise((r) => setTimeout(r, 60));
  await createVolume(core, { name: 'e3' });
  await removeVolume(core, 'e3');
  const guard = setTimeout(() => ac.abort(), 5000);
  await follower;
  clearTimeout(guard);
  assert.deepEqual(seen, ['create e3', 'destroy e3']);

  // An until in the near future ends the stream by itself.
  const start = Date.now();
  const until = BigInt(start + 300) * 1_000_000n;
  const gen = collect(watchEvents(core, { since: BigInt(start) * 1_000_000n, until, pollMs: 20 }));
  await createVolume(core, { name: 'e4' });
  const got = await gen;
  assert.ok(Date.now() - start >= 290, 'followed until the deadline');
  assert.deepEqual(got.map((e) => e.actor.id), ['e4']);
  await assert.rejects(collect(watchEvents(core, { since: until, until: t0 })), berthErr('invalid', /`since` time \(\d+\.\d{9}\) cannot be after `until` time/));
}));
