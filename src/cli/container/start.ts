/** `berth start [-a] [-i] CONTAINER...` */
import { startContainer } from '../../engine/index.js';
import { bool, str } from '../flags.js';
import { attachUntilExit, settleAttached, wireTerminal } from './attach-io.js';
import { eachArg, print, runEngineCommand, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'start',
  usage: 'berth start [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Start one or more stopped containers',
  args: [1, -1],
  flags: [
    { name: 'attach', short: 'a', type: 'bool', help: 'Attach STDOUT/STDERR and forward signals' },
    { name: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container' },
    { name: 'interactive', short: 'i', type: 'bool', help: "Attach container's STDIN" },
  ],
};

export async function run(argv: string[], name = 'start'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const attach = bool(p, 'attach') || bool(p, 'interactive');
    if (!attach) return eachArg(p.args, async (ref) => { await startContainer(core, ref); print(ref); });
    if (p.args.length > 1) throw new Error('you cannot start and attach multiple containers at once');
    const rec = core.store.containers.get(p.args[0]!);
    const cfg = rec.config as { Tty?: boolean; OpenStdin?: boolean };
    const stdin = bool(p, 'interactive') && !!cfg.OpenStdin;
    const s = await startContainer(core, rec.id, { attach: { stdin, stdout: true, stderr: true, cleanup: true } });
    if (!s.attach) return 0; // it was running already
    const w = wireTerminal(s.attach, { tty: !!cfg.Tty, stdin, detachKeys: str(p, 'detach-keys'), proxyPid: s.container.state.pid });
    let res;
    try { res = await attachUntilExit(s.attach, w); } finally { w.restore(); }
    if (res.detached) return 0;
    return settleAttached(core, rec.id, s.attach!, res.exit, 0);
  });
}
