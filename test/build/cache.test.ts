/**
 * The build cache, what build.test.ts's cache test leaves out: an ARG a stage declares but no step
 * uses does not break the cache of a COPY when its value changes (BuildKit: only RUNs see build
 * args), and a base image whose tag now names another image (another digest) misses every step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, withCli, type Cli } from '../cli/run-util.js';

const why = cannotRun();

async function cached(c: Cli, dir: string, ...args: string[]): Promise<number> {
  const r = await c.berth(['build', '--progress=plain', '-t', 'cachet:1', ...args, dir]);
  assert.equal(r.code, 0, r.err);
  return (r.err.match(/^#\d+ CACHED$/gm) ?? []).length;
}

test('berth build: the cache keys on used args and the base image digest', { skip: why || false, timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bcache-'));
  try {
    await withCli(async (c) => {
      await t.test('a declared ARG no step uses: changed, the COPY still hits', async () => {
        writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest\nARG UNUSED=1\nCOPY f /f\n');
        writeFileSync(join(dir, 'f'), 'f\n');
        assert.equal(await cached(c, dir), 0, 'cold');
        assert.equal(await cached(c, dir, '--build-arg', 'UNUSED=2'), 2, 'unused arg changed: the ARG and the COPY hit');
      });
      await t.test('the base image tag moved to another image: every step misses', async () => {
        writeFileSync(join(dir, 'Dockerfile'), 'FROM base:1\nCOPY f /f\nRUN cat /f > /g\n');
        await c.ok(['tag', 'busybox:latest', 'base:1']);
        assert.equal(await cached(c, dir), 0, 'cold');
        assert.equal(await cached(c, dir), 2, 'unchanged');
        const other = mkdtempSync(join(tmpdir(), 'berth-bcache-'));
        try {
          writeFileSync(join(other, 'Dockerfile'), 'FROM busybox:latest\nLABEL other=1\nRUN echo other > /other\n');
          await c.ok(['build', '-q', '-t', 'base:1', other]);
        } finally { rmSync(other, { recursive: true, force: true }); }
        assert.equal(await cached(c, dir), 0, 'base image digest changed');
        assert.equal(await c.ok(['run', '--rm', 'cachet:1', 'cat', '/other', '/g']), 'other\nf');
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
