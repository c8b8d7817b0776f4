/** `berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]` */
import { tagImage } from '../../engine/index.js';
import { runCommand, withImageEvents, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'tag',
  usage: 'berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  args: [2, 2],
  flags: [],
};

export async function run(argv: string[]): Promise<number> {
  return runCommand(spec, argv, async (p, ctx) => {
    await withImageEvents(ctx, (t) => tagImage(t, p.args[0]!, p.args[1]!));
    return 0;
  });
}
