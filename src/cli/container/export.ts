/** `berth export [OPTIONS] CONTAINER`: a container's filesystem as a tar archive. */
import { randomBytes } from 'node:crypto';
import { createWriteStream, promises as fsp, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { usage } from '../../lib/index.js';
import { exportContainer } from '../../engine/index.js';
import { str } from '../flags.js';
import { io, runEngineCommand, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'export',
  usage: 'berth export [OPTIONS] CONTAINER',
  description: "Export a container's filesystem as a tar archive",
  args: [1, 1],
  flags: [{ name: 'output', short: 'o', type: 'string', help: 'Write to a file, instead of STDOUT' }],
};

export async function run(argv: string[], name = 'export'): Promise<number> {
  return runEngineCommand({ ...spec, name, usage: `berth ${name} [OPTIONS] CONTAINER` }, argv, async (p, core) => {
    const output = str(p, 'output');
    const ref = p.args[0]!;
    if (!output) {
      if (io.out.isTTY) throw usage(name, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
      await exportContainer(core, ref, io.out as unknown as Writable, { end: false });
      return 0;
    }
    const dir = dirname(resolve(output));
    try { statSync(dir); } catch {
      throw usage(name, `failed to export container: invalid output path: directory "${dir}" does not exist`);
    }
    // write next to the target and rename, so a failed export leaves no partial archive
    const tmp = join(dir, `.${basename(output)}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await exportContainer(core, ref, createWriteStream(tmp, { mode: 0o644 }));
      await fsp.rename(tmp, output);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    return 0;
  });
}
