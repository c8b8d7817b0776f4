import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HelperSession, step } from '../../src/sys/index.js';
import { haveBusybox } from '../helpers/rootfs.js';
import { CLONE, containerPlan, runPlan, tempRootfs, waitGone } from './util.js';

const skip = !haveBusybox() ? 'busybox-static is not installed' : process.getuid?.() !== 0 ? 'needs root' : false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('fifo_open / ready / fifo_wait: the process execs only once start opens the fifo', { skip }, async () => {
  const tr = tempRootfs();
  const fifo = join(tr.dir, 'exec.fifo');
  execFileSync('mkfifo', ['-m', '0600', fifo]);
  try {
    const plan = containerPlan(tr.rootfs, 'echo started', {
      early: [step('fifo_open', [fifo], 'open the exec fifo', fifo)],
      afterPivot: [step('ready', [], 'ready'), step('fifo_wait', [], 'wait for start')],
    });
    const s = new HelperSession(plan, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    s.child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const pid = (await s.expect('pid', 'create')).pid!;
    s.go('{"id":"fifo"}');
    await s.expect('ready', 'create');
    await sleep(300);
    assert.equal(out, '', 'nothing ran before start');
    assert.ok(existsSync(`/proc/${pid}`));
    assert.equal(await readFile(fifo, 'utf8'), '0');
    assert.deepEqual(await s.expect('exit', 'start'), { type: 'exit', code: 0 });
    await s.exited;
    assert.equal(out, 'started\n');
    assert.ok(await waitGone(pid));
  } finally { tr.cleanup(); }
});

test('hooks get the go blob on stdin, fail with their status and time out', { skip }, async () => {
  const tr = tempRootfs();
  const outFile = join(tr.dir, 'hook.out');
  try {
    const ok = await runPlan(containerPlan(tr.rootfs, 'echo ran', {
      early: [step('hook', ['/bin/sh', 10, 3, 'sh', '-c', `cat > ${outFile}; echo "$X" >> ${outFile}`, 1, 'X=from-env'], 'hook cat')],
    }), { go: '{"id":"hooked","status":"creating"}' });
    assert.equal(ok.error, undefined, JSON.stringify(ok.error));
    assert.equal(readFileSync(outFile, 'utf8'), '{"id":"hooked","status":"creating"}from-env\n');
    assert.equal(ok.stdout, 'ran\n');

    const failing = await runPlan(containerPlan(tr.rootfs, 'echo never', {
      early: [step('hook', ['/bin/sh', 0, 3, 'sh', '-c', 'exit 3', 0], 'hook exit 3', '/bin/sh')],
    }));
    assert.equal(failing.error?.op, 'hook');
    assert.equal(failing.error?.detail, 'exit status 3');
    assert.equal(failing.error?.path, '/bin/sh');
    assert.equal(failing.stdout, '');
    const e = failing.session.errorFor(failing.error!, 'create');
    assert.equal(e.kind, 'hook');

    const uniq = `29.${process.pid}${Date.now() % 1000}`;
    const t0 = Date.now();
    const slow = await runPlan(containerPlan(tr.rootfs, 'echo never', {
      early: [step('hook', ['/bin/sleep', 1, 2, 'sleep', uniq, 0], 'hook sleep')],
    }));
    const took = Date.now() - t0;
    assert.equal(slow.error?.op, 'hook');
    assert.match(slow.error?.detail ?? '', /timeout/);
    assert.ok(took < 5000, `the hook was killed after its timeout (took ${took} ms)`);
    assert.equal(execFileSync('sh', ['-c', `pgrep -f "^sleep ${uniq}$" || true`], { encoding: 'utf8' }), '', 'the hook process is gone');

    const big = 'x'.repeat(300000);
    const large = await runPlan(containerPlan(tr.rootfs, 'echo ran', {
      early: [step('hook', ['/bin/sh', 10, 3, 'sh', '-c', `wc -c > ${outFile}`, 0], 'hook wc')],
    }), { go: big });
    assert.equal(large.error, undefined, JSON.stringify(large.error));
    assert.equal(readFileSync(outFile, 'utf8').trim(), '300000', 'a large blob reaches the hook through release');

    const missing = await runPlan(containerPlan(tr.rootfs, 'echo never', {
      early: [step('hook', ['/no/such/hook', 0, 1, 'x', 0], 'hook missing')],
    }));
    assert.equal(missing.error?.errno, 2);
    assert.equal(missing.error?.path, '/no/such/hook');
  } finally { tr.cleanup(); }
});

const RECEIVER = `
import socket, sys, os
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1]); srv.listen(1)
print("listening", flush=True)
conn, _ = srv.accept()
msg, fds, flags, addr = socket.recv_fds(conn, 65536, 1)
sys.stdout.write("payload=%s\\n" % msg.decode()); sys.stdout.flush()
if sys.argv[2] == "read":
    out = b""
    while True:
        try:
            d = os.read(fds[0], 4096)
        except OSError:
            break
        if not d:
            break
        out += d
    sys.stdout.write(out.decode(errors="replace"))
else:
    os.close(fds[0])
`;

/** A python3 unix socket server that receives one fd (Node cannot receive fds). */
async function receiver(sock: string, mode: 'read' | 'close') {
  // its own process group: `python3` may be a wrapper (pyenv's shim) whose child a kill of the
  // wrapper alone would leave behind
  const p = spawn('python3', ['-c', RECEIVER, sock, mode], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  let out = '';
  p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const done = new Promise<void>((resolve) => p.once('close', () => resolve()));
  for (let i = 0; i < 200 && !out.includes('listening'); i++) await sleep(20);
  assert.ok(out.includes('listening'), 'python3 receiver started');
  const killAll = () => { try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ } };
  return { output: async () => { await Promise.race([done, sleep(10000)]); killAll(); return out.replace(/^listening\n/, ''); } };
}

function consolePlan(rootfs: string, sock: string, viaParent: boolean, script = 'tty; stty size; ls -l /dev/console | cut -c1') {
  const MS_NOSUID = 2, MS_NOEXEC = 8;
  return containerPlan(rootfs, script, {
    early: viaParent ? [step('setsid', [], 'setsid')] : [step('console_connect', [sock], 'connect to the console socket', sock), step('setsid', [], 'setsid')],
    beforePivot: [
      step('mount', ['devpts', '/dev/pts', 'devpts', MS_NOSUID | MS_NOEXEC, 'newinstance,ptmxmode=0666,mode=0620', 'mkdir'], 'mount devpts', '/dev/pts'),
      step('symlink', ['pts/ptmx', '/dev/ptmx'], 'symlink /dev/ptmx', '/dev/ptmx'),
    ],
    afterPivot: [step('console', [30, 100], 'console 30x100')],
    post: [
      step('report_pid', [], 'pid'), step('await_go', [], 'go'), step('release', [], 'release'),
      ...(viaParent ? [step('console_recv', [], 'receive the console'), step('console_send', [sock], 'send the console', sock)] : []),
      step('await_ready', [], 'ready'), step('wait_exit', [], 'wait'),
    ],
  });
}

test('console: the pty master goes to a console socket (console_connect)', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const sock = join(tr.dir, 'console.sock');
    const rx = await receiver(sock, 'read');
    const r = await runPlan(consolePlan(tr.rootfs, sock, false), { stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    const out = (await rx.output()).replace(/\r/g, '');
    assert.match(out, /^payload=\/dev\/pts\/0\n\/dev\/pts\/0\n30 100\nc\n$/);
    assert.equal(r.stdout, '', 'the container wrote to the pty, not to the helper stdout');
  } finally { tr.cleanup(); }
});

test('console: console_recv in the parent, then console_send', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const sock = join(tr.dir, 'console.sock');
    const rx = await receiver(sock, 'read');
    const r = await runPlan(consolePlan(tr.rootfs, sock, true));
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    const out = (await rx.output()).replace(/\r/g, '');
    assert.match(out, /^payload=\/dev\/pts\/0\n\/dev\/pts\/0\n30 100\nc\n$/);
  } finally { tr.cleanup(); }
});

test('console: relay copies between the helper stdio and the pty (under script)', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const plan = consolePlan(tr.rootfs, '', true, 'tty; stty size; ls -l /dev/console | cut -c1; read line; echo got=$line');
    plan.post = plan.post.map((s) => s.op === 'console_send' ? step('relay', [], 'relay') : s);
    // relay after await_ready: move await_ready before relay
    plan.post = [
      ...plan.post.filter((s) => !['relay', 'await_ready', 'wait_exit'].includes(s.op)),
      step('await_ready', [], 'ready'), step('relay', [], 'relay'), step('wait_exit', [], 'wait'),
    ];
    const driver = join(tr.dir, 'driver.mjs');
    const sysUrl = new URL('../../src/sys/index.js', import.meta.url).href;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(driver, `
      import { HelperSession } from ${JSON.stringify(sysUrl)};
      const plan = ${JSON.stringify(plan)};
      const s = new HelperSession(plan, { stdio: ['inherit', 'inherit', 'inherit'] });
      await s.expect('pid', 'run'); s.go('{}');
      await s.expect('ready', 'run');
      const m = await s.expect('exit', 'run');
      console.error('EXIT=' + JSON.stringify(m));
    `);
    const out = execFileSync('script', ['-qec', `stty rows 40 cols 120; ${process.execPath} ${driver}`, '/dev/null'], { encoding: 'utf8', timeout: 20000, stdio: ['pipe', 'pipe', 'pipe'], input: 'typed-input\n' }).replace(/\r/g, '');
    // The typed line is echoed by the pty whenever it arrives, which may fall between the
    // container's lines: drop the echoes before checking their order.
    const lines = out.split('\n').filter((l) => l !== 'typed-input').join('\n');
    assert.match(lines, /\/dev\/pts\/0\n40 120\nc\n/, out);
    assert.match(out, /got=typed-input\n/, out);
    assert.match(out, /EXIT=\{"type":"exit","code":0\}/);
  } finally { tr.cleanup(); }
});

test('seccomp listener receives the notify fd and the state blob', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const sock = join(tr.dir, 'seccomp.sock');
    const rx = await receiver(sock, 'close');
    const NOTIFY = 0x7fc00000;
    const plan = containerPlan(tr.rootfs, 'mkdir /tmp/x 2>/dev/null; echo rc=$?', {
      afterPivot: [step('seccomp', [0x7fff0000, 1, 'x86_64', 0, sock, 1, 2, 'mkdir', 'mkdirat', NOTIFY, 0], 'seccomp with a listener')],
    });
    const r = await runPlan(plan, { go: '{"id":"seccomp-test"}' });
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(await rx.output(), 'payload={"id":"seccomp-test"}\n');
    assert.equal(r.stdout, 'rc=1\n');
  } finally { tr.cleanup(); }
});

test('setns joins an existing namespace before the clone', { skip }, async () => {
  const tr = tempRootfs();
  const holder = spawn('unshare', ['--uts', 'sh', '-c', 'hostname joined-uts; echo ok; exec sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((r) => holder.stdout.once('data', r));
    const plan = containerPlan(tr.rootfs, 'hostname', {
      flags: CLONE.NEWNS | CLONE.NEWPID,
      pre: [step('setns', [`/proc/${holder.pid}/ns/uts`, CLONE.NEWUTS], 'join the uts namespace')],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.stdout, 'joined-uts\n');
    const bad = await runPlan(containerPlan(tr.rootfs, 'true', { pre: [step('setns', ['/proc/self/ns/uts', CLONE.NEWNET], 'wrong type')] }));
    assert.equal(bad.error?.op, 'setns');
    assert.equal(bad.error?.step, 0);
    assert.equal(bad.error?.errno, 22);
  } finally { holder.kill('SIGKILL'); tr.cleanup(); }
});

test('unshare and pre write: a time namespace with offsets', { skip }, async (t) => {
  if (!existsSync('/proc/self/ns/time')) return t.skip('no time namespaces');
  const tr = tempRootfs();
  try {
    const plan = containerPlan(tr.rootfs, 'cat /proc/self/timens_offsets', {
      pre: [step('unshare', [0x80], 'unshare CLONE_NEWTIME'), step('write', ['/proc/self/timens_offsets', 'monotonic 86400 0'], 'time offsets')],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.match(r.stdout, /monotonic\s+86400\s+0/);
  } finally { tr.cleanup(); }
});

test('cgroup_add puts the child in a cgroup; pre write 0 to cgroup.procs moves the helper', { skip }, async (t) => {
  const cg = `/sys/fs/cgroup/pids/berth-native-${process.pid}`;
  const mem = `/sys/fs/cgroup/memory/berth-native-${process.pid}`;
  if (!existsSync('/sys/fs/cgroup/pids/cgroup.procs') || !existsSync('/sys/fs/cgroup/memory/cgroup.procs')) return t.skip('no pids/memory cgroup v1 hierarchy');
  const tr = tempRootfs();
  mkdirSync(cg);
  mkdirSync(mem);
  try {
    const plan = containerPlan(tr.rootfs, 'grep -E "pids|memory" /proc/self/cgroup | sort', {
      pre: [step('write', [`${mem}/cgroup.procs`, '0'], 'join the memory cgroup', `${mem}/cgroup.procs`)],
      post: [
        step('cgroup_add', [`${cg}/cgroup.procs`], 'join the cgroup', `${cg}/cgroup.procs`),
        step('report_pid', [], 'pid'), step('await_go', [], 'go'), step('release', [], 'release'),
        step('await_ready', [], 'ready'), step('wait_exit', [], 'wait'),
      ],
    });
    const r = await runPlan(plan);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.match(r.stdout, new RegExp(`memory:/berth-native-${process.pid}\\n`));
    assert.match(r.stdout, new RegExp(`pids:/berth-native-${process.pid}\\n`));
  } finally {
    for (const d of [cg, mem]) for (let i = 0; i < 50; i++) { try { rmdirSync(d); break; } catch { await sleep(20); } }
    tr.cleanup();
  }
});

test('a child error after ready is forwarded before the exit message', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const plan = containerPlan(tr.rootfs, '', {
      afterPivot: [step('ready', [], 'ready'), step('chdir', ['/nope'], 'chdir /nope', '/nope')],
    });
    const r = await runPlan(plan);
    assert.deepEqual(r.msgs.map((m) => m.type), ['pid', 'ready', 'error', 'exit']);
    assert.equal(r.error?.op, 'chdir');
    assert.deepEqual(r.exitMsg, { type: 'exit', code: 1 });
  } finally { tr.cleanup(); }
});

test('create: the container outlives the helper, start opens the fifo; later errors go to stderr', { skip }, async () => {
  const tr = tempRootfs();
  const fifo = join(tr.dir, 'exec.fifo');
  execFileSync('mkfifo', ['-m', '0600', fifo]);
  const createPost = [
    step('report_pid', [], 'pid'), step('await_go', [], 'go'), step('release', [], 'release'), step('await_ready', [], 'ready'),
  ];
  try {
    const plan = containerPlan(tr.rootfs, 'echo started-after-helper', {
      early: [step('fifo_open', [fifo], 'open the exec fifo', fifo)],
      afterPivot: [step('ready', [], 'ready'), step('fifo_wait', [], 'wait for start')],
      post: createPost,
    });
    const r0 = new HelperSession(plan, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    r0.child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const pid = (await r0.expect('pid', 'create')).pid!;
    r0.go('{}');
    await r0.expect('ready', 'create');
    assert.equal((await r0.exited).code, 0);
    await sleep(200);
    assert.ok(existsSync(`/proc/${pid}`), 'the container process survives the helper');
    assert.equal(await readFile(fifo, 'utf8'), '0');
    for (let i = 0; i < 100 && !out; i++) await sleep(20);
    assert.equal(out, 'started-after-helper\n');

    const bad = containerPlan(tr.rootfs, 'echo never', {
      afterPivot: [step('ready', [], 'ready'), step('chdir', ['/nope'], 'chdir /nope', '/nope')],
      post: createPost,
    });
    const r1 = new HelperSession(bad, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    r1.child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    await r1.expect('pid', 'create');
    r1.go('{}');
    const msgs = [];
    for (let m = await r1.next(); m; m = await r1.next()) msgs.push(m);
    await r1.exited;
    // the parent forwards the error if the child sent it before the parent left, else the
    // child prints it on its stderr
    const e = msgs.find((m) => m.type === 'error');
    if (e) assert.equal(e.op, 'chdir');
    else {
      for (let i = 0; i < 100 && !err; i++) await sleep(20);
      assert.match(err, /^berth-helper: step \d+ \(chdir \/nope\): No such file or directory/);
    }
  } finally { tr.cleanup(); }
});
