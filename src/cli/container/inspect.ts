/** `berth inspect [--type container|image] [-f FORMAT] [-s] NAME...` (also `container inspect`). */
import { BerthError } from '../../lib/index.js';
import { inspect as inspectImage } from '../../image/index.js';
import { inspectContainer, reconcile } from '../../engine/index.js';
import { bool, str } from '../flags.js';
import { parseOrStatus, renderInspect } from '../image/format.js';
import { io, printErr, runEngineCommand, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'inspect',
  usage: 'berth inspect [OPTIONS] NAME|ID [NAME|ID...]',
  description: 'Return low-level information on Docker objects',
  args: [1, -1],
  flags: [
    { name: 'format', short: 'f', type: 'string', help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template" },
    { name: 'size', short: 's', type: 'bool', help: 'Display total file sizes if the type is container' },
    { name: 'type', type: 'string', help: 'Return JSON for specified type' },
  ],
};

export async function run(argv: string[], name = 'inspect', only?: 'container'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const type = only ?? str(p, 'type');
    if (type && type !== 'container' && type !== 'image') throw new BerthError({ kind: 'usage', op: 'inspect', message: `"${type}" is not a valid value for --type` });
    const f = str(p, 'format');
    const tpl = f && f !== 'json' ? parseOrStatus(f) : undefined;
    if (typeof tpl === 'number') return tpl;
    const found: Record<string, unknown>[] = [];
    let status = 0;
    for (const a of p.args) {
      try {
        const c = type === 'image' ? undefined : core.store.containers.find(a);
        if (c) {
          const j = inspectContainer(core, reconcile(core, c));
          if (bool(p, 'size')) { j.SizeRw = 0; j.SizeRootFs = 0; }
          found.push(j);
          continue;
        }
        if (type === 'container') throw new BerthError({ kind: 'notfound', op: 'inspect', message: `No such container: ${a}` });
        try {
          found.push(await inspectImage(core.images, a));
        } catch (e) {
          if (e instanceof BerthError && e.kind === 'notfound' && !type) throw new BerthError({ kind: 'notfound', op: 'inspect', message: `No such object: ${a}` });
          throw e;
        }
      } catch (err) {
        printErr(`Error: ${(err as Error).message}`);
        status = 1;
      }
    }
    if (!tpl) io.out.write(JSON.stringify(found, null, 4) + '\n');
    else io.out.write(renderInspect(tpl, found));
    return status;
  });
}
