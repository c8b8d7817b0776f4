/**
 * bpf(2) through koffi: just what cgroup v2 device filters need (load a program, attach/detach/query
 * programs on a cgroup directory). Every failure is a BerthError naming the command and the errno.
 */
import { closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BerthError, errnoName } from '../lib/index.js';

export const BPF_PROG_LOAD = 5;
export const BPF_PROG_ATTACH = 8;
export const BPF_PROG_DETACH = 9;
export const BPF_PROG_GET_FD_BY_ID = 13;
export const BPF_PROG_QUERY = 16;

export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
export const BPF_F_ALLOW_MULTI = 1 << 1;
export const BPF_F_REPLACE = 1 << 2;

const ATTR_SIZE = 128;
const SYS_BPF: Record<string, number> = { x64: 321, arm64: 280, riscv64: 280, loong64: 280, s390x: 351, ppc64: 361, ia32: 357, arm: 386 };

type SyscallFn = (nr: number, ...args: unknown[]) => number | bigint;
interface Koffi { load(name: string): { func(decl: string): SyscallFn }; errno(): number; address(v: unknown): bigint }

let ffi: { koffi: Koffi; syscall: SyscallFn } | undefined;

function lib(): { koffi: Koffi; syscall: SyscallFn } {
  if (ffi) return ffi;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as Koffi;
  const syscall = koffi.load('libc.so.6').func('long syscall(long, ...)');
  return (ffi = { koffi, syscall });
}

function sysBpf(): number {
  const n = SYS_BPF[process.arch];
  if (n === undefined) throw new BerthError({ kind: 'system', op: 'bpf', message: `bpf: unsupported architecture ${process.arch}` });
  return n;
}

/** bpf(cmd, attr, size): the non-negative result, or a BerthError (errno, code) named `op`. */
function bpf(cmd: number, attr: Buffer, op: string, detail?: () => string): number {
  const { koffi, syscall } = lib();
  const r = Number(syscall(sysBpf(), 'int', cmd, 'void *', attr, 'uint', attr.length));
  if (r >= 0) return r;
  const errno = koffi.errno();
  const code = errnoName(errno);
  const extra = detail?.();
  throw new BerthError({ kind: 'system', op, errno, code, message: `${op}: ${code}${extra ? `: ${extra}` : ''}` });
}

function addr(b: Buffer): bigint {
  return lib().koffi.address(b);
}

export interface ProgLoadOptions {
  progType: number;
  insns: Buffer;
  license: string;
  expectedAttachType?: number;
  name?: string;
}

/** BPF_PROG_LOAD: a program fd. On failure the verifier log is included in the error message. */
export function bpfProgLoad(o: ProgLoadOptions): number {
  const lic = Buffer.from(o.license + '\0');
  const attempt = (log?: Buffer): number => {
    const attr = Buffer.alloc(ATTR_SIZE);
    attr.writeUInt32LE(o.progType, 0);
    attr.writeUInt32LE(o.insns.length / 8, 4);
    attr.writeBigUInt64LE(addr(o.insns), 8);
    attr.writeBigUInt64LE(addr(lic), 16);
    if (log) {
      attr.writeUInt32LE(1, 24);
      attr.writeUInt32LE(log.length, 28);
      attr.writeBigUInt64LE(addr(log), 32);
    }
    if (o.name) Buffer.from(o.name.slice(0, 15)).copy(attr, 48);
    attr.writeUInt32LE(o.expectedAttachType ?? 0, 68);
    const logText = () => (log ? log.toString('utf8', 0, Math.max(0, log.indexOf(0))).trim().split('\n').slice(-4).join('; ') : '');
    return bpf(BPF_PROG_LOAD, attr, 'load BPF program', log ? logText : undefined);
  };
  try {
    return attempt();
  } catch (e) {
    // Retry once with a verifier log, for the error message.
    if ((e as BerthError).code === 'EACCES' || (e as BerthError).code === 'EINVAL') return attempt(Buffer.alloc(65536));
    throw e;
  }
}

/** BPF_PROG_ATTACH of `progFd` to `targetFd` (a cgroup directory fd). */
export function bpfProgAttach(targetFd: number, progFd: number, attachType: number, flags: number, replaceFd?: number): void {
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(targetFd, 0);
  attr.writeUInt32LE(progFd, 4);
  attr.writeUInt32LE(attachType, 8);
  attr.writeUInt32LE(flags, 12);
  if (replaceFd !== undefined) attr.writeUInt32LE(replaceFd, 16);
  bpf(BPF_PROG_ATTACH, attr, 'attach BPF program');
}

/** BPF_PROG_DETACH of `progFd` from `targetFd`. */
export function bpfProgDetach(targetFd: number, progFd: number, attachType: number): void {
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(targetFd, 0);
  attr.writeUInt32LE(progFd, 4);
  attr.writeUInt32LE(attachType, 8);
  bpf(BPF_PROG_DETACH, attr, 'detach BPF program');
}

/** BPF_PROG_QUERY: the ids of the programs attached directly to `targetFd` for `attachType`. */
export function bpfProgQuery(targetFd: number, attachType: number): number[] {
  for (let cap = 64; ; cap *= 4) {
    const ids = Buffer.alloc(cap * 4);
    const attr = Buffer.alloc(ATTR_SIZE);
    attr.writeUInt32LE(targetFd, 0);
    attr.writeUInt32LE(attachType, 4);
    attr.writeBigUInt64LE(addr(ids), 16);
    attr.writeUInt32LE(cap, 24);
    try {
      bpf(BPF_PROG_QUERY, attr, 'query BPF programs');
    } catch (e) {
      if ((e as BerthError).code === 'ENOSPC' && cap < 65536) continue;
      throw e;
    }
    const n = attr.readUInt32LE(24);
    return Array.from({ length: Math.min(n, cap) }, (_, i) => ids.readUInt32LE(i * 4));
  }
}

/** BPF_PROG_GET_FD_BY_ID: an fd for the program with that id. */
export function bpfProgGetFdById(id: number): number {
  const attr = Buffer.alloc(ATTR_SIZE);
  attr.writeUInt32LE(id, 0);
  return bpf(BPF_PROG_GET_FD_BY_ID, attr, `open BPF program ${id}`);
}

export function bpfClose(fd: number): void {
  try { closeSync(fd); } catch { /* already closed */ }
}
