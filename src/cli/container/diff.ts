/** `berth diff CONTAINER`: files and directories changed in a container's filesystem (A, C, D). */
import { containerChanges, CHANGE_ADD, CHANGE_DELETE } from '../../engine/index.js';
import { print, runEngineCommand, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'diff',
  usage: 'berth diff CONTAINER',
  description: "Inspect changes to files or directories on a container's filesystem",
  args: [1, 1],
  flags: [],
};

export async function run(argv: string[], name = 'diff'): Promise<number> {
  return runEngineCommand({ ...spec, name, usage: `berth ${name} CONTAINER` }, argv, async (p, core) => {
    for (const c of await containerChanges(core, p.args[0]!)) {
      print(`${c.Kind === CHANGE_ADD ? 'A' : c.Kind === CHANGE_DELETE ? 'D' : 'C'} ${c.Path}`);
    }
    return 0;
  });
}
