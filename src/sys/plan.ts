/**
 * The helper plan: a flat, versioned list of steps that native/berth-helper executes.
 * Wire format and step semantics: docs/PLAN.md. This module only builds and encodes plans;
 * deciding what goes in them is the runtime's job.
 */
export const PLAN_VERSION = 1;

export type Arg = string | number | bigint;

export interface Step {
  op: string;
  args: Arg[];
  /** Human description used in error messages, e.g. "mount proc on /proc". */
  desc: string;
  /** The main path the step works on (for error reports). */
  path?: string;
}

export interface Plan {
  pre: Step[];
  post: Step[];
  child: Step[];
}

export function emptyPlan(): Plan {
  return { pre: [], post: [], child: [] };
}

export function step(op: string, args: Arg[], desc: string, path?: string): Step {
  return path === undefined ? { op, args, desc } : { op, args, desc, path };
}

/** The global index order used by the helper in its error reports. */
export function allSteps(plan: Plan): Step[] {
  return [...plan.pre, ...plan.post, ...plan.child];
}

function fieldsOf(s: Step): string[] {
  return [s.op, ...s.args.map(argText)];
}

function argText(a: Arg): string {
  if (typeof a === 'string') return a;
  if (typeof a === 'bigint') return a < 0n ? a.toString() : '0x' + a.toString(16);
  if (!Number.isInteger(a)) throw new Error(`plan argument ${a} is not an integer`);
  return String(a);
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

/** One buffer, sized first: plans are encoded on every create/exec, so no per-field allocations. */
export function encodePlan(plan: Plan): Buffer {
  const lists = [plan.pre, plan.post, plan.child].map((l) => l.map(fieldsOf));
  let size = 12;
  for (const l of lists) {
    size += 4;
    for (const f of l) { size += 4; for (const x of f) size += 4 + Buffer.byteLength(x); }
  }
  const out = Buffer.allocUnsafe(size);
  out.write('BPLN', 0, 'latin1');
  out.writeUInt32LE(PLAN_VERSION, 4);
  out.writeUInt32LE(size - 12, 8);
  let off = 12;
  for (const l of lists) {
    out.writeUInt32LE(l.length, off); off += 4;
    for (const f of l) {
      out.writeUInt32LE(f.length, off); off += 4;
      for (const x of f) {
        const n = out.write(x, off + 4, 'utf8');
        out.writeUInt32LE(n, off); off += 4 + n;
      }
    }
  }
  return out;
}

/** The go message: `G` u32 len bytes. */
export function encodeGo(blob: string | Buffer): Buffer {
  const b = typeof blob === 'string' ? Buffer.from(blob) : blob;
  return Buffer.concat([Buffer.from('G'), u32(b.length), b]);
}

export const ABORT = Buffer.from('A');
