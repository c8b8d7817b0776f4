/**
 * The stage graph: which stage a FROM or `COPY --from` names (a stage by name or index, else an
 * image), the stages the target needs (the others are skipped), and cycles (an error).
 */
import type { Dockerfile, Stage } from './instructions.js';
import { DockerfileError } from './parser.js';

/** The stage `ref` names as seen from stage `at` (FROM: only earlier stages; --from: an index too). */
export function stageRef(df: Dockerfile, ref: string, at: number, from: boolean): Stage | undefined {
  const name = ref.toLowerCase();
  const byName = df.stages.find((s) => s.name === name && (!from || s.index < at));
  if (byName) return byName;
  if (!from && /^\d+$/.test(ref)) {
    const i = Number(ref);
    if (i >= at) throw new DockerfileError(df.file, df.stages[at]!.from.node.line, `invalid from flag value ${ref}: refers to current or future build stage`, 'COPY');
    return df.stages[i];
  }
  return undefined;
}

/** The stages each stage depends on (base stage first, then COPY --from sources). */
export function dependencies(df: Dockerfile, expand: (s: string) => string): Map<number, number[]> {
  const deps = new Map<number, number[]>();
  for (const s of df.stages) {
    const d: number[] = [];
    const base = stageRef(df, expand(s.base), s.index, true);
    if (base) d.push(base.index);
    for (const ins of s.instructions) {
      const f = ins.flags.from;
      if ((ins.name === 'COPY' || ins.name === 'ADD') && typeof f === 'string') {
        const t = stageRef(df, expand(f), s.index, false);
        if (t && !d.includes(t.index)) d.push(t.index);
      }
    }
    deps.set(s.index, d);
  }
  return deps;
}

/** The target stage's index (default: the last stage). */
export function targetIndex(df: Dockerfile, target?: string): number {
  if (!target) return df.stages.length - 1;
  const s = df.stages.find((x) => x.name === target.toLowerCase());
  if (!s) throw new DockerfileError(df.file, 1, `target stage "${target}" could not be found`);
  return s.index;
}

/** The stages `target` needs, dependencies first; throws on a cycle. */
export function neededStages(df: Dockerfile, deps: Map<number, number[]>, target: number): number[] {
  const order: number[] = [];
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (i: number) => {
    const st = state.get(i);
    if (st === 'done') return;
    if (st === 'visiting') {
      const s = df.stages[i]!;
      throw new DockerfileError(df.file, s.from.node.line, `circular dependency detected on stage: ${s.name ?? i}`, 'FROM');
    }
    state.set(i, 'visiting');
    for (const d of deps.get(i) ?? []) visit(d);
    state.set(i, 'done');
    order.push(i);
  };
  visit(target);
  return order;
}
