/** `berth push [OPTIONS] NAME[:TAG]` */
import { pushImage } from '../../engine/index.js';
import { bool } from '../flags.js';
import { io, print, runCommand, withImageEvents, type CommandSpec } from './common.js';
import { ProgressPrinter } from './progress.js';

export const spec: CommandSpec = {
  name: 'push',
  usage: 'berth push [OPTIONS] NAME[:TAG]',
  description: 'Upload an image to a registry',
  args: [1, 1],
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', help: 'Push all tags of an image to the repository' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress verbose output' },
    { name: 'platform', type: 'string' },
    { name: 'disable-content-trust', type: 'bool', default: true },
  ],
};

export async function run(argv: string[]): Promise<number> {
  return runCommand(spec, argv, async (p, ctx) => {
    const quiet = bool(p, 'quiet');
    const printer = new ProgressPrinter(io.out);
    const results = await withImageEvents(ctx, (t) => pushImage(t, p.args[0]!, { allTags: bool(p, 'all-tags'), onProgress: quiet ? undefined : printer.handle }));
    if (quiet) for (const r of results) print(r.reference);
    return 0;
  });
}
