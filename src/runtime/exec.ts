/** `exec`: run a new process inside a running container (setns into its namespaces). */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { conflict, invalid, wrapError } from '../lib/index.js';
import type { Process } from '../oci/index.js';
import { HelperSession } from '../sys/index.js';
import { compileExec } from './compile.js';
import { Container, type RuntimeOptions } from './container.js';
import { joinCgroup, writePidFile } from './create.js';
import { lsmEnabled } from './lsm.js';
import { waitForeground } from './run.js';
import { seccompStep } from './seccomp-cache.js';

export interface ExecOptions {
  id: string;
  processFile?: string;
  args: string[];
  tty?: boolean;
  /** the pty's size [rows, cols] before the process starts (else 0x0 until the relay copies ours) */
  consoleSize?: [number, number];
  detach?: boolean;
  consoleSocket?: string;
  pidFile?: string;
  env?: string[];
  cwd?: string;
  user?: string;
  additionalGids?: number[];
  caps?: string[];
  noNewPrivs?: boolean;
  apparmor?: string;
  processLabel?: string;
  preserveFds?: number;
  /** The whole environment (instead of the container's plus `env`). */
  envReplace?: string[];
  /** stdio of the process (default: ours). */
  stdio?: Array<number | 'inherit' | 'ignore' | 'pipe'>;
  /** Told the exec'd process's pid (on the host) once it runs the program (after its execve). */
  onPid?: (pid: number) => void;
  /** Sees the helper child (its pipes, when stdio asks for them). */
  onSpawn?: (child: import('node:child_process').ChildProcess) => void;
}

function buildProcess(c: Container, o: ExecOptions): Process {
  if (o.processFile) {
    try { return JSON.parse(readFileSync(o.processFile, 'utf8')) as Process; } catch (e) {
      if (e instanceof SyntaxError) throw invalid('exec', `exec ${o.id}: ${o.processFile}: not valid JSON: ${e.message}`, o.processFile);
      throw wrapError(e, `exec ${o.id}: read process file`, o.processFile);
    }
  }
  if (!o.args.length) throw invalid('exec', `exec ${o.id}: no command given`);
  const base = structuredClone(c.st.config.process ?? { cwd: '/', args: [] as string[] }) as Process;
  const p: Process = { ...base, args: o.args, terminal: !!o.tty };
  if (o.tty && o.consoleSize?.[0] && o.consoleSize[1]) p.consoleSize = { height: o.consoleSize[0], width: o.consoleSize[1] };
  else delete p.consoleSize;
  if (o.envReplace) p.env = [...o.envReplace];
  else if (o.env?.length) p.env = [...(p.env ?? []), ...o.env];
  if (o.cwd) p.cwd = o.cwd;
  if (o.user) {
    const [u, g] = o.user.split(':');
    const uid = Number(u), gid = g === undefined ? 0 : Number(g);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw invalid('exec', `exec ${o.id}: --user ${o.user}: expected uid[:gid] as numbers`);
    p.user = { ...(p.user ?? { uid: 0, gid: 0 }), uid, gid };
  }
  if (o.additionalGids?.length) p.user = { ...(p.user ?? { uid: 0, gid: 0 }), additionalGids: o.additionalGids };
  if (o.caps?.length) {
    const caps = { ...(p.capabilities ?? {}) };
    for (const set of ['bounding', 'effective', 'permitted', 'ambient'] as const) caps[set] = [...new Set([...(caps[set] ?? []), ...o.caps])];
    p.capabilities = caps;
  }
  if (o.noNewPrivs) p.noNewPrivileges = true;
  if (o.apparmor) p.apparmorProfile = o.apparmor;
  if (o.processLabel) p.selinuxLabel = o.processLabel;
  return p;
}

export async function exec(opts: RuntimeOptions, o: ExecOptions): Promise<number> {
  const c = Container.load(opts, o.id, 'exec');
  const status = c.status();
  if (status !== 'running' && status !== 'created') throw conflict('exec', `exec ${o.id}: cannot exec in a ${status} container`);
  const proc = buildProcess(c, o);
  const detach = !!o.detach;
  const cg = c.cgroup();
  const lsm = lsmEnabled();
  const plan = compileExec({
    pid: c.st.pid, spec: c.st.config, process: proc, detach,
    consoleSocket: o.consoleSocket ? resolve(o.consoleSocket) : undefined, relay: !detach && !o.consoleSocket,
    preserveFds: o.preserveFds ?? 0, rootless: c.st.rootless, apparmor: lsm.apparmor, selinux: lsm.selinux,
    seccompStep: (s) => seccompStep(s, c.opts.seccompCacheDir, 'exec'),
  });
  const extra = Array.from({ length: o.preserveFds ?? 0 }, (_, i) => 3 + i);
  const session = new HelperSession(plan, { stdio: [...(o.stdio ?? [0, 1, 2]), ...extra] });
  o.onSpawn?.(session.child);
  try {
    const m = await session.expect('pid', 'exec');
    if (cg) joinCgroup(cg, m.pid!, 'exec');
    session.go(c.stateJson());
    // 'ready' comes when the sync channel closes on execve: from here the pid is the exec'd program
    await session.expect('ready', 'exec');
    o.onPid?.(m.pid!);
    if (o.pidFile) writePidFile(o.pidFile, m.pid!);
    if (detach) { await session.exited; return 0; }
    return await waitForeground(session, m.pid!);
  } catch (e) {
    session.abort();
    throw e;
  } finally {
    session.close();
  }
}
