/** `ps ID`: the processes of a container (from its cgroup). */
import { Container, type RuntimeOptions } from './container.js';

export function pids(opts: RuntimeOptions, id: string): number[] {
  const c = Container.load(opts, id, 'ps');
  const cg = c.cgroup();
  if (cg) return cg.pids().sort((a, b) => a - b);
  return c.alive() ? [c.st.pid] : [];
}
