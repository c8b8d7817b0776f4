/**
 * Convert an OCI `linux.seccomp` into the arguments of the helper's `seccomp` plan step
 * (docs/PLAN.md, "seccomp"), applying runc's rules (libcontainer/seccomp/seccomp_linux.go and
 * specconv.SetupSeccomp):
 *  - actions map to libseccomp values; SCMP_ACT_ERRNO and SCMP_ACT_TRACE default to EPERM;
 *  - a rule whose action equals the default action is dropped (libseccomp refuses it);
 *  - when two conditions of one rule test the same argument index, each condition becomes a
 *    rule of its own (libseccomp cannot AND two tests of one argument);
 *  - `flags` absent means [spec_allow] (runc's default); an explicit [] means none;
 *  - SCMP_ACT_NOTIFY is refused as the default action and for `write`, and needs listenerPath.
 * Unknown syscall names are left to the helper, which skips them as runc does.
 */
import { BerthError } from '../lib/index.js';
import type { LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFlag, LinuxSeccompOperator } from './spec.js';

export const SCMP_ACT_KILL_PROCESS = 0x80000000;
export const SCMP_ACT_KILL_THREAD = 0x00000000;
export const SCMP_ACT_TRAP = 0x00030000;
export const SCMP_ACT_NOTIFY = 0x7fc00000;
export const SCMP_ACT_LOG = 0x7ffc0000;
export const SCMP_ACT_ALLOW = 0x7fff0000;
export const SCMP_ACT_ERRNO = (errno: number): number => (0x00050000 | (errno & 0xffff)) >>> 0;
export const SCMP_ACT_TRACE = (msg: number): number => (0x7ff00000 | (msg & 0xffff)) >>> 0;

const EPERM = 1;

export const SECCOMP_ACTIONS: readonly LinuxSeccompAction[] = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
];

/** libseccomp's enum scmp_compare. */
export const SECCOMP_OPERATORS: Readonly<Record<LinuxSeccompOperator, number>> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};

/** OCI SCMP_ARCH_* -> libseccomp architecture name (seccomp_arch_resolve_name). */
export const SECCOMP_ARCHES: Readonly<Record<string, string>> = {
  SCMP_ARCH_X86: 'x86', SCMP_ARCH_X86_64: 'x86_64', SCMP_ARCH_X32: 'x32', SCMP_ARCH_ARM: 'arm',
  SCMP_ARCH_AARCH64: 'aarch64', SCMP_ARCH_LOONGARCH64: 'loongarch64', SCMP_ARCH_M68K: 'm68k',
  SCMP_ARCH_MIPS: 'mips', SCMP_ARCH_MIPS64: 'mips64', SCMP_ARCH_MIPS64N32: 'mips64n32', SCMP_ARCH_MIPSEL: 'mipsel',
  SCMP_ARCH_MIPSEL64: 'mipsel64', SCMP_ARCH_MIPSEL64N32: 'mipsel64n32', SCMP_ARCH_PPC: 'ppc', SCMP_ARCH_PPC64: 'ppc64',
  SCMP_ARCH_PPC64LE: 'ppc64le', SCMP_ARCH_S390: 's390', SCMP_ARCH_S390X: 's390x', SCMP_ARCH_SH: 'sh',
  SCMP_ARCH_SHEB: 'sheb', SCMP_ARCH_PARISC: 'parisc', SCMP_ARCH_PARISC64: 'parisc64', SCMP_ARCH_RISCV64: 'riscv64',
};

/** OCI seccomp flag -> the helper's flag word. */
export const SECCOMP_FLAGS: Readonly<Record<LinuxSeccompFlag, string>> = {
  SECCOMP_FILTER_FLAG_TSYNC: 'tsync', SECCOMP_FILTER_FLAG_LOG: 'log', SECCOMP_FILTER_FLAG_SPEC_ALLOW: 'spec_allow',
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 'wait_killable_recv',
};

/** Linux system calls have at most 6 arguments. */
const MAX_ARGS = 6;
const U64_MAX = 0xffffffffffffffffn;

export interface SeccompCondition {
  index: number;
  value: bigint;
  valueTwo: bigint;
  /** SCMP_CMP_* number */
  op: number;
}

export interface SeccompRule {
  names: string[];
  /** libseccomp action value */
  action: number;
  args: SeccompCondition[];
}

export interface SeccompProgram {
  defaultAction: number;
  /** libseccomp architecture names (the native one is added by the helper) */
  architectures: string[];
  flags: string[];
  /** '' when no listener */
  listenerPath: string;
  rules: SeccompRule[];
}

export type PlanArg = string | number | bigint;

const OP = 'convert seccomp profile';

function bad(message: string): BerthError {
  return new BerthError({ kind: 'invalid', op: OP, message: `${OP}: ${message}` });
}

/** The libseccomp value of an OCI action; `errnoRet` only for ERRNO and TRACE (runtime-spec: MUST fail otherwise). */
export function seccompAction(action: string, errnoRet: number | undefined, where: string): number {
  if (errnoRet !== undefined && action !== 'SCMP_ACT_ERRNO' && action !== 'SCMP_ACT_TRACE') {
    throw bad(`${where}: errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${action}`);
  }
  if (errnoRet !== undefined && (!Number.isInteger(errnoRet) || errnoRet < 0 || errnoRet > 0xffff)) {
    throw bad(`${where}: errnoRet ${errnoRet} is out of range`);
  }
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD': return SCMP_ACT_KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS': return SCMP_ACT_KILL_PROCESS;
    case 'SCMP_ACT_TRAP': return SCMP_ACT_TRAP;
    case 'SCMP_ACT_ERRNO': return SCMP_ACT_ERRNO(errnoRet ?? EPERM);
    case 'SCMP_ACT_TRACE': return SCMP_ACT_TRACE(errnoRet ?? EPERM);
    case 'SCMP_ACT_ALLOW': return SCMP_ACT_ALLOW;
    case 'SCMP_ACT_LOG': return SCMP_ACT_LOG;
    case 'SCMP_ACT_NOTIFY': return SCMP_ACT_NOTIFY;
    default: throw bad(`${where}: unknown action ${JSON.stringify(action)}`);
  }
}

function u64(v: unknown, where: string): bigint {
  if (typeof v === 'bigint') {
    if (v < 0n || v > U64_MAX) throw bad(`${where}: ${v} is not a 64-bit unsigned value`);
    return v;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(`${where}: ${JSON.stringify(v)} is not a 64-bit unsigned value`);
  // 18446744073709551615 in JSON parses to 2^64 exactly: that can only have meant the maximum.
  return v >= 2 ** 64 ? U64_MAX : BigInt(v);
}

export function convertSeccomp(s: LinuxSeccomp): SeccompProgram {
  const defaultAction = seccompAction(s.defaultAction, s.defaultErrnoRet, 'defaultAction');
  if (s.defaultAction === 'SCMP_ACT_NOTIFY') throw bad('SCMP_ACT_NOTIFY cannot be used as the default action');

  const architectures: string[] = [];
  for (const a of s.architectures ?? []) {
    const name = Object.hasOwn(SECCOMP_ARCHES, a) ? SECCOMP_ARCHES[a] : undefined;
    if (!name) throw bad(`unknown architecture ${JSON.stringify(a)}`);
    if (!architectures.includes(name)) architectures.push(name);
  }

  const flags: string[] = [];
  for (const fl of s.flags ?? ['SECCOMP_FILTER_FLAG_SPEC_ALLOW']) {
    const word = Object.hasOwn(SECCOMP_FLAGS, fl) ? SECCOMP_FLAGS[fl] : undefined;
    if (!word) throw bad(`unknown flag ${JSON.stringify(fl)}`);
    if (!flags.includes(word)) flags.push(word);
  }

  const rules: SeccompRule[] = [];
  (s.syscalls ?? []).forEach((call, i) => {
    const where = `syscalls[${i}]`;
    if (!Array.isArray(call.names) || call.names.length === 0) throw bad(`${where}: no syscall names`);
    for (const n of call.names) if (typeof n !== 'string' || n === '') throw bad(`${where}: empty syscall name`);
    const action = seccompAction(call.action, call.errnoRet, where);
    if (call.action === 'SCMP_ACT_NOTIFY') {
      if (call.names.includes('write')) throw bad(`${where}: SCMP_ACT_NOTIFY cannot be used for the write syscall`);
      if (!s.listenerPath) throw bad(`${where}: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath`);
    }
    if (action === defaultAction) return; // redundant; libseccomp would refuse it
    const conds = (call.args ?? []).map((a, j): SeccompCondition => {
      const w = `${where}.args[${j}]`;
      if (!Number.isInteger(a.index) || a.index < 0 || a.index >= MAX_ARGS) throw bad(`${w}: argument index ${a.index} is out of range 0-5`);
      const op = Object.hasOwn(SECCOMP_OPERATORS, a.op) ? SECCOMP_OPERATORS[a.op] : undefined;
      if (op === undefined) throw bad(`${w}: unknown operator ${JSON.stringify(a.op)}`);
      return { index: a.index, value: u64(a.value, `${w}.value`), valueTwo: u64(a.valueTwo ?? 0, `${w}.valueTwo`), op };
    });
    const names = [...call.names];
    const seen = new Set<number>();
    const repeated = conds.some((c) => seen.size === seen.add(c.index).size);
    if (repeated) for (const c of conds) rules.push({ names, action, args: [c] });
    else rules.push({ names, action, args: conds });
  });

  return { defaultAction, architectures, flags, listenerPath: s.listenerPath ?? '', rules };
}

/** Flatten a program into the `seccomp` step's fields (everything after the op name). */
export function seccompArgs(p: SeccompProgram): PlanArg[] {
  const out: PlanArg[] = [p.defaultAction, p.architectures.length, ...p.architectures, p.flags.length, ...p.flags,
    p.listenerPath, p.rules.length];
  for (const r of p.rules) {
    out.push(r.names.length, ...r.names, r.action, r.args.length);
    for (const c of r.args) out.push(c.index, c.value, c.valueTwo, c.op);
  }
  return out;
}

/** convertSeccomp + seccompArgs. */
export function seccompStepArgs(s: LinuxSeccomp): PlanArg[] {
  return seccompArgs(convertSeccomp(s));
}
