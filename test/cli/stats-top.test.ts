/** `berth stats` and `berth top` through the CLI, on real containers. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stopContainer } from '../../src/engine/containers/index.js';
import { bytesSize, decimalSize, goG, renderStats, tabwrite, type StatsEntry } from '../../src/cli/container/stats.js';
import { busyboxEngine, type BusyboxEngine } from '../helpers/engine.js';
import { haveBusybox } from '../helpers/rootfs.js';

const MAIN = fileURLToPath(new URL('../../src/cli/berth-main.js', import.meta.url));
const MiB = 1024 * 1024;
const skip: string | false = !haveBusybox() ? 'needs a static /bin/busybox' : process.getuid?.() !== 0 ? 'needs root' : false;
let eng: BusyboxEngine | undefined;

before(async () => { if (!skip) eng = await busyboxEngine(); });
after(async () => { await eng?.cleanup(); });

function berth(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { env: eng!.env, encoding: 'utf8', timeout: 60000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A long-running CLI process whose output is collected; `until` waits for a condition on it. */
function live(argv: string[]): { child: ChildProcess; out: () => string; until(cond: (s: string) => boolean, ms?: number): Promise<string>; exit: Promise<number | null> } {
  const child = spawn(argv[0]!, argv.slice(1), { env: eng!.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => { buf += d.toString('utf8'); });
  child.stderr!.on('data', (d: Buffer) => { buf += d.toString('utf8'); });
  const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return {
    child, out: () => buf, exit,
    async until(cond, ms = 20000) {
      const end = Date.now() + ms;
      while (!cond(buf)) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`timed out; output so far:\n${buf}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return buf;
    },
  };
}

const headerLine = /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/;
const count = (s: string, re: RegExp) => s.split('\n').filter((l) => re.test(l.replace(/\x1b\[[0-9;]*[A-Za-z]|\r/g, ''))).length;

/** The table rows, split on the 3+ space gaps (no cell here holds 3 spaces). */
function rows(table: string): Record<string, string>[] {
  const lines = table.trimEnd().split('\n');
  const head = lines[0]!.split(/ {3,}/);
  return lines.slice(1).map((l) => Object.fromEntries(l.split(/ {3,}/).map((v, i) => [head[i]!, v.trim()])));
}

test('stats --no-stream: a busy -m 64m container and an idle one, Docker\'s columns and units', { skip }, async () => {
  const busy = await eng!.run({ cmd: ['sh', '-c', 'while :; do :; done'], memory: 64 * MiB }, { name: 'st-busy' });
  const idle = await eng!.run({ cmd: ['sleep', '1000'] }, { name: 'st-idle' });
  const t0 = Date.now();
  const r = berth('stats', '--no-stream');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Date.now() - t0 >= 1000, 'two samples a second apart');
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, headerLine);
  // Docker's tabwriter: cells padded to max(10, widest + 3)
  assert.ok(lines[0]!.startsWith('CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT'), lines[0]);
  const byName = Object.fromEntries(rows(r.stdout).map((row) => [row.NAME, row]));
  const b = byName['st-busy']!, i = byName['st-idle']!;
  assert.ok(b && i, r.stdout);
  assert.equal(b['CONTAINER ID'], busy.id.slice(0, 12));
  assert.ok(parseFloat(b['CPU %']!) > 5, `busy CPU ${b['CPU %']}`);
  assert.match(b['CPU %']!, /^\d+\.\d\d%$/);
  assert.match(b['MEM USAGE / LIMIT']!, /^[\d.]+(B|KiB|MiB) \/ 64MiB$/);
  assert.match(b['MEM %']!, /^\d+\.\d\d%$/);
  assert.equal(b['NET I/O'], '0B / 0B');
  assert.match(b['BLOCK I/O']!, /^[\d.]+[kMG]?B \/ [\d.]+[kMG]?B$/);
  assert.ok(Number(b.PIDS) >= 1);
  assert.equal(i['CONTAINER ID'], idle.id.slice(0, 12));
  assert.match(i['MEM USAGE / LIMIT']!, new RegExp(` / ${bytesSize((await import('node:os')).totalmem()).replace('.', '\\.')}$`));
  assert.equal(Number(i.PIDS), 1);

  // named, --no-trunc, json, templates
  const nt = berth('stats', '--no-stream', '--no-trunc', 'st-busy');
  assert.equal(nt.status, 0, nt.stderr);
  assert.equal(rows(nt.stdout)[0]!['CONTAINER ID'], busy.id);
  const js = berth('stats', '--no-stream', '--format', 'json', 'st-busy', idle.id.slice(0, 8));
  assert.equal(js.status, 0, js.stderr);
  const objs = js.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  assert.deepEqual(Object.keys(objs[0]!), ['BlockIO', 'CPUPerc', 'Container', 'ID', 'MemPerc', 'MemUsage', 'Name', 'NetIO', 'PIDs']);
  assert.deepEqual(objs.map((o) => [o.Container, o.Name, o.ID]), [['st-busy', 'st-busy', busy.id.slice(0, 12)], [idle.id.slice(0, 8), 'st-idle', idle.id.slice(0, 12)]]);
  assert.match(objs[0]!.MemUsage!, / \/ 64MiB$/);
  const tpl = berth('stats', '--no-stream', '--format', '{{.Name}}:{{.PIDs}}:{{.MemUsage}}', 'st-busy');
  assert.match(tpl.stdout, /^st-busy:1:[\d.]+(B|KiB|MiB) \/ 64MiB\n$/);
  const tt = berth('stats', '--no-stream', '--format', 'table {{.Container}}\t{{.PIDs}}', 'st-idle');
  assert.equal(tt.stdout, 'CONTAINER   PIDS\nst-idle     1\n');

  // missing containers: every error, exit 1, nothing printed on stdout
  const miss = berth('stats', '--no-stream', 'no-such-a', 'st-busy', 'no-such-b');
  assert.equal(miss.status, 1);
  assert.equal(miss.stdout, '');
  assert.equal(miss.stderr, 'Error response from daemon: No such container: no-such-a\nError response from daemon: No such container: no-such-b\n');

  // stopped: zeros with --no-stream, listed only with -a
  await stopContainer(eng!.core, idle.id, 0);
  const st = berth('stats', '--no-stream', 'st-idle');
  assert.equal(st.status, 0, st.stderr);
  assert.deepEqual(rows(st.stdout)[0], {
    'CONTAINER ID': idle.id.slice(0, 12), NAME: 'st-idle', 'CPU %': '0.00%', 'MEM USAGE / LIMIT': '0B / 0B', 'MEM %': '0.00%',
    'NET I/O': '0B / 0B', 'BLOCK I/O': '0B / 0B', PIDS: '0',
  });
  const running = berth('stats', '--no-stream', '--format', '{{.Name}}');
  assert.ok(!running.stdout.split('\n').includes('st-idle') && running.stdout.split('\n').includes('st-busy'), running.stdout);
  const all = berth('stats', '--no-stream', '-a', '--format', '{{.Name}}');
  assert.ok(all.stdout.split('\n').includes('st-idle'), all.stdout);
  await stopContainer(eng!.core, busy.id, 0);
});

test('stats streaming to a pipe: a table per sample, new containers join, stopped ones show --, Ctrl-C ends it', { skip }, async () => {
  const a = await eng!.run({ cmd: ['sleep', '1000'] }, { name: 'stream-a' });
  const s = live([process.execPath, MAIN, 'stats']);
  try {
    await s.until((o) => count(o, headerLine) >= 2);
    assert.ok(!s.out().includes('\x1b['), 'no terminal escapes when stdout is not a terminal');
    assert.match(s.out(), new RegExp(`^${a.id.slice(0, 12)}\\s+stream-a\\s+`, 'm'));
    const b = await eng!.run({ cmd: ['sleep', '1000'] }, { name: 'stream-b' });
    await s.until((o) => o.includes('stream-b'));
    await stopContainer(eng!.core, b.id, 0);
    // without -a a stopped container leaves the table
    const before = s.out().length;
    await s.until((o) => { const t = o.slice(before); return count(t, headerLine) >= 2 && !t.split(/\n(?=CONTAINER ID)/).at(-2)!.includes('stream-b'); });
    s.child.kill('SIGINT');
    assert.equal(await s.exit, 130);
  } finally {
    s.child.kill('SIGKILL');
  }

  // a container named on the command line that stops: its values become --
  const c = await eng!.run({ cmd: ['sleep', '1000'] }, { name: 'stream-c' });
  const n = live([process.execPath, MAIN, 'stats', 'stream-a', 'stream-c']);
  try {
    await n.until((o) => count(o, /stream-c\s+\d+\.\d\d%/) >= 1);
    await stopContainer(eng!.core, c.id, 0);
    await n.until((o) => /stream-c\s+--\s+-- \/ --\s+--\s+--\s+--\s+--$/m.test(o));
    n.child.kill('SIGTERM');
    assert.equal(await n.exit, 143);
  } finally {
    n.child.kill('SIGKILL');
  }
  await stopContainer(eng!.core, a.id, 0);
});

test('stats on a terminal: the screen is cleared and the table redrawn every second until Ctrl-C', { skip: skip || (!existsSync('/usr/bin/script') && 'needs script(1) for a pty') }, async () => {
  const a = await eng!.run({ cmd: ['sleep', '1000'] }, { name: 'tty-a' });
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const s = live(['script', '-qfec', `${q(process.execPath)} ${q(MAIN)} stats tty-a`, '/dev/null']);
  try {
    await s.until((o) => (o.match(/\x1b\[2J\x1b\[H/g) ?? []).length >= 2 && count(o, headerLine) >= 2);
    const frames = s.out().split('\x1b[2J\x1b[H').filter(Boolean);
    assert.match(frames[0]!.replace(/\r/g, ''), /^CONTAINER ID\s+NAME.*\n[0-9a-f]{12}\s+tty-a\s+\d+\.\d\d%/);
    s.child.stdin!.write('\x03'); // Ctrl-C through the terminal
    assert.equal(await s.exit, 130);
  } finally {
    s.child.kill('SIGKILL');
  }
  await stopContainer(eng!.core, a.id, 0);
});

test('top: ps -ef rows of the container, ps options, not running, usage', { skip }, async () => {
  const c = await eng!.run({ cmd: ['sh', '-c', 'sleep 2001 & exec sleep 2000'] }, { name: 'top-a' });
  let r = berth('top', 'top-a');
  for (let i = 0; i < 40 && !r.stdout.includes('sleep 2001'); i++) { await new Promise((res) => setTimeout(res, 50)); r = berth('top', 'top-a'); }
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  // Docker's top tabwriter: minwidth 20, padding 3
  assert.equal(lines[0], ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME'].map((t) => t.padEnd(20)).join('') + 'CMD');
  assert.equal(lines.length, 3, r.stdout);
  const init = lines.find((l) => l.endsWith('sleep 2000'))!;
  assert.ok(init, r.stdout);
  assert.equal(init.slice(20, 40).trim(), String(c.state.pid));
  assert.equal(init.slice(0, 20).trim(), 'root');
  assert.ok(lines.some((l) => l.endsWith('sleep 2001') && l.slice(40, 60).trim() === String(c.state.pid)), 'the child, parented by init');

  const o = berth('top', 'top-a', '-o', 'pid,args');
  assert.equal(o.status, 0, o.stderr);
  assert.equal(o.stdout.split('\n')[0], 'PID'.padEnd(20) + 'COMMAND');
  assert.ok(o.stdout.includes(`${String(c.state.pid).padEnd(20)}sleep 2000\n`), o.stdout);

  const bad = berth('top', 'top-a', '-o', 'user=PID');
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, 'Error response from daemon: specifying "user=PID" is not allowed\n');

  await stopContainer(eng!.core, c.id, 0);
  const stopped = berth('top', 'top-a');
  assert.equal(stopped.status, 1);
  assert.equal(stopped.stdout, '');
  assert.equal(stopped.stderr, `Error response from daemon: container ${c.id} is not running\n`);
  const none = berth('top', 'no-such-top');
  assert.equal(none.stderr, 'Error response from daemon: No such container: no-such-top\n');
  const usage = berth('top');
  assert.equal(usage.status, 1);
  assert.match(usage.stderr, /^"berth top" requires at least 1 argument\.\nSee 'berth top --help'\.\n\nUsage:  berth top CONTAINER \[ps OPTIONS\]/);
  const help = berth('stats', '--help');
  assert.equal(help.status, 0, help.stderr);
  for (const f of ['-a, --all', '--format string', '--no-stream', '--no-trunc']) assert.ok(help.stdout.includes(f), f);
});

test('stats formatting: go-units sizes, Go %g, tabwriter, invalid rows', () => {
  assert.equal(bytesSize(0), '0B');
  assert.equal(bytesSize(64 * MiB), '64MiB');
  assert.equal(bytesSize(1.5 * MiB), '1.5MiB');
  assert.equal(bytesSize(1023), '1023B');
  assert.equal(bytesSize(212 * 1024), '212KiB');
  assert.equal(bytesSize(25276026880), '23.54GiB');
  assert.equal(decimalSize(0), '0B');
  assert.equal(decimalSize(4194304), '4.19MB');
  assert.equal(decimalSize(1234), '1.23kB');
  assert.equal(decimalSize(999), '999B');
  assert.equal(decimalSize(999_600), '1e+03kB', 'Go prints %.3g of 999.6 in exponent form');
  assert.equal(goG(0.00001234, 3), '1.23e-05');
  assert.equal(goG(123.456, 4), '123.5');
  assert.equal(tabwrite('a\tbb\tc\nxxxxxxxxxxxx\ty\tz\n', 10, 3), 'a              bb        c\nxxxxxxxxxxxx   y         z\n');
  const e: StatsEntry = {
    container: 'web', name: '', id: 'f'.repeat(64), cpuPercentage: 0, memory: 0, memoryLimit: 0, memoryPercentage: 0,
    networkRx: 0, networkTx: 0, blockRead: 0, blockWrite: 0, pidsCurrent: 0, invalid: true,
  };
  assert.equal(renderStats('', [e], true),
    'CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS\nffffffffffff   --        --        -- / --             --        --        --          --\n');
  const ok = { ...e, name: '/web', invalid: false, cpuPercentage: 123.456, memory: 1536, memoryLimit: 64 * MiB, memoryPercentage: 0.0023, networkRx: 1234, networkTx: 5, blockRead: 4194304, pidsCurrent: 7 };
  assert.equal(renderStats('{{.Container}} {{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.MemPerc}} {{.NetIO}} {{.BlockIO}} {{.PIDs}}', [ok], true),
    'web web 123.46% 1.5KiB / 64MiB 0.00% 1.23kB / 5B 4.19MB / 0B 7\n');
});
