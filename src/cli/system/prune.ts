/** `berth system prune [OPTIONS]`: stopped containers, then (with --volumes) unused anonymous volumes, then images. */
import { invalid } from '../../lib/index.js';
import { imagePruneOptions, pruneContainers, pruneImages } from '../../engine/index.js';
import { pruneVolumes } from '../../engine/index.js';
import type { Filters } from '../../engine/store/index.js';
import { bool } from '../flags.js';
import { print, printErr, runEngineCommand, type CommandSpec } from '../container/common.js';
import { confirm, filtersOf, humanSize4 } from './common.js';

export const spec: CommandSpec = {
  name: 'system prune',
  usage: 'berth system prune [OPTIONS]',
  description: 'Remove unused data',
  args: [0, 0],
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused images not just dangling ones' },
    { name: 'filter', type: 'strings', metavar: 'filter', help: 'Provide filter values (e.g. "label=<key>=<value>")' },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
    { name: 'volumes', type: 'bool', help: 'Prune anonymous volumes' },
  ],
};

/** Docker's confirmation text (the list of what goes, then the filters, sorted). */
export function confirmationMessage(all: boolean, volumes: boolean, filters: Filters): string {
  const warnings = ['all stopped containers', 'all networks not used by at least one container'];
  if (volumes) warnings.push('all anonymous volumes not used by at least one container');
  warnings.push(all ? 'all images without at least one container associated to them' : 'all dangling images');
  warnings.push(all ? 'all build cache' : 'unused build cache');
  const shown: string[] = [];
  for (const key of ['label', 'label!', 'until']) for (const v of filters[key] ?? []) shown.push(`${key}=${v}`);
  shown.sort();
  let msg = `WARNING! This will remove:\n${warnings.map((w) => `  - ${w}`).join('\n')}\n`;
  if (shown.length) msg += `\n  Items to be pruned will be filtered with:\n${shown.map((f) => `  - ${f}`).join('\n')}\n`;
  return `${msg}\nAre you sure you want to continue?`;
}

export function run(argv: string[], name = 'system prune'): Promise<number> {
  return runEngineCommand({ ...spec, name }, argv, async (p, core) => {
    const filters = filtersOf(p, 'prune');
    const all = bool(p, 'all');
    const volumes = bool(p, 'volumes');
    // Check every filter before anything is removed (Docker finds a bad one only at its step).
    for (const k of Object.keys(filters)) if (!['until', 'label', 'label!'].includes(k)) throw invalid('prune', `invalid filter '${k}'`);
    if (volumes && filters.until) throw invalid('prune', "invalid filter 'until': volumes have no creation filter; prune them without --filter until or with 'berth volume prune'");
    imagePruneOptions(all, filters);
    if (!bool(p, 'force') && !(await confirm(confirmationMessage(all, volumes, filters)))) return 0;
    let reclaimed = 0;
    const c = await pruneContainers(core, filters);
    for (const w of c.Warnings) printErr(`WARNING: ${w}`);
    reclaimed += c.SpaceReclaimed;
    if (c.ContainersDeleted.length) print(`Deleted Containers:\n${c.ContainersDeleted.join('\n')}\n`);
    if (volumes) {
      const v = await pruneVolumes(core, { filters });
      reclaimed += v.SpaceReclaimed;
      if (v.VolumesDeleted.length) print(`Deleted Volumes:\n${v.VolumesDeleted.join('\n')}\n`);
    }
    const i = await pruneImages(core, { all, filters });
    reclaimed += i.SpaceReclaimed;
    if (i.ImagesDeleted.length) {
      print(`Deleted Images:\n${i.ImagesDeleted.map((d) => (d.Untagged !== undefined ? `untagged: ${d.Untagged}` : `deleted: ${d.Deleted}`)).join('\n')}\n`);
    }
    print(`Total reclaimed space: ${humanSize4(reclaimed)}`);
  });
}
