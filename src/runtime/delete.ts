/** `delete [-f] ID`: undo create; poststop hooks run last and only warn. */
import { existsSync } from 'node:fs';
import { BerthError, conflict, notFound } from '../lib/index.js';
import { Container, type RuntimeOptions } from './container.js';
import { runHooks } from './hooks.js';
import { checkId, StateDir } from './state.js';

/** `loaded`: the container as the caller already has it (run), to save reading it again. */
export async function del(opts: RuntimeOptions, id: string, force: boolean, loaded?: Container): Promise<void> {
  const dir = new StateDir(opts.root, checkId(id, 'delete'));
  if (!loaded && !existsSync(dir.file)) {
    if (existsSync(dir.dir) && force) { dir.remove(); return; }
    if (force) return; // runc: delete -f of a missing container succeeds
    throw notFound('delete', `delete ${id}: container ${id} does not exist`);
  }
  const c = loaded ?? Container.load(opts, id, 'delete');
  const status = c.status();
  const cg = c.cgroup();
  if (status === 'running' || status === 'paused' || status === 'creating') {
    if (!force) throw conflict('delete', `delete ${id}: cannot delete container that is ${status}: stop it first or use --force`);
  }
  if (status !== 'stopped') {
    // A created (never started) container is deleted as runc does: containerd and dockerd rely on it.
    if (cg && status === 'paused') await cg.thaw();
    c.signal(9, 'delete');
    if (!(await c.waitGone())) throw new BerthError({ kind: 'system', op: 'delete', message: `delete ${id}: process ${c.st.pid} did not die after SIGKILL` });
  }
  if (cg) {
    // With its own pid namespace, the init's death killed every process in it; otherwise the
    // container's other processes may live on in its cgroup.
    const ownPidns = (c.st.config.linux?.namespaces ?? []).some((n) => n.type === 'pid' && !n.path);
    if (!ownPidns) await cg.killAll(9);
    try { await cg.destroy(); } catch (e) { opts.log?.('warning', `delete ${id}: ${(e as Error).message}`); }
  }
  dir.remove();
  const errors = await runHooks('poststop', c.st.config.hooks?.poststop, c.stateJson('stopped'), true);
  for (const e of errors) opts.log?.('warning', e.message);
}
