/** `berth serve`: stdin, follow, wait/kill/restart through the docker CLI; a killed server loses no container; listen rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BERTH_MAIN } from '../helpers/worker.js';
import { cannotServe, withServer } from './util.js';

const skip = cannotServe();

test('docker run -i with piped stdin, logs -f, wait, kill, restart, info', { skip, timeout: 120_000 }, async () => {
  await withServer(async (s) => {
    const cat = await s.docker(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo done'], { input: 'line1\nline2\n' });
    assert.equal(cat.code, 0, cat.err);
    assert.equal(cat.out, 'line1\nline2\ndone\n');

    const d = await s.docker(['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'echo a; sleep 1; echo b']);
    assert.equal(d.code, 0, d.err);
    const follow = await s.docker(['logs', '-f', 'ticker'], { timeoutMs: 15000 });
    assert.equal(follow.code, 0, follow.err);
    assert.equal(follow.out, 'a\nb\n');
    const w = await s.docker(['wait', 'ticker']);
    assert.equal(w.out, '0\n');

    await s.docker(['run', '-d', '--name', 'victim', 'busybox', 'sleep', '60']);
    const k = await s.docker(['kill', 'victim']);
    assert.equal(k.code, 0, k.err);
    assert.equal((await s.docker(['wait', 'victim'])).out, '137\n');
    const r = await s.docker(['restart', '-t', '1', 'victim']);
    assert.equal(r.code, 0, r.err);
    assert.equal((await s.docker(['inspect', '-f', '{{.State.Running}}', 'victim'])).out, 'true\n');
    const kNotRunning = await s.docker(['kill', 'ticker']);
    assert.equal(kNotRunning.code, 1);
    assert.match(kNotRunning.err, /is not running/);

    const info = await s.docker(['info', '--format', '{{.OSType}} {{.Swarm.LocalNodeState}}']);
    assert.equal(info.code, 0, info.err);
    assert.equal(info.out, 'linux inactive\n');

    const gone = await s.docker(['inspect', 'nosuch']);
    assert.equal(gone.code, 1);
    assert.match(gone.err, /No such object: nosuch/);
    const rmf = await s.docker(['rm', '-f', 'victim', 'ticker']);
    assert.equal(rmf.code, 0, rmf.err);
  });
});

test('a killed server loses no container', { skip, timeout: 60_000 }, async () => {
  await withServer(async (s) => {
    const d = await s.docker(['run', '-d', '--name', 'survivor', 'busybox', 'sleep', '60']);
    assert.equal(d.code, 0, d.err);
    s.server.kill('SIGKILL');
    await new Promise((r) => s.server.once('exit', r));
    await s.restart();
    const ps = await s.docker(['ps', '--format', '{{.Names}} {{.State}}']);
    assert.equal(ps.out, 'survivor running\n');
    const rm = await s.docker(['rm', '-f', 'survivor']);
    assert.equal(rm.code, 0, rm.err);
  });
});

test('serve refuses a non-loopback TCP address without --insecure-tcp', { skip }, () => {
  const r = spawnSync(process.execPath, [BERTH_MAIN, 'serve', '-H', 'tcp://0.0.0.0:23750'], { encoding: 'utf8', timeout: 10000 });
  assert.notEqual(r.status, 0, r.stderr);
  assert.match(r.stderr, /refusing to listen on tcp:\/\/0\.0\.0\.0:23750/);
});

test('docker exec: output, exit code, stdin, a stopped container refused', { skip, timeout: 60_000 }, async () => {
  await withServer(async (s) => {
    assert.equal((await s.docker(['run', '-d', '--name', 'host', 'busybox', 'sleep', '60'])).code, 0);
    const e = await s.docker(['exec', 'host', 'sh', '-c', 'echo out; echo err >&2; exit 5']);
    assert.equal(e.code, 5, e.err);
    assert.equal(e.out, 'out\n');
    assert.equal(e.err, 'err\n');
    const i = await s.docker(['exec', '-i', 'host', 'cat'], { input: 'piped\n' });
    assert.equal(i.code, 0, i.err);
    assert.equal(i.out, 'piped\n');
    const d = await s.docker(['exec', '-d', 'host', 'touch', '/tmp/detached']);
    assert.equal(d.code, 0, d.err);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await s.docker(['exec', 'host', 'ls', '/tmp/detached'])).out, '/tmp/detached\n');
    await s.docker(['stop', '-t', '0', 'host']);
    const stopped = await s.docker(['exec', 'host', 'true']);
    assert.equal(stopped.code, 1);
    assert.match(stopped.err, /is not running/);
    await s.docker(['rm', '-f', 'host']);
  });
});
