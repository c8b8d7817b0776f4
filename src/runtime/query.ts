/** `state ID` and `list`. */
import { Container, type RuntimeOptions } from './container.js';
import { listIds, StateDir } from './state.js';

export function state(opts: RuntimeOptions, id: string): ReturnType<Container['state']> {
  return Container.load(opts, id, 'state').state();
}

export interface ListEntry { id: string; pid: number; status: string; bundle: string; created: string; owner: string; annotations?: Record<string, string> }

export function list(opts: RuntimeOptions): ListEntry[] {
  const out: ListEntry[] = [];
  for (const id of listIds(opts.root)) {
    const dir = new StateDir(opts.root, id);
    let c: Container;
    try { c = new Container(opts, dir, dir.load('list')); } catch { continue; }
    const s = c.state();
    out.push({ id, pid: s.pid ?? 0, status: s.status, bundle: c.st.bundle, created: c.st.created, owner: c.st.owner || 'root', annotations: c.st.annotations });
  }
  return out;
}
