/** Compile `process` (user, capabilities, rlimits, seccomp, cwd, exec) into helper child steps. */
import { invalid } from '../lib/index.js';
import { capMask, rlimitNumber, seccompStepArgs, type LinuxSeccomp, type Process, type Spec } from '../oci/index.js';
import { step, type Step } from '../sys/index.js';

export interface ProcessContext {
  process: Process;
  spec: Spec;
  /** Supplementary groups cannot be set (user namespace with setgroups denied). */
  noSetgroups: boolean;
  /** Steps to put between the exec lookup and exec (ready, fifo wait, startContainer hooks). */
  beforeExec: Step[];
  /** Lowest fd closed before exec (3 + preserved fds). */
  firstClosedFd: number;
  /** Apply LSM labels only where that LSM is enabled (crun ignores them otherwise). */
  apparmor: boolean;
  selinux: boolean;
  /** The step loading the seccomp filter (default: libseccomp compiles it in the helper). */
  seccompStep?: (s: LinuxSeccomp) => Step;
}

const INFINITY = 0xffffffffffffffffn;

function envValue(env: string[] | undefined, key: string): string | undefined {
  for (const kv of env ?? []) if (kv.startsWith(key + '=')) return kv.slice(key.length + 1);
  return undefined;
}

/** Steps from LSM labels to exec, in runc's order (seccomp early unless noNewPrivileges). */
export function processSteps(c: ProcessContext): Step[] {
  const p = c.process;
  if (!p.args || p.args.length === 0) throw invalid('create', 'config.json: process.args must have at least one element');
  if (!p.cwd || !p.cwd.startsWith('/')) throw invalid('create', `config.json: process.cwd must be an absolute path, got ${JSON.stringify(p.cwd ?? '')}`);
  const steps: Step[] = [];
  if (p.apparmorProfile && c.apparmor) steps.push(step('apparmor', [p.apparmorProfile], `apply AppArmor profile ${p.apparmorProfile}`));
  if (p.selinuxLabel && c.selinux) steps.push(step('selinux', [p.selinuxLabel], `set SELinux label ${p.selinuxLabel}`));
  for (const r of p.rlimits ?? []) {
    const num = rlimitNumber(r.type);
    if (num === undefined) throw invalid('create', `process.rlimits: unknown rlimit type ${JSON.stringify(r.type)}`);
    steps.push(step('rlimit', [num, big(r.soft), big(r.hard)], `set ${r.type} to soft ${r.soft}, hard ${r.hard} (raising a hard limit above the caller's needs CAP_SYS_RESOURCE)`));
  }
  if (p.ioPriority) steps.push(step('ioprio', [ioClass(p.ioPriority.class), p.ioPriority.priority ?? 0], 'set the I/O priority'));
  if (p.scheduler) {
    const s = p.scheduler;
    steps.push(step('sched', [schedPolicy(s.policy), s.nice ?? 0, s.priority ?? 0, schedFlags(s.flags), s.runtime ?? 0, s.deadline ?? 0, s.period ?? 0], `set scheduler ${s.policy}`));
  }
  if (p.execCPUAffinity?.initial) steps.push(step('affinity', [p.execCPUAffinity.initial], `set CPU affinity ${p.execCPUAffinity.initial}`));

  // chdir and the executable lookup come before seccomp (crun's order): a profile need not
  // allow getcwd/faccessat for the runtime's own checks.
  steps.push(step('close_fds', [c.firstClosedFd], 'close inherited file descriptors'));
  steps.push(step('chdir', [p.cwd], `change to the working directory ${p.cwd}`, p.cwd));
  const file = p.args[0]!;
  steps.push(step('lookup', [file, envValue(p.env, 'PATH') ?? ''], `find the executable ${file}`, file));
  const seccomp = c.spec.linux?.seccomp;
  const seccompStep = !seccomp ? undefined
    : c.seccompStep ? c.seccompStep(seccomp) : step('seccomp', seccompStepArgs(seccomp), 'load the seccomp filter');
  // Without no_new_privs the filter must be loaded while the process still has CAP_SYS_ADMIN.
  if (seccompStep && !p.noNewPrivileges) steps.push(seccompStep);
  const caps = p.capabilities ?? {};
  steps.push(step('bounding', [capMask(caps.bounding ?? [])], 'drop capabilities from the bounding set'));
  steps.push(step('keepcaps', [1], 'keep capabilities across the user switch'));
  const u = p.user ?? { uid: 0, gid: 0 };
  const groups = c.noSetgroups ? [] : (u.additionalGids ?? []);
  steps.push(step('user', [u.uid ?? 0, u.gid ?? 0, c.noSetgroups ? -1 : groups.length, ...groups], `switch to uid ${u.uid} gid ${u.gid}`));
  steps.push(step('keepcaps', [0], 'clear keep-capabilities'));
  steps.push(step('caps', [capMask(caps.effective ?? []), capMask(caps.permitted ?? []), capMask(caps.inheritable ?? [])], 'set capabilities'));
  if (caps.ambient && caps.ambient.length) steps.push(step('ambient', [capMask(caps.ambient)], 'raise ambient capabilities'));
  if (p.noNewPrivileges) steps.push(step('no_new_privs', [], 'set no_new_privs'));
  if (seccompStep && p.noNewPrivileges) steps.push(seccompStep);
  steps.push(...c.beforeExec);
  const finalCpus = p.execCPUAffinity?.final;
  if (finalCpus) steps.push(step('affinity', [finalCpus], `set CPU affinity ${finalCpus} for the process`));
  steps.push(step('umask', [u.umask ?? 0o022], 'set the umask'));
  const env = p.env ?? [];
  steps.push(step('exec', [file, p.args.length, ...p.args, env.length, ...env], `exec ${file}`, file));
  return steps;
}

function big(n: number | bigint | undefined): bigint {
  if (n === undefined) return INFINITY;
  // JSON's 18446744073709551615 (the schema's "unlimited") arrives as 2^64 in a JS number.
  const b = BigInt(n);
  return b < 0n || b >= INFINITY ? INFINITY : b;
}

function ioClass(c: string): number {
  const m: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };
  if (!(c in m)) throw invalid('create', `process.ioPriority.class: unknown class ${JSON.stringify(c)}`);
  return m[c]!;
}

function schedPolicy(p: string): number {
  const m: Record<string, number> = { SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6 };
  if (!(p in m)) throw invalid('create', `process.scheduler.policy: unknown policy ${JSON.stringify(p)}`);
  return m[p]!;
}

function schedFlags(flags: string[] | undefined): number {
  const m: Record<string, number> = {
    SCHED_FLAG_RESET_ON_FORK: 1, SCHED_FLAG_RECLAIM: 2, SCHED_FLAG_DL_OVERRUN: 4, SCHED_FLAG_KEEP_POLICY: 8,
    SCHED_FLAG_KEEP_PARAMS: 16, SCHED_FLAG_UTIL_CLAMP_MIN: 32, SCHED_FLAG_UTIL_CLAMP_MAX: 64,
  };
  let v = 0;
  for (const f of flags ?? []) {
    if (!(f in m)) throw invalid('create', `process.scheduler.flags: unknown flag ${JSON.stringify(f)}`);
    v |= m[f]!;
  }
  return v;
}
