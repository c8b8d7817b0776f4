/**
 * `berth build --cache-from IMAGE`: an image built on one engine and pushed carries its steps'
 * cache keys; an engine whose cache is empty (fresh roots) pulls it and rebuilds with every step
 * CACHED and the same image id; a changed file rebuilds the steps from its COPY on, the steps before
 * it still come from the image. Without --cache-from, the fresh engine runs everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli, type Cli } from '../cli/run-util.js';
import { haveRegistry, startRegistry } from '../helpers/registry.js';

const why = cannotRun() || (haveRegistry() ? false : 'docker-registry is not installed');

async function build(c: Cli, dir: string, tag: string, ...args: string[]): Promise<{ id: string; cached: number; err: string }> {
  const r = await c.berth(['build', '--progress=plain', '--iidfile', join(dir, 'iid'), '-t', tag, ...args, dir], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.err);
  return { id: readFileSync(join(dir, 'iid'), 'utf8'), cached: (r.err.match(/^#\d+ CACHED$/gm) ?? []).length, err: r.err };
}

test('berth build --cache-from: a pulled image seeds an empty cache', { skip: why || false, timeout: 300_000 }, async (t) => {
  const reg = await startRegistry();
  const dir = mkdtempSync(join(tmpdir(), 'berth-bcachefrom-'));
  const base = `${reg.host}/cf/base:1`;
  const app = `${reg.host}/cf/app:1`;
  try {
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${base}
ENV GREETING=hello
WORKDIR /app
COPY a /app/a
RUN cat /app/a > /app/b && echo "$GREETING" >> /app/b
COPY c /app/c
LABEL stage=final
CMD ["cat", "/app/b", "/app/c"]
`);
    writeFileSync(join(dir, 'a'), 'a1\n');
    writeFileSync(join(dir, 'c'), 'c1\n');
    const steps = 7;
    let id1 = '';
    await withCli(async (c) => {
      await c.ok(['tag', 'busybox:latest', base]);
      await c.ok(['push', base]);
      const b = await build(c, dir, app);
      assert.equal(b.cached, 0);
      id1 = b.id;
      await c.ok(['push', app]);
      const cfg = JSON.parse(await c.ok(['image', 'inspect', '--format', '{{json .Config}}', app])) as Record<string, unknown>;
      assert.deepEqual(cfg.Labels, { stage: 'final' }, 'the record is no label');
    });

    await t.test('a fresh engine without --cache-from runs every step', async () => {
      await withCli(async (c) => {
        const b = await build(c, dir, 'plain:1');
        assert.equal(b.cached, 0);
      });
    });

    await t.test('a fresh engine with --cache-from: every step CACHED, the same image', async () => {
      await withCli(async (c) => {
        const b = await build(c, dir, 'seeded:1', '--cache-from', app);
        assert.equal(b.cached, steps, b.err);
        assert.equal(b.id, id1);
        assert.equal(await c.ok(['run', '--rm', 'seeded:1']), 'a1\nhello\nc1');
        // kept in the engine's own cache: the next build needs no --cache-from
        assert.equal((await build(c, dir, 'seeded:1')).cached, steps);
      });
    });

    await t.test('one file changed: its COPY and what follows run, the steps before come from the image', async () => {
      await withCli(async (c) => {
        writeFileSync(join(dir, 'c'), 'c2\n');
        const b = await build(c, dir, 'changed:1', '--cache-from', `type=registry,ref=${app}`);
        assert.equal(b.cached, 4, b.err);
        assert.match(b.err, /^#\d+ \[6\/8\] COPY c \/app\/c\n#\d+ DONE/m);
        assert.notEqual(b.id, id1);
        assert.equal(await c.ok(['run', '--rm', 'changed:1']), 'a1\nhello\nc2');
        writeFileSync(join(dir, 'c'), 'c1\n');
        writeFileSync(join(dir, 'a'), 'a2\n');
        const b2 = await build(c, dir, 'changed:2', '--cache-from', app);
        assert.equal(b2.cached, 2, 'ENV and WORKDIR hit; COPY a and the rest run');
        assert.equal(await c.ok(['run', '--rm', 'changed:2']), 'a2\nhello\nc1');
        const h = await c.ok(['image', 'inspect', '--format', '{{.Config.WorkingDir}} {{json .Config.Env}}', 'changed:2']);
        assert.equal(h, '/app ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","GREETING=hello"]');
      });
    });

    await t.test('an image that cannot be had is a warning', async () => {
      await withCli(async (c) => {
        writeFileSync(join(dir, 'a'), 'a1\n');
        const b = await build(c, dir, 'warned:1', '--cache-from', `${reg.host}/cf/nothing:1`);
        assert.equal(b.cached, 0);
        assert.match(b.err, /--cache-from 127\.0\.0\.1:\d+\/cf\/nothing:1: /);
      });
    });
  } finally {
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
