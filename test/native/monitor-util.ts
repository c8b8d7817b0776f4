/** Shared pieces of the monitor-mode tests (docs/PLAN.md "Monitor mode"): plans, start, waits. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HelperSession, parseJsonLog, readExitFile, step, type MonitorAttach, type MonitorExit, type Plan, type Step, smapsMappings, type Mapping } from '../../src/sys/index.js';
import { haveBusybox } from '../helpers/rootfs.js';
import { alive, BASE_FLAGS, containerPlan, waitGone, type Temp } from './util.js';

export const skip = !haveBusybox() ? 'busybox-static is not installed' : process.getuid?.() !== 0 ? 'needs root' : false;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const RFC3339NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

export interface MonOpts {
  stdin?: boolean; pty?: boolean; maxSize?: number; maxFiles?: number; oomFile?: string; log?: string;
  flags?: number; beforePost?: Step[];
  /** the exit command's argv (joined with "\n" for the EXITCMD argument) */
  exitCmd?: string[];
}
export interface Mon { plan: Plan; log: string; exitFile: string; sock: string }

export function monitorPlan(tr: Temp, script: string, o: MonOpts = {}): Mon {
  const log = o.log ?? join(tr.dir, 'ctr.log'), exitFile = join(tr.dir, 'exit.json'), sock = join(tr.dir, 'attach.sock');
  const MS_NOSUID = 2, MS_NOEXEC = 8;
  const plan = containerPlan(tr.rootfs, script, {
    flags: o.flags ?? BASE_FLAGS,
    pre: [step('subreaper', [], 'become a subreaper'), ...(o.pty ? [] : [step('stdio_pipes', [o.stdin ? 1 : 0], 'stdio pipes')])],
    early: o.pty ? [step('setsid', [], 'setsid')] : [],
    beforePivot: o.pty ? [
      step('mount', ['devpts', '/dev/pts', 'devpts', MS_NOSUID | MS_NOEXEC, 'newinstance,ptmxmode=0666,mode=0620', 'mkdir'], 'mount devpts', '/dev/pts'),
      step('symlink', ['pts/ptmx', '/dev/ptmx'], 'symlink /dev/ptmx', '/dev/ptmx'),
    ] : [],
    afterPivot: o.pty ? [step('console', [30, 100], 'console 30x100')] : [],
    post: [
      ...(o.beforePost ?? []),
      step('report_pid', [], 'pid'), step('await_go', [], 'go'), step('release', [], 'release'),
      ...(o.pty ? [step('console_recv', [], 'receive the console')] : []),
      step('await_ready', [], 'ready'),
      step('monitor', [log, o.maxSize ?? 0, o.maxFiles ?? 1, exitFile, sock, o.oomFile ?? '', (o.exitCmd ?? []).join('\n')], 'monitor', log),
    ],
  });
  return { plan, log, exitFile, sock };
}

/** Start the container with its monitor; the helper's stdio is /dev/null and the session is closed. */
export async function start(plan: Plan, env: NodeJS.ProcessEnv = {}): Promise<{ init: number; monitor: number; exited: Promise<{ code: number | null }> }> {
  const s = new HelperSession(plan, { stdio: ['ignore', 'ignore', 'ignore'], env });
  const init = (await s.expect('pid', 'run')).pid!;
  s.go('{}');
  await s.expect('ready', 'run');
  const m = await s.next() as unknown as { type: string; pid: number } | null;
  assert.equal(m?.type, 'monitor', JSON.stringify(m));
  assert.equal(m?.pid, s.child.pid, 'the monitor is the helper parent');
  assert.equal(await s.next(), null, 'the monitor closed the control socket');
  s.close();
  s.child.unref();
  return { init, monitor: m!.pid, exited: s.exited };
}

export async function waitExit(path: string, ms = 15000): Promise<MonitorExit> {
  const end = Date.now() + ms;
  for (;;) {
    const e = await readExitFile(path);
    if (e) return e;
    if (Date.now() > end) throw new Error(`no exit file ${path} after ${ms} ms`);
    await sleep(20);
  }
}

export async function until(what: string, cond: () => boolean, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function collect(a: MonitorAttach): { out: () => string; err: () => string } {
  let out = '', err = '';
  a.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  a.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  return { out: () => out, err: () => err };
}

export function logEntries(path: string) {
  const text = readFileSync(path, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'the log ends with a complete line');
  return text.split('\n').filter(Boolean).map((l) => parseJsonLog(l));
}

/** The mappings of a process's own executable (the first mapping's file), from smaps. */
export function exeMappings(pid: number): Mapping[] {
  const maps = smapsMappings(readFileSync(`/proc/${pid}/smaps`, 'utf8'));
  return maps.filter((m) => m.path === maps[0]?.path);
}

export function vmRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]);
}

export async function stop(pids: { init: number; monitor: number } | undefined): Promise<void> {
  if (!pids) return;
  try { if (alive(pids.init)) process.kill(pids.init, 'SIGKILL'); } catch { /* gone */ }
  await waitGone(pids.monitor, 8000);
}
