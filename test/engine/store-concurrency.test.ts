import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openStore, SCHEMA_VERSION } from '../../src/engine/store/index.js';

const STORE_URL = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '../../src/engine/store/index.js')).href;
const IMG = 'sha256:' + 'ab'.repeat(32);

/**
 * A worker: waits for "go" on stdin, then opens the (fresh) store and does `rounds` of what
 * `berth run --rm` does (create with an anonymous volume, running, exited, remove -v), plus
 * creates/removes of a few contended names. Each contended create/remove appends an event in
 * the same transaction so the parent can replay who held which name when.
 */
const WORKER = `
import { openStore } from ${JSON.stringify(STORE_URL)};
const [root, me, rounds] = [process.argv[1], process.argv[2], Number(process.argv[3])];
const out = { me, created: 0, conflicts: 0, removed: 0, errors: [] };
process.stdout.write('ready\\n');
process.stdin.once('data', () => {
  try {
    const s = openStore(root, { eventCap: 100000 });
    for (let i = 0; i < rounds; i++) {
      // Conflicting: everybody wants shared-0..2, and holds it during a --rm cycle.
      const name = 'shared-' + (i % 3);
      let got;
      try {
        got = s.transaction(() => {
          const x = s.containers.create({ name, image: 'busybox', imageId: '${IMG}' });
          s.events.append({ type: 'container', action: 'create', actorId: x.id, attributes: { name, by: me } });
          return x;
        });
        out.created++;
      } catch (e) {
        if (e.kind === 'conflict' && /is already in use by container/.test(e.message)) out.conflicts++;
        else out.errors.push(String(e.code) + ': ' + e.message);
      }
      // Non-conflicting: a --rm style life cycle, random or unique name.
      const c = s.containers.create({ name: i % 2 ? undefined : 'w' + me + '-' + i, image: 'busybox', imageId: '${IMG}', volumes: [{ destination: '/v' }] });
      s.containers.setState(c.id, 'running', { pid: 1000 + i });
      s.containers.setState(c.id, 'exited', { exitCode: 0, expect: ['running'] });
      const r = s.containers.remove(c.id, { volumes: true });
      if (r.removedVolumes.length !== 1) out.errors.push('anonymous volume not removed');
      if (got) {
        s.transaction(() => {
          s.containers.remove(got.id);
          s.events.append({ type: 'container', action: 'destroy', actorId: got.id, attributes: { name, by: me } });
        });
        out.removed++;
      }
    }
    s.close();
  } catch (e) {
    out.errors.push(String(e.code) + ': ' + e.message);
  }
  process.stdout.write(JSON.stringify(out) + '\\n');
  process.exit(out.errors.length ? 1 : 0);
});
`;

interface Result { me: string; created: number; conflicts: number; removed: number; errors: string[] }

function startWorker(root: string, me: number, rounds: number): { child: ChildProcess; ready: Promise<void>; done: Promise<{ code: number | null; result?: Result; stderr: string }> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', WORKER, root, String(me), String(rounds)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let onReady!: () => void;
  const ready = new Promise<void>((res) => { onReady = res; });
  child.stdout!.on('data', (d) => { stdout += d; if (stdout.includes('ready\n')) onReady(); });
  child.stderr!.on('data', (d) => { stderr += d; });
  const done = new Promise<{ code: number | null; result?: Result; stderr: string }>((res) => child.on('close', (code) => {
    const line = stdout.split('\n').find((l) => l.startsWith('{'));
    res({ code, result: line ? JSON.parse(line) as Result : undefined, stderr });
  }));
  return { child, ready, done };
}

test('20 processes at once on a fresh root: no corruption, no duplicate names, no SQLITE_BUSY', { timeout: 120_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-store-conc-'));
  try {
    const rounds = 15;
    const workers = Array.from({ length: 20 }, (_, i) => startWorker(root, i, rounds));
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.child.stdin!.end('go\n');
    const results = await Promise.all(workers.map((w) => w.done));
    for (const r of results) {
      assert.equal(r.code, 0, `worker failed: ${JSON.stringify(r.result)} ${r.stderr}`);
      assert.ok(r.result, 'worker reported');
      assert.deepEqual(r.result.errors, []);
      assert.equal(r.result.created + r.result.conflicts, rounds);
      assert.equal(r.result.removed, r.result.created);
    }
    const totalCreated = results.reduce((t, r) => t + r.result!.created, 0);
    const totalConflicts = results.reduce((t, r) => t + r.result!.conflicts, 0);
    assert.ok(totalCreated >= 3, 'each contended name was taken at least once');
    assert.ok(totalConflicts > 0, 'the contended names really were contended');

    const s = openStore(root);
    try {
      assert.equal(s.db.pragma('integrity_check', { simple: true }), 'ok');
      assert.deepEqual(s.db.pragma('foreign_key_check'), []);
      assert.equal(s.db.prepare('SELECT COUNT(*) FROM schema_version').pluck().get(), SCHEMA_VERSION, 'each migration applied exactly once');
      assert.deepEqual(s.containers.list({ all: true }), [], 'every container was removed');
      assert.deepEqual(s.volumes.list(), [], 'every anonymous volume was removed');
      // Replay the contended names: never two holders at once.
      const holder = new Map<string, string>();
      const evs = s.events.query();
      assert.equal(evs.length, totalCreated * 2);
      for (const e of evs) {
        const name = e.actor.attributes.name;
        if (e.action === 'create') {
          assert.equal(holder.get(name), undefined, `${name} created by ${e.actor.attributes.by} while held by ${holder.get(name)}`);
          holder.set(name, e.actor.attributes.by);
        } else {
          assert.equal(holder.get(name), e.actor.attributes.by);
          holder.delete(name);
        }
      }
      assert.equal(holder.size, 0);
    } finally {
      s.close();
    }
    process.stderr.write(`# contended creates: ${totalCreated}, conflicts: ${totalConflicts}\n`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

const KILLED = `
import { openStore } from ${JSON.stringify(STORE_URL)};
const s = openStore(process.argv[1]);
process.stdout.write('ready\\n');
for (let i = 0; ; i++) {
  s.transaction(() => {
    const c = s.containers.create({ image: 'busybox', imageId: '${IMG}', volumes: [{ destination: '/a' }, { destination: '/b' }] });
    s.events.append({ type: 'container', action: 'create', actorId: c.id });
  });
}
`;

test('a writer killed with SIGKILL mid-stream leaves a consistent store', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-store-kill-'));
  try {
    const child = spawn(process.execPath, ['--input-type=module', '-e', KILLED, root], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res) => child.stdout!.once('data', () => res()));
    await new Promise((r) => setTimeout(r, 300));
    const closed = new Promise((r) => child.on('close', r));
    child.kill('SIGKILL');
    await closed;
    const s = openStore(root);
    try {
      assert.equal(s.db.pragma('integrity_check', { simple: true }), 'ok');
      const n = s.containers.list({ all: true }).length;
      assert.ok(n > 0, 'the writer made progress before being killed');
      // Each committed transaction wrote exactly one container, two volumes, two refs and one event.
      assert.equal(s.volumes.list().length, 2 * n);
      assert.equal(s.db.prepare('SELECT COUNT(*) FROM container_volumes').pluck().get(), 2 * n);
      assert.equal(s.events.count(), n);
      s.containers.create({ name: 'after-kill', image: 'busybox', imageId: IMG });
    } finally {
      s.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
