/** `berth top CONTAINER [ps OPTIONS]`: the container's processes as the host's `ps` shows them. */
import { topContainer } from '../../engine/index.js';
import { io, runEngineCommand, type CommandSpec } from './common.js';
import { tabwrite } from './stats.js';

export const spec: CommandSpec = {
  name: 'top',
  usage: 'berth top CONTAINER [ps OPTIONS]',
  description: 'Display the running processes of a container',
  args: [1, -1],
  flags: [],
  // Everything after the container is for ps (`berth top c -o pid,comm`).
  stopAtFirstArg: true,
};

export async function run(argv: string[], name = 'top'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const [ref, ...psArgs] = p.args;
    const r = await topContainer(core, ref!, psArgs.join(' '));
    const text = [r.Titles, ...r.Processes].map((row) => row.join('\t') + '\n').join('');
    // The docker CLI's tabwriter: minwidth 20, padding 3.
    io.out.write(tabwrite(text, 20, 3));
  });
}
