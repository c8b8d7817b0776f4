/**
 * A large context (2,000 files) rebuilt with the file-hash cache: unchanged, every step hits; one
 * file changed among them (same size, its mtime forced back), replaced by another inode, added or
 * removed: the COPY and what follows miss, and the image has the new content. The cache must
 * never trust a stamp taken while the file could still change within the same timestamp tick.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli, type Cli } from '../cli/run-util.js';
import { FileHashes, RACY_MS } from '../../src/build/hashes.js';

const why = cannotRun();

async function cached(c: Cli, dir: string): Promise<number> {
  const r = await c.berth(['build', '--progress=plain', '-t', 'large:1', dir]);
  assert.equal(r.code, 0, r.err);
  return (r.err.match(/^#\d+ CACHED$/gm) ?? []).length;
}

test('berth build: one file changed in a large context is seen', { skip: why || false, timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-blarge-'));
  try {
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest\nCOPY . /ctx/\nRUN cat /ctx/d17/f23 /ctx/d3/f3 > /seen && find /ctx -type f | wc -l > /count\n');
    for (let d = 0; d < 40; d++) {
      mkdirSync(join(dir, `d${d}`));
      for (let f = 0; f < 50; f++) writeFileSync(join(dir, `d${d}`, `f${f}`), `${d}/${f}\n`);
    }
    // older than any tick: the first build may keep every stamp
    const past = new Date(Date.now() - 10_000);
    for (let d = 0; d < 40; d++) for (let f = 0; f < 50; f++) utimesSync(join(dir, `d${d}`, `f${f}`), past, past);
    await withCli(async (c) => {
      const seen = async () => (await c.ok(['run', '--rm', 'large:1', 'cat', '/seen', '/count'])).split('\n');
      assert.equal(await cached(c, dir), 0, 'cold');
      assert.deepEqual(await seen(), ['17/23', '3/3', '2001']);
      assert.equal(await cached(c, dir), 2, 'unchanged: COPY and RUN hit');

      // same size, mtime put back: only the ctime tells
      const file = join(dir, 'd17', 'f23');
      const before = lstatSync(file);
      writeFileSync(file, '17/XX\n');
      utimesSync(file, before.atime, before.mtime);
      assert.equal(await cached(c, dir), 0, 'one file changed: the COPY and the RUN miss');
      assert.deepEqual(await seen(), ['17/XX', '3/3', '2001']);
      assert.equal(await cached(c, dir), 2, 'unchanged again');

      // replaced by a new inode with the same size and times
      const other = join(dir, 'd3', 'f3.new');
      writeFileSync(other, '3/Y\n');
      utimesSync(other, past, past);
      renameSync(other, join(dir, 'd3', 'f3'));
      assert.equal(await cached(c, dir), 0, 'replaced: misses');
      assert.deepEqual(await seen(), ['17/XX', '3/Y', '2001']);

      writeFileSync(join(dir, 'd39', 'new'), 'new\n');
      assert.equal(await cached(c, dir), 0, 'a file added: misses');
      assert.deepEqual(await seen(), ['17/XX', '3/Y', '2002']);
      rmSync(join(dir, 'd0', 'f0'));
      assert.equal(await cached(c, dir), 0, 'a file removed: misses');
      assert.deepEqual(await seen(), ['17/XX', '3/Y', '2001']);
      assert.equal(await cached(c, dir), 2, 'unchanged at last');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file-hash cache: a digest read within a tick of the file\'s change is not kept', async () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-bhashes-'));
  try {
    const h = await FileHashes.load(root);
    const now = Date.now();
    const st = { dev: 1, ino: 2, size: 3, mtimeMs: now - RACY_MS / 2, ctimeMs: now - RACY_MS / 2 };
    h.set(st, 'a'.repeat(64), now);
    assert.equal(h.get(st), undefined, 'changed just before it was read: a second write in the same tick would keep its stamps');
    const old = { ...st, ino: 3, mtimeMs: now - 5000, ctimeMs: now - 5000 };
    h.set(old, 'b'.repeat(64), now);
    assert.equal(h.get(old), 'b'.repeat(64));
    await h.save();
    const again = await FileHashes.load(root);
    assert.equal(again.get(old), 'b'.repeat(64), 'kept');
    assert.equal(again.get({ ...old, ctimeMs: old.ctimeMs + 0.001 }), undefined, 'a ctime a microsecond later is another stamp');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
