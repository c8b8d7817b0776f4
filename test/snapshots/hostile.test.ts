import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../../src/lib/index.js';
import { applyLayer, removeLayerDir, type ApplyMode } from '../../src/snapshots/index.js';
import { buildTar, streamOf, tempDir, type TEntry } from './helpers.js';

/**
 * Each case runs with an "outside" directory next to the layer dir holding a victim file; the
 * layer must be refused, name the bad entry, and leave the outside untouched.
 */
interface Case { name: string; entries: (outside: string) => TEntry[]; bad: string; why: RegExp; modes?: ApplyMode[] }

const cases: Case[] = [
  { name: 'dot-dot', entries: () => [{ name: '../evil', data: 'x' }], bad: '../evil', why: /"\.\." component/ },
  { name: 'dot-dot inside', entries: () => [{ name: 'a/../../evil', data: 'x' }], bad: 'a/../../evil', why: /"\.\." component/ },
  { name: 'absolute', entries: (o) => [{ name: `${o}/evil`, data: 'x' }], bad: '/evil', why: /absolute/ },
  {
    name: 'write through symlink', bad: 'x/file', why: /parent x is a symlink/,
    entries: (o) => [{ name: 'x', type: 'symlink', linkname: o }, { name: 'x/file', data: 'pwned' }],
  },
  {
    name: 'directory through symlink', bad: 'x/sub/', why: /parent x is a symlink/,
    entries: (o) => [{ name: 'x', type: 'symlink', linkname: o }, { name: 'x/sub/', type: 'directory' }],
  },
  {
    name: 'symlink to .. chain', bad: 'up/up/up/evil', why: /parent up is a symlink/,
    entries: () => [{ name: 'up', type: 'symlink', linkname: '..' }, { name: 'up/up/up/evil', data: 'x' }],
  },
  {
    name: 'relative symlink escaping', bad: 'd/l/victim', why: /parent d\/l is a symlink/,
    entries: (o) => [{ name: 'd/l', type: 'symlink', linkname: `../..${o}` }, { name: 'd/l/victim', data: 'overwritten' }],
  },
  {
    name: 'whiteout through symlink', bad: 'x/.wh.victim', why: /parent x is a symlink/,
    entries: (o) => [{ name: 'x', type: 'symlink', linkname: o }, { name: 'x/.wh.victim' }],
  },
  {
    name: 'opaque marker through symlink', bad: 'x/.wh..wh..opq', why: /parent x is a symlink/,
    entries: (o) => [{ name: 'x', type: 'symlink', linkname: o }, { name: 'x/.wh..wh..opq' }],
  },
  { name: 'hardlink to /etc/passwd', entries: () => [{ name: 'pw', type: 'link', linkname: '/etc/passwd' }], bad: 'pw', why: /absolute/ },
  {
    name: 'hardlink with ..', bad: 'pw', why: /"\.\." component/,
    entries: () => [{ name: 'pw', type: 'link', linkname: '../../../../../../etc/passwd' }],
  },
  {
    name: 'hardlink through symlink', bad: 'h', why: /not in this layer|symlink/,
    entries: (o) => [{ name: 'l', type: 'symlink', linkname: o }, { name: 'h', type: 'link', linkname: 'l/victim' }],
  },
  {
    name: 'hardlink to a path replaced by a symlink', bad: 'h', why: /hardlink target parent d is a symlink/,
    entries: (o) => [
      { name: 'd/victim', data: 'mine' }, { name: 'd', type: 'symlink', linkname: o }, { name: 'h', type: 'link', linkname: 'd/victim' },
    ],
  },
  {
    name: 'hardlink to a target whose directory was replaced', bad: 'h', why: /hardlink target parent d is not a directory/,
    entries: () => [{ name: 'd/f', data: 'mine' }, { name: 'd', data: 'now a file' }, { name: 'h', type: 'link', linkname: 'd/f' }],
  },
  { name: 'hardlink to nothing', entries: () => [{ name: 'h', type: 'link', linkname: 'etc/shadow' }], bad: 'h', why: /not in this layer/ },
  { name: 'NUL in name', entries: () => [{ name: 'a', data: 'x', pax: { path: 'ok\0/../../evil' } }], bad: 'ok', why: /NUL/ },
];

for (const mode of ['naive', 'overlay'] as ApplyMode[]) {
  for (const c of cases) {
    test(`hostile layer (${mode}): ${c.name} is refused and leaves nothing outside`, async () => {
      const { dir: base, cleanup } = tempDir('hostile');
      try {
        const outside = join(base, 'outside');
        mkdirSync(outside);
        writeFileSync(join(outside, 'victim'), 'original');
        const layer = join(base, 'layer');
        mkdirSync(layer);
        const tarBuf = await buildTar(c.entries(outside));
        await assert.rejects(applyLayer(streamOf(tarBuf), layer, { mode }), (err: unknown) => {
          assert.ok(err instanceof BerthError, String(err));
          assert.equal(err.kind, 'invalid');
          assert.equal(err.op, 'unpack layer');
          assert.ok(err.message.includes(JSON.stringify(c.bad).slice(1, -1)), `message names the entry: ${err.message}`);
          assert.match(err.message, c.why);
          return true;
        });
        assert.deepEqual(readdirSync(outside), ['victim']);
        assert.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'original');
        assert.deepEqual(readdirSync(base).sort(), ['layer', 'outside'], 'nothing written next to the layer');
        assert.ok(!existsSync(join(base, '..', 'evil')));
        removeLayerDir(layer);
        assert.ok(!existsSync(layer), 'partial layer removed');
      } finally {
        cleanup();
      }
    });
  }
}

test('hostile layer (overlay): writing below a symlink that a lower layer has is refused', async () => {
  const { dir: base, cleanup } = tempDir('hostile-lower');
  try {
    const outside = join(base, 'outside');
    mkdirSync(outside);
    const low = join(base, 'low');
    const up = join(base, 'up');
    mkdirSync(low);
    mkdirSync(up);
    await applyLayer(streamOf(await buildTar([{ name: 'lib', type: 'symlink', linkname: outside }])), low, { mode: 'overlay' });
    await assert.rejects(
      applyLayer(streamOf(await buildTar([{ name: 'lib/evil.so', data: 'x' }])), up, { mode: 'overlay', parents: [low] }),
      /entry "lib\/evil.so": parent lib is a symlink in a lower layer/,
    );
    assert.deepEqual(readdirSync(outside), []);
  } finally {
    cleanup();
  }
});

test('applyLayer: a truncated tar is refused as invalid', async () => {
  const { dir, cleanup } = tempDir('truncated');
  try {
    const tarBuf = await buildTar([{ name: 'big', data: Buffer.alloc(100_000, 7) }]);
    await assert.rejects(applyLayer(streamOf(tarBuf.subarray(0, 50_000)), dir, { mode: 'naive' }), (err: unknown) => {
      assert.ok(err instanceof BerthError);
      assert.equal(err.kind, 'invalid');
      assert.match(err.message, /unpack layer/);
      return true;
    });
    await assert.rejects(applyLayer(streamOf(Buffer.alloc(1024, 0x41)), dir, { mode: 'naive' }), /unpack layer.*(tar|header)/i);
  } finally {
    cleanup();
  }
});
