/** `kill [--all] ID [SIGNAL]`. */
import { parseSignal } from '../oci/index.js';
import { Container, type RuntimeOptions } from './container.js';

export async function kill(opts: RuntimeOptions, id: string, signal: string | undefined, all: boolean): Promise<void> {
  const c = Container.load(opts, id, 'kill');
  const sig = parseSignal(signal ?? 'SIGTERM');
  const cg = all ? c.cgroup() : null;
  // --all also reaches processes left in the cgroup of a stopped container without its own pid namespace.
  if (cg) { await cg.killAll(sig); return; }
  c.require('kill', ['created', 'running', 'paused']);
  c.signal(sig, 'kill');
}
