import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSnapshotter, probeOverlay, type DriverName } from '../../src/snapshots/index.js';
import { buildTar, sha256, streamOf, tempDir } from './helpers.js';

const overlayOK = probeOverlay('/tmp').ok;
const child = join(dirname(fileURLToPath(import.meta.url)), 'killchild.js');

function runUntilReady(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d; });
    p.stdout.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('ready')) p.kill('SIGKILL');
    });
    p.on('close', (code, signal) => {
      if (signal === 'SIGKILL' && out.includes('ready')) resolve();
      else reject(new Error(`child ended with ${code ?? signal} before being killed: ${err}`));
    });
  });
}

for (const driver of ['overlay', 'copy'] as DriverName[]) {
  test(`unpack (${driver}) killed in the middle leaves no committed snapshot; the next open cleans up`, async (t) => {
    if (driver === 'overlay' && !overlayOK) return t.skip('overlayfs unavailable here');
    const { dir: root, cleanup } = tempDir(`kill-${driver}`);
    try {
      const base = await buildTar([{ name: 'base', data: 'b' }]);
      const files = Array.from({ length: 200 }, (_, i) => ({ name: `d/f${i}`, data: Buffer.alloc(2000, i) }));
      const layer = await buildTar(files);
      const tarFile = join(root, 'layer.tar');
      writeFileSync(tarFile, layer);
      const sroot = join(root, 'store');
      let s = await openSnapshotter({ root: sroot, driver });
      const parent = (await s.unpackLayer({ tarStream: streamOf(base) })).chainID;
      s.close();

      await runUntilReady([sroot, driver, parent, tarFile]);
      // the dead process left a half-written snapshot behind
      const dirs = readdirSync(join(sroot, 'snapshots'));
      assert.equal(dirs.length, 2, 'parent + the partial unpack');
      const partial = dirs.find((d) => d !== '1')!;
      assert.ok(readdirSync(join(sroot, 'snapshots', partial, 'fs', 'd')).length > 0, 'it had written files');

      s = await openSnapshotter({ root: sroot, driver });
      try {
        assert.deepEqual(s.list().map((i) => [i.key, i.kind]), [[parent, 'committed']]);
        assert.deepEqual(readdirSync(join(sroot, 'snapshots')), ['1']);
        assert.deepEqual(readdirSync(join(sroot, 'tmp')), []);
        assert.deepEqual(readdirSync(join(sroot, 'trash')), []);
        // and the next unpack of the same layer finishes cleanly
        const r = await s.unpackLayer({ parent, tarStream: streamOf(layer) });
        assert.equal(r.diffID, sha256(layer));
        assert.equal(r.reused, false);
      } finally {
        s.close();
      }
    } finally {
      cleanup();
    }
  });
}

test('open removes what dead processes left: orphan snapshot dirs, tmp and trash entries', async () => {
  const { dir: root, cleanup } = tempDir('orphans');
  try {
    let s = await openSnapshotter({ root, driver: 'copy' });
    await s.prepare('live');
    s.close();
    const dead = 'deadbeef.1.1'; // another boot: certainly not running
    for (const p of ['snapshots/999/fs/x', `tmp/${dead}-abc/fs/y`, `trash/${dead}-def/z`]) {
      mkdirSync(join(root, p), { recursive: true });
    }
    s = await openSnapshotter({ root, driver: 'copy' });
    try {
      assert.deepEqual(s.list().map((i) => i.key), ['live'], 'user snapshots are kept');
      assert.deepEqual(readdirSync(join(root, 'snapshots')), [String(s.stat('live')!.id)]);
      assert.deepEqual(readdirSync(join(root, 'tmp')), []);
      assert.deepEqual(readdirSync(join(root, 'trash')), []);
    } finally {
      s.close();
    }
  } finally {
    cleanup();
  }
});
