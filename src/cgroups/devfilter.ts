/**
 * Compile a device state (devices.ts) into a BPF_PROG_TYPE_CGROUP_DEVICE program, like runc's
 * devicefilter: the context is struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; },
 * access_type = (access << 16) | type. One block per exception; R0 = 1 allows, 0 denies.
 */
import { DeviceState, WILDCARD, ACC_R, ACC_W, ACC_M, ACC_ALL, type DeviceRule } from './devices.js';

export const BPF_LICENSE = 'Apache';

// Instruction classes and codes (linux/bpf.h, linux/bpf_common.h).
const BPF_LDX = 0x01, BPF_ALU = 0x04, BPF_JMP = 0x05, BPF_JMP32 = 0x06;
const BPF_W = 0x00, BPF_MEM = 0x60, BPF_K = 0x00, BPF_X = 0x08;
const BPF_AND = 0x50, BPF_RSH = 0x70, BPF_MOV = 0xb0, BPF_JNE = 0x50, BPF_EXIT = 0x90;
const DEVCG_DEV_BLOCK = 1, DEVCG_DEV_CHAR = 2;
const DEVCG_ACC_MKNOD = 1, DEVCG_ACC_READ = 2, DEVCG_ACC_WRITE = 4;

export interface Insn { code: number; dst: number; src: number; off: number; imm: number }

const ins = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });
const ldxw = (dst: number, src: number, off: number) => ins(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
const and32 = (dst: number, imm: number) => ins(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm);
const rsh32 = (dst: number, imm: number) => ins(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm);
const mov32r = (dst: number, src: number) => ins(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
const mov32 = (dst: number, imm: number) => ins(BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, imm);
/** 32-bit compares, so that majors/minors above 2^31 compare as the u32 they are. */
const jne32 = (dst: number, imm: number, off: number) => ins(BPF_JMP32 | BPF_JNE | BPF_K, dst, 0, off, imm | 0);
const jne32r = (dst: number, src: number, off: number) => ins(BPF_JMP32 | BPF_JNE | BPF_X, dst, src, off, 0);
const exit = () => ins(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

function bpfAccess(a: number): number {
  return (a & ACC_R ? DEVCG_ACC_READ : 0) | (a & ACC_W ? DEVCG_ACC_WRITE : 0) | (a & ACC_M ? DEVCG_ACC_MKNOD : 0);
}

/** One block: if every test passes, return the rule's verdict; a failed test jumps to the next block. */
function block(r: DeviceRule): Insn[] {
  const tests: Array<(skip: number) => Insn[]> = [];
  tests.push((s) => [jne32(2, r.type === 'c' ? DEVCG_DEV_CHAR : DEVCG_DEV_BLOCK, s)]);
  if (r.access !== ACC_ALL) {
    // if ((R3 & access) != R3) the request wants more than the rule grants: next block.
    tests.push((s) => [mov32r(1, 3), and32(1, bpfAccess(r.access)), jne32r(1, 3, s)]);
  }
  if (r.major !== WILDCARD) tests.push((s) => [jne32(4, r.major, s)]);
  if (r.minor !== WILDCARD) tests.push((s) => [jne32(5, r.minor, s)]);
  const tail = [mov32(0, r.allow ? 1 : 0), exit()];
  // Lay out tests, computing each jump's distance to the end of the block.
  const sizes = tests.map((t) => t(0).length);
  const total = sizes.reduce((a, b) => a + b, 0) + tail.length;
  const out: Insn[] = [];
  for (const t of tests) {
    const pos = out.length;
    const group = t(0);
    // The jump is the group's last instruction: distance from the instruction after it to the block end.
    const jumpAt = pos + group.length - 1;
    out.push(...t(total - (jumpAt + 1)));
  }
  out.push(...tail);
  return out;
}

/** The program's instructions for a device state. */
export function deviceProgram(state: DeviceState): Insn[] {
  const prog: Insn[] = [
    ldxw(2, 1, 0), and32(2, 0xffff), // R2 = type
    ldxw(3, 1, 0), rsh32(3, 16), // R3 = access
    ldxw(4, 1, 4), // R4 = major
    ldxw(5, 1, 8), // R5 = minor
  ];
  // All exceptions share one verdict (the opposite of the default), so their order does not matter;
  // runc emits them last-first, so do we.
  const rules = state.entries();
  for (let i = rules.length - 1; i >= 0; i--) prog.push(...block(rules[i]!));
  prog.push(mov32(0, state.defaultAllow ? 1 : 0), exit());
  return prog;
}

/** struct bpf_insn encoding: u8 code, u8 dst:4|src:4, s16 off, s32 imm (little-endian). */
export function encodeProgram(insns: Insn[]): Buffer {
  const b = Buffer.alloc(insns.length * 8);
  insns.forEach((i, n) => {
    b.writeUInt8(i.code, n * 8);
    b.writeUInt8(((i.src & 0xf) << 4) | (i.dst & 0xf), n * 8 + 1);
    b.writeInt16LE(i.off, n * 8 + 2);
    b.writeInt32LE(i.imm | 0, n * 8 + 4);
  });
  return b;
}

/**
 * Run a program on a request, as the kernel would (for tests and diagnostics). `type` is 'b' or 'c',
 * `access` a combination of ACC_R/ACC_W/ACC_M. Supports exactly the instructions emitted above.
 */
export function runProgram(insns: Insn[], type: 'b' | 'c', major: number, minor: number, access: number): number {
  const r = new Array<number>(11).fill(0);
  const ctx = [((bpfAccess(access) << 16) | (type === 'c' ? DEVCG_DEV_CHAR : DEVCG_DEV_BLOCK)) >>> 0, major >>> 0, minor >>> 0];
  for (let pc = 0, steps = 0; pc < insns.length && steps < 100000; pc++, steps++) {
    const i = insns[pc]!;
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W: r[i.dst] = ctx[i.off / 4]!; break;
      case BPF_ALU | BPF_AND | BPF_K: r[i.dst] = (r[i.dst]! & i.imm) >>> 0; break;
      case BPF_ALU | BPF_RSH | BPF_K: r[i.dst] = r[i.dst]! >>> i.imm; break;
      case BPF_ALU | BPF_MOV | BPF_X: r[i.dst] = r[i.src]! >>> 0; break;
      case BPF_ALU | BPF_MOV | BPF_K: r[i.dst] = i.imm >>> 0; break;
      case BPF_JMP32 | BPF_JNE | BPF_K: if ((r[i.dst]! >>> 0) !== (i.imm >>> 0)) pc += i.off; break;
      case BPF_JMP32 | BPF_JNE | BPF_X: if ((r[i.dst]! >>> 0) !== (r[i.src]! >>> 0)) pc += i.off; break;
      case BPF_JMP | BPF_EXIT: return r[0]!;
      default: throw new Error(`runProgram: unsupported instruction 0x${i.code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('runProgram: fell off the end of the program');
}
