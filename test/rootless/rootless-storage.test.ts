/**
 * Rootless storage (issue 17, part 2), as a real unprivileged user through the real CLI: a
 * multi-layer image with deleted files and opaque directories pulled from a registry.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { busyboxRootfs } from '../helpers/rootfs.js';
import { buildImage, haveRegistry, layerFromDir, pushImageRaw, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { makeUser, rootlessMissing, type TestUser } from './user-util.js';

/** A layer from files given as { path: content } (a path ending in / is a directory). */
function layer(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-rl-layer-'));
  try {
    for (const [p, c] of Object.entries(files)) {
      if (p.endsWith('/')) mkdirSync(join(dir, p), { recursive: true });
      else { mkdirSync(join(dir, p, '..'), { recursive: true }); writeFileSync(join(dir, p), c); }
    }
    return layerFromDir(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function baseLayer() {
  const dir = mkdtempSync(join(tmpdir(), 'berth-rl-base-'));
  try {
    busyboxRootfs(dir);
    for (const [p, c] of Object.entries({ 'data/keep': 'k', 'data/gone': 'g', 'data/gone2': 'g2', 'opq/a': 'a', 'opq/sub/b': 'b' })) {
      mkdirSync(join(dir, p, '..'), { recursive: true });
      writeFileSync(join(dir, p), c);
    }
    return layerFromDir(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('rootless storage as an ordinary user', { concurrency: false }, () => {
  const why = rootlessMissing() ?? (haveRegistry() ? undefined : 'no docker-registry');
  let u: TestUser | undefined;
  let reg: TestRegistry | undefined;
  let image = '';

  before(async () => {
    if (why) return;
    u = makeUser();
    reg = await startRegistry();
    const img = buildImage([
      baseLayer(),
      layer({ 'data/.wh.gone': '', 'opq/.wh..wh..opq': '', 'opq/new': 'n' }),
      layer({ 'data/.wh.gone2': '', 'opq/c': 'c' }),
    ]);
    await pushImageRaw(reg, 'rl/multi', '1', img);
    image = `${reg.host}/rl/multi:1`;
  });

  after(async () => {
    u?.remove();
    await reg?.stop();
  });

  it('pulls a 3-layer image with whiteouts and an opaque directory, and runs it', (t) => {
    if (why) return t.skip(why);
    let r = u!.berth(['pull', '-q', image]);
    assert.equal(r.code, 0, r.err);
    r = u!.berth(['run', '--rm', image, 'sh', '-c', 'ls -A /data; echo --; cd /opq && find . | sort']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'keep\n--\n.\n./c\n./new\n');
  });
});
