/**
 * `berth cp` through the real CLI where the container is hostile or the copy dies: a path
 * through /proc's magic links fails in one line (never a stack), and a `berth cp` killed with
 * SIGKILL in the middle of a large copy leaves no view, mount or temporary file behind (for a
 * stopped container, the next copy sweeps the dead one's view) and the container works on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cannotRun, messageLines, mountsUnder, waitFor, withCli, type Cli } from './run-util.js';

const why = cannotRun();

/** The views a cp left in the run root, and mounts under either root that are views. */
function viewLeftovers(c: Cli): string[] {
  const found = readdirSync(c.runRoot).filter((n) => n.startsWith('view-')).map((n) => `dir ${n}`);
  for (const m of [...mountsUnder(c.runRoot), ...mountsUnder(c.root)]) if (m.includes('/view-')) found.push(`mount ${m}`);
  return found;
}

test('cp through a magic link of /proc fails in one line, like a missing file', { skip: why || false, timeout: 120_000 }, async (t) => {
  await withCli(async (c) => {
    const name = `cpmagic${process.pid}`;
    await c.ok(['run', '-d', '--name', name, c.image, 'sleep', '300']);
    for (const path of ['/proc/self/root/etc/passwd', '/proc/1/root/etc/passwd', '/proc/self/cwd/etc']) {
      const r = await c.berth(['cp', `${name}:${path}`, '-']);
      assert.equal(r.code, 1, `cp ${path}: ${r.err}`);
      assert.equal(r.out, '', `cp ${path} writes nothing`);
      const lines = messageLines(r.err);
      t.diagnostic(`cp ${path}: ${r.err.trim()}`);
      assert.equal(lines.length, 1, `one line for ${path}: ${r.err}`);
      assert.doesNotMatch(r.err, /\n\s+at |readlink|ENOENT/, `no stack or raw errno for ${path}`);
      assert.match(lines[0]!, new RegExp(`${path.replace(/\//g, '\\/')}.* in container ${name}`), `the message names the path and the container: ${lines[0]}`);
    }
    const missing = await c.berth(['cp', `${name}:/nonexistent`, '-']);
    assert.equal(missing.code, 1);
    assert.deepEqual(messageLines(missing.err), [`Error response from daemon: Could not find the file /nonexistent in container ${name}`]);
    // writing through one is refused too, and nothing reaches the host
    const scratch = mkdtempSync(join(tmpdir(), 'berth-cpmagic-'));
    try {
      const marker = `berth-cpmagic-${process.pid}-${Date.now()}`;
      writeFileSync(join(scratch, marker), 'x');
      const w = await c.berth(['cp', join(scratch, marker), `${name}:/proc/self/root/`]);
      assert.notEqual(w.code, 0);
      assert.equal(messageLines(w.err).length, 1, w.err);
      t.diagnostic(`cp into /proc/self/root/: ${w.code} ${w.err.trim()}`);
      assert.ok(!existsSync(`/${marker}`), 'nothing written into the host\'s /');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    await c.ok(['rm', '-f', name]);
  });
});

test('kill -9 of a berth cp in the middle of a large copy leaves nothing behind; the container works on', { skip: why || false, timeout: 240_000 }, async () => {
  await withCli(async (c) => {
    const scratch = mkdtempSync(join(tmpdir(), 'berth-cpkill-'));
    try {
      const big = join(scratch, 'big');
      writeFileSync(big, '');
      truncateSync(big, 512 << 20); // sparse on the host, 512 MiB written into the container
      const small = join(scratch, 'small');
      writeFileSync(small, 'after\n');
      const running = `cpkill${process.pid}r`;
      const stopped = `cpkill${process.pid}s`;
      await c.ok(['run', '-d', '--name', running, c.image, 'sleep', '300']);
      await c.ok(['create', '--name', stopped, c.image, 'sh', '-c', 'cat /small']);
      for (const [name, dest] of [[running, '/tmp/big'], [stopped, '/big']] as const) {
        const child = c.spawn(['cp', big, `${name}:${dest}`]);
        let err = '';
        child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
        const exited = new Promise<void>((r) => child.on('close', () => r()));
        // kill once the copy is under way: the running container's file has grown, or the stopped one's view is mounted
        const pid = name === running ? Number(await c.ok(['inspect', '-f', '{{.State.Pid}}', running])) : 0;
        const started = await waitFor(() => (pid ? sizeIn(pid, dest) > 0 : viewLeftovers(c).some((v) => v.startsWith('mount'))), 60_000, 5);
        assert.ok(started, `the copy into ${name} started (${err})`);
        child.kill('SIGKILL');
        await exited;
        if (name === running) assert.deepEqual(viewLeftovers(c), [], 'a running container is copied into without any view');
        // the container works on, and the next copy (which sweeps a dead copy's view) succeeds
        await c.ok(['cp', small, `${name}:/small`]);
        assert.deepEqual(viewLeftovers(c), [], `nothing left after the killed copy into ${name}`);
      }
      assert.equal(await c.ok(['exec', running, 'cat', '/small']), 'after');
      assert.equal(await c.ok(['start', '-a', stopped]), 'after');
      await c.ok(['rm', '-f', running, stopped]);
      assert.deepEqual(viewLeftovers(c), []);
      // a stopped container whose copy was killed is removed at once (rm sweeps the dead copy's view)
      const gone = `cpkill${process.pid}g`;
      const id = await c.ok(['create', '--name', gone, c.image]);
      const child = c.spawn(['cp', big, `${gone}:/big`]);
      const exited = new Promise<void>((r) => child.on('close', () => r()));
      assert.ok(await waitFor(() => viewLeftovers(c).some((v) => v.startsWith('mount')), 60_000, 5), 'the copy started');
      child.kill('SIGKILL');
      await exited;
      await c.ok(['rm', '-f', gone]);
      assert.deepEqual(viewLeftovers(c), []);
      assert.deepEqual(c.leftovers(id), []);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

/** Size of `path` in the container whose process is `pid` (the test's look through /proc, not berth's). */
function sizeIn(pid: number, path: string): number {
  try { return statSync(`/proc/${pid}/root${path}`).size; } catch { return 0; }
}
