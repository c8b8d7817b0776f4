/** `berth rmi [OPTIONS] IMAGE [IMAGE...]` (also `image rm`) */
import { removeImage } from '../../engine/index.js';
import { bool } from '../flags.js';
import { print, report, runCommand, withImageEvents, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'rmi',
  usage: 'berth rmi [OPTIONS] IMAGE [IMAGE...]',
  description: 'Remove one or more images',
  args: [1, -1],
  flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'Force removal of the image' },
    { name: 'no-prune', type: 'bool', help: 'Do not delete untagged parents' },
  ],
};

export async function run(argv: string[], name = 'rmi'): Promise<number> {
  return runCommand({ ...spec, name }, argv, async (p, ctx) => {
    return withImageEvents(ctx, async (t) => {
      let status = 0;
      for (const img of p.args) {
        try {
          const items = await removeImage(t, img, { force: bool(p, 'force'), noPrune: bool(p, 'no-prune') });
          for (const it of items) print(it.Untagged !== undefined ? `Untagged: ${it.Untagged}` : `Deleted: ${it.Deleted}`);
        } catch (err) {
          status = report(err);
        }
      }
      return status;
    });
  });
}
