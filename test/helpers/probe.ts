/**
 * Test fixture: the container probe (test/fixtures/probe.c), a static program that prints one
 * JSON object describing what it sees. `buildProbe()` builds it, `parseProbe()` reads its output.
 *
 *   probe [info] [--cgroup FILE]... [--sysctl KEY]...  -> ProbeInfo
 *   probe syscall NAME|NR [ARG...]                     -> ProbeSyscall
 *   probe read PATH | write PATH [DATA] | file PATH    -> ProbeRead | ProbeWrite | ProbeFile
 *   probe sleep SECONDS | exit CODE                    -> ProbeSleep | ProbeExit
 *   probe fork N | alloc MB [HOLD_SECONDS]             -> ProbeFork | ProbeAlloc
 *   probe cgroup FILE... | sysctl KEY...               -> ProbeCgroup | ProbeSysctl
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where makeBundle() puts the probe inside the container. */
export const PROBE_IN_CONTAINER = '/probe';

/** The repository root: the nearest ancestor of this file holding package.json and test/fixtures/Makefile. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'test', 'fixtures', 'Makefile'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`repoRoot: no package.json with test/fixtures/Makefile above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

let built: string | undefined;

/** Builds test/fixtures/build/probe with make (a no-op when up to date); returns its absolute path. */
export function buildProbe(): string {
  if (built && existsSync(built)) return built;
  const fixtures = join(repoRoot(), 'test', 'fixtures');
  try {
    execFileSync('make', ['-s', '-C', fixtures], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`build probe: make -C ${fixtures}: ${(e.stderr || e.stdout || e.message).trim()} (needs gcc, make and libc6-dev for static glibc)`);
  }
  built = join(fixtures, 'build', 'probe');
  return built;
}

/**
 * Parses the probe's stdout. The probe prints one JSON object on one line; when something else
 * was printed too (a runtime's messages on the same stream), the last line that parses as a JSON
 * object is used. Throws with the text when none does.
 */
export function parseProbe<T = ProbeInfo>(stdout: string | Buffer): T {
  const text = stdout.toString();
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as T;
  } catch { /* fall through to line search */ }
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try { return JSON.parse(lines[i]!) as T; } catch { /* try the previous line */ }
  }
  throw new Error(`parse probe output: no JSON object in ${JSON.stringify(text.length > 2000 ? text.slice(0, 2000) + '…' : text)}`);
}

/** Linux capability names by bit number (capability.h, up to CAP_CHECKPOINT_RESTORE = 40). */
export const CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** "00000000a80425fb" -> sorted capability names ("CAP_<bit>" for bits without a name). */
export function capsFromHex(hex: string): string[] {
  const v = BigInt('0x' + hex.trim());
  const out: string[] = [];
  for (let bit = 0; bit < 64; bit++) if ((v >> BigInt(bit)) & 1n) out.push(CAPABILITIES[bit] ?? `CAP_${bit}`);
  return out.sort();
}

/** Capability names -> the 16-digit hex mask /proc/self/status prints. Throws on an unknown name. */
export function capsToHex(names: readonly string[]): string {
  let v = 0n;
  for (const n of names) {
    const bit = CAPABILITIES.indexOf(n);
    if (bit < 0) throw new Error(`capsToHex: unknown capability ${n}`);
    v |= 1n << BigInt(bit);
  }
  return v.toString(16).padStart(16, '0');
}

/** Soft/hard rlimit; -1 means unlimited. */
export interface ProbeRlimit { soft: number; hard: number }

/** One line of /proc/self/mountinfo. */
export interface ProbeMount {
  id: number;
  parent: number;
  /** Root of the mount within its filesystem (a bind mount of a subdir shows it here). */
  root: string;
  mountPoint: string;
  fstype: string;
  source: string;
  /** Per-mount options: rw|ro, nosuid, nodev, noexec, relatime, ... */
  options: string[];
  /** Superblock options: size=, mode=, ... */
  superOptions: string[];
  /** Raw optional fields: shared:N, master:N, propagate_from:N, unbindable. */
  optional: string[];
  propagation: 'private' | 'shared' | 'slave' | 'shared,slave' | 'unbindable';
}

export type ProbeNamespace =
  | 'cgroup' | 'ipc' | 'mnt' | 'net' | 'pid' | 'pid_for_children' | 'time' | 'time_for_children' | 'user' | 'uts';

/** `probe` / `probe info`: everything the process sees. */
export interface ProbeInfo {
  argv: string[];
  hostname: string;
  domainname: string;
  pid: number;
  ppid: number;
  sid: number;
  pgid: number;
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  /** Supplementary groups (getgroups). */
  groups: number[];
  /** Octal string, e.g. "0022". */
  umask: string;
  cwd: string | null;
  /** Hex masks as in /proc/self/status (CapInh, CapPrm, CapEff, CapBnd, CapAmb); see capsFromHex. */
  capabilities: { inheritable: string; permitted: string; effective: string; bounding: string; ambient: string };
  noNewPrivs: boolean | null;
  /** 0 disabled, 1 strict, 2 filter. */
  seccomp: number | null;
  seccompFilters: number | null;
  cpusAllowed: string | null;
  memsAllowed: string | null;
  /** Keyed by the OCI names RLIMIT_CPU ... RLIMIT_RTTIME (all 16). */
  rlimits: Record<string, ProbeRlimit | null>;
  oomScoreAdj: number | null;
  /** personality(0xffffffff). */
  personality: number;
  /** "KEY=value" entries, in order. */
  env: string[];
  /** isatty of fds 0-2; rows/cols of the first terminal among them. */
  tty: { stdin: boolean; stdout: boolean; stderr: boolean; rows?: number; cols?: number };
  /** Open fds (the probe's own directory fd excluded) and their readlink targets. */
  fds: Array<{ fd: number; target: string | null }>;
  /** Namespace inode numbers (readlink /proc/self/ns/X = "X:[inode]"), null where absent. */
  namespaces: Record<ProbeNamespace, number | null>;
  /** /proc/self/cgroup; hierarchy 0 with no controllers is the v2 (unified) entry. */
  cgroup: Array<{ hierarchy: number; controllers: string[]; path: string }> | null;
  /** LSM labels: /proc/self/attr/current, attr/exec, attr/apparmor/current (null if unreadable). */
  label: { current: string | null; exec: string | null; apparmor: string | null };
  mounts: ProbeMount[] | null;
  /** Files asked for with --cgroup FILE (relative to /sys/fs/cgroup), trimmed; null if unreadable. */
  cgroupFiles: Record<string, string | null>;
  /** Keys asked for with --sysctl KEY, trimmed; null if unreadable. */
  sysctl: Record<string, string | null>;
}

/**
 * `probe syscall NAME [ARG]`. Names: getpid mkdir mknod chmod chown chdir chroot open unshare
 * clone clone3 mount ptrace personality setuid setgid setgroups sethostname setdomainname kill
 * socket keyctl syslog setpriority setrlimit mlock — or a syscall number with numeric args.
 * unshare/clone/clone3 take namespace names ("net,uts"); personality a number; socket a family.
 */
export interface ProbeSyscall { syscall: string; args: string[]; ok: boolean; errno: number; ret: number }

interface ProbeOp { op: string; path: string; ok: boolean; errno: number }
export interface ProbeRead extends ProbeOp { op: 'read'; data?: string; truncated?: boolean; entries?: string[] }
export interface ProbeWrite extends ProbeOp { op: 'write'; written: number }
export interface ProbeFile extends ProbeOp {
  op: 'file';
  type?: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  /** Permission bits as a number (0o644 = 420). */
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  nlink?: number;
  major?: number;
  minor?: number;
  target?: string | null;
}
/** Exit status is 128+signal when a signal (TERM INT HUP QUIT USR1 USR2) ended the sleep. */
export interface ProbeSleep { op: 'sleep'; signal: number | null }
export interface ProbeExit { op: 'exit'; code: number }
export interface ProbeFork { op: 'fork'; requested: number; forked: number; ok: boolean; errno: number }
/** Nothing is printed when the OOM killer ends it (exit by SIGKILL). */
export interface ProbeAlloc { op: 'alloc'; mb: number; ok: boolean; errno: number }
export interface ProbeCgroup { op: 'cgroup'; files: Record<string, string | null>; errors: Record<string, number> }
export interface ProbeSysctl { op: 'sysctl'; values: Record<string, string | null>; errors: Record<string, number> }
