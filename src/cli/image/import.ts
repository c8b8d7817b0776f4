/** `berth import [OPTIONS] file|-  [REPOSITORY[:TAG]]` */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { parsePlatform } from '../../image/index.js';
import { importImage } from '../../engine/index.js';
import { usage } from '../../lib/index.js';
import { str, strs } from '../flags.js';
import { io, print, runCommand, withImageEvents, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'import',
  usage: 'berth import [OPTIONS] file|- [REPOSITORY[:TAG]]',
  description: 'Import the contents from a tarball to create a filesystem image',
  args: [1, 2],
  flags: [
    { name: 'change', short: 'c', type: 'strings', help: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', help: 'Set commit message for imported image' },
    { name: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable' },
  ],
};

export async function run(argv: string[], name = 'import'): Promise<number> {
  return runCommand({ ...spec, name }, argv, async (p, ctx) => {
    const src = p.args[0]!;
    if (/^https?:\/\//.test(src)) throw usage(name, `${name}: importing from a URL is not supported; download the file first`);
    if (src === '-' && io.in.isTTY) throw usage(name, `${name}: requested import from stdin, but stdin is a terminal`);
    const input = src === '-' ? (io.in as Readable) : createReadStream(src);
    const id = await withImageEvents(ctx, (t) => importImage(t, input, {
      reference: p.args[1], message: str(p, 'message'), changes: strs(p, 'change'),
      platform: str(p, 'platform') ? parsePlatform(str(p, 'platform')) : undefined, source: src === '-' ? '-' : basename(src),
    }));
    print(id);
    return 0;
  });
}
