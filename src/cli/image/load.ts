/** `berth load [OPTIONS]` */
import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { familiarString, parseReference } from '../../image/index.js';
import { loadImages } from '../../engine/index.js';
import { usage } from '../../lib/index.js';
import { bool, str } from '../flags.js';
import { io, print, runCommand, withImageEvents, type CommandSpec } from './common.js';
import { ProgressPrinter } from './progress.js';

export const spec: CommandSpec = {
  name: 'load',
  usage: 'berth load [OPTIONS]',
  description: 'Load an image from a tar archive (docker-archive, OCI archive) or an OCI layout directory, or STDIN',
  args: [0, 0],
  flags: [
    { name: 'input', short: 'i', type: 'string', help: 'Read from tar archive file, instead of STDIN' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the load output' },
    { name: 'platform', type: 'string' },
  ],
};

export async function run(argv: string[], name = 'load'): Promise<number> {
  return runCommand({ ...spec, name }, argv, async (p, ctx) => {
    const input = str(p, 'input');
    let src: Readable | string;
    if (input) {
      let dir = false;
      try { dir = statSync(input).isDirectory(); } catch { /* reported by the read */ }
      src = dir ? input : createReadStream(input);
    } else {
      if (io.in.isTTY) throw usage(name, 'requested load from stdin, but stdin is empty');
      src = io.in as Readable;
    }
    const printer = new ProgressPrinter(io.out);
    const loaded = await withImageEvents(ctx, (t) => loadImages(t, src, { onProgress: bool(p, 'quiet') || !io.out.isTTY ? undefined : printer.handle }));
    for (const img of loaded) {
      if (img.names.length) for (const n of img.names) print(`Loaded image: ${familiarString(parseReference(n))}`);
      else print(`Loaded image ID: ${img.id}`);
    }
    return 0;
  });
}
