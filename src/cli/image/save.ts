/** `berth save [OPTIONS] IMAGE [IMAGE...]` */
import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { ArchiveFormat } from '../../image/index.js';
import { saveImages } from '../../engine/index.js';
import { usage, wrapError } from '../../lib/index.js';
import { pidAlive } from '../../content/index.js';
import { str } from '../flags.js';
import { io, runCommand, withImageEvents, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'save',
  usage: 'berth save [OPTIONS] IMAGE [IMAGE...]',
  description: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  args: [1, -1],
  flags: [
    { name: 'output', short: 'o', type: 'string', help: 'Write to a file, instead of STDOUT' },
    { name: 'format', type: 'string', default: 'docker-archive', help: 'Archive format: docker-archive or oci-archive' },
    { name: 'platform', type: 'string' },
  ],
};

export async function run(argv: string[], name = 'save'): Promise<number> {
  return runCommand({ ...spec, name }, argv, async (p, ctx) => {
    const format = str(p, 'format') as ArchiveFormat;
    if (format !== 'docker-archive' && format !== 'oci-archive') throw usage(name, `invalid --format ${JSON.stringify(format)}: want docker-archive or oci-archive`);
    const output = str(p, 'output');
    if (!output) {
      if (io.out.isTTY) throw usage(name, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
      await withImageEvents(ctx, (t) => saveImages(t, p.args, io.out as NodeJS.WritableStream as import('node:stream').Writable, { format }));
      return 0;
    }
    // write next to the target and rename, so a failed save leaves no partial archive; the temp
    // files of saves to the same target that were killed (their pid is gone) are removed first
    const dir = dirname(output);
    const st = await fsp.stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) throw usage(name, `failed to save image: invalid output path: directory ${JSON.stringify(dir)} does not exist`);
    await sweepTemps(output);
    const tmp = join(dir, `.${basename(output)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
    // opened first, so that a directory we may not write to is an error of its own, not a crash
    const fh = await fsp.open(tmp, 'wx', 0o644).catch((e: unknown) => { throw wrapError(e, `${name}: open`, output); });
    try {
      await withImageEvents(ctx, (t) => saveImages(t, p.args, fh.createWriteStream(), { format }));
      await fsp.rename(tmp, output);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    return 0;
  });
}

async function sweepTemps(output: string): Promise<void> {
  const dir = dirname(output);
  const prefix = `.${basename(output)}.`;
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-f]{8}\.tmp$/.exec(n.slice(prefix.length));
    if (m && !pidAlive(Number(m[1]))) await fsp.rm(join(dir, n), { force: true }).catch(() => {});
  }
}
