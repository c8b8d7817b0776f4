/** dist/<name>.cjs runs the bundle through a V8 code cache it keeps next to it, trusted only when safe. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DIST = join(import.meta.dirname, '../../../dist');
const skip = existsSync(join(DIST, 'berth-runtime-main.cjs')) ? false : 'dist is not built (npm run build)';

test('the loader writes a code cache, uses it, and replaces one that is unsafe or rejected', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-loader-'));
  try {
    for (const f of ['berth-runtime.cjs', 'berth-runtime-main.cjs']) copyFileSync(join(DIST, f), join(dir, f));
    const run = () => execFileSync(process.execPath, [join(dir, 'berth-runtime.cjs'), '--version'], { encoding: 'utf8' });
    const want = run();
    assert.match(want, /^berth-runtime version /);
    const cacheDir = join(dir, '.cache');
    const [name] = readdirSync(cacheDir);
    assert.ok(name?.endsWith('.v8'), `a cache file: ${name}`);
    const cache = join(cacheDir, name!);
    const first = readFileSync(cache);
    assert.equal(run(), want, 'the same output from the cache');
    assert.deepEqual(readFileSync(cache), first, 'a cache V8 accepted is used, not rewritten');
    assert.equal(statSync(cache).mode & 0o777, 0o644);

    chmodSync(cache, 0o666); // writable by others: not trusted, written anew (0644)
    assert.equal(run(), want);
    assert.equal(statSync(cache).mode & 0o777, 0o644);

    writeFileSync(cache, Buffer.alloc(first.length, 7), { mode: 0o644 }); // garbage: V8 rejects it
    assert.equal(run(), want);
    assert.notDeepEqual(readFileSync(cache), Buffer.alloc(first.length, 7), 'the rejected cache was replaced');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
