/** The library API (`import { Engine } from 'berth'`) on real containers, and the CLI's global root flags. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../src/index.js';
import { haveBusybox } from '../helpers/rootfs.js';
import { busyboxEngine } from '../helpers/engine.js';

const skip = !haveBusybox() ? 'busybox-static is not installed' : process.getuid?.() !== 0 ? 'needs root' : false;
const CLI = join(import.meta.dirname, '../../src/cli/berth-main.js');

test('Engine: run (exit code, output, --rm), create/start/exec/logs/inspect/stop/wait/remove', { skip, timeout: 120_000 }, async () => {
  const fx = await busyboxEngine();
  const engine = new Engine({ root: fx.root, runRoot: fx.runRoot, env: {}, bridge: 'none' });
  try {
    const r = await engine.run({ image: 'busybox', options: { cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'] }, autoRemove: true });
    assert.equal(r.exitCode, 3);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(engine.list({ all: true }).length, 0, '--rm removed it');

    const c = await engine.create({ image: 'busybox', name: 'lib', options: { cmd: ['sh', '-c', 'echo started; trap "exit 7" TERM; while :; do sleep 0.1; done'] } });
    await engine.start(c.id);
    const x = await engine.exec('lib', ['sh', '-c', 'cat /etc/hostname; exit 4']);
    assert.deepEqual(x, { exitCode: 4, stdout: `${c.id.slice(0, 12)}\n`, stderr: '' });
    const lines: string[] = [];
    for (let i = 0; i < 50 && !lines.length; i++) {
      for await (const e of engine.logs('lib')) lines.push(`${e.stream}:${e.log}`);
      if (!lines.length) await new Promise((res) => setTimeout(res, 50));
    }
    assert.deepEqual(lines, ['stdout:started\n']);
    const j = engine.inspect('lib') as { Name: string; State: { Running: boolean; Pid: number } };
    assert.equal(j.Name, '/lib');
    assert.ok(j.State.Running && j.State.Pid > 0);
    await engine.stop('lib', 5);
    assert.equal(await engine.wait('lib'), 7, 'the stop signal reached the trap');
    await engine.remove('lib');
    assert.equal(engine.list({ all: true }).length, 0);
  } finally {
    await engine.close();
    await fx.cleanup();
  }
});

test('berth --data-root/--run-root select the roots (before the command)', { skip, timeout: 60_000 }, async () => {
  const fx = await busyboxEngine();
  try {
    const env = { ...fx.env, BERTH_ROOT: '/nonexistent-root', BERTH_RUN_ROOT: '/nonexistent-run' };
    const out = execFileSync(process.execPath, [CLI, '--data-root', fx.root, `--run-root=${fx.runRoot}`, 'run', '--rm', 'busybox', 'echo', 'hi'], { env, encoding: 'utf8' });
    assert.equal(out, 'hi\n');
    assert.ok(!existsSync('/nonexistent-root'), 'the environment was overridden by the flags');
    assert.throws(() => execFileSync(process.execPath, [CLI, '--data-root'], { env, stdio: 'pipe' }), (e: { status: number; stderr: Buffer }) =>
      e.status === 125 && /flag needs an argument: --data-root/.test(e.stderr.toString()));
  } finally {
    await fx.cleanup();
  }
});
