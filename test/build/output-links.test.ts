/**
 * `berth build -o type=local|tar` keeps hard links as links (one inode on disk, a `link` entry in
 * the tar) and device nodes and FIFOs as themselves (major/minor kept).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli } from '../cli/run-util.js';
import { untar } from './util.js';

const why = cannotRun();

test('berth build -o: hard links, devices and FIFOs kept', { skip: why || false, timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bout-'));
  try {
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest AS b\nRUN mkdir /x && echo a > /x/a && ln /x/a /x/b && mknod -m 640 /x/null c 1 3 && mkfifo /x/p\n'
      + 'FROM scratch\nCOPY --from=b /x /x\n');
    await withCli(async (c) => {
      const local = join(dir, 'out');
      await c.ok(['build', '-q', '--target', 'b', '-o', `type=local,dest=${local}`, dir]);
      const a = lstatSync(join(local, 'x/a'));
      const b = lstatSync(join(local, 'x/b'));
      assert.equal(a.ino, b.ino, 'one inode');
      assert.equal(a.nlink, 2);
      assert.equal(readFileSync(join(local, 'x/b'), 'utf8'), 'a\n');
      const n = lstatSync(join(local, 'x/null'));
      assert.ok(n.isCharacterDevice());
      assert.equal(n.rdev, 0x103);
      assert.equal(n.mode & 0o7777, 0o640);
      assert.ok(lstatSync(join(local, 'x/p')).isFIFO());
      const file = join(dir, 'out.tar');
      await c.ok(['build', '-q', '--target', 'b', '-o', `type=tar,dest=${file}`, dir]);
      const entries = await untar(readFileSync(file));
      assert.equal(entries.get('x/b')?.header.type, 'link');
      assert.equal(entries.get('x/b')?.header.linkname, 'x/a');
      const dev = entries.get('x/null')?.header;
      assert.deepEqual([dev?.type, dev?.devmajor, dev?.devminor], ['character-device', 1, 3]);
      assert.equal(entries.get('x/p')?.header.type, 'fifo');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
