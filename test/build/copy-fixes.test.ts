/**
 * COPY defects of the first `berth build`: a destination directory that is a symlink in the image
 * is followed inside the root (never replaced), paths hidden by whiteouts and opaque directories
 * in a stage stay hidden to `COPY --from`, hard links of the context are copied as links.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli } from '../cli/run-util.js';
import { FRONT } from '../helpers/worker.js';
import { savedLayers } from './util.js';

const why = cannotRun();

function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bcf-'));
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  return dir;
}

test('berth build: COPY fixes', { skip: why || false, timeout: 120_000 }, async (t) => {
  await withCli(async (c) => {
    const dirs: string[] = [];
    const ctx = (files: Record<string, string>) => { const d = context(files); dirs.push(d); return d; };
    const layersOf = async (ref: string) => savedLayers(execFileSync(FRONT, ['save', ref], { env: { ...c.env, BERTH_NO_WORKER: '1' }, maxBuffer: 1 << 28 }));
    try {
      await t.test('a destination under a symlinked directory is followed inside the root', async () => {
        const dir = ctx({
          Dockerfile: 'FROM busybox:latest\nRUN mkdir -p /real/run /v && ln -s /real/run /v/run && ln -s ../real /rel\n'
            + 'COPY f /v/run/\nCOPY f /v/run/sub/g\nCOPY f /rel/h\nCOPY f /v/run\n',
          f: 'data\n',
        });
        await c.ok(['build', '-q', '-t', 'sym:1', dir]);
        assert.equal(await c.ok(['run', '--rm', 'sym:1', 'sh', '-c', 'readlink /v/run; readlink /rel; cat /real/run/f /real/run/sub/g /real/h']), '/real/run\n../real\ndata\ndata\ndata');
        const layers = (await layersOf('sym:1')).slice(2).flat().map((l) => l.split(' ').slice(0, 2).join(' '));
        assert.equal(layers.some((l) => l.startsWith('v/run ')), false, `the link is not replaced: ${layers.join(', ')}`);
      });

      await t.test('COPY --from a stage: whiteouts and opaque directories hide what is below', async () => {
        const dir = ctx({
          Dockerfile: 'FROM busybox:latest AS s\nRUN mkdir -p /d /e && echo a > /d/a && echo b > /d/b && echo old > /e/old\n'
            + 'RUN rm /d/a && rm -rf /e && mkdir /e && echo n > /e/n\n'
            + 'FROM busybox:latest\nCOPY --from=s /d /d2\nCOPY --from=s /e /e2\n',
        });
        await c.ok(['build', '-q', '-t', 'wh:1', dir]);
        assert.equal(await c.ok(['run', '--rm', 'wh:1', 'ls', '/d2', '/e2']), '/d2:\nb\n\n/e2:\nn');
        const r = await c.berth(['build', '-q', '-'], { input: 'FROM busybox:latest AS s\nRUN mkdir /d && echo a > /d/a\nRUN rm /d/a\nFROM busybox:latest\nCOPY --from=s /d/a /x\n' });
        assert.equal(r.code, 1);
        assert.match(r.err, /COPY: "\/d\/a": not found/);
      });

      await t.test('hard links of the context stay links', async () => {
        const dir = ctx({ Dockerfile: 'FROM busybox:latest\nCOPY . /h/\n', 'z/one': 'same\n' });
        linkSync(join(dir, 'z/one'), join(dir, 'a-two'));
        await c.ok(['build', '-q', '-t', 'hl:1', dir]);
        assert.equal(await c.ok(['run', '--rm', 'hl:1', 'sh', '-c', 'stat -c %h /h/z/one /h/a-two; [ /h/z/one -ef /h/a-two ] && echo same']), '2\n2\nsame');
        const layer = (await layersOf('hl:1')).at(-1)!;
        assert.ok(layer.some((l) => / link /.test(l)), layer.join('\n'));
      });
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });
});
