/** Spawning native/berth-helper with a plan and talking to it over its control socket. */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { BerthError, errnoName } from '../lib/index.js';
import { allSteps, encodeGo, encodePlan, step, ABORT, type Plan, type Step } from './plan.js';
import { sealedMemfd } from './fsops.js';

export interface HelperMessage {
  type: 'pid' | 'ready' | 'error' | 'exit' | 'monitor';
  pid?: number;
  step?: number;
  op?: string;
  path?: string;
  errno?: number;
  message?: string;
  detail?: string;
  code?: number;
  signal?: number;
}

let cachedPath: string | undefined;

/** Where the built helper lives: $BERTH_HELPER, else native/build/berth-helper above this module. */
export function helperPath(): string {
  if (cachedPath) return cachedPath;
  const env = process.env.BERTH_HELPER;
  if (env) return (cachedPath = env);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'native', 'build', 'berth-helper');
    if (existsSync(p)) return (cachedPath = p);
    dir = dirname(dir);
  }
  throw new BerthError({ kind: 'internal', op: 'find helper', message: 'native/build/berth-helper not found: run `npm run build`' });
}

let sharedImage: string | undefined;

/**
 * Run every helper of this process from one sealed memfd copy of the binary (a long-lived
 * process: the worker). The helper re-executes itself from a sealed copy unless it already runs
 * from one (CVE-2019-5736 class); with a shared copy that step (~3 ms) is skipped, and the
 * monitors share their text pages instead of each holding a private ~780 KiB copy. Best effort:
 * on any failure helpers keep making their own copies.
 */
export function shareHelperImage(): boolean {
  if (sharedImage) return true;
  try {
    const fd = sealedMemfd('berth-helper', readFileSync(helperPath()));
    sharedImage = `/proc/self/fd/${fd}`;
    return true;
  } catch {
    return false;
  }
}

export interface HelperOptions {
  /** stdio of the helper (and so of the container): entries for fds 0,1,2 and any extra fds to pass on. */
  stdio?: Array<number | 'inherit' | 'ignore' | 'pipe'>;
  env?: NodeJS.ProcessEnv;
}

/** One run of the helper: send a plan, then read its messages in order. */
export class HelperSession {
  readonly child: ChildProcess;
  readonly steps: Step[];
  private readonly ctl: Socket;
  private buf = '';
  private queue: HelperMessage[] = [];
  private waiters: Array<(m: HelperMessage | null) => void> = [];
  private closed = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(plan: Plan, opts: HelperOptions = {}) {
    this.steps = allSteps(plan);
    const base = opts.stdio ?? ['inherit', 'inherit', 'inherit'];
    const ctlFd = base.length;
    const stdio = [...base, 'pipe'] as StdioOptions;
    // argv[0] stays the helper's path (the helper's own messages name it)
    this.child = spawn(sharedImage ?? helperPath(), ['run', '--ctl', String(ctlFd)], { stdio, env: opts.env ?? {}, argv0: helperPath() });
    this.ctl = (this.child.stdio as unknown as Socket[])[ctlFd]!;
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.child.once('error', () => this.finish());
    this.ctl.on('data', (d: Buffer) => this.onData(d));
    this.ctl.on('close', () => this.finish());
    this.ctl.on('error', () => this.finish());
    this.ctl.write(encodePlan(plan));
  }

  private onData(d: Buffer): void {
    this.buf += d.toString('utf8');
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (!line.trim()) continue;
      let msg: HelperMessage;
      try { msg = JSON.parse(line) as HelperMessage; } catch { msg = { type: 'error', message: `unreadable helper message: ${line}` }; }
      const w = this.waiters.shift();
      if (w) w(msg); else this.queue.push(msg);
    }
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(null);
  }

  /** The next message, or null once the helper closed the control socket. */
  next(): Promise<HelperMessage | null> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The next message, which must be of `type`; an error message becomes a BerthError. */
  async expect(type: HelperMessage['type'], what: string): Promise<HelperMessage> {
    const m = await this.next();
    if (m && m.type === type) return m;
    if (m && m.type === 'error') throw this.errorFor(m, what);
    const ex = await Promise.race([this.exited, new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
    const how = ex ? (ex.signal ? `killed by ${ex.signal}` : `exit status ${ex.code}`) : 'closed its control socket';
    throw new BerthError({ kind: 'internal', op: what, message: `${what}: helper ended without ${type} (${how})` });
  }

  go(blob: string | Buffer): void { this.ctl.write(encodeGo(blob)); }
  abort(): void { if (!this.closed) this.ctl.write(ABORT); }
  close(): void { this.ctl.destroy(); }

  /** Turn a helper error report into a precise BerthError using the step's description. */
  errorFor(m: HelperMessage, what: string): BerthError {
    return helperError(this.steps, m, what);
  }
}

/** A helper error report as a precise BerthError, named by the failed step's description. */
export function helperError(steps: Step[], m: HelperMessage, what: string): BerthError {
  const s = m.step !== undefined ? steps[m.step] : undefined;
  const errno = m.errno && m.errno > 0 ? m.errno : undefined;
  const cause = [m.message, errno ? `(${errnoName(errno)})` : ''].filter(Boolean).join(' ') + (m.detail ? `: ${m.detail}` : '');
  const where = s ? s.desc : `${m.op ?? 'step'}${m.path ? ` ${m.path}` : ''}`;
  return new BerthError({
    kind: m.op === 'hook' ? 'hook' : 'system',
    op: what,
    path: m.path || s?.path,
    errno,
    step: s?.op ?? m.op,
    message: `${what}: ${where}: ${cause}`,
  });
}

/**
 * Compile a `seccomp` step's filter to classic BPF (`berth-helper seccomp-export`, libseccomp),
 * for a `seccomp_bpf` step to load without compiling it again.
 */
export function exportSeccomp(seccompStep: Step, what: string): Buffer {
  const plan: Plan = { pre: [step('spawn', [0], 'spawn')], post: [], child: [seccompStep] };
  const r = spawnSync(helperPath(), ['seccomp-export'], { input: encodePlan(plan), env: {}, maxBuffer: 16 << 20 });
  if (r.error) throw new BerthError({ kind: 'system', op: what, message: `${what}: run berth-helper seccomp-export: ${r.error.message}`, cause: r.error });
  if (r.status !== 0) {
    const line = r.stderr.toString('utf8').trim().split('\n').pop() ?? '';
    let m: HelperMessage;
    try { m = JSON.parse(line) as HelperMessage; } catch { m = { type: 'error', message: `berth-helper seccomp-export exited ${r.status}: ${line}` }; }
    throw helperError([seccompStep], { ...m, step: 0 }, what);
  }
  return r.stdout;
}
