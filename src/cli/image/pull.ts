/** `berth pull [OPTIONS] NAME[:TAG|@DIGEST]` */
import { familiarString, parseReference, parsePlatform, registryClient, type PullResult } from '../../image/index.js';
import { pullImage } from '../../engine/index.js';
import { usage } from '../../lib/index.js';
import { bool, str } from '../flags.js';
import { io, print, printErr, runCommand, withImageEvents, type CommandSpec } from './common.js';
import { ProgressPrinter } from './progress.js';

export const spec: CommandSpec = {
  name: 'pull',
  usage: 'berth pull [OPTIONS] NAME[:TAG|@DIGEST]',
  description: 'Download an image from a registry',
  args: [1, 1],
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', help: 'Download all tagged images in the repository' },
    { name: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable', default: process.env.DOCKER_DEFAULT_PLATFORM ?? '' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress verbose output' },
    { name: 'disable-content-trust', type: 'bool', default: true },
  ],
};

function statusLine(r: PullResult, display: string): string {
  return r.status === 'up-to-date' ? `Status: Image is up to date for ${display}` : `Status: Downloaded newer image for ${display}`;
}

export async function run(argv: string[]): Promise<number> {
  return runCommand(spec, argv, async (p, ctx) => {
    const input = p.args[0]!;
    const quiet = bool(p, 'quiet');
    const platform = str(p, 'platform') ? parsePlatform(str(p, 'platform')) : undefined;
    const bare = parseReference(input, { defaultTag: false });
    let refs: string[];
    if (bool(p, 'all-tags')) {
      if (bare.tag || bare.digest) throw usage('pull', 'tag can\'t be used with --all-tags/-a');
      const tags = await registryClient(ctx, bare.domain).tags(bare.path);
      refs = tags.map((t) => familiarString({ ...bare, tag: t }));
      if (!quiet) print(`Pulling repository ${familiarString(bare)}`);
    } else {
      if (!bare.tag && !bare.digest && !quiet) print('Using default tag: latest');
      refs = [input];
    }
    const printer = new ProgressPrinter(io.out);
    for (const ref of refs) {
      const r = await withImageEvents(ctx, (t) => pullImage(t, ref, { platform, onProgress: quiet ? undefined : printer.handle }));
      for (const w of r.warnings) printErr(w);
      const display = familiarString(parseReference(ref));
      if (!quiet) print(statusLine(r, display));
      print(r.reference);
    }
    return 0;
  });
}
