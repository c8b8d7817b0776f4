/**
 * Healthchecks in the engine (issue 14): Docker's duration syntax, merge with the image's
 * HEALTHCHECK, the CMD / CMD-SHELL / NONE forms, and a CMD-form check run by a real monitor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthArgs, mergeHealthcheck, parseGoDuration, readHealth } from '../../src/engine/containers/health.js';
import { busyboxEngine } from '../helpers/engine.js';
import { haveBusybox } from '../helpers/rootfs.js';

const skip = process.getuid!() !== 0 ? 'needs root' : !haveBusybox() ? 'needs busybox-static' : false;

test('parseGoDuration: Go\'s time.ParseDuration', () => {
  assert.equal(parseGoDuration('1m30s'), 90e9);
  assert.equal(parseGoDuration('500ms'), 500e6);
  assert.equal(parseGoDuration('1.5h'), 5400e9);
  assert.equal(parseGoDuration('-2s'), -2e9);
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('10us'), 10e3);
  assert.throws(() => parseGoDuration('5'), /time: missing unit in duration "5"/);
  assert.throws(() => parseGoDuration('abc'), /time: invalid duration "abc"/);
  assert.throws(() => parseGoDuration(''), /time: invalid duration ""/);
});

test('healthArgs: CMD, CMD-SHELL (the container\'s shell or /bin/sh -c), NONE, empty', () => {
  assert.deepEqual(healthArgs(['CMD', 'true', 'x'], undefined), ['true', 'x']);
  assert.deepEqual(healthArgs(['CMD-SHELL', 'test -e /x'], undefined), ['/bin/sh', '-c', 'test -e /x']);
  assert.deepEqual(healthArgs(['CMD-SHELL', 'x'], ['/bin/ash', '-eo']), ['/bin/ash', '-eo', 'x']);
  assert.equal(healthArgs(['NONE'], undefined), undefined);
  assert.equal(healthArgs([], undefined), undefined);
  assert.equal(healthArgs(undefined, undefined), undefined);
});

test('mergeHealthcheck: the user\'s values win, the image fills what they leave unset (moby merge)', () => {
  const image = { Test: ['CMD', 'a'], Interval: 5e9, Timeout: 2e9, Retries: 4 };
  assert.deepEqual(mergeHealthcheck(undefined, image), image);
  assert.deepEqual(mergeHealthcheck({ Interval: 1e9 }, image), { Test: ['CMD', 'a'], Interval: 1e9, Timeout: 2e9, Retries: 4, StartPeriod: undefined, StartInterval: undefined });
  assert.deepEqual(mergeHealthcheck({ Test: ['NONE'] }, image)!.Test, ['NONE']);
  assert.equal(mergeHealthcheck(undefined, undefined), undefined);
});

test('a CMD-form check runs as an exec in the container (its env and cwd) and is recorded', { skip }, async () => {
  const e = await busyboxEngine();
  try {
    const c = await e.run({ cmd: ['sleep', '60'], env: ['MARK=from-env'], workdir: '/tmp', healthcheck: { Test: ['CMD', 'sh', '-c', 'echo $MARK $(pwd) $$'], Interval: 200e6 } });
    let h;
    for (let i = 0; i < 100 && !(h = readHealth(e.core, c))?.Log.length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(h?.Log.length, 'a result was recorded');
    assert.equal(h!.Status, 'healthy');
    const [mark, cwd, pid] = h!.Log[0]!.Output.trim().split(' ');
    assert.equal(mark, 'from-env');
    assert.equal(cwd, '/tmp');
    assert.ok(Number(pid) > 1, 'in the container\'s pid namespace: a small pid, not the init');
    assert.ok(Number(pid) < 100, `pid ${pid} is the container's view`);
  } finally {
    await e.cleanup();
  }
});
