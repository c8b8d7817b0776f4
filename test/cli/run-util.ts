/**
 * Shared by the `berth run` CLI tests (test/cli/run*.test.ts, lifecycle.test.ts): a busybox engine
 * on temp roots (test/helpers/engine.ts) plus the real CLI spawned as a subprocess on those roots,
 * and probes for what a container may leave behind (mounts, directories, cgroups).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { busyboxEngine, mountsUnder, type BusyboxEngine } from '../helpers/engine.js';
import { haveBusybox } from '../helpers/rootfs.js';
import { BERTH_MAIN, FRONT, startWorker, type Worker } from '../helpers/worker.js';

export { BERTH_MAIN, mountsUnder };

/**
 * BERTH_TEST_WORKER=1: every command goes through the native front (dist/berth) to a `berth
 * worker` started for each fixture, so that these tests check the worker behaves as the CLI.
 */
const VIA_WORKER = !!process.env.BERTH_TEST_WORKER;
let worker: Worker | undefined;

/**
 * The CLI as users run it: the native front (its arguments never reach Node's own option
 * parsing: `--env-file` is berth's), with BERTH_NO_WORKER=1 unless a fixture's worker serves it;
 * node and the tsc build when the front is not built.
 */
const HAVE_FRONT = existsSync(FRONT);
function command(args: string[]): [string, string[]] {
  return worker || HAVE_FRONT ? [FRONT, args] : [process.execPath, [BERTH_MAIN, ...args]];
}
const NO_WORKER: NodeJS.ProcessEnv = { BERTH_NO_WORKER: '1' };

export interface Result {
  /** exit status, null when killed by a signal (or by our timeout) */
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

export interface CallOptions {
  /** written to the CLI's stdin, then closed (default: empty stdin) */
  input?: string | Buffer;
  /** extra environment for this call */
  env?: NodeJS.ProcessEnv;
  /** SIGKILL the CLI after this long (default 30 s) */
  timeoutMs?: number;
}

export interface Cli extends BusyboxEngine {
  /** Run `berth ARGS…` to completion. */
  berth(args: string[], o?: CallOptions): Promise<Result>;
  /** Run `berth ARGS…`, which must exit 0; its stdout without the trailing newline. */
  ok(args: string[], o?: CallOptions): Promise<string>;
  /** Start `berth ARGS…` (stdio pipes) and return the child. */
  spawn(args: string[], env?: NodeJS.ProcessEnv): ChildProcess;
  /** Full ids of all containers (`ps -a -q --no-trunc`). */
  ids(): Promise<string[]>;
  /** What a removed container `id` left behind (empty when nothing). */
  leftovers(id: string): string[];
}

/** Why these tests cannot run here, or false. */
export function cannotRun(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (mounts, namespaces, cgroups)';
  if (!haveBusybox()) return 'busybox-static is not installed';
  if (!existsSync(BERTH_MAIN)) return `the CLI is not built (${BERTH_MAIN})`;
  return false;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns a truthy value (returned) or `timeoutMs` passes (the last value). */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 5000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() >= end) return v;
    await sleep(everyMs);
  }
}

export const CGROUP_V1 = '/sys/fs/cgroup';

/** The container's cgroup directory for a v1 controller (default parent /berth). */
export function cgroupDir(controller: string, id: string): string {
  return `${CGROUP_V1}/${controller}/berth/${id}`;
}

export function cgroupRead(controller: string, id: string, file: string): string {
  return readFileSync(`${cgroupDir(controller, id)}/${file}`, 'utf8').trim();
}

function call(env: NodeJS.ProcessEnv, args: string[], o: CallOptions = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const [file, argv] = command(args);
    const child = spawn(file, argv, { env: { ...env, ...(worker?.env ?? NO_WORKER), ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => { err += `\n[test: killed after ${o.timeoutMs ?? 30000} ms]`; child.kill('SIGKILL'); }, o.timeoutMs ?? 30000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out, err }); });
    child.stdin.on('error', () => undefined); // the CLI may exit without reading its stdin
    child.stdin.end(o.input ?? '');
  });
}


/** The CLI on `env` (outside a fixture's `berth`). */
export function berthRaw(env: NodeJS.ProcessEnv, args: string[], o?: CallOptions): Promise<Result> {
  return call(env, args, o);
}

/** A fresh busybox engine and its CLI; cleaned up (containers, mounts, roots) after `fn`. */
export async function withCli(fn: (c: Cli) => Promise<void>): Promise<void> {
  const e = await busyboxEngine();
  const cli: Cli = {
    ...e,
    berth: (args, o) => call(e.env, args, o),
    async ok(args, o) {
      const r = await call(e.env, args, o);
      if (r.code !== 0) throw new Error(`berth ${args.join(' ')}: exit ${r.code ?? r.signal}\nstdout: ${r.out}\nstderr: ${r.err}`);
      return r.out.replace(/\n$/, '');
    },
    spawn: (args, env) => {
      const [file, argv] = command(args);
      return spawn(file, argv, { env: { ...e.env, ...(worker?.env ?? NO_WORKER), ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    },
    async ids() {
      const out = await cli.ok(['ps', '-a', '-q', '--no-trunc']);
      return out.split('\n').filter(Boolean);
    },
    leftovers(id) {
      const found: string[] = [];
      for (const m of [...mountsUnder(e.runRoot), ...mountsUnder(e.root)]) if (m.includes(id)) found.push(`mount ${m}`);
      for (const d of [`${e.runRoot}/${id}`, `${e.root}/containers/${id}`]) if (existsSync(d)) found.push(`dir ${d}`);
      for (const ctrl of readdirSync(CGROUP_V1)) {
        if (existsSync(cgroupDir(ctrl, id))) found.push(`cgroup ${cgroupDir(ctrl, id)}`);
      }
      return found;
    },
  };
  if (VIA_WORKER) worker = await startWorker(e.env, `${e.runRoot}/cli.sock`);
  try {
    await fn(cli);
  } finally {
    await worker?.stop();
    worker = undefined;
    await e.cleanup();
  }
}

/** The message lines of an error, without the help hint Docker appends. */
export function messageLines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '' && !/^(See '|Run ')berth .*--help/.test(l));
}
