/** Commands that act on containers one by one: stop, kill, rm, wait, restart, pause, unpause, rename. */
import { BerthError } from '../../lib/index.js';
import {
  killContainer, pauseContainer, removeContainer, renameContainer, restartContainer, stopContainer, unpauseContainer,
  waitContainer, WAIT_CONDITIONS,
} from '../../engine/index.js';
import { bool, int, str } from '../flags.js';
import { eachArg, print, runEngineCommand, type CommandSpec } from './common.js';

const spec = (name: string, usage: string, description: string, flags: CommandSpec['flags'] = [], args: [number, number] = [1, -1]): CommandSpec =>
  ({ name, usage: `berth ${usage}`, description, flags, args });

export function stop(argv: string[], name = 'stop'): Promise<number> {
  const s = spec(name, 'stop [OPTIONS] CONTAINER [CONTAINER...]', 'Stop one or more running containers', [
    { name: 'signal', short: 's', type: 'string', help: 'Signal to send to the container' },
    { name: 'time', short: 't', type: 'int', help: 'Seconds to wait before killing the container' },
  ]);
  return runEngineCommand(s, argv, async (p, core) => eachArg(p.args, async (ref) => {
    await stopContainer(core, ref, p.set.has('time') ? int(p, 'time') : undefined, str(p, 'signal') || undefined);
    print(ref);
  }));
}

export function kill(argv: string[], name = 'kill'): Promise<number> {
  const s = spec(name, 'kill [OPTIONS] CONTAINER [CONTAINER...]', 'Kill one or more running containers', [
    { name: 'signal', short: 's', type: 'string', help: 'Signal to send to the container' },
  ]);
  return runEngineCommand(s, argv, async (p, core) => eachArg(p.args, async (ref) => {
    await killContainer(core, ref, str(p, 'signal') || 'SIGKILL');
    print(ref);
  }));
}

export function rm(argv: string[], name = 'rm'): Promise<number> {
  const s = spec(name, 'rm [OPTIONS] CONTAINER [CONTAINER...]', 'Remove one or more containers', [
    { name: 'force', short: 'f', type: 'bool', help: 'Force the removal of a running container (uses SIGKILL)' },
    { name: 'link', short: 'l', type: 'bool', help: 'Remove the specified link' },
    { name: 'volumes', short: 'v', type: 'bool', help: 'Remove anonymous volumes associated with the container' },
  ]);
  return runEngineCommand(s, argv, async (p, core) => eachArg(p.args, async (ref) => {
    try {
      await removeContainer(core, ref, { force: bool(p, 'force'), volumes: bool(p, 'volumes') });
    } catch (e) {
      if (bool(p, 'force') && e instanceof BerthError && e.kind === 'notfound') return; // docker rm -f of a missing container
      throw e;
    }
    print(ref);
  }));
}

export function wait(argv: string[], name = 'wait'): Promise<number> {
  const s = spec(name, 'wait [OPTIONS] CONTAINER [CONTAINER...]', 'Block until one or more containers stop, then print their exit codes', [
    { name: 'condition', type: 'string', default: 'not-running', help: 'Wait until the container is not-running, at its next-exit, or removed (the API\'s condition)' },
  ]);
  return runEngineCommand(s, argv, async (p, core) => {
    const condition = str(p, 'condition') || 'not-running';
    // the daemon checks the condition before looking up any container
    if (!WAIT_CONDITIONS.includes(condition)) throw new BerthError({ kind: 'invalid', op: 'wait', message: `invalid condition: ${JSON.stringify(condition)}` });
    return eachArg(p.args, async (ref) => { print(String(await waitContainer(core, ref, condition))); });
  });
}

export function restart(argv: string[], name = 'restart'): Promise<number> {
  const s = spec(name, 'restart [OPTIONS] CONTAINER [CONTAINER...]', 'Restart one or more containers', [
    { name: 'signal', short: 's', type: 'string', help: 'Signal to send to the container' },
    { name: 'time', short: 't', type: 'int', help: 'Seconds to wait before killing the container' },
  ]);
  return runEngineCommand(s, argv, async (p, core) => eachArg(p.args, async (ref) => {
    await restartContainer(core, ref, p.set.has('time') ? int(p, 'time') : undefined);
    print(ref);
  }));
}

export function pause(argv: string[], name = 'pause'): Promise<number> {
  const s = spec(name, 'pause CONTAINER [CONTAINER...]', 'Pause all processes within one or more containers');
  return runEngineCommand(s, argv, async (p, core) => eachArg(p.args, async (ref) => { await pauseContainer(core, ref); print(ref); }));
}

export function unpause(argv: string[], name = 'unpause'): Promise<number> {
  const s = spec(name, 'unpause CONTAINER [CONTAINER...]', 'Unpause all processes within one or more containers');
  return runEngineCommand(s, argv, async (p, core) => eachArg(p.args, async (ref) => { await unpauseContainer(core, ref); print(ref); }));
}

export function rename(argv: string[], name = 'rename'): Promise<number> {
  const s = spec(name, 'rename CONTAINER NEW_NAME', 'Rename a container', [], [2, 2]);
  return runEngineCommand(s, argv, async (p, core) => { renameContainer(core, p.args[0]!, p.args[1]!); });
}
