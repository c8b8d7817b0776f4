/** `pause` / `resume` through the cgroup freezer. */
import { BerthError } from '../lib/index.js';
import { Container, type RuntimeOptions } from './container.js';

function cgroupOf(c: Container, op: string) {
  const cg = c.cgroup();
  if (!cg) throw new BerthError({ kind: 'conflict', op, message: `${op} ${c.id}: the container has no cgroup (rootless without cgroup access), so it cannot be frozen` });
  return cg;
}

export async function pause(opts: RuntimeOptions, id: string): Promise<void> {
  const c = Container.load(opts, id, 'pause');
  c.require('pause', ['running', 'created']);
  await cgroupOf(c, 'pause').freeze();
}

export async function resume(opts: RuntimeOptions, id: string): Promise<void> {
  const c = Container.load(opts, id, 'resume');
  c.require('resume', ['paused']);
  await cgroupOf(c, 'resume').thaw();
}
