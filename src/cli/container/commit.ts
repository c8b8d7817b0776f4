/** `berth commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]`: a new image from a container's changes. */
import { commitContainer } from '../../engine/index.js';
import { bool, str, strs } from '../flags.js';
import { print, runEngineCommand, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'commit',
  usage: 'berth commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  description: "Create a new image from a container's changes",
  args: [1, 2],
  flags: [
    { name: 'author', short: 'a', type: 'string', help: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    { name: 'change', short: 'c', type: 'strings', help: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', help: 'Commit message' },
    { name: 'no-pause', type: 'bool', help: 'Disable pausing container during commit' },
    { name: 'pause', short: 'p', type: 'bool', default: true, help: 'Pause container during commit' },
  ],
};

export async function run(argv: string[], name = 'commit'): Promise<number> {
  return runEngineCommand({ ...spec, name, usage: `berth ${name} [OPTIONS] CONTAINER [REPOSITORY[:TAG]]` }, argv, async (p, core) => {
    const id = await commitContainer(core, p.args[0]!, {
      reference: p.args[1], author: str(p, 'author') || undefined, message: str(p, 'message') || undefined,
      changes: strs(p, 'change'), pause: bool(p, 'pause') && !bool(p, 'no-pause'),
    });
    print(id);
    return 0;
  });
}
