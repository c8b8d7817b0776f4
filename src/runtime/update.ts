/** `update`: change a running container's resources. */
import { readFileSync } from 'node:fs';
import { BerthError, invalid, wrapError } from '../lib/index.js';
import type { LinuxResources } from '../oci/index.js';
import { Container, type RuntimeOptions } from './container.js';

export function readResources(path: string): LinuxResources {
  try {
    const text = path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
    return JSON.parse(text) as LinuxResources;
  } catch (e) {
    if (e instanceof SyntaxError) throw invalid('update', `update: ${path}: not valid JSON: ${e.message}`, path);
    throw wrapError(e, 'update: read resources', path);
  }
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? merge(out[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

export async function update(opts: RuntimeOptions, id: string, res: LinuxResources): Promise<void> {
  const c = Container.load(opts, id, 'update');
  c.require('update', ['created', 'running', 'paused']);
  const cg = c.cgroup();
  if (!cg) throw new BerthError({ kind: 'conflict', op: 'update', message: `update ${id}: the container has no cgroup` });
  cg.update(res);
  const linux = c.st.config.linux ?? {};
  linux.resources = merge((linux.resources ?? {}) as Record<string, unknown>, res as Record<string, unknown>) as LinuxResources;
  c.st.config.linux = linux;
  c.dir.save(c.st);
}
