/**
 * Ingests a killed writer left: which ones the next ingest sweeps, which a prune removes, and
 * that a live writer in another process (its lock naming its pid and start time) never loses its
 * ingest; a stale lock taken over by many processes at once goes to exactly one of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContentStore, ownerTag } from '../../src/content/index.js';

const CONTENT = fileURLToPath(new URL('../../src/content/index.js', import.meta.url));

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

/** A lock as another process writes it: `<pid> <boot>.<pid>.<starttime>`. */
function lockOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  return `${pid} ${ownerTag().split('.')[0]}.${pid}.${start}`;
}

/** An ingest left on disk as a writer leaves it: `<name>/{ref,data}` and optionally its lock. */
function leaveIngest(root: string, name: string, bytes: number, lock?: string, ageMs = 0): void {
  const dir = join(root, 'ingest', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ref'), name);
  writeFileSync(join(dir, 'data'), Buffer.alloc(bytes, 1));
  if (ageMs) { const t = new Date(Date.now() - ageMs); utimesSync(join(dir, 'data'), t, t); }
  if (lock !== undefined) writeFileSync(join(root, 'ingest', `${name}.lock`), lock);
}

test('the next ingest sweeps dead writers\' private ingests, keeps recent resumable ones and live writers\'; prune takes all stale', async () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-sweep-'));
  const live = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const dead = deadPid();
    leaveIngest(root, 'commit-1-2-abc', 4096, `${dead} ${ownerTag().split('.')[0]}.${dead}.1`); // killed commit
    leaveIngest(root, 'load-9-x', 1000); // no lock at all
    leaveIngest(root, 'blob-sha256-aaaa', 2048, String(dead)); // a killed pull's download, recent
    leaveIngest(root, 'blob-sha256-bbbb', 512, undefined, 2 * 24 * 3600_000); // one left two days ago
    leaveIngest(root, 'commit-live', 100, lockOf(live.pid!)); // another process is writing it
    // a pid reused by another process does not make a dead writer alive
    leaveIngest(root, 'import-reused', 10, `${live.pid} ${ownerTag().split('.')[0]}.${live.pid}.1`);
    writeFileSync(join(root, 'ingest', `x.lock.${dead}.deadbeef`), '');
    const s = new ContentStore(root);
    const w = await s.ingest('write-new');
    await w.abort();
    const names = () => readdirSync(join(root, 'ingest')).filter((n) => !n.endsWith('.lock')).sort();
    assert.deepEqual(names(), ['blob-sha256-aaaa', 'commit-live']);
    const st = await s.ingests();
    assert.equal(st.find((i) => i.ref === 'commit-live')?.activePid, live.pid);
    assert.equal(st.find((i) => i.ref === 'blob-sha256-aaaa')?.activePid, undefined);
    const r = await s.pruneIngestsReport();
    assert.deepEqual(r, { removed: 1, bytes: 2048 });
    assert.deepEqual(names(), ['commit-live'], 'a live writer keeps its ingest through a prune');
    assert.deepEqual(readdirSync(join(root, 'ingest')).sort(), ['commit-live', 'commit-live.lock']);
  } finally {
    live.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});

test('a stale lock taken over by 8 processes at once goes to exactly one', async () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-takeover-'));
  try {
    for (let round = 0; round < 2; round++) {
      const lock = join(root, `r${round}.lock`);
      writeFileSync(lock, String(deadPid()));
      // the winner holds the lock until every contender has answered (its stdin ends)
      const script = `import(${JSON.stringify(CONTENT)}).then(async (c) => {
        try { await c.lockFile(${JSON.stringify(lock)}, 'x'); process.stdout.write('got'); process.stdin.resume(); await new Promise((r) => process.stdin.on('end', r)); }
        catch (e) { process.stdout.write(e.kind ?? String(e)); }
      });`;
      const kids = Array.from({ length: 8 }, () => spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] }));
      const outs = await Promise.all(kids.map((p) => new Promise<string>((resolve) => {
        p.stdout!.setEncoding('utf8').once('data', (d: string) => resolve(d));
        p.on('close', () => resolve('(no answer)'));
      })));
      for (const k of kids) k.stdin!.end();
      await Promise.all(kids.map((k) => new Promise((r) => (k.exitCode !== null ? r(null) : k.on('close', r)))));
      assert.equal(outs.filter((o) => o === 'got').length, 1, `round ${round}: ${outs.join(',')}`);
      assert.ok(outs.every((o) => o === 'got' || o === 'conflict'), outs.join(','));
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
