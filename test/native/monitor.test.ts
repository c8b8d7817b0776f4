import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { attach, HelperSession, step } from '../../src/sys/index.js';
import { alive, CLONE, tempRootfs, waitGone } from './util.js';
import { collect, exeMappings, logEntries, monitorPlan, RFC3339NANO, skip, sleep, start, stop, until, vmRss, waitExit } from './monitor-util.js';

test('monitor: a detached container logs in json-file format and leaves its exit file; RSS < 1 MiB', { skip }, async (t) => {
  const tr = tempRootfs();
  let pids;
  try {
    const m = monitorPlan(tr, `echo out1; echo err1 >&2; printf 'x<b>&"q"\\\\\\t\\001 \\303\\251 \\377\\n'; cat; echo cat=$?; printf partial; sleep 1; echo; printf tail; exit 3`);
    const t0 = Date.now();
    pids = await start(m.plan);
    await sleep(200);
    assert.ok(alive(pids.monitor), 'the monitor runs after every berth process let go');
    assert.ok(alive(pids.init));
    const stat = readFileSync(`/proc/${pids.monitor}/stat`, 'utf8').split(') ')[1]!.split(' ');
    assert.equal(Number(stat[3]), pids.monitor, 'the monitor leads its own session');
    for (const fd of ['0', '1', '2']) assert.equal(readlinkSync(`/proc/${pids.monitor}/fd/${fd}`), '/dev/null');
    assert.ok(readdirSync(`/proc/${pids.monitor}/fd`).length <= 9, 'no inherited fds are kept');
    const rss = vmRss(pids.monitor);
    t.diagnostic(`monitor VmRSS with a running container: ${rss} kB`);
    assert.ok(rss < 1024, `monitor RSS ${rss} kB`);
    // its start-up trim (trim_text) dropped read-only pages of its binary but not the relocated
    // ones (RELRO: read-only, right before the writable mapping), which MADV_DONTNEED would reset
    const maps = exeMappings(pids.monitor);
    const relro = maps.findIndex((x, i) => x.perms[1] !== 'w' && x.perms[2] !== 'x' && maps[i + 1]?.perms[1] === 'w');
    assert.ok(relro > 0 && maps[relro]!.anon > 0, `the relocated pages are kept: ${JSON.stringify(maps.map(({ perms, rss, anon }) => ({ perms, rss, anon })))}`);
    assert.ok(statSync(m.sock).isSocket());
    assert.ok(existsSync(m.exitFile + '.tmp') && !existsSync(m.exitFile), 'the exit record has its space reserved');
    assert.equal(readFileSync(`/proc/${pids.monitor}/comm`, 'utf8'), 'berth-monitor\n');

    // attached mid-run with logs=1: the logged lines (escapes decoded back), the pending partial
    // line from memory, then live output
    const a = await attach(m.sock, { stdout: true, stderr: true, logs: true });
    const c = collect(a);
    const e = await waitExit(m.exitFile);
    assert.deepEqual(await a.exit, e);
    await until('the end of the attached output', () => a.stdout.readableEnded && a.stderr.readableEnded);
    assert.equal(c.out(), 'out1\nx<b>&"q"\\\t\u0001 é \ufffd\ncat=0\npartial\ntail');
    assert.equal(c.err(), 'err1\n');
    const t1 = Date.now();
    assert.equal(e.exitCode, 3);
    assert.equal(e.signal, 0);
    assert.equal(e.oomKilled, false);
    assert.equal(e.logDroppedBytes, 0);
    assert.match(e.finishedAt, RFC3339NANO);
    assert.ok(Date.parse(e.finishedAt) >= t0 - 1000 && Date.parse(e.finishedAt) <= t1 + 1000);
    assert.ok(await waitGone(pids.monitor), 'the monitor exits with its container');
    assert.ok(!existsSync(m.sock), 'the attach socket is removed');
    assert.ok(!existsSync(m.exitFile + '.tmp'));

    const raw = readFileSync(m.log, 'utf8');
    assert.ok(raw.includes('"log":"x\\u003cb\\u003e\\u0026\\"q\\"\\\\\\t\\u0001 é \\ufffd\\n"'), raw);
    const entries = logEntries(m.log);
    for (const x of entries) {
      assert.match(x.time, RFC3339NANO);
      assert.ok(Date.parse(x.time) >= t0 - 1000 && Date.parse(x.time) <= t1 + 1000, x.time);
    }
    const by = (s: string) => entries.filter((x) => x.stream === s).map((x) => x.log);
    assert.deepEqual(by('stdout'), ['out1\n', 'x<b>&"q"\\\t\u0001 é \ufffd\n', 'cat=0\n', 'partial\n', 'tail']);
    assert.deepEqual(by('stderr'), ['err1\n']);
  } finally { await stop(pids); tr.cleanup(); }
});

test('monitor: kill -9 of the Node process that started it loses neither the container nor its exit code', { skip }, async () => {
  const tr = tempRootfs();
  let pids;
  try {
    const m = monitorPlan(tr, 'sleep 1; echo done; exit 5');
    const driver = join(tr.dir, 'driver.mjs');
    const sysUrl = new URL('../../src/sys/index.js', import.meta.url).href;
    writeFileSync(driver, `
      import { HelperSession } from ${JSON.stringify(sysUrl)};
      const s = new HelperSession(${JSON.stringify(m.plan)}, { stdio: ['ignore', 'ignore', 'ignore'] });
      const init = (await s.expect('pid', 'run')).pid;
      s.go('{}');
      await s.expect('ready', 'run');
      const mon = await s.next();
      console.log(JSON.stringify({ init, monitor: mon.pid }));
      setInterval(() => {}, 1000);
    `);
    const node = spawn(process.execPath, [driver], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => node.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    pids = JSON.parse(line) as { init: number; monitor: number };
    node.kill('SIGKILL');
    await new Promise((r) => node.once('exit', r));
    assert.ok(alive(pids.monitor) && alive(pids.init), 'the container and its monitor survive');
    const e = await waitExit(m.exitFile);
    assert.equal(e.exitCode, 5);
    assert.deepEqual(logEntries(m.log).map((x) => x.log), ['done\n']);
    assert.ok(await waitGone(pids.monitor));
  } finally { await stop(pids); tr.cleanup(); }
});

test('monitor: the log rotates at MAXSIZE into LOG.1..LOG.(n-1); attach logs=1 replays them in order', { skip }, async () => {
  const tr = tempRootfs();
  let pids;
  try {
    const m = monitorPlan(tr, 'i=1; while [ $i -le 200 ]; do echo "line $i padding-padding"; i=$((i+1)); done; read x; echo "bye $x"', { stdin: true, maxSize: 2000, maxFiles: 3 });
    pids = await start(m.plan);
    // the log may be between its rename to LOG.1 and its re-creation: not there for a moment
    const logText = () => { try { return readFileSync(m.log, 'utf8'); } catch { return ''; } };
    await until('line 200 in the log', () => logText().includes('line 200 '));
    assert.ok(existsSync(`${m.log}.1`) && existsSync(`${m.log}.2`) && !existsSync(`${m.log}.3`));
    const lines: string[] = [];
    for (const f of [`${m.log}.2`, `${m.log}.1`, m.log]) {
      assert.ok(statSync(f).size <= 2000, `${f} is at most MAXSIZE`);
      lines.push(...logEntries(f).map((x) => x.log));
    }
    const nums = lines.map((l) => Number(/^line (\d+) /.exec(l)?.[1]));
    assert.equal(nums.at(-1), 200);
    nums.forEach((n, i) => assert.equal(n, 200 - nums.length + 1 + i, 'contiguous across the files'));

    const a = await attach(m.sock, { stdin: true, stdout: true, stderr: true, logs: true });
    const c = collect(a);
    await until('the replay', () => c.out().includes('line 200 '));
    assert.equal(c.out(), lines.join(''), 'the replay is exactly the logged output');
    a.write('x1\n');
    a.closeStdin();
    const e = await a.exit;
    assert.equal(e?.exitCode, 0);
    await until('the end of the output', () => c.out().endsWith('bye x1\n'));
    assert.equal(c.err(), '');
    assert.ok(await waitGone(pids.monitor));

    // MAXFILES 1: the log is truncated instead
    rmSync(m.exitFile);
    const one = monitorPlan(tr, 'i=1; while [ $i -le 200 ]; do echo "line $i padding-padding"; i=$((i+1)); done', { maxSize: 2000, maxFiles: 1, log: join(tr.dir, 'one.log') });
    pids = await start(one.plan);
    await waitExit(one.exitFile);
    assert.ok(!existsSync(`${one.log}.1`) && statSync(one.log).size <= 2000);
    assert.equal(logEntries(one.log).at(-1)?.log, 'line 200 padding-padding\n');
  } finally { await stop(pids); tr.cleanup(); }
});

test('monitor: signal exits are recorded as signals; orphans are reaped by the subreaper', { skip }, async () => {
  const tr = tempRootfs();
  let pids;
  try {
    const a = monitorPlan(tr, 'sleep 30');
    pids = await start(a.plan);
    process.kill(pids.init, 'SIGKILL');
    const e = await waitExit(a.exitFile);
    assert.deepEqual([e.exitCode, e.signal, e.oomKilled], [0, 9, false]);
    assert.ok(await waitGone(pids.monitor));

    // no pid namespace: the init can signal itself, and its orphan is re-parented to the monitor
    rmSync(a.exitFile);
    const b = monitorPlan(tr, '(sleep 0.4 &); sleep 1.2; kill -TERM $$', { flags: CLONE.NEWNS | CLONE.NEWUTS | CLONE.NEWIPC });
    pids = await start(b.plan);
    const children = (pid: number) => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
      try {
        const st = readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return Number(st[1]) === pid ? [{ pid: Number(d), state: st[0] }] : [];
      } catch { return []; }
    });
    await sleep(200);
    assert.equal(children(pids.monitor).length, 2, 'the init and the orphaned sleep');
    await sleep(600);
    assert.deepEqual(children(pids.monitor).map((c) => c.pid), [pids.init], 'the orphan was reaped (no zombie)');
    const e2 = await waitExit(b.exitFile);
    assert.deepEqual([e2.exitCode, e2.signal], [0, 15]);
  } finally { await stop(pids); tr.cleanup(); }
});

test('monitor: an OOM kill in the memory cgroup is recorded (cgroup v1 memory.oom_control)', { skip }, async (t) => {
  const root = '/sys/fs/cgroup/memory';
  if (!existsSync(`${root}/cgroup.procs`) || !existsSync(`${root}/memory.oom_control`)) return t.skip('no cgroup v1 memory hierarchy');
  const cg = `${root}/berth-monitor-${process.pid}`;
  const tr = tempRootfs();
  let pids;
  mkdirSync(cg);
  try {
    writeFileSync(`${cg}/memory.limit_in_bytes`, String(32 << 20));
    if (existsSync(`${cg}/memory.memsw.limit_in_bytes`)) writeFileSync(`${cg}/memory.memsw.limit_in_bytes`, String(32 << 20));
    if (!/^oom_kill \d+$/m.test(readFileSync(`${cg}/memory.oom_control`, 'utf8'))) return t.skip('memory.oom_control has no oom_kill counter');
    const m = monitorPlan(tr, 'echo hog; exec dd if=/dev/zero of=/dev/null bs=100M count=1', {
      oomFile: `${cg}/memory.oom_control`,
      beforePost: [step('cgroup_add', [`${cg}/cgroup.procs`], 'join the memory cgroup', `${cg}/cgroup.procs`)],
    });
    pids = await start(m.plan);
    const e = await waitExit(m.exitFile);
    assert.equal(e.oomKilled, true, JSON.stringify(e));
    assert.ok(e.oomKillCount >= 1);
    assert.equal(e.signal, 9);
    assert.ok(await waitGone(pids.monitor));
    assert.ok(alive(process.pid));
  } finally {
    await stop(pids);
    for (let i = 0; i < 100; i++) { try { rmdirSync(cg); break; } catch { await sleep(20); } }
    tr.cleanup();
  }
});

test('monitor: attach gets live frames, sends stdin to cat and closes it; logs=1 replays; bad clients are dropped', { skip }, async (t) => {
  const tr = tempRootfs();
  let pids;
  try {
    const m = monitorPlan(tr, 'echo ready; echo to-stderr >&2; cat; echo after-cat', { stdin: true });
    pids = await start(m.plan);
    const a = await attach(m.sock, { stdin: true, stdout: true, stderr: true, logs: true });
    const ca = collect(a);
    await until('ready', () => ca.out() === 'ready\n' && ca.err() === 'to-stderr\n');
    a.write('ping\n');
    await until('ping', () => ca.out() === 'ready\nping\n');

    // clients that misbehave or vanish do not disturb anyone
    for (const bytes of ['garbage without a newline', 'attach stdout=1 stdin=1\n\x00\x00\x00', 'nonsense\n', '']) {
      const s = connect(m.sock);
      s.on('error', () => { /* reset by the monitor */ });
      await new Promise((r) => s.once('connect', r));
      if (bytes) s.write(bytes);
      await sleep(20);
      s.destroy();
    }
    const big = connect(m.sock);
    big.on('error', () => { /* reset by the monitor */ });
    await new Promise((r) => big.once('connect', r));
    big.write('x'.repeat(600)); // no attach line within the input buffer: dropped
    await new Promise((r) => big.once('close', r));

    const b = await attach(m.sock, { stdout: true, logs: true });
    const cb = collect(b);
    await until('replay on the second client', () => cb.out() === 'ready\nping\n');
    const rss = vmRss(pids.monitor);
    t.diagnostic(`monitor VmRSS with two attached clients: ${rss} kB`);
    // (964 kB before the helper carried the port relay; its larger read-only data pages in, ~1020)
    assert.ok(rss < 1152, `monitor RSS ${rss} kB`);
    const d = await attach(m.sock, { stdin: true, stdout: true });
    d.detach(); // leaving does not close the container's stdin
    assert.equal(await d.exit, null);
    a.write('pong\n');
    await until('pong on both', () => ca.out().endsWith('pong\n') && cb.out().endsWith('pong\n'));
    a.closeStdin();
    const [ea, eb] = await Promise.all([a.exit, b.exit]);
    assert.equal(ea?.exitCode, 0);
    assert.deepEqual(eb, ea);
    await until('the end of both streams', () => ca.out().endsWith('after-cat\n') && cb.out().endsWith('after-cat\n'));
    assert.equal(ca.out(), 'ready\nping\npong\nafter-cat\n');
    assert.equal(ca.err(), 'to-stderr\n');
    assert.equal(cb.out(), 'ready\nping\npong\nafter-cat\n');
    assert.equal(cb.err(), '', 'stderr was not requested');
    assert.deepEqual(await waitExit(m.exitFile), ea);
    assert.ok(await waitGone(pids.monitor));
    await assert.rejects(attach(m.sock, { stdout: true }), /attach/);
  } finally { await stop(pids); tr.cleanup(); }
});

test('monitor: large binary stdin and stdout pass through attach intact (backpressure both ways)', { skip }, async () => {
  const tr = tempRootfs();
  let pids;
  try {
    const m = monitorPlan(tr, 'cat > /tmp/in; md5sum < /tmp/in >&2; cat /tmp/in', { stdin: true, log: '' });
    pids = await start(m.plan);
    const a = await attach(m.sock, { stdin: true, stdout: true, stderr: true });
    const chunks: Buffer[] = [];
    let err = '';
    a.stdout.on('data', (d: Buffer) => chunks.push(d));
    a.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const data = randomBytes(3 << 20);
    for (let o = 0; o < data.length; o += 100000) a.write(data.subarray(o, o + 100000));
    a.closeStdin();
    const e = await a.exit;
    assert.equal(e?.exitCode, 0);
    await until('the end of stdout', () => a.stdout.readableEnded);
    assert.equal(err.split(' ')[0], createHash('md5').update(data).digest('hex'), 'the container read exactly what was sent');
    assert.ok(Buffer.concat(chunks).equals(data), 'the client got exactly what the container wrote');
    assert.ok(!existsSync(join(tr.dir, 'ctr.log')), 'an empty LOG means no log file');
  } finally { await stop(pids); tr.cleanup(); }
});

test('monitor: a client that vanishes mid-stream loses nothing for the log (no SIGPIPE)', { skip }, async () => {
  const tr = tempRootfs();
  let pids;
  try {
    const m = monitorPlan(tr, 'sleep 0.3; yes abcdefghij | head -n 200000; echo end');
    pids = await start(m.plan);
    const a = await attach(m.sock, { stdout: true, stderr: true });
    await new Promise((r) => a.stdout.once('data', r));
    a.detach();
    const e = await waitExit(m.exitFile);
    assert.equal(e.exitCode, 0);
    const entries = logEntries(m.log);
    assert.equal(entries.length, 200001);
    assert.equal(entries.at(-1)!.log, 'end\n');
    assert.ok(entries.slice(0, -1).every((x) => x.log === 'abcdefghij\n' && x.stream === 'stdout'));
  } finally { await stop(pids); tr.cleanup(); }
});

test('monitor: a pty container: attach input, resize (stty size), EOF on close, exit frame', { skip }, async () => {
  const tr = tempRootfs();
  let pids;
  try {
    const m = monitorPlan(tr, 'stty size; read a; stty size; read b; echo "got=$b"; cat; echo eof-seen; exit 7', { pty: true });
    pids = await start(m.plan);
    const a = await attach(m.sock, { stdin: true, stdout: true, stderr: true, logs: true });
    const c = collect(a);
    const out = () => c.out().replace(/\r/g, '');
    await until('the first size', () => out().includes('30 100\n'));
    a.resize(20, 50);
    a.write('x\n');
    await until('the new size', () => out().includes('20 50\n'));
    a.write('hello\n');
    await until('got=hello', () => out().includes('got=hello\n'));
    a.closeStdin();
    const e = await a.exit;
    assert.equal(e?.exitCode, 7);
    await until('eof-seen', () => out().includes('eof-seen\n'));
    assert.equal(c.err(), '', 'with a pty everything is stream 1');
    const entries = logEntries(m.log);
    assert.ok(entries.every((x) => x.stream === 'stdout'));
    assert.ok(entries.some((x) => x.log === '20 50\r\n'), JSON.stringify(entries));
    assert.ok(await waitGone(pids.monitor));
  } finally { await stop(pids); tr.cleanup(); }
});

test('monitor: a full log disk drops output (counted), keeps the log line-structured and the container running', { skip }, async () => {
  const tr = tempRootfs();
  const small = join(tr.dir, 'small');
  mkdirSync(small);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'berth-test', small]);
  let pids;
  try {
    const m = monitorPlan(tr, 'yes 0123456789abcdefghijklmnopqrstuvwxyz | head -n 20000; echo done', { log: join(small, 'ctr.log') });
    pids = await start(m.plan);
    const e = await waitExit(m.exitFile);
    assert.equal(e.exitCode, 0);
    assert.ok(e.logDroppedBytes > 0, JSON.stringify(e));
    const entries = logEntries(m.log);
    assert.ok(entries.length > 100);
    const logged = entries.reduce((n, x) => n + Buffer.byteLength(x.log), 0);
    assert.equal(logged + e.logDroppedBytes, 20000 * 37 + 5, 'every byte is either logged or counted');
  } finally {
    await stop(pids);
    execFileSync('umount', [small]);
    tr.cleanup();
  }
});

test('monitor: setup errors are reported for the monitor step and the container is killed', { skip }, async () => {
  const tr = tempRootfs();
  try {
    const m = monitorPlan(tr, 'sleep 30', { log: join(tr.dir, 'missing', 'ctr.log') });
    const s = new HelperSession(m.plan, { stdio: ['ignore', 'ignore', 'ignore'] });
    const init = (await s.expect('pid', 'run')).pid!;
    s.go('{}');
    await s.expect('ready', 'run');
    const err = await s.next();
    assert.equal(err?.type, 'error');
    assert.equal(err?.op, 'monitor');
    assert.equal(err?.errno, 2);
    assert.equal(err?.path, m.log);
    assert.equal((await s.exited).code, 1);
    assert.ok(await waitGone(init));
    assert.ok(!existsSync(m.sock) && !existsSync(m.exitFile));
  } finally { tr.cleanup(); }
});
