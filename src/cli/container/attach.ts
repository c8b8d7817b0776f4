/** `berth attach [--no-stdin] [--sig-proxy] [--detach-keys] CONTAINER` */
import { BerthError } from '../../lib/index.js';
import { reconcile } from '../../engine/index.js';
import { attach } from '../../sys/index.js';
import { bool, str } from '../flags.js';
import { attachUntilExit, settleAttached, wireTerminal } from './attach-io.js';
import { runEngineCommand, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'attach',
  usage: 'berth attach [OPTIONS] CONTAINER',
  description: "Attach local standard input, output, and error streams to a running container",
  args: [1, 1],
  flags: [
    { name: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container' },
    { name: 'no-stdin', type: 'bool', help: 'Do not attach STDIN' },
    { name: 'sig-proxy', type: 'bool', default: true, help: 'Proxy all received signals to the process' },
  ],
};

export async function run(argv: string[], name = 'attach'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const c = reconcile(core, core.store.containers.get(p.args[0]!));
    if (c.state.status === 'paused') throw new BerthError({ kind: 'conflict', op: 'attach', message: 'You cannot attach to a paused container, unpause it first' });
    if (c.state.status !== 'running') throw new BerthError({ kind: 'conflict', op: 'attach', message: 'You cannot attach to a stopped container, start it first' });
    const cfg = c.config as { Tty?: boolean; OpenStdin?: boolean };
    const stdin = !bool(p, 'no-stdin') && !!cfg.OpenStdin;
    const conn = await attach(core.paths(c.id).socket, { stdin, stdout: true, stderr: true, cleanup: true });
    const w = wireTerminal(conn, { tty: !!cfg.Tty, stdin, detachKeys: str(p, 'detach-keys'), proxyPid: bool(p, 'sig-proxy') ? c.state.pid : undefined });
    let res;
    try { res = await attachUntilExit(conn, w); } finally { w.restore(); }
    if (res.detached) return 0;
    return settleAttached(core, c.id, conn, res.exit, 0);
  });
}
