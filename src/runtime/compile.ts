/** Compile a container's spec into the helper plan for `create` (init) and `exec`. */
import { invalid } from '../lib/index.js';
import type { LinuxSeccomp, Process, Spec } from '../oci/index.js';
import { emptyPlan, idmapExecSteps, isSingleIdMap, step, type NetSteps, type Plan, type Step } from '../sys/index.js';
import { JOIN_ORDER, NAMESPACES } from './flags.js';
import { hookSteps } from './hooks.js';
import { finishRootSteps, mountSteps, type CgroupMountInfo, type RootfsMount } from './compile-mounts.js';
import { processSteps } from './compile-process.js';

/** What init and exec plans share besides the terminal: how the seccomp filter is loaded. */
export interface ProcessHooks {
  /** The step loading the seccomp filter (see seccomp-cache.ts); default: libseccomp's `seccomp`. */
  seccompStep?: (s: LinuxSeccomp) => Step;
}

export interface TerminalOptions {
  /** Send the pty master to this unix socket (runc's --console-socket). */
  consoleSocket?: string;
  /** Relay the pty to our own stdio (foreground run/exec without a console socket). */
  relay: boolean;
}

/** The engine's per-container monitor (docs/PLAN.md "Monitor mode"): the helper parent stays. */
export interface MonitorOptions {
  /** json-file log path ('' = no log) */
  log: string;
  maxSize: number;
  maxFiles: number;
  exitFile: string;
  socket: string;
  /** keep a pipe for the container's stdin (`-i`) */
  stdin: boolean;
  /** cgroup file with the OOM kill count ('' = none) */
  oomFile?: string;
  /** run after the exit record is written, unless an attached client took over the cleanup */
  exitCommand?: string[];
  /** Serve the embedded DNS (127.0.0.11) in the container from this conf (src/network/dns). */
  dnsConfig?: string;
  /** Host ports bound (never listened on) in the caller's network namespace for the container's life; ip '' = all. */
  holdPorts?: HoldPort[];
  /** Host ports bound (TCP: listening) in the caller's network namespace and relayed by the monitor to
   *  a target address in the namespace it joins (rootless user networks); ip '' = all. */
  proxyPorts?: ProxyPort[];
  /** a healthcheck run by the monitor (docs/PLAN.md "Healthchecks") */
  health?: HealthOptions;
}

export interface HoldPort { proto: 'tcp' | 'udp' | 'sctp'; ip: string; port: number }

/** `port_hold` steps: first in pre, so they bind in the caller's (the host's) network namespace. */
export function holdPortSteps(ports: HoldPort[] | undefined): Step[] {
  return (ports ?? []).map((p) => {
    const what = hostPortName(p.proto, p.ip, p.port);
    return step('port_hold', [p.proto, p.ip, p.port], `reserve the host port ${what}`, what);
  });
}

export interface ProxyPort { proto: 'tcp' | 'udp'; ip: string; port: number; targetIp: string; targetPort: number }

const hostPortName = (proto: string, ip: string, port: number) => `${proto} ${ip.includes(':') ? `[${ip}]` : ip || '[::]'}:${port}`;

/** `port_proxy` steps: first in pre, so they bind in the caller's (the host's) network namespace. */
export function proxyPortSteps(ports: ProxyPort[] | undefined): Step[] {
  return (ports ?? []).map((p) => {
    const what = hostPortName(p.proto, p.ip, p.port);
    const to = `${p.targetIp.includes(':') ? `[${p.targetIp}]` : p.targetIp}:${p.targetPort}`;
    return step('port_proxy', [p.proto, p.ip, p.port, p.targetIp, p.targetPort], `forward the host port ${what} to ${to}`, what);
  });
}

/** The healthcheck the monitor runs on its timer: an exec of `args` with the init's env, user, cwd. */
export interface HealthOptions {
  args: string[];
  /** where the runtime writes the check's exec plan (read by the monitor for every check) */
  planFile: string;
  /** Docker's State.Health, written atomically by the monitor */
  stateFile: string;
  /** one JSON line per status change, appended by the monitor ('' = none) */
  eventsFile: string;
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
  onFailure: 'none' | 'kill' | 'restart' | 'stop';
  stopSignal: number;
  stopTimeoutMs: number;
  /** run (detached) when the container turns unhealthy with onFailure 'restart' */
  restartCommand?: string[];
  /** the container's cgroup.procs files (filled in by the runtime) */
  cgroupProcs?: string[];
}

export interface InitContext extends TerminalOptions, ProcessHooks {
  spec: Spec;
  bundle: string;
  rootfs: string;
  fifo: string;
  cgroupMount?: CgroupMountInfo;
  foreground: boolean;
  /** `run`: no exec fifo; the process execs as soon as it is ready (create + start in one go). */
  noFifo: boolean;
  noPivot: boolean;
  noNewKeyring: boolean;
  preserveFds: number;
  rootless: boolean;
  apparmor: boolean;
  selinux: boolean;
  id: string;
  monitor?: MonitorOptions;
  /** Bring up `lo` in a new network namespace (default true: runc does it too). */
  loopbackUp?: boolean;
  /** Mounted on the rootfs inside the container's mount namespace before anything else. */
  rootfsMounts?: RootfsMount[];
  /** Create a missing working directory (Docker's WorkingDir), before the root is made read-only. */
  mkdirCwd?: boolean;
  /** The container's network wiring (sys/netlink.ts): parent steps after the clone, child steps before pivot_root. */
  netSteps?: NetSteps;
}

function nsList(spec: Spec): Array<{ type: string; path?: string }> {
  const seen = new Set<string>();
  const out: Array<{ type: string; path?: string }> = [];
  for (const ns of spec.linux?.namespaces ?? []) {
    if (!NAMESPACES[ns.type]) throw invalid('create', `linux.namespaces: unknown namespace type ${JSON.stringify(ns.type)}`);
    if (seen.has(ns.type)) throw invalid('create', `linux.namespaces: ${ns.type} is listed twice`);
    seen.add(ns.type);
    out.push(ns.path ? { type: ns.type, path: ns.path } : { type: ns.type });
  }
  return out;
}

/** A rootless spec whose maps name more than this user's own ids (newuidmap/newgidmap write those). */
export function rootlessNeedsIdmapTools(spec: Spec): boolean {
  return !isSingleIdMap(spec.linux?.uidMappings, process.geteuid!()) || !isSingleIdMap(spec.linux?.gidMappings, process.getegid!());
}

function idmap(maps: Array<{ containerID: number; hostID: number; size: number }> | undefined): string {
  return (maps ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

function terminalPost(t: TerminalOptions): Step[] {
  const s = [step('console_recv', [], 'receive the pty master from the container')];
  if (t.consoleSocket) s.push(step('console_send', [t.consoleSocket], `send the pty master to the console socket ${t.consoleSocket}`, t.consoleSocket));
  return s;
}

function consoleStep(p: Process, exec = false): Step {
  const size = p.consoleSize;
  if (exec) return step('console', [size?.height ?? 0, size?.width ?? 0, 'noconsole'], 'set up the process pty', '/dev/ptmx');
  return step('console', [size?.height ?? 0, size?.width ?? 0], 'set up the container pty and /dev/console', '/dev/ptmx');
}

export function compileInit(c: InitContext): Plan {
  const plan = emptyPlan();
  const spec = c.spec;
  const proc = spec.process;
  if (!proc) throw invalid('create', 'config.json: process is required to create a container');
  const namespaces = nsList(spec);
  // What the runtime cannot apply is an error, never silently ignored (runtime-spec: create fails).
  for (const [field, set] of [['linux.netDevices', spec.linux?.netDevices], ['linux.memoryPolicy', spec.linux?.memoryPolicy], ['linux.intelRdt', spec.linux?.intelRdt]] as const) {
    if (set) throw invalid('create', `config.json: ${field} is not supported by berth-runtime`);
  }
  if (!namespaces.some((n) => n.type === 'mount')) throw invalid('create', 'linux.namespaces: a mount namespace is required');
  // runc's rule (specconv): a [r]private root is refused with --no-pivot.
  if (c.noPivot && /private$/.test(spec.linux?.rootfsPropagation ?? '')) throw invalid('create', `linux.rootfsPropagation ${spec.linux!.rootfsPropagation} is not safe without pivot_root (--no-pivot)`);
  if (proc.terminal && !c.consoleSocket && !c.relay && !c.monitor) throw invalid('create', 'process.terminal is true but no --console-socket was given: the pty would have no reader');
  const isNew = (t: string) => namespaces.some((n) => n.type === t && !n.path);

  const mon = c.monitor;
  // A monitor that joins a user namespace cannot leave it, and what it runs there has no rights
  // in it: its exit command (cleanup, restart) is run by a runner forked before the joins.
  // (a user namespace of the spec's joined, or the parent of a new one joined by the net steps)
  if (mon?.exitCommand?.length && (namespaces.some((n) => n.type === 'user' && n.path) || c.netSteps?.parentUserns)) plan.pre.push(step('exit_runner', [], 'fork the exit command\'s runner'));
  plan.pre.push(...proxyPortSteps(mon?.proxyPorts), ...holdPortSteps(mon?.holdPorts));
  for (const t of JOIN_ORDER) {
    const ns = namespaces.find((n) => n.type === t && n.path);
    if (ns) plan.pre.push(step('setns', [ns.path!, NAMESPACES[t]!.flag], `join the ${t} namespace ${ns.path}`, ns.path));
  }
  if (c.netSteps?.pre?.length) plan.pre.push(...c.netSteps.pre);
  if (isNew('time')) {
    plan.pre.push(step('unshare', [NAMESPACES.time!.flag], 'create a time namespace'));
    const off = spec.linux?.timeOffsets;
    const lines = Object.entries(off ?? {}).map(([clock, v]) => `${clock} ${v.secs ?? 0} ${v.nanosecs ?? 0}\n`).join('');
    if (lines) plan.pre.push(step('write', ['/proc/self/timens_offsets', lines], 'set the time namespace offsets', '/proc/self/timens_offsets'));
  }
  if (proc.oomScoreAdj !== undefined) plan.pre.push(step('write', ['/proc/self/oom_score_adj', String(proc.oomScoreAdj)], `set oom_score_adj to ${proc.oomScoreAdj} (lowering it needs CAP_SYS_RESOURCE)`, '/proc/self/oom_score_adj'));
  if (mon) {
    plan.pre.push(step('subreaper', [], 'become the container\'s subreaper'));
    if (!proc.terminal) plan.pre.push(step('stdio_pipes', [mon.stdin ? 1 : 0], 'create the container\'s stdio pipes'));
  }
  let flags = 0;
  for (const n of namespaces) if (!n.path && n.type !== 'time' && n.type !== 'cgroup') flags |= NAMESPACES[n.type]!.flag;
  plan.pre.push(step('spawn', [flags], 'create the container process'));

  // rootless with more than the user's own id: the distribution's newuidmap/newgidmap write the maps
  // (unless the helper joined the new namespace's parent first, whose root writes any of its ids)
  const parentWrites = !!c.netSteps?.parentUserns;
  const subids = isNew('user') && c.rootless && !parentWrites && rootlessNeedsIdmapTools(spec);
  if (subids) plan.post.push(...idmapExecSteps(spec.linux!.uidMappings!, spec.linux!.gidMappings!));
  else if (isNew('user')) {
    if (c.rootless && !parentWrites) plan.post.push(step('setgroups', ['deny'], 'deny setgroups in the user namespace'));
    plan.post.push(step('idmap', ['uid', idmap(spec.linux?.uidMappings)], 'write the uid mappings'));
    plan.post.push(step('idmap', ['gid', idmap(spec.linux?.gidMappings)], 'write the gid mappings'));
  }
  // before the process runs: its first lookup finds the server listening
  if (mon?.dnsConfig) plan.post.push(step('dns', [mon.dnsConfig], 'serve the embedded DNS on 127.0.0.11:53 in the container', '127.0.0.11:53'));
  plan.post.push(step('report_pid', [], 'report the container pid'));
  // network wiring overlaps the runtime's work on the pid; an error ends the start at await_go
  if (c.netSteps?.parent.length) plan.post.push(...c.netSteps.parent);
  plan.post.push(step('await_go', [], 'wait for the runtime'));
  plan.post.push(step('release', [], 'release the container process'));
  if (proc.terminal) plan.post.push(...terminalPost(c));
  plan.post.push(step('await_ready', [], 'wait for the container to be ready'));
  if (mon?.health) {
    const h = mon.health;
    plan.post.push(step('health', [h.planFile, h.stateFile, h.eventsFile, (h.cgroupProcs ?? []).join('\n'), h.intervalMs, h.timeoutMs,
      h.startPeriodMs, h.startIntervalMs, h.retries, h.onFailure, h.stopSignal, h.stopTimeoutMs, (h.restartCommand ?? []).join('\n')],
    `set up the healthcheck (every ${h.intervalMs} ms)`, h.planFile));
  }
  if (mon) {
    plan.post.push(step('monitor', [mon.log, mon.maxSize, mon.maxFiles, mon.exitFile, mon.socket, mon.oomFile ?? '', (mon.exitCommand ?? []).join('\n')],
      `monitor the container (log ${mon.log || 'none'}, attach socket ${mon.socket})`, mon.socket));
  } else if (c.foreground) {
    if (proc.terminal && c.relay) plan.post.push(step('relay', [], 'relay the terminal'));
    plan.post.push(step('wait_exit', [], 'wait for the container to exit'));
  }

  const ch = plan.child;
  ch.push(step('await_release', [], 'wait for the runtime to release the container'));
  const userns = namespaces.some((n) => n.type === 'user');
  // rootless with subordinate ids: the rootfs is mounted as the user (mapped too, with every
  // capability of the new namespace), who can reach the user's own directories; the container's
  // root (a subordinate id) could not. Root of the namespace only from pivot_root on.
  if (userns && !subids) ch.push(step('user', [0, 0, -1], 'become root in the user namespace'));
  if (isNew('cgroup')) ch.push(step('unshare', [NAMESPACES.cgroup!.flag], 'create a cgroup namespace'));
  ch.push(step('setsid', [], 'start a new session'));
  ch.push(...mountSteps({ spec, bundle: c.bundle, rootfs: c.rootfs, userns, cgroup: c.cgroupMount, rootfsMounts: c.rootfsMounts }));
  ch.push(...hookSteps('createContainer', spec.hooks?.createContainer));
  if (!c.noFifo) ch.push(step('fifo_open', [c.fifo], `open the exec fifo ${c.fifo}`, c.fifo));
  // before pivot_root: netns paths are host paths, /proc/sys is still writable
  if (c.netSteps?.child.length) ch.push(...c.netSteps.child);
  if (subids) ch.push(step('user', [0, 0, -1], 'become root in the user namespace'));
  ch.push(c.noPivot ? step('chroot', [], `chroot into ${c.rootfs}`, c.rootfs) : step('pivot_root', [], `pivot_root into ${c.rootfs}`, c.rootfs));
  for (const [k, v] of Object.entries(spec.linux?.sysctl ?? {})) {
    const path = '/proc/sys/' + k.replace(/\./g, '/');
    ch.push(step('write', [path, v], `set sysctl ${k}=${v}`, path));
  }
  if (c.mkdirCwd && proc.cwd && proc.cwd !== '/') ch.push(step('mkdir', [proc.cwd, 0o755], `create the working directory ${proc.cwd}`, proc.cwd));
  ch.push(...finishRootSteps(spec));
  if (proc.terminal) ch.push(consoleStep(proc));
  if (spec.hostname !== undefined && spec.hostname !== '') {
    if (!namespaces.some((n) => n.type === 'uts')) throw invalid('create', 'config.json: hostname is set but the container has no uts namespace');
    ch.push(step('sethostname', [spec.hostname], `set the hostname ${spec.hostname}`));
  }
  if (spec.domainname) ch.push(step('setdomainname', [spec.domainname], `set the domain name ${spec.domainname}`));
  if ((c.loopbackUp ?? true) && isNew('network')) ch.push(step('ifup', ['lo'], 'bring up the loopback interface'));
  if (!c.noNewKeyring) ch.push(step('keyring', [`_ses.${c.id}`], 'join a new session keyring'));
  const pers = spec.linux?.personality;
  if (pers) ch.push(step('personality', [pers.domain === 'LINUX32' ? 8 : 0], `set personality ${pers.domain}`));
  ch.push(...processSteps({
    process: proc, spec, noSetgroups: c.rootless && isNew('user') && !subids, firstClosedFd: 3 + c.preserveFds,
    apparmor: c.apparmor, selinux: c.selinux, seccompStep: c.seccompStep,
    beforeExec: [
      step('ready', [], 'report ready'),
      ...(c.noFifo ? [] : [step('fifo_wait', [], 'wait for start')]),
      ...hookSteps('startContainer', spec.hooks?.startContainer),
    ],
  }));
  return plan;
}

export interface ExecContext extends TerminalOptions, ProcessHooks {
  pid: number;
  spec: Spec;
  process: Process;
  detach: boolean;
  preserveFds: number;
  rootless: boolean;
  apparmor: boolean;
  selinux: boolean;
  /** Where the namespaces are: default `/proc/PID`; the monitor's checks run in /proc/INIT: `.` */
  nsDir?: string;
  /** Nobody answers: no pid report, no go (the monitor's healthchecks). */
  unattended?: boolean;
}

export function compileExec(c: ExecContext): Plan {
  const plan = emptyPlan();
  const namespaces = nsList(c.spec);
  if (c.process.terminal && !c.consoleSocket && !c.relay) throw invalid('exec', 'terminal requested but no --console-socket was given and the exec is detached');
  for (const t of JOIN_ORDER) {
    if (!namespaces.some((n) => n.type === t)) continue;
    const path = `${c.nsDir ?? `/proc/${c.pid}`}/ns/${NAMESPACES[t]!.file}`;
    plan.pre.push(step('setns', [path, NAMESPACES[t]!.flag], `join the container's ${t} namespace`, path));
  }
  plan.pre.push(step('spawn', [0], 'create the exec process'));
  if (!c.unattended) {
    plan.post.push(step('report_pid', [], 'report the process pid'));
    plan.post.push(step('await_go', [], 'wait for the runtime'));
  }
  plan.post.push(step('release', [], 'release the process'));
  if (c.process.terminal) plan.post.push(...terminalPost(c));
  plan.post.push(step('await_ready', [], 'wait for the process to start'));
  if (!c.detach) {
    if (c.process.terminal && c.relay) plan.post.push(step('relay', [], 'relay the terminal'));
    plan.post.push(step('wait_exit', [], 'wait for the process to exit'));
  }
  const ch = plan.child;
  ch.push(step('await_release', [], 'wait for the runtime to release the process'));
  if (c.process.terminal) ch.push(step('setsid', [], 'start a new session'), consoleStep(c.process, true));
  const userns = namespaces.some((n) => n.type === 'user');
  ch.push(...processSteps({
    process: c.process, spec: c.spec, noSetgroups: c.rootless && userns && !rootlessNeedsIdmapTools(c.spec), firstClosedFd: 3 + c.preserveFds,
    apparmor: c.apparmor, selinux: c.selinux, beforeExec: [], seccompStep: c.seccompStep,
  }));
  return plan;
}
