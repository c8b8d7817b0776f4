/**
 * What a user's arguments may never reach, and how a command may never end: the native fronts
 * (dist/berth, dist/berth-runtime) keep every argument out of Node's own option parsing (Node 20
 * loads `--env-file FILE` anywhere in its command line, NODE_OPTIONS included), and the top-level
 * guard turns anything unexpected into one line (a stack only with --debug).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FRONT } from '../helpers/worker.js';
import { repoRoot } from '../helpers/probe.js';
import { prng } from '../helpers/fault.js';
import { cannotRun, messageLines, withCli, type Cli, type Result } from './run-util.js';

const RUNTIME_FRONT = join(repoRoot(), 'dist', 'berth-runtime');
const skip = cannotRun() || (!existsSync(FRONT) || !existsSync(RUNTIME_FRONT) ? 'the native fronts are not built' : false);

/** Run a front (never through a worker) with `args`. */
function front(bin: string, env: NodeJS.ProcessEnv, args: string[], cwd?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: { ...env, BERTH_NO_WORKER: '1' }, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out, err }); });
    child.stdin.on('error', () => undefined);
    child.stdin.end();
  });
}

/** A script that, if Node ever loads it, leaves `marker` behind. */
function trap(dir: string): { script: string; marker: string } {
  const marker = join(dir, 'node-ran-it');
  const script = join(dir, 'evil.cjs');
  writeFileSync(script, `require('fs').writeFileSync(${JSON.stringify(marker)}, process.argv.join(' '));\n`);
  return { script, marker };
}

const noStack = (what: string, r: Result) => {
  assert.doesNotMatch(r.err, /^\s+at .+\(.*:\d+:\d+\)$/m, `${what}: a stack trace\n${r.err}`);
  assert.doesNotMatch(r.err, /node:internal|^node: |Node\.js v\d/m, `${what}: Node's own message\n${r.err}`);
};

test('the package bins are the native fronts, not Node scripts', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { bin: Record<string, string> };
  for (const [name, rel] of Object.entries(pkg.bin)) {
    const file = join(repoRoot(), rel);
    if (!existsSync(file)) { assert.fail(`bin ${name}: ${rel} is not built`); }
    const fd = openSync(file, 'r');
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    closeSync(fd);
    assert.deepEqual([...head], [0x7f, 0x45, 0x4c, 0x46], `bin ${name} (${rel}) is an ELF executable`);
  }
});

test('--env-file is read by berth, never by Node (NODE_OPTIONS, BERTH_* and a missing file)', { skip }, () => withCli(async (c: Cli) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-envfile-'));
  try {
    const { script, marker } = trap(dir);
    const other = join(dir, 'other-root');
    const envFile = join(dir, 'app.env');
    writeFileSync(envFile, `NODE_OPTIONS=--require ${script}\nBERTH_ROOT=${other}\nFOO=bar\n`);
    for (const form of [['--env-file', envFile], [`--env-file=${envFile}`]]) {
      const r = await front(FRONT, c.env, ['run', '--rm', ...form, 'busybox', 'env']);
      assert.equal(r.code, 0, r.err);
      // the container gets the file's variables…
      assert.match(r.out, new RegExp(`^NODE_OPTIONS=--require ${script}$`, 'm'));
      assert.match(r.out, /^FOO=bar$/m);
      // …and berth's own process none of them
      assert.ok(!existsSync(marker), `Node loaded the env file: ${existsSync(marker) ? readFileSync(marker, 'utf8') : ''}`);
      assert.ok(!existsSync(other), 'BERTH_ROOT from the env file changed berth\'s data root');
    }
    // a missing file: Docker's message and status
    const r = await front(FRONT, c.env, ['run', '--rm', '--env-file', '/nonexistent/app.env', 'busybox', 'true']);
    assert.equal(r.code, 125, r.err);
    assert.deepEqual(messageLines(r.err), ['berth: open /nonexistent/app.env: no such file or directory'], r.err);
    // the container's own arguments reach it as they are
    const echo = await front(FRONT, c.env, ['run', '--rm', 'busybox', 'echo', '--env-file', envFile, `--require=${script}`, '-r', script]);
    assert.equal(echo.code, 0, echo.err);
    assert.equal(echo.out, `--env-file ${envFile} --require=${script} -r ${script}\n`);
    assert.ok(!existsSync(marker));
    // berth-runtime's front the same: containerd passes whatever the user gave after the id
    for (const args of [['--env-file', envFile, 'list'], ['list', `--env-file=${envFile}`], ['state', '--env-file', '/nonexistent/x']]) {
      const rr = await front(RUNTIME_FRONT, c.env, ['--root', join(dir, 'rt'), ...args]);
      noStack(`berth-runtime ${args.join(' ')}`, rr);
      assert.ok(!existsSync(marker), `berth-runtime ${args.join(' ')}: Node loaded the env file`);
    }
    // and the environment that carried the arguments does not reach the container
    const env = await front(FRONT, c.env, ['run', '--rm', 'busybox', 'env']);
    assert.doesNotMatch(env.out, /BERTH_ARG/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
}));

// Node options a fuzzed argument may look like (all harmless if parsed: each would leave the marker
// or change how Node runs, which the checks catch).
const NODE_LOOKALIKES = (script: string, envFile: string) => [
  '--env-file', envFile, `--env-file=${envFile}`, '--require', script, `--require=${script}`, '-r', script,
  '--import', script, '--loader', script, '--experimental-loader', script, `--title=evil`, '--inspect', '-e', '--eval',
  'process.exit(7)', '-p', '--print', '--', '-', '--v8-options', '--abort-on-uncaught-exception', '--check', '-c',
];

const RUN_FLAGS = [
  '-e', '--env', '-l', '--label', '--name', '-w', '--workdir', '-u', '--user', '-m', '--memory', '--cpus', '--pid', '--ipc',
  '--network', '--restart', '--entrypoint', '-v', '--volume', '--mount', '--tmpfs', '--ulimit', '--cap-add', '--cap-drop',
  '--security-opt', '--device', '--hostname', '--log-opt', '--env-file', '--label-file', '--cidfile', '--platform', '--pull',
  '--stop-signal', '--stop-timeout', '--shm-size', '--sysctl', '--add-host', '--dns', '--init', '--rm', '-d', '-i', '-t',
  '--privileged', '--read-only', '--detach-keys', '--health-cmd', '-p', '--expose', '--oom-score-adj', '--memory-swap',
];

test('fuzzed run/create command lines: nothing reaches Node, no stack, Docker\'s statuses', { skip }, (t) => withCli(async (c: Cli) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-argfuzz-'));
  try {
    const { script, marker } = trap(dir);
    const envFile = join(dir, 'x.env');
    writeFileSync(envFile, `NODE_OPTIONS=--require ${script}\n`);
    const seed = Number(process.env.BERTH_FUZZ_SEED ?? Date.now() % 100000);
    const rand = prng(seed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const looks = NODE_LOOKALIKES(script, envFile);
    const junk = () => pick([pick(looks), pick(looks), String(Math.floor(rand() * 1e6)), '', ' ', '\u00e9\u0000'.slice(0, 1), 'a=b', '/', '../../x', '%v{{', 'busybox']);
    let runs = 0;
    for (let i = 0; i < 24; i++) {
      const args: string[] = [pick(['create', 'run'])];
      const n = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < n; k++) {
        args.push(pick(RUN_FLAGS));
        if (rand() < 0.8) args.push(junk());
      }
      if (rand() < 0.7) args.push('--pull', 'never', 'busybox');
      for (let k = Math.floor(rand() * 3); k > 0; k--) args.push(junk());
      if (args[0] === 'run' && !args.includes('-d')) args.splice(1, 0, '--rm');
      const what = `seed ${seed} #${i}: berth ${args.map((a) => JSON.stringify(a)).join(' ')}`;
      const r = await front(FRONT, c.env, args, dir);
      runs++;
      assert.ok(!existsSync(marker), `${what}: Node ran the user's script`);
      noStack(what, r);
      assert.ok(r.signal === null, `${what}: killed by ${r.signal}`);
      // berth's own failures are 125 (flags) or 1 (daemon-side); 126/127 a command that could not start
      assert.ok(r.code !== null && [0, 1, 125, 126, 127].includes(r.code), `${what}: exit ${r.code}\n${r.err}`);
      assert.notEqual(r.code, 7, `${what}: a Node -e/--eval ran`);
    }
    const ids = await c.ids();
    if (ids.length) await c.ok(['rm', '-f', ...ids]);
    t.diagnostic(`argv fuzz: ${runs} command lines, seed ${seed}`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
}));

test('nothing ends in a stack trace: save to a missing directory, load of a truncated archive, --debug shows the stack', { skip }, () => withCli(async (c: Cli) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-guard-'));
  try {
    let r = await c.berth(['save', '-o', '/nonexistent-dir/x.tar', 'busybox']);
    assert.notEqual(r.code, 0);
    noStack('save -o /nonexistent-dir/x.tar', r);
    assert.equal(messageLines(r.err).length, 1, r.err);
    assert.match(r.err, /invalid output path: directory "\/nonexistent-dir" does not exist/);
    const full = join(dir, 'bb.tar');
    await c.ok(['save', '-o', full, 'busybox']);
    const trunc = join(dir, 'trunc.tar');
    writeFileSync(trunc, readFileSync(full).subarray(0, 3000));
    r = await c.berth(['load', '-i', trunc]);
    assert.notEqual(r.code, 0);
    noStack('load of a truncated archive', r);
    assert.equal(messageLines(r.err).length, 1, r.err);
    assert.match(r.err, /^(berth: |Error response from daemon: )load.*: unexpected EOF$/m);
    r = await c.berth(['--debug', 'load', '-i', trunc]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /^\s+at /m, '--debug shows the stack');
    r = await c.berth(['-D', 'load', '-i', trunc], { env: {} });
    assert.match(r.err, /^\s+at /m, '-D shows the stack');
  } finally { rmSync(dir, { recursive: true, force: true }); }
}));

test('flag errors name the program once; exec -w into a missing directory is 126; ps --filter name=^x$', { skip }, () => withCli(async (c: Cli) => {
  const r = await c.berth(['run', '--env-file', '/nonexistent/e', 'busybox']);
  assert.doesNotMatch(r.err, /berth: berth:/);
  await c.ok(['run', '-d', '--name', 'wd', 'busybox', 'sleep', '60']);
  const e = await c.berth(['exec', '-w', '/nonexist', 'wd', 'true']);
  assert.equal(e.code, 126, e.err);
  assert.match(e.err, /chdir to cwd \("\/nonexist"\).*no such file or directory/);
  await c.ok(['create', '--name', 'wdx', 'busybox']);
  for (const f of ['name=^wd$', 'name=^/wd$']) assert.equal(await c.ok(['ps', '-a', '--filter', f, '--format', '{{.Names}}']), 'wd', f);
  assert.equal(await c.ok(['ps', '-a', '--filter', 'name=wd', '--format', '{{.Names}}']), 'wdx\nwd');
  await c.ok(['rm', '-f', 'wd', 'wdx']);
}));
