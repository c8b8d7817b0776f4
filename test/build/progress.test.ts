/**
 * `berth build`'s terminal progress: the model (one line per step with its time, CACHED marked,
 * the running step's last output lines), and the CLI with --progress=tty redrawing in place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProgressModel } from '../../src/cli/build-progress.js';
import { cannotRun, withCli } from '../cli/run-util.js';

test('build progress model: one line per step, times, CACHED, output tails while running', () => {
  const m = new ProgressModel(0);
  m.line('#1 [1/3] FROM busybox:latest', 0);
  m.line('#1 DONE 0.0s', 10);
  m.line('#2 [2/3] COPY f /f', 10);
  m.line('#2 CACHED', 20);
  m.line('#3 [3/3] RUN make', 20);
  m.line('#3 compiling a', 500);
  const running = m.render(60, 1520);
  assert.deepEqual(running, [
    '[+] Building 1.5s (2/3)',
    ' => [1/3] FROM busybox:latest                           0.0s',
    ' => CACHED [2/3] COPY f /f                              0.0s',
    ' => [3/3] RUN make                                      1.5s',
    ' => => # compiling a',
  ]);
  m.line('#3 DONE 2.0s', 2020);
  const done = m.render(60, 2100, true);
  assert.equal(done[0], '[+] Building 2.1s (3/3) FINISHED');
  assert.equal(done.length, 4, 'output of finished steps folded');
  assert.match(done[3]!, /=> \[3\/3\] RUN make +2\.0s$/);
});

const why = cannotRun();

test('berth build --progress=tty: redrawn in place, CACHED steps marked', { skip: why || false, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bprog-'));
  try {
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest\nCOPY f /f\nRUN echo built\n');
    writeFileSync(join(dir, 'f'), 'f\n');
    await withCli(async (c) => {
      await c.ok(['build', '--progress=tty', '-t', 'prog:1', dir]);
      const r = await c.berth(['build', '--progress=tty', '-t', 'prog:1', dir]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /\x1b\[\d+A/, 'cursor moved up to redraw');
      const last = r.err.split(/\x1b\[\d+A/).pop()!.replace(/\r\x1b\[2K/g, '');
      assert.match(last, /\[\+\] Building \d+\.\ds \(\d+\/\d+\) FINISHED/);
      assert.match(last, / => CACHED \[2\/3\] COPY f \/f +0\.0s/);
      assert.match(last, / => CACHED \[3\/3\] RUN echo built +0\.0s/);
      const plain = await c.berth(['build', '--progress=plain', '-t', 'prog:1', dir]);
      assert.doesNotMatch(plain.err, /\x1b\[/, 'plain: no escapes');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
