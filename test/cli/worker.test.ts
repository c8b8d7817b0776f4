/**
 * `berth worker` and the native front (dist/berth): commands handed over a unix socket run in
 * the warm worker with the client's argv, environment, working directory, streams and signals;
 * commands that need their own terminal are declined and run in a fresh Node process; without
 * a worker the front runs Node. Whether the worker served a command is told by the front's
 * process image: it stays dist/berth when served, it is node after a fallback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needsOwnProcess, parseHello, MAGIC } from '../../src/cli/worker.js';
import { smapsMappings } from '../../src/sys/index.js';
import { busyboxEngine, type BusyboxEngine } from '../helpers/engine.js';
import { haveBusybox } from '../helpers/rootfs.js';
import { BERTH_MAIN, FRONT, haveFront, startWorker, type Worker } from '../helpers/worker.js';

const skip = process.getuid?.() !== 0 ? 'needs root' : !haveBusybox() ? 'busybox-static is not installed'
  : !haveFront() ? 'dist/berth is not built (node scripts/build.mjs)' : false;

interface Result { code: number | null; out: string; err: string }

function front(env: NodeJS.ProcessEnv, args: string[], o: { input?: string | Buffer; cwd?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const c = spawn(FRONT, args, { env, cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    c.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('error', reject);
    c.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
    c.stdin.on('error', () => undefined);
    c.stdin.end(o.input ?? '');
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The program a process runs now ('' once gone). */
function exe(pid: number): string {
  try { return readlinkSync(`/proc/${pid}/exe`); } catch { return ''; }
}

/** Wait until `c` runs `what` ('front' or 'node'); false on timeout. */
async function becomes(c: ChildProcess, what: 'front' | 'node', ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const e = exe(c.pid!);
    if (what === 'node' ? e === process.execPath || /\/node$/.test(e) : e === FRONT) return true;
    await sleep(20);
  }
  return false;
}

function exited(c: ChildProcess, ms: number): Promise<number | null | 'timeout'> {
  if (c.exitCode !== null) return Promise.resolve(c.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve('timeout'), ms);
    c.once('exit', (code) => { clearTimeout(t); resolve(code); });
  });
}

async function withWorker(fn: (e: BusyboxEngine, w: Worker) => Promise<void>, args: string[] = []): Promise<void> {
  const e = await busyboxEngine();
  let w: Worker | undefined;
  try {
    w = await startWorker(e.env, join(e.runRoot, 'cli.sock'), args);
    await fn(e, w);
  } finally {
    await w?.stop();
    await e.cleanup();
  }
}

test('worker: the hello frame and which commands need a process of their own', () => {
  const fields = [MAGIC, '/tmp', '22', '1', '0', '1', '40', '120', '3', 'run', '-d', 'busybox', 'A=1', 'B=x=y', ''];
  const h = parseHello(Buffer.from(fields.join('\0')));
  assert.deepEqual(h, { cwd: '/tmp', umask: 0o22, ttys: [true, false, true], rows: 40, cols: 120, argv: ['run', '-d', 'busybox'], env: { A: '1', B: 'x=y' } });
  assert.throws(() => parseHello(Buffer.from('other/1\0/\0')), /not a berth-cli\/2 hello/);
  assert.throws(() => parseHello(Buffer.from([MAGIC, '/', '22', '0', '0', '0', '0', '0', '5', 'ps'].join('\0'))), /truncated/);

  const own = (argv: string[], tty = false) => needsOwnProcess(argv, tty);
  assert.equal(own(['run', '-d', '--rm', 'busybox', 'true']), false);
  assert.equal(own(['ps', '-a']), false);
  assert.equal(own(['--data-root', '/x', 'run', '-i', 'busybox', 'cat']), false, '-i from a pipe is forwarded');
  assert.equal(own(['run', '-i', 'busybox', 'cat'], true), true, '-i from a terminal');
  assert.equal(own(['run', '-it', 'busybox', 'sh']), true);
  assert.equal(own(['run', '--tty', 'busybox', 'sh']), true);
  assert.equal(own(['container', 'run', '-t', 'busybox']), true);
  assert.equal(own(['start', '-ai', 'x'], true), true);
  for (const c of ['attach', 'exec', 'login', 'worker']) assert.equal(own([c, 'x']), true, c);
  assert.equal(own(['--run-root', 'exec', 'ps']), false, 'a global flag value is not the command');
  assert.equal(own([]), false);
});

test('worker: commands run in the worker with the client\'s streams, exit codes, stdin and working directory', { skip, timeout: 180_000 }, async () => {
  await withWorker(async (e, w) => {
    const env = w.env;
    const v = await front(env, ['--version']);
    assert.equal(v.code, 0, v.err);
    assert.match(v.out, /^berth version /);

    const r = await front(env, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual([r.code, r.out, r.err], [3, 'out\n', 'err\n']);

    // stdin is forwarded when the command reads it (-i), byte for byte
    const input = Buffer.alloc(300_000, 'abcdefghij\n');
    const cat = await front(env, ['run', '-i', '--rm', 'busybox', 'cat'], { input });
    assert.equal(cat.code, 0, cat.err);
    assert.equal(cat.out.length, input.length);
    assert.ok(Buffer.from(cat.out).equals(input));

    // the worker's helpers run from one sealed copy of the binary: its monitors share it
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const d = await front(env, ['run', '-d', 'busybox', 'sleep', '100']);
      assert.equal(d.code, 0, d.err);
      ids.push(d.out.trim());
    }
    const exes = await Promise.all(ids.map(async (id) => {
      const pid = Number((await front(env, ['inspect', '-f', '{{.State.Pid}}', id])).out.trim());
      const monitor = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      return { link: readlinkSync(`/proc/${monitor}/exe`), ino: statSync(`/proc/${monitor}/exe`).ino };
    }));
    assert.match(exes[0]!.link, /^\/memfd:berth-helper/);
    assert.equal(exes[0]!.ino, exes[1]!.ino, 'one image for both monitors');
    assert.equal((await front(env, ['rm', '-f', ...ids])).code, 0);

    // paths relative to the client's working directory
    const cwd = mkdtempSync(join(tmpdir(), 'berth-wcwd-'));
    try {
      const d = await front(env, ['run', '-d', '--cidfile', 'cid.txt', 'busybox', 'sleep', '100'], { cwd });
      assert.equal(d.code, 0, d.err);
      assert.equal(readFileSync(join(cwd, 'cid.txt'), 'utf8'), d.out.trim());
      const rm = await front(env, ['rm', '-f', d.out.trim()]);
      assert.equal(rm.code, 0, rm.err);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }

    // BERTH_TRACE=1 of one command: its marks on its stderr, counted from its start
    const traced = await front({ ...env, BERTH_TRACE: '1' }, ['ps', '-a']);
    assert.equal(traced.code, 0, traced.err);
    assert.match(traced.err, /^\[trace \d+\.\dms\] main$/m);
    assert.ok(Number(/^\[trace (\d+\.\d)ms\] main$/m.exec(traced.err)![1]) < 1000, 'from the command\'s start');
    assert.equal((await front(env, ['ps', '-a'])).err, '', 'the others do not trace');

    // usage errors as from the CLI
    const bad = await front(env, ['run', '--bogus', 'busybox']);
    assert.equal(bad.code, 125);
    assert.match(bad.err, /unknown flag: --bogus/);

    // several at once, each with its own output
    const many = await Promise.all(Array.from({ length: 6 }, (_, i) => front(env, ['run', '--rm', '--network', 'none', 'busybox', 'echo', `n${i}`])));
    many.forEach((m, i) => assert.deepEqual([m.code, m.out], [0, `n${i}\n`], m.err));
    assert.deepEqual((await front(env, ['ps', '-aq'])).out, '');
    // and all of it was the worker's: a streaming command from this client stays the front
    const ev = spawn(FRONT, ['events'], { env, stdio: 'ignore' });
    await sleep(300);
    assert.equal(exe(ev.pid!), FRONT, 'served, not handed to node');
    ev.kill('SIGINT');
    assert.notEqual(await exited(ev, 10_000), 'timeout');
  });
});

test('worker: each command uses its client\'s environment (roots), signals reach it, a vanished client ends it', { skip, timeout: 180_000 }, async () => {
  await withWorker(async (e, w) => {
    const other = await busyboxEngine();
    try {
      const a = await front(w.env, ['run', '-d', '--name', 'in-a', 'busybox', 'sleep', '100']);
      assert.equal(a.code, 0, a.err);
      const envB = { ...other.env, BERTH_WORKER_SOCKET: w.socket, BERTH_NO_WORKER: undefined };
      const b = await front(envB, ['run', '-d', '--name', 'in-b', 'busybox', 'sleep', '100']);
      assert.equal(b.code, 0, b.err);
      assert.equal((await front(w.env, ['ps', '--format', '{{.Names}}'])).out, 'in-a\n');
      assert.equal((await front(envB, ['ps', '--format', '{{.Names}}'])).out, 'in-b\n');
      // the global flag wins over the environment, for this command only
      assert.equal((await front(w.env, ['--data-root', other.root, '--run-root', other.runRoot, 'ps', '--format', '{{.Names}}'])).out, 'in-b\n');
      assert.equal((await front(w.env, ['ps', '--format', '{{.Names}}'])).out, 'in-a\n');

      // logs -f runs in the worker until the client's SIGINT
      const logs = spawn(FRONT, ['logs', '-f', 'in-a'], { env: w.env, stdio: 'ignore' });
      assert.ok(await becomes(logs, 'front'), 'served by the worker');
      await sleep(300);
      assert.equal(exe(logs.pid!), FRONT, 'still the front: not handed to node');
      logs.kill('SIGINT');
      assert.notEqual(await exited(logs, 10_000), 'timeout', 'logs -f ended on SIGINT');

      // attach needs the client's own terminal handling: declined, run by node
      const att = spawn(FRONT, ['attach', 'in-a'], { env: w.env, stdio: 'ignore' });
      assert.ok(await becomes(att, 'node'), 'attach falls back to a Node process');
      att.kill('SIGKILL');
      await exited(att, 5000);

      assert.equal((await front(w.env, ['rm', '-f', 'in-a'])).code, 0);
      assert.equal((await front(envB, ['rm', '-f', 'in-b'])).code, 0);
    } finally {
      await other.cleanup();
    }
  });

  // a client killed mid-command: the worker ends the command (events would otherwise run on),
  // so an idle worker exits after its timeout and removes its socket
  await withWorker(async (_e, w) => {
    const ev = spawn(FRONT, ['events'], { env: w.env, stdio: 'ignore' });
    assert.ok(await becomes(ev, 'front'));
    await sleep(300);
    ev.kill('SIGKILL');
    await exited(ev, 5000);
    assert.notEqual(await exited(w.proc, 15_000), 'timeout', `the idle worker exited: ${w.log()}`);
    assert.equal(existsSync(w.socket), false, 'its socket is removed');
  }, ['--idle-timeout', '2s']);
});

/** KiB of the node binary resident in process `pid` (its mappings of that file, from smaps). */
function nodeBinaryKiB(pid: number): number {
  const exe = realpathSync(process.execPath);
  return smapsMappings(readFileSync(`/proc/${pid}/smaps`, 'utf8')).filter((m) => m.path === exe).reduce((a, m) => a + m.rss, 0);
}

test('worker: once a burst is over it gives memory back, the node binary\'s pages included, and serves on', { skip, timeout: 120_000 }, async () => {
  await withWorker(async (_e, w) => {
    let r = await front(w.env, ['run', '--rm', '--network', 'none', 'busybox', 'true']);
    assert.equal(r.code, 0, r.err);
    const busy = nodeBinaryKiB(w.proc.pid!);
    // a quiet interval of 5 s after the work, then it settles (worker-idle.ts)
    let idle = busy;
    for (let i = 0; i < 80 && idle > busy / 2; i++) { await sleep(250); idle = nodeBinaryKiB(w.proc.pid!); }
    assert.ok(idle < busy / 2, `the node binary's resident KiB after the command ${busy}, idle ${idle}`);
    r = await front(w.env, ['run', '--rm', '--network', 'none', 'busybox', 'echo', 'again']);
    assert.deepEqual([r.code, r.out], [0, 'again\n'], r.err);
  });
});

test('worker: the front runs node without a worker; one worker per socket; a stale socket is replaced', { skip, timeout: 120_000 }, async () => {
  const dir = mkdtempSync('/tmp/bwk-');
  try {
    const env = { ...process.env, BERTH_WORKER_SOCKET: join(dir, 'none.sock') };
    const r = await front(env, ['--version']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^berth version /);
    const alone = spawn(FRONT, ['events'], { env, stdio: 'ignore' });
    assert.ok(await becomes(alone, 'node'), 'no worker: node runs the command');
    alone.kill('SIGKILL');
    await exited(alone, 5000);

    // a socket file nobody listens on (a worker killed with SIGKILL)
    const stale = join(dir, 'stale.sock');
    execFileSync('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)', stale]);
    const w = await startWorker(process.env, stale);
    try {
      // BERTH_NO_WORKER: node even with a worker listening
      const own = spawn(FRONT, ['events'], { env: { ...w.env, BERTH_NO_WORKER: '1' }, stdio: 'ignore' });
      assert.ok(await becomes(own, 'node'), 'BERTH_NO_WORKER=1 runs node');
      own.kill('SIGKILL');
      await exited(own, 5000);
      const second = spawn(process.execPath, [BERTH_MAIN, 'worker', '--socket', stale], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      second.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
      assert.equal(await exited(second, 20_000), 1);
      assert.match(err, /a worker already listens on/);
      const v = await front(w.env, ['--version']);
      assert.equal(v.code, 0, v.err);
    } finally {
      assert.equal(await w.stop(), 0);
    }
    assert.equal(existsSync(stale), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
