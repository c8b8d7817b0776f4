/** `berth image inspect [OPTIONS] IMAGE [IMAGE...]` */
import { inspect } from '../../image/index.js';
import { str } from '../flags.js';
import { io, printErr, runCommand, type CommandSpec } from './common.js';
import { parseOrStatus, renderInspect } from './format.js';

export const spec: CommandSpec = {
  name: 'image inspect',
  usage: 'berth image inspect [OPTIONS] IMAGE [IMAGE...]',
  description: 'Display detailed information on one or more images',
  args: [1, -1],
  flags: [
    { name: 'format', short: 'f', type: 'string', help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template" },
    { name: 'platform', type: 'string' },
  ],
};

/** Docker indents inspect JSON with 4 spaces. */
export async function run(argv: string[], name = 'image inspect'): Promise<number> {
  return runCommand({ ...spec, name }, argv, async (p, ctx) => {
    const f = str(p, 'format');
    const tpl = f && f !== 'json' ? parseOrStatus(f) : undefined;
    if (typeof tpl === 'number') return tpl;
    const found: Record<string, unknown>[] = [];
    let status = 0;
    for (const a of p.args) {
      try {
        found.push(await inspect(ctx, a));
      } catch (err) {
        printErr(`Error response from daemon: ${(err as Error).message}`);
        status = 1;
      }
    }
    if (!tpl) io.out.write(JSON.stringify(found, null, 4) + '\n');
    else io.out.write(renderInspect(tpl, found));
    return status;
  });
}
