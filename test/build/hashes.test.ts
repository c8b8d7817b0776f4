/**
 * The file-hash cache (`<data-root>/builder/file-hashes`): an unchanged rebuild takes the context's
 * digests from it (by device, inode, size, mtime and ctime) instead of reading the files; the step
 * key stays the content digest, so a touched but unchanged file still hits, and a file rewritten
 * with the same size and its mtime forced back misses (its ctime moved). The cache outlives the
 * process: each build here is a new CLI process, and a poisoned entry is what the next one uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, sleep, withCli, type Cli } from '../cli/run-util.js';
import { RACY_MS } from '../../src/build/hashes.js';

const why = cannotRun();

async function cached(c: Cli, dir: string): Promise<number> {
  const r = await c.berth(['build', '--progress=plain', '-t', 'hashes:1', dir]);
  assert.equal(r.code, 0, r.err);
  return (r.err.match(/^#\d+ CACHED$/gm) ?? []).length;
}

const stamp = (p: string) => {
  const st = lstatSync(p);
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
};
const re = (s: string) => s.replace(/\./g, '\\.');

test('berth build: the file-hash cache', { skip: why || false, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bhash-'));
  try {
    await withCli(async (c) => {
      const file = join(c.root, 'builder', 'file-hashes');
      writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest\nCOPY a b /ctx/\n');
      writeFileSync(join(dir, 'a'), 'aaaa\n');
      writeFileSync(join(dir, 'b'), 'bbbb\n');
      await sleep(RACY_MS + 100); // a stamp taken within a tick of the change is not kept
      assert.equal(await cached(c, dir), 0, 'cold');
      const lines = readFileSync(file, 'utf8');
      assert.match(lines, new RegExp(`^${re(stamp(join(dir, 'a')))} [0-9a-f]{64}$`, 'm'), 'a is in the persisted cache');
      assert.equal(await cached(c, dir), 1, 'unchanged');

      const later = new Date(Date.now() + 60_000);
      utimesSync(join(dir, 'a'), later, later);
      assert.equal(await cached(c, dir), 1, 'touched, unchanged: the key is the content');

      const before = lstatSync(join(dir, 'a'));
      writeFileSync(join(dir, 'a'), 'AAAA\n');
      utimesSync(join(dir, 'a'), before.atime, before.mtime);
      assert.equal(lstatSync(join(dir, 'a')).mtimeMs, before.mtimeMs);
      assert.equal(await cached(c, dir), 0, 'same size, mtime forced back: the ctime moved, a misses');
      assert.equal(await c.ok(['run', '--rm', 'hashes:1', 'cat', '/ctx/a']), 'AAAA');

      // a new process uses what the last one stored: b's entry poisoned, the COPY's key changes
      assert.equal(await cached(c, dir), 1, 'unchanged again');
      const b = stamp(join(dir, 'b'));
      const text = readFileSync(file, 'utf8');
      assert.match(text, new RegExp(`^${re(b)} `, 'm'));
      writeFileSync(file, text.replace(new RegExp(`^${re(b)} [0-9a-f]{64}$`, 'm'), `${b} ${'0'.repeat(64)}`));
      assert.equal(await cached(c, dir), 0, 'the poisoned digest was used: the cache survived the process');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
