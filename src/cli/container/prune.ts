/** `berth container prune [OPTIONS]`: remove all stopped containers. */
import { pruneContainers } from '../../engine/index.js';
import { bool } from '../flags.js';
import { confirm, filtersOf, humanSize4 } from '../system/common.js';
import { print, printErr, runEngineCommand, type CommandSpec } from './common.js';

export const spec: CommandSpec = {
  name: 'container prune',
  usage: 'berth container prune [OPTIONS]',
  description: 'Remove all stopped containers',
  args: [0, 0],
  flags: [
    { name: 'filter', type: 'strings', metavar: 'filter', help: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  ],
};

export async function run(argv: string[], name = 'container prune'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const filters = filtersOf(p, 'prune containers');
    if (!bool(p, 'force') && !(await confirm('WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))) return 0;
    const r = await pruneContainers(core, filters);
    for (const w of r.Warnings) printErr(`WARNING: ${w}`);
    if (r.ContainersDeleted.length) print(`Deleted Containers:\n${r.ContainersDeleted.join('\n')}\n`);
    print(`Total reclaimed space: ${humanSize4(r.SpaceReclaimed)}`);
  });
}
