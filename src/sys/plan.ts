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

function encodeList(steps: Step[], out: Buffer[]): void {
  out.push(u32(steps.length));
  for (const s of steps) {
    const fields = [s.op, ...s.args.map(argText)];
    out.push(u32(fields.length));
    for (const f of fields) {
      const b = Buffer.from(f, 'utf8');
      out.push(u32(b.length), b);
    }
  }
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

export function encodePlan(plan: Plan): Buffer {
  const body: Buffer[] = [];
  encodeList(plan.pre, body);
  encodeList(plan.post, body);
  encodeList(plan.child, body);
  const rest = Buffer.concat(body);
  return Buffer.concat([Buffer.from('BPLN'), u32(PLAN_VERSION), u32(rest.length), rest]);
}

/** The go message: `G` u32 len bytes. */
export function encodeGo(blob: string | Buffer): Buffer {
  const b = typeof blob === 'string' ? Buffer.from(blob) : blob;
  return Buffer.concat([Buffer.from('G'), u32(b.length), b]);
}

export const ABORT = Buffer.from('A');
