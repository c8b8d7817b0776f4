/** Shared pieces of the native helper tests: flag constants, a standard container plan, a runner. */
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HelperSession, step, type HelperMessage, type HelperOptions, type Plan, type Step } from '../../src/sys/index.js';
import { busyboxRootfs } from '../helpers/rootfs.js';

export const CLONE = {
  NEWNS: 0x20000, NEWCGROUP: 0x02000000, NEWUTS: 0x04000000, NEWIPC: 0x08000000,
  NEWUSER: 0x10000000, NEWPID: 0x20000000, NEWNET: 0x40000000,
};
export const MS = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, REMOUNT: 32, BIND: 4096, MOVE: 8192, REC: 16384,
  PRIVATE: 1 << 18, SLAVE: 1 << 19, STRICTATIME: 1 << 24,
};
export const BASE_FLAGS = CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS | CLONE.NEWIPC;

export interface Temp { dir: string; rootfs: string; cleanup(): void }

/** A temp dir with a busybox rootfs in `rootfs/`. */
export function tempRootfs(): Temp {
  const dir = mkdtempSync(join(tmpdir(), 'berth-native-'));
  const rootfs = busyboxRootfs(join(dir, 'rootfs'));
  return { dir, rootfs, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function sh(script: string, env: string[] = ['PATH=/bin:/usr/bin']): Step {
  return step('exec', ['/bin/sh', 3, '/bin/sh', '-c', script, env.length, ...env], 'exec /bin/sh');
}

/** The mounts every test container needs, before pivot_root (after `rootfs`). */
export function rootfsSetup(rootfs: string): Step[] {
  return [
    step('mount', ['', '/', '', MS.SLAVE | MS.REC, '', ''], 'make / rslave', '/'),
    step('rootfs', [rootfs], `rootfs ${rootfs}`, rootfs),
    step('mount', [rootfs, '/', '', MS.BIND | MS.REC, '', ''], 'bind the rootfs onto itself', '/'),
    step('mount', ['proc', '/proc', 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC, '', 'mkdir'], 'mount proc on /proc', '/proc'),
    step('mount', ['tmpfs', '/dev', 'tmpfs', MS.NOSUID | MS.STRICTATIME, 'mode=755,size=65536k', 'mkdir'], 'mount tmpfs on /dev', '/dev'),
    step('mknod', ['/dev/null', 'c', 1, 3, 0o666, 0, 0], 'mknod /dev/null', '/dev/null'),
    step('mknod', ['/dev/zero', 'c', 1, 5, 0o666, 0, 0], 'mknod /dev/zero', '/dev/zero'),
    step('symlink', ['/proc/self/fd', '/dev/fd'], 'symlink /dev/fd', '/dev/fd'),
  ];
}

export interface PlanOpts {
  flags?: number;
  /** child steps after the standard mounts, before pivot_root */
  beforePivot?: Step[];
  /** child steps after pivot_root, before the final exec */
  afterPivot?: Step[];
  /** child steps right after await_release (before any mount) */
  early?: Step[];
  exec?: Step;
  post?: Step[];
  pre?: Step[];
}

export function containerPlan(rootfs: string, script: string, o: PlanOpts = {}): Plan {
  return {
    pre: [...(o.pre ?? []), step('spawn', [o.flags ?? BASE_FLAGS], 'create the container process')],
    post: o.post ?? [
      step('report_pid', [], 'report the pid'),
      step('await_go', [], 'wait for go'),
      step('release', [], 'release the child'),
      step('await_ready', [], 'wait for the container process'),
      step('wait_exit', [], 'wait for the container process to exit'),
    ],
    child: [
      step('await_release', [], 'wait for release'),
      ...(o.early ?? []),
      ...rootfsSetup(rootfs),
      ...(o.beforePivot ?? []),
      step('pivot_root', [], 'pivot_root'),
      ...(o.afterPivot ?? []),
      o.exec ?? sh(script),
    ],
  };
}

export interface RunResult {
  msgs: HelperMessage[];
  stdout: string;
  stderr: string;
  exit: { code: number | null; signal: NodeJS.Signals | null };
  session: HelperSession;
  pid?: number;
  error?: HelperMessage;
  exitMsg?: HelperMessage;
}

/** Run a plan to the end: send go after the pid (or at once), collect every message and the output. */
export async function runPlan(plan: Plan, opts: HelperOptions & { go?: string; timeoutMs?: number; onMsg?: (m: HelperMessage, s: HelperSession) => void } = {}): Promise<RunResult> {
  const session = new HelperSession(plan, { stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'], env: opts.env });
  let stdout = '';
  let stderr = '';
  session.child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
  session.child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const timer = setTimeout(() => session.child.kill('SIGKILL'), opts.timeoutMs ?? 20000);
  // go is sent once the pid is reported (a write to a helper that already exited would make
  // Node destroy the socket before the error message is read)
  const ops = plan.post.map((s) => s.op);
  const sendGo = () => session.go(opts.go ?? '{"id":"test"}');
  if (ops.includes('await_go') && !ops.includes('report_pid')) sendGo();
  const msgs: HelperMessage[] = [];
  for (;;) {
    const m = await session.next();
    if (!m) break;
    msgs.push(m);
    if (m.type === 'pid' && ops.includes('await_go')) sendGo();
    opts.onMsg?.(m, session);
  }
  const exit = await session.exited;
  clearTimeout(timer);
  await Promise.all([streamEnd(session.child.stdout), streamEnd(session.child.stderr)]);
  return {
    msgs, stdout, stderr, exit, session,
    pid: msgs.find((m) => m.type === 'pid')?.pid,
    error: msgs.find((m) => m.type === 'error'),
    exitMsg: msgs.find((m) => m.type === 'exit'),
  };
}

function streamEnd(s: NodeJS.ReadableStream | null | undefined): Promise<void> {
  const r = s as unknown as { readableEnded?: boolean; destroyed?: boolean } | null | undefined;
  if (!s || r?.readableEnded || r?.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 3000);
    s.once('close', () => { clearTimeout(t); resolve(); });
    s.once('end', () => { clearTimeout(t); resolve(); });
  });
}

/** True while a process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(st);
  } catch { return false; }
}

export async function waitGone(pid: number, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return !alive(pid);
}
