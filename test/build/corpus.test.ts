/**
 * The build corpus: every case under test/build/corpus/cases built by berth on one busybox engine,
 * each image's layers (path, type, mode, owner, size, content digest, link target, whiteouts) and
 * config fields compared with the expectation recorded from the oracles on this machine (classic
 * `docker build`, `podman build`; see corpus.ts and scripts/build-oracle.mjs, which rewrites them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cannotRun, withCli } from '../cli/run-util.js';
import { FRONT } from '../helpers/worker.js';
import { above, buildFlags, readCases, readExpected, savedImages, type SavedImage } from './corpus.js';

const why = cannotRun();

function save(env: NodeJS.ProcessEnv, refs: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(FRONT, ['save', ...refs], { env: { ...env, BERTH_NO_WORKER: '1' }, encoding: 'buffer', maxBuffer: 1 << 30 }, (e, out, err) => {
      if (e) reject(new Error(`berth save: ${e.message}\n${err.toString()}`)); else resolve(out);
    });
  });
}

test('berth build: the corpus against the oracles', { skip: why || false, timeout: 600_000 }, async (t) => {
  const cases = readCases();
  assert.ok(cases.length >= 60, `${cases.length} cases`);
  await withCli(async (c) => {
    const started = Date.now();
    const failed = new Map<string, string>();
    const tags: string[] = [];
    // three builds at a time on the one engine (each its own CLI process, as users run them)
    const queue = [...cases];
    await Promise.all([0, 1, 2].map(async () => {
      for (let k = queue.shift(); k; k = queue.shift()) {
        const tag = `corpus/${k.name}:1`;
        const r = await c.berth(['build', '-q', ...buildFlags(k), '-t', tag, k.dir], { timeoutMs: 90_000 });
        if (r.code !== 0) failed.set(k.name, `exit ${r.code}: ${r.err}`);
        else tags.push(tag);
      }
    }));
    const built = Date.now();
    const images = new Map<string, SavedImage>();
    let base: string[] = [];
    for (const img of await savedImages(await save(c.env, ['busybox:latest', ...tags]))) {
      if (img.tags.includes('busybox:latest')) base = img.layers[0]!;
      for (const tag of img.tags) images.set(tag, img);
    }
    t.diagnostic(`${cases.length} cases built in ${((built - started) / 1000).toFixed(1)} s, saved and listed in ${((Date.now() - built) / 1000).toFixed(1)} s`);
    for (const k of cases) {
      await t.test(k.name, () => {
        assert.equal(failed.get(k.name), undefined, `berth build failed`);
        const want = readExpected(k.name);
        const img = images.get(`corpus/${k.name}:1`);
        assert.ok(img, 'no image');
        const got = { config: img.config, layers: above(img.layers, base) };
        if (!want) assert.fail(`no expectation recorded (run scripts/build-oracle.mjs ${k.name}); berth: ${JSON.stringify(got)}`);
        assert.deepEqual(got.config, want.config, `config (oracle: ${want.oracle})`);
        assert.deepEqual(got.layers, want.layers, `layers (oracle: ${want.oracle})`);
      });
    }
  });
});
