/** `create`: build the container up to the user program, which waits on the exec fifo. */
import { readFileSync, realpathSync, renameSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { BerthError, invalid, mark, wrapError } from '../lib/index.js';
import { validateConfig, type LinuxResources, type Spec } from '../oci/index.js';
import { openCgroup, type CgroupManager } from '../cgroups/index.js';
import { HelperSession, procStat, joinCgroupFiles, step, encodePlan, type NetSteps } from '../sys/index.js';
import { compileExec, compileInit, type MonitorOptions } from './compile.js';
import type { CgroupMountInfo } from './compile-mounts.js';
import { rootfsPath, type RootfsMount } from './compile-mounts.js';
import { Container, type RuntimeOptions } from './container.js';
import { runHooks } from './hooks.js';
import { checkId, StateDir, ociState, type StoredState } from './state.js';
import { lsmEnabled } from './lsm.js';
import { effectiveResources } from './devices.js';
import { seccompStep } from './seccomp-cache.js';

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  preserveFds?: number;
  /** Keep the helper as the container's monitor (the engine); its stdio is then /dev/null. */
  monitor?: MonitorOptions;
  /** Bring up `lo` in a new network namespace (default true, as runc). */
  loopbackUp?: boolean;
  /** Mounted on the rootfs directory inside the container's mount namespace only. */
  rootfsMounts?: RootfsMount[];
  /** Create a missing working directory (the engine: Docker does). */
  mkdirCwd?: boolean;
  /** The container's network wiring, done inside the start by the helper (no extra process). */
  netSteps?: NetSteps;
  /**
   * Called with the container's pid once its namespaces exist (its maps written), before it is let
   * go to mount its root (the engine's rootless fuse-overlayfs mounts the rootfs there).
   */
  beforeGo?: (pid: number) => Promise<void>;
}

export interface Launched {
  container: Container;
  session: HelperSession;
  /** pid of the monitor (monitor mode) */
  monitorPid?: number;
}

/** The cgroup file where the kernel counts OOM kills. */
function oomFile(cg: CgroupManager | null): string {
  if (!cg) return '';
  const d = cg.dirs();
  if (cg.version === 2) return d[''] ? `${d['']}/memory.events` : '';
  return d.memory ? `${d.memory}/memory.oom_control` : '';
}

function loadSpec(bundle: string, op: string): Spec {
  const path = resolve(bundle, 'config.json');
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw wrapError(e, `${op}: read config`, path); }
  let obj: unknown;
  try { obj = JSON.parse(text); } catch (e) { throw invalid(op, `${op}: ${path}: not valid JSON: ${(e as Error).message}`, path); }
  validateConfig(obj);
  return obj as Spec;
}

function cgroupPathFor(spec: Spec, id: string, opts: RuntimeOptions, op: string): string {
  const p = spec.linux?.cgroupsPath;
  if (opts.systemdCgroup || (p && /^[^/]*:[^/]*:[^/]*$/.test(p))) {
    const what = [opts.systemdCgroup ? '--systemd-cgroup' : '', p ? `cgroupsPath ${JSON.stringify(p)}` : ''].filter(Boolean).join(', ');
    throw new BerthError({
      kind: 'usage', op,
      message: `${op}: the systemd cgroup driver is not supported (${what}): berth-runtime manages cgroupfs directly; `
        + 'give linux.cgroupsPath as a path (containerd: SystemdCgroup = false; kubelet: cgroupDriver: cgroupfs)',
    });
  }
  return p || `/berth/${id}`;
}

function mountInfo(cg: CgroupManager, spec: Spec): CgroupMountInfo {
  const dirs = Object.entries(cg.dirs()).map(([name, hostDir]) => ({ name, hostDir }));
  const cgroupns = (spec.linux?.namespaces ?? []).some((n) => n.type === 'cgroup');
  return { version: cg.version, dirs, cgroupns };
}

/**
 * Launch the container init. `foreground` keeps the helper as its parent until it exits (run);
 * `started` skips the exec fifo: the process runs as soon as it is ready (run = create + start).
 */
export async function launch(opts: RuntimeOptions, o: CreateOptions, op: string, foreground: boolean, relay: boolean, started = false): Promise<Launched> {
  const id = checkId(o.id, op);
  const bundle = resolve(o.bundle || '.');
  mark('launch');
  const spec = loadSpec(bundle, op);
  mark('config loaded');
  let rootfs = rootfsPath(spec, bundle);
  try {
    if (!statSync(rootfs).isDirectory()) throw new Error('not a directory');
    rootfs = realpathSync(rootfs);
  } catch (e) {
    throw invalid(op, `${op}: rootfs ${rootfs}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (e as Error).message}`, rootfs);
  }
  const dir = new StateDir(opts.root, id);
  const rootless = process.geteuid!() !== 0;
  const cgPath = cgroupPathFor(spec, id, opts, op);
  dir.claim(op);
  let cg: CgroupManager | null = null;
  let session: HelperSession | undefined;
  let pid = 0;
  try {
    try {
      cg = openCgroup({ path: cgPath, root: opts.cgroupRoot });
      // rootless (a delegated cgroup): no device filter, which needs CAP_SYS_ADMIN on the host (runc's rootless rule)
      cg.create(rootless ? withoutDevices(effectiveResources(spec)) : effectiveResources(spec));
      mark('cgroup created');
    } catch (e) {
      if (!rootless || spec.linux?.resources) throw e;
      opts.log?.('debug', `rootless: running without a cgroup (${(e as Error).message})`);
      cg = null;
    }
    const lsm = lsmEnabled();
    const health = o.monitor?.health;
    if (health) {
      // the check's exec plan, prepared once: the monitor runs it in /proc/INIT for every check
      const hp = compileExec({
        pid: 0, nsDir: '.', unattended: true, spec, process: { ...spec.process!, args: health.args, terminal: false }, detach: false,
        relay: false, preserveFds: 0, rootless, apparmor: lsm.apparmor, selinux: lsm.selinux,
        seccompStep: (s) => seccompStep(s, opts.seccompCacheDir, 'create'),
      });
      try { writeFileSync(health.planFile, encodePlan(hp), { mode: 0o600 }); } catch (e) { throw wrapError(e, `${op}: write the healthcheck plan`, health.planFile); }
    }
    const plan = compileInit({
      id, spec, bundle, rootfs, fifo: dir.fifo, foreground, noFifo: started,
      cgroupMount: cg ? mountInfo(cg, spec) : undefined,
      consoleSocket: o.consoleSocket ? resolve(o.consoleSocket) : undefined, relay,
      noPivot: !!o.noPivot, noNewKeyring: !!o.noNewKeyring, preserveFds: o.preserveFds ?? 0,
      rootless, apparmor: lsm.apparmor, selinux: lsm.selinux,
      loopbackUp: o.loopbackUp, rootfsMounts: o.rootfsMounts, mkdirCwd: o.mkdirCwd, netSteps: o.netSteps,
      monitor: o.monitor ? {
        ...o.monitor, oomFile: o.monitor.oomFile ?? oomFile(cg),
        health: health && { ...health, cgroupProcs: cg ? cg.procsFiles() : [] },
      } : undefined,
      seccompStep: (s) => seccompStep(s, opts.seccompCacheDir, 'create'),
    });
    if (!started) plan.pre.unshift(step('mkfifo', [dir.fifo, 0o622], `create the exec fifo ${dir.fifo}`, dir.fifo));
    const extra = Array.from({ length: o.preserveFds ?? 0 }, (_, i) => 3 + i);
    mark('plan compiled');
    session = new HelperSession(plan, { stdio: o.monitor ? ['ignore', 'ignore', 'ignore'] : [0, 1, 2, ...extra] });
    const m = await session.expect('pid', op);
    pid = m.pid!;
    mark('pid');
    if (cg) joinCgroup(cg, pid, op);
    const st: StoredState = {
      id, bundle, rootfs, pid, startTime: procStat(pid)?.startTime ?? 0, created: new Date().toISOString(),
      owner: '', annotations: spec.annotations, config: spec, cgroupPath: cg ? cgPath : '', rootless, creating: true,
    };
    dir.save(st);
    if (o.beforeGo) await o.beforeGo(pid);
    // prestart/createRuntime hooks see status "created" (crun's behaviour; the validation suite checks it)
    const stateJson = JSON.stringify(ociState(st, 'created'));
    await runHooks('prestart', spec.hooks?.prestart, stateJson);
    await runHooks('createRuntime', spec.hooks?.createRuntime, stateJson);
    session.go(stateJson);
    mark('go');
    await session.expect('ready', op);
    mark('ready');
    let monitorPid: number | undefined;
    if (o.monitor) {
      monitorPid = (await session.expect('monitor', op)).pid;
      session.close();
      session.child.unref();
    }
    delete st.creating;
    dir.save(st);
    if (o.pidFile) writePidFile(o.pidFile, pid);
    return { container: new Container(opts, dir, st, cg), session, monitorPid };
  } catch (e) {
    session?.abort();
    if (pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    await session?.exited;
    session?.close();
    if (cg) await destroyQuietly(cg, pid);
    dir.remove();
    throw e;
  }
}

function withoutDevices(res: LinuxResources | undefined): LinuxResources | undefined {
  if (!res?.devices) return res;
  const { devices: _, ...rest } = res;
  return Object.keys(rest).length ? rest : undefined;
}

async function destroyQuietly(cg: CgroupManager, pid: number): Promise<void> {
  try {
    if (pid) for (let i = 0; i < 200 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 5));
    await cg.destroy();
  } catch { /* best effort: the error that made us clean up is the one to report */ }
}

export function writePidFile(path: string, pid: number): void {
  const abs = isAbsolute(path) ? path : resolve(path);
  const tmp = `${abs}.${process.pid}.tmp`;
  try { writeFileSync(tmp, String(pid)); renameSync(tmp, abs); } catch (e) { throw wrapError(e, 'write pid file', abs); }
}

export async function create(opts: RuntimeOptions, o: CreateOptions): Promise<void> {
  const { session } = await launch(opts, o, 'create', false, false);
  await session.exited;
  session.close();
}

/** Move a process into the container's cgroup (done from here: the helper may already be in other namespaces). */
export function joinCgroup(cg: CgroupManager, pid: number, op: string): void {
  try { joinCgroupFiles(cg.procsFiles(), pid); } catch (e) { throw wrapError(e, `${op}: move process ${pid} into cgroup ${cg.path}`); }
}
