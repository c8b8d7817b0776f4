/**
 * Two races of short-lived containers (both fixed; these keep them fixed): the exec fifo at
 * start, and attached output lost at start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { berthRaw, cannotRun, messageLines, withCli } from './run-util.js';

const skip = cannotRun();

test('a process that exits at once always starts (20 concurrent `run --rm busybox true`)', {
  skip,
  timeout: 120_000,
}, () => withCli(async (c) => {
  const results = await Promise.all(Array.from({ length: 20 }, () => berthRaw(c.env, ['run', '--rm', 'busybox', 'true'], { timeoutMs: 90_000 })));
  const failed = results.filter((r) => r.code !== 0);
  assert.deepEqual(failed.map((r) => `${r.code}: ${messageLines(r.err)[0]}`), []);
  assert.deepEqual(await c.ids(), [], 'the failed ones are removed too (--rm)');
}));

test('attached output is never lost (30 `run --rm busybox echo`, 5 at a time)', {
  skip,
  timeout: 120_000,
}, () => withCli(async (c) => {
  const lost: string[] = [];
  for (let round = 0; round < 6; round++) {
    const rs = await Promise.all(Array.from({ length: 5 }, (_, k) =>
      berthRaw(c.env, ['run', '--rm', 'busybox', 'echo', `hi-${round * 5 + k}`], { timeoutMs: 60_000 })));
    rs.forEach((r, k) => {
      assert.equal(r.code, 0, r.err);
      if (r.out !== `hi-${round * 5 + k}\n`) lost.push(`${round * 5 + k}: ${JSON.stringify(r.out)}`);
    });
  }
  assert.deepEqual(lost, [], 'runs whose output was lost');
}));
