/**
 * The warm process the front starts by itself: the front (dist/berth) pointed at a run root with
 * no warm process starts one (`berth worker --auto`, detached, on <run root>/cli.sock), so that
 * the next command is served warm; racing fronts start one; it exits after its idle timeout; the
 * opt-outs start none; containers never depend on it; one of another build is replaced; a
 * `berth serve` takes its place. Every test stops the warm processes of its run root.
 * Whether a command was served is told by the front's process image (worker.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAGIC, parseHello } from '../../src/cli/worker.js';
import { busyboxEngine, type BusyboxEngine } from '../helpers/engine.js';
import { haveBusybox } from '../helpers/rootfs.js';
import { FRONT, haveFront, startWorker } from '../helpers/worker.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : !haveBusybox() ? 'busybox-static is not installed'
  : !haveFront() ? 'dist/berth is not built (node scripts/build.mjs)' : false;
const DIST_CLI = join(FRONT, '..', 'berth.cjs');

interface Result { code: number | null; out: string; err: string }

function front(env: NodeJS.ProcessEnv, args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const c = spawn(FRONT, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    c.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('error', reject);
    c.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The environment of a user of these roots: no BERTH_NO_WORKER, no socket of their own. */
function userEnv(e: BusyboxEngine, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...e.env, BERTH_NO_WORKER: undefined, BERTH_WORKER_SOCKET: undefined, BERTH_WORKER_IDLE_TIMEOUT: '60s', ...extra };
}

/** The warm processes started for this run root (their start environment names its socket). */
function warm(runRoot: string): number[] {
  const want = `BERTH_ARG_3=${runRoot}/cli.sock`;
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (!readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('berth.cjs')) continue;
      if (readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(want)) pids.push(Number(d));
    } catch { /* gone */ }
  }
  return pids;
}

async function until(what: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (what()) return true;
    await sleep(50);
  }
  return what();
}

function alive(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st[st.lastIndexOf(')') + 2] !== 'Z';
  } catch { return false; }
}

async function stopWarm(runRoot: string): Promise<void> {
  for (const pid of warm(runRoot)) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
  if (await until(() => warm(runRoot).length === 0, 10_000)) return;
  for (const pid of warm(runRoot)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  await until(() => warm(runRoot).length === 0, 5000);
}

/** Whether `c` still runs the front (served) rather than node (run by itself) after a while. */
async function servedWarm(c: ChildProcess): Promise<boolean> {
  await sleep(400);
  let exe = '';
  try { exe = readlinkSync(`/proc/${c.pid}/exe`); } catch { /* gone */ }
  return exe === FRONT;
}

async function streamServed(env: NodeJS.ProcessEnv): Promise<boolean> {
  const ev = spawn(FRONT, ['events'], { env, stdio: 'ignore' });
  try { return await servedWarm(ev); } finally {
    ev.kill('SIGINT');
    await new Promise((r) => (ev.exitCode !== null ? r(null) : ev.once('exit', r)));
  }
}

async function withRoots(fn: (e: BusyboxEngine) => Promise<void>): Promise<void> {
  const e = await busyboxEngine();
  try { await fn(e); } finally {
    await stopWarm(e.runRoot);
    await e.cleanup();
  }
}

test('worker-auto: the hello carries the front\'s build', () => {
  const h = parseHello(Buffer.from([`${MAGIC} 12:345:6.000000007`, '/', '22', '0', '0', '0', '0', '0', '1', 'ps', ''].join('\0')));
  assert.equal(h.build, '12:345:6.000000007');
  assert.deepEqual(h.argv, ['ps']);
  assert.equal(parseHello(Buffer.from([MAGIC, '/', '22', '0', '0', '0', '0', '0', '0', ''].join('\0'))).build, undefined);
});

test('worker-auto: the first command starts the warm process, the next are served by it, it exits when idle', { skip, timeout: 120_000 }, async () => {
  await withRoots(async (e) => {
    const env = userEnv(e, { BERTH_WORKER_IDLE_TIMEOUT: '3s' });
    assert.deepEqual(warm(e.runRoot), []);
    const r = await front(env, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo first']);
    assert.deepEqual([r.code, r.out], [0, 'first\n'], r.err);
    const pids = warm(e.runRoot);
    assert.equal(pids.length, 1, 'one warm process started');
    assert.match(readFileSync(join(e.runRoot, 'cli.log'), 'utf8'), new RegExp(`listening on ${e.runRoot}/cli.sock \\(pid ${pids[0]}, idle timeout 3s\\)`));
    const r2 = await front(env, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo second']);
    assert.deepEqual([r2.code, r2.out], [0, 'second\n'], r2.err);
    assert.ok(await streamServed(env), 'a later command is served warm');
    assert.deepEqual(warm(e.runRoot), pids, 'by the same process');
    // nothing of the caller's is held: the front's pipes closed when it exited (front() resolved)
    assert.ok(await until(() => warm(e.runRoot).length === 0, 15_000), 'gone after its idle timeout');
    assert.ok(!existsSync(join(e.runRoot, 'cli.sock')), 'its socket removed');
    // and the next command starts another
    assert.equal((await front(env, ['ps'])).code, 0);
    assert.equal(warm(e.runRoot).length, 1);
  });
});

test('worker-auto: fronts racing on a run root start one warm process', { skip, timeout: 120_000 }, async () => {
  await withRoots(async (e) => {
    const env = userEnv(e);
    const all = await Promise.all(Array.from({ length: 6 }, () => front(env, ['ps', '-q'])));
    all.forEach((r) => assert.equal(r.code, 0, r.err));
    await sleep(1000); // a loser would have exited by now
    assert.equal(warm(e.runRoot).length, 1);
    assert.ok(await streamServed(env));
  });
});

test('worker-auto: a command that needs the terminal runs in Node at once and starts the warm process for the next', { skip, timeout: 120_000 }, async () => {
  await withRoots(async (e) => {
    const env = userEnv(e);
    const r = await front(env, ['attach', 'nosuch']);
    assert.equal(r.code, 1);
    assert.match(r.err, /No such container: nosuch/);
    assert.ok(await until(() => warm(e.runRoot).length === 1, 20_000), 'started in the background');
    assert.ok(await until(() => existsSync(join(e.runRoot, 'cli.sock')), 20_000));
    assert.ok(await streamServed(env));
  });
});

test('worker-auto: BERTH_NO_WORKER=1 and the config key "worker": false start none', { skip, timeout: 120_000 }, async () => {
  await withRoots(async (e) => {
    assert.equal((await front(userEnv(e, { BERTH_NO_WORKER: '1' }), ['ps'])).code, 0);
    const config = join(e.root, 'config.json');
    writeFileSync(config, JSON.stringify({ 'log-opts': { 'max-file': 1 }, worker: false }));
    const cenv = userEnv(e, { BERTH_CONFIG: config });
    assert.equal((await front(cenv, ['ps'])).code, 0);
    assert.equal(await streamServed(cenv), false, 'run by node');
    await sleep(500);
    assert.deepEqual(warm(e.runRoot), []);
    assert.ok(!existsSync(join(e.runRoot, 'cli.sock')));
    // the config's run root is where a front looks (and starts one, when allowed)
    writeFileSync(config, JSON.stringify({ 'run-root': e.runRoot }));
    const renv = userEnv(e, { BERTH_CONFIG: config, BERTH_RUN_ROOT: undefined });
    assert.equal((await front(renv, ['ps'])).code, 0);
    assert.equal(warm(e.runRoot).length, 1);
  });
});

test('worker-auto: containers do not depend on the warm process (SIGKILL, SIGTERM)', { skip, timeout: 120_000 }, async () => {
  await withRoots(async (e) => {
    const env = userEnv(e);
    const d = await front(env, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '300']);
    assert.equal(d.code, 0, d.err);
    const id = d.out.trim();
    const pidOf = async () => Number((await front(env, ['inspect', '-f', '{{.State.Pid}}', id])).out.trim());
    const pid = await pidOf();
    assert.ok(pid > 0 && alive(pid));
    for (const sig of ['SIGKILL', 'SIGTERM'] as const) {
      const [w] = warm(e.runRoot);
      assert.ok(w, 'a warm process serves');
      process.kill(w!, sig);
      assert.ok(await until(() => !warm(e.runRoot).includes(w!), 15_000), `the warm process ended on ${sig}`);
      await sleep(300);
      assert.ok(alive(pid), `the container outlives the warm process (${sig})`);
      const ps = await front(env, ['ps', '--format', '{{.ID}} {{.Status}}']);
      assert.match(ps.out, new RegExp(`^${id.slice(0, 12)} Up`), ps.err);
      assert.equal(await pidOf(), pid);
    }
    assert.equal((await front(env, ['rm', '-f', id])).code, 0);
    assert.ok(await until(() => !alive(pid), 10_000));
  });
});

test('worker-auto: a warm process of another build is replaced', { skip, timeout: 120_000 }, async () => {
  await withRoots(async (e) => {
    // a worker of the tsc build (build/…), on the run root's own socket: not the front's build
    const old = await startWorker({ ...e.env, BERTH_NO_WORKER: undefined }, join(e.runRoot, 'cli.sock'));
    const r = await front(userEnv(e), ['ps', '-q']);
    assert.equal(r.code, 0, r.err);
    assert.equal(await old.stop(), 0, 'the other build retired by itself');
    assert.match(old.log(), /listening on/);
    assert.equal(warm(e.runRoot).length, 1, 'a current one started in its place');
    assert.ok(await streamServed(userEnv(e)));
  });
});

test('worker-auto: berth serve is the warm process (it takes the socket over, and leaves it)', { skip, timeout: 120_000 }, async () => {
  await withRoots(async (e) => {
    const env = userEnv(e);
    assert.equal((await front(env, ['ps'])).code, 0);
    const [w] = warm(e.runRoot);
    assert.ok(w);
    const api = join(e.runRoot, 'api.sock');
    const serve = spawn(process.execPath, [DIST_CLI, 'serve', '-H', `unix://${api}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    serve.stderr!.setEncoding('utf8').on('data', (d: string) => { log += d; });
    const exited = new Promise<number | null>((r) => serve.once('exit', (code) => r(code)));
    try {
      assert.ok(await until(() => log.includes('berth commands served on'), 30_000), log);
      assert.ok(await until(() => !warm(e.runRoot).includes(w!), 15_000), 'the auto-started worker retired');
      const d = await front(env, ['run', '-d', '--name', 'via-serve', '--network', 'none', 'busybox', 'sleep', '300']);
      assert.equal(d.code, 0, d.err);
      assert.ok(await streamServed(env), 'served by berth serve');
      assert.deepEqual(warm(e.runRoot), [], 'and no worker was started');
      // the API sees what the front made through the same process
      const r = await fetchUnix(api, '/containers/json');
      assert.match(r, /via-serve/);
    } finally {
      serve.kill('SIGTERM');
    }
    assert.equal(await exited, 0, log);
    assert.ok(!existsSync(join(e.runRoot, 'cli.sock')), 'serve removed the socket it took');
    assert.equal((await front(env, ['rm', '-f', 'via-serve'])).code, 0);
  });
});

test('worker-auto: a container\'s exit is recorded with the warm process (its exit command served) and without one (none started)', { skip, timeout: 120_000 }, async () => {
  await withRoots(async (e) => {
    const exitsAs = async (env: NodeJS.ProcessEnv, code: number) => {
      const d = await front(env, ['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', `sleep 0.3; exit ${code}`]);
      assert.equal(d.code, 0, d.err);
      const id = d.out.trim();
      let state = '';
      for (let i = 0; i < 100 && !state.startsWith('exited'); i++) {
        state = (await front(env, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', id])).out.trim();
        await sleep(100);
      }
      assert.equal(state, `exited ${code}`);
      const rm = await front(env, ['run', '-d', '--rm', '--network', 'none', 'busybox', 'true']);
      assert.equal(rm.code, 0, rm.err);
      let left = 'x';
      for (let i = 0; i < 100 && left; i++) { left = (await front(env, ['ps', '-aq', '--filter', `id=${rm.out.trim()}`])).out.trim(); await sleep(100); }
      assert.equal(left, '', 'a --rm container removed at its exit');
    };
    await exitsAs(userEnv(e), 3);
    assert.equal(warm(e.runRoot).length, 1);
    await stopWarm(e.runRoot);
    await exitsAs(userEnv(e, { BERTH_NO_WORKER: '1' }), 4);
    assert.deepEqual(warm(e.runRoot), [], 'an exit command starts no warm process');
  });
});

/** GET `path` on the API's unix socket (the body). */
async function fetchUnix(socket: string, path: string): Promise<string> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

test('worker-auto: a warm process that dies before it listens is not started again by every command (a minute\'s back-off)', { skip, timeout: 120_000 }, async () => {
  await withRoots(async (e) => {
    // a `node` on PATH that fails the warm process's start (and runs everything else)
    const bin = join(e.runRoot, 'fakebin');
    mkdirSync(bin, { recursive: true });
    const tries = join(bin, 'tries');
    writeFileSync(join(bin, 'node'), `#!/bin/sh\nif [ "$BERTH_ARG_0" = worker ]; then echo x >> ${tries}; exit 3; fi\nexec ${process.execPath} "$@"\n`, { mode: 0o755 });
    const env = userEnv(e, { PATH: `${bin}:${process.env.PATH}` });
    for (let i = 0; i < 3; i++) {
      const r = await front(env, ['ps', '-q']);
      assert.equal(r.code, 0, r.err);
    }
    const count = () => (existsSync(tries) ? readFileSync(tries, 'utf8').split('\n').filter(Boolean).length : 0);
    assert.equal(count(), 1, 'one start tried, not one per command');
    assert.ok(existsSync(join(e.runRoot, 'cli.failed')));
    // once the minute is over (its stamp aged), the next command tries again
    utimesSync(join(e.runRoot, 'cli.failed'), new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    assert.equal((await front(env, ['ps', '-q'])).code, 0);
    assert.equal(count(), 2);
  });
});
