/**
 * COPY/ADD flags: `--parents` (with a `/./` pivot), `--exclude`, ADD of an http URL served on
 * 127.0.0.1 by this test (`--checksum` verified, mode 0600, no extraction), `--link` (content).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { cannotRun, withCli } from '../cli/run-util.js';
import { FRONT } from '../helpers/worker.js';
import { savedLayers } from './util.js';

const why = cannotRun();

function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bcfl-'));
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  return dir;
}

test('berth build: COPY/ADD flags', { skip: why || false, timeout: 120_000 }, async (t) => {
  const served = 'served over http\n';
  const server = createServer((req, res) => {
    if (req.url === '/dir/file.txt') { res.writeHead(200, { 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT' }); res.end(served); return; }
    res.writeHead(404); res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dirs: string[] = [];
  const ctx = (files: Record<string, string>) => { const d = context(files); dirs.push(d); return d; };
  try {
    await withCli(async (c) => {
      await t.test('--parents and --exclude', async () => {
        const dir = ctx({
          Dockerfile: 'FROM busybox:latest\nCOPY --parents x/a.txt y/ /dst/\nCOPY --parents ./p/./q/r.txt /piv/\n'
            + 'COPY --exclude=*.md --exclude=sub . /ex/\nCOPY --exclude=*b h* /ex2/\nCOPY --link x/a.txt /linked/a\n',
          'x/a.txt': 'a\n', 'y/b.txt': 'b\n', 'p/q/r.txt': 'r\n', 'a.md': 'md\n', 'b.txt': 'b\n', 'sub/c': 'c\n', 'd/e.md': 'e\n', hx: 'hx\n', hb: 'hb\n',
        });
        await c.ok(['build', '-q', '-t', 'fl:1', dir]);
        const ls = async (p: string) => c.ok(['run', '--rm', 'fl:1', 'find', p]);
        assert.deepEqual((await ls('/dst')).split('\n').sort(), ['/dst', '/dst/x', '/dst/x/a.txt', '/dst/y', '/dst/y/b.txt']);
        assert.deepEqual((await ls('/piv')).split('\n').sort(), ['/piv', '/piv/q', '/piv/q/r.txt']);
        const ex = (await ls('/ex')).split('\n').sort();
        assert.ok(ex.includes('/ex/b.txt') && ex.includes('/ex/d/e.md'), ex.join(' '));
        assert.ok(!ex.includes('/ex/a.md') && !ex.some((e) => e.startsWith('/ex/sub')), ex.join(' '));
        assert.deepEqual((await ls('/ex2')).split('\n').sort(), ['/ex2', '/ex2/hx']);
        assert.equal(await c.ok(['run', '--rm', 'fl:1', 'cat', '/linked/a']), 'a');
      });

      await t.test('--link: a layer made on nothing (new parents, no link of the image followed)', async () => {
        const dir = ctx({ Dockerfile: 'FROM busybox:latest\nRUN mkdir -m 700 /p /real && chown 5:5 /p && ln -s /real /s\nCOPY f /p/a\nCOPY --link f /p/b\nCOPY --link f /s/\n', f: 'f\n' });
        await c.ok(['build', '-q', '-t', 'lnk:1', dir]);
        const layers = (await savedLayers(execFileSync(FRONT, ['save', 'lnk:1'], { env: { ...c.env, BERTH_NO_WORKER: '1' }, maxBuffer: 1 << 28 }))).slice(-3);
        assert.deepEqual(layers, [
          ['p directory 700 5:5 0 -', 'p/a file 644 0:0 2 092fcfbbcfca'],
          ['p directory 755 0:0 0 -', 'p/b file 644 0:0 2 092fcfbbcfca'],
          ['s directory 755 0:0 0 -', 's/f file 644 0:0 2 092fcfbbcfca'],
        ]);
      });

      await t.test('ADD of an http URL with --checksum', async () => {
        const sum = createHash('sha256').update(served).digest('hex');
        const r = await c.berth(['build', '-q', '-t', 'url:1', '-'], { input: `FROM busybox:latest\nADD --checksum=sha256:${sum} ${base}/dir/file.txt /dl/\nADD ${base}/dir/file.txt /named\n` });
        assert.equal(r.code, 0, r.err);
        assert.equal(await c.ok(['run', '--rm', 'url:1', 'sh', '-c', 'stat -c "%a %Y" /dl/file.txt /named; cat /dl/file.txt']), `600 1445412480\n600 1445412480\n${served.trim()}`);
        const bad = await c.berth(['build', '-q', '-'], { input: `FROM busybox:latest\nADD --checksum=sha256:${'0'.repeat(64)} ${base}/dir/file.txt /dl/\n` });
        assert.equal(bad.code, 1);
        assert.match(bad.err, new RegExp(`Dockerfile:2: ADD: digest mismatch sha256:0{64}: sha256:${sum}`));
        const missing = await c.berth(['build', '-q', '-'], { input: `FROM busybox:latest\nADD ${base}/nothing /dl/\n` });
        assert.equal(missing.code, 1);
        assert.match(missing.err, /invalid response status 404/);
        const local = await c.berth(['build', '-q', '-'], { input: 'FROM busybox:latest\nCOPY --checksum=sha256:00 f /f\n' });
        assert.equal(local.code, 1);
        assert.match(local.err, /unknown flag: checksum/);
      });
    });
  } finally {
    server.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
