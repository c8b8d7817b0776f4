/**
 * A warm process drops its mappings of the node binary's clean pages when idle (src/sys/pages.ts):
 * on the real kernel, in a child node process, the binary's resident pages fall, its relocated and
 * writable mappings are kept, and the process still runs code from the dropped pages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cleanFileMappings } from '../../src/sys/index.js';

const SYS = pathToFileURL(fileURLToPath(new URL('../../src/sys/index.js', import.meta.url))).href;

test('pages: only clean read-only private mappings of the file are chosen', () => {
  const smaps = [
    '00400000-00500000 r--p 00000000 fe:00 1 /usr/bin/node', 'Rss: 900 kB', 'Anonymous: 0 kB',
    '00500000-00600000 r-xp 00100000 fe:00 1 /usr/bin/node', 'Rss: 2000 kB', 'Anonymous: 0 kB',
    '00600000-00601000 r--p 00200000 fe:00 1 /usr/bin/node', 'Rss: 4 kB', 'Anonymous: 4 kB', // RELRO
    '00601000-00602000 rw-p 00201000 fe:00 1 /usr/bin/node', 'Rss: 4 kB', 'Anonymous: 0 kB',
    '00602000-00603000 r--p 00202000 fe:00 1 /usr/bin/node', 'Rss: 0 kB', 'Anonymous: 0 kB', // nothing resident
    '7f0000000000-7f0000100000 r-xp 00000000 fe:00 2 /usr/lib/libc.so.6', 'Rss: 800 kB', 'Anonymous: 0 kB',
    '7f0000100000-7f0000200000 r--s 00000000 fe:00 1 /usr/bin/node', 'Rss: 800 kB', 'Anonymous: 0 kB', // shared
    '7f0000200000-7f0000300000 rw-p 00000000 00:00 0 ', 'Rss: 1000 kB', 'Anonymous: 1000 kB',
  ].join('\n');
  assert.deepEqual(cleanFileMappings('/usr/bin/node', smaps).map((m) => [m.lo, m.hi, m.rss]), [[0x400000n, 0x500000n, 900], [0x500000n, 0x600000n, 2000]]);
});

test('pages: a node process drops its binary\'s clean pages and keeps running', () => {
  const script = `
    import { cleanFileMappings, dropCleanFilePages, smapsMappings } from ${JSON.stringify(SYS)};
    import { realpathSync } from 'node:fs';
    import { createHash } from 'node:crypto';
    import { gzipSync, gunzipSync } from 'node:zlib';
    import { spawnSync } from 'node:child_process';
    const exe = realpathSync(process.execPath);
    // the binary's mappings: writable, resident KiB, anonymous KiB
    const maps = () => smapsMappings().filter((m) => m.path === exe).map((m) => ({ w: m.perms[1] === 'w', rss: m.rss, anon: m.anon }));
    const before = maps();
    const chosen = cleanFileMappings(exe).length;
    const dropped = dropCleanFilePages(exe);
    const after = maps();
    const work = [
      createHash('sha256').update('berth').digest('hex').slice(0, 12),
      gunzipSync(gzipSync(Buffer.from('x'.repeat(1000)))).length,
      JSON.stringify(JSON.parse('{"a":[1,2,{"b":"c"}]}')),
      'Ünïcode'.normalize('NFD').length, new Intl.NumberFormat('en-US').format(1234567.5),
      spawnSync('true').status,
    ];
    console.log(JSON.stringify({ before, after, chosen, dropped, work }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `child: ${r.stderr}`);
  const o = JSON.parse(r.stdout) as { before: Array<{ w: boolean; rss: number; anon: number }>; after: Array<{ w: boolean; rss: number; anon: number }>; chosen: number; dropped: number; work: unknown[] };
  const sum = (xs: Array<{ rss: number }>) => xs.reduce((a, x) => a + x.rss, 0);
  const kept = (xs: Array<{ w: boolean; rss: number; anon: number }>) => xs.filter((x) => x.w || x.anon > 0).map((x) => x.anon);
  assert.ok(o.chosen >= 2, `clean mappings of the node binary: ${o.chosen}`);
  assert.ok(o.dropped > 8192, `dropped ${o.dropped} KiB`);
  // what the drop left resident is what the few lines after it touched again: far below before
  assert.ok(sum(o.after) < sum(o.before) / 2, `the binary's resident KiB ${sum(o.before)} -> ${sum(o.after)}`);
  // relocated (RELRO) and writable mappings keep their private pages
  assert.ok(kept(o.before).length > 0, 'the binary has mappings with private pages');
  assert.deepEqual(kept(o.after), kept(o.before));
  assert.deepEqual(o.work, ['5c2f64c7f21e', 1000, '{"a":[1,2,{"b":"c"}]}', 9, '1,234,567.5', 0]);
});
