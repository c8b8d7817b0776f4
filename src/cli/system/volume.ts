/** `berth volume create|ls|inspect|rm|prune`: Docker's volume commands on local volumes. */
import { usage } from '../../lib/index.js';
import { createVolume, inspectVolume, listVolumes, pruneVolumes, removeVolume, volumeJSON } from '../../engine/index.js';
import type { Labels, Volume } from '../../engine/store/index.js';
import { bool, str, strs } from '../flags.js';
import { eachArg, io, print, runEngineCommand, type CommandSpec } from '../container/common.js';
import { formatItems } from '../image/format.js';
import { confirm, dispatch, filtersOf, printInspected, humanSize4, sortedKeys, type Sub } from './common.js';

const FORMAT_HELP = "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template";

const HEADERS: Record<string, string> = {
  Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS',
  Size: 'SIZE', Availability: 'AVAILABILITY', Group: 'GROUP', Status: 'STATUS',
};

/** `KEY=VALUE` list flags as a map (a missing `=` gives an empty value, like Docker's MapOpts). */
function keyValues(list: string[]): Labels {
  const out: Labels = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i < 0) out[kv] = '';
    else out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

const createSpec: CommandSpec = {
  name: 'volume create', usage: 'berth volume create [OPTIONS] [VOLUME]', description: 'Create a volume', args: [0, 1],
  flags: [
    { name: 'driver', short: 'd', type: 'string', default: 'local', help: 'Specify volume driver name' },
    { name: 'label', type: 'strings', help: 'Set metadata for a volume' },
    { name: 'name', type: 'string' },
    { name: 'opt', short: 'o', type: 'strings', metavar: 'map', help: 'Set driver specific options' },
  ],
};

export function create(argv: string[], name = 'volume create'): Promise<number> {
  return runEngineCommand({ ...createSpec, name }, argv, async (p, core) => {
    const byFlag = str(p, 'name');
    if (byFlag && p.args[0] && byFlag !== p.args[0]) {
      throw usage('volume create', 'conflicting options: either specify --name or provide positional arg, not both');
    }
    const volName = p.args[0] ?? (byFlag || undefined);
    const v = await createVolume(core, {
      ...(volName !== undefined ? { name: volName } : {}),
      driver: str(p, 'driver') || 'local', labels: keyValues(strs(p, 'label')), options: keyValues(strs(p, 'opt')),
    });
    print(v.name);
  });
}

/** The fields Docker's volume list templates see. */
export function volumeFields(v: Volume): Record<string, unknown> {
  const j = volumeJSON(v);
  const labels = j.Labels as Labels;
  return sortedKeys({
    Availability: 'N/A', Driver: v.driver, Group: 'N/A',
    Labels: Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(','),
    Links: 'N/A', Mountpoint: v.mountpoint, Name: v.name, Scope: 'local', Size: 'N/A', Status: 'N/A',
  });
}

const lsSpec: CommandSpec = {
  name: 'volume ls', usage: 'berth volume ls [OPTIONS]', description: 'List volumes', args: [0, 0],
  flags: [
    { name: 'cluster', type: 'bool' },
    { name: 'filter', short: 'f', type: 'strings', metavar: 'filter', help: "Provide filter values (e.g. 'dangling=true')" },
    { name: 'format', type: 'string', help: FORMAT_HELP },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only display volume names' },
  ],
};

export function ls(argv: string[], name = 'volume ls'): Promise<number> {
  return runEngineCommand({ ...lsSpec, name }, argv, async (p, core) => {
    const vols = listVolumes(core, filtersOf(p, 'list volumes'));
    if (bool(p, 'quiet')) {
      io.out.write(vols.map((v) => v.name + '\n').join(''));
      return;
    }
    io.out.write(formatItems(str(p, 'format'), vols.map((v) => Object.defineProperty(volumeFields(v), 'Label', { value: Object.assign((k: string) => (volumeJSON(v).Labels as Labels)[k] ?? '', { params: ['string'] }) })), '{{.Driver}}\t{{.Name}}', HEADERS, '*formatter.volumeContext'));
  });
}

const inspectSpec: CommandSpec = {
  name: 'volume inspect', usage: 'berth volume inspect [OPTIONS] VOLUME [VOLUME...]', description: 'Display detailed information on one or more volumes', args: [1, -1],
  flags: [{ name: 'format', short: 'f', type: 'string', help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template" }],
};

/** Docker indents inspect JSON with 4 spaces; errors follow the objects that were found. */
export function inspect(argv: string[], name = 'volume inspect'): Promise<number> {
  return runEngineCommand({ ...inspectSpec, name }, argv, async (p, core) => {
    return printInspected(str(p, 'format'), p.args, (a) => inspectVolume(core, a));
  });
}

const rmSpec: CommandSpec = {
  name: 'volume rm', usage: 'berth volume rm [OPTIONS] VOLUME [VOLUME...]', description: 'Remove one or more volumes. You cannot remove a volume that is in use by a container.', args: [1, -1],
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Force the removal of one or more volumes' }],
};

export function rm(argv: string[], name = 'volume rm'): Promise<number> {
  return runEngineCommand({ ...rmSpec, name }, argv, async (p, core) => eachArg(p.args, async (v) => {
    await removeVolume(core, v, { force: bool(p, 'force') });
    print(v);
  }));
}

const pruneSpec: CommandSpec = {
  name: 'volume prune', usage: 'berth volume prune [OPTIONS]', description: 'Remove unused local volumes', args: [0, 0],
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused volumes, not just anonymous ones' },
    { name: 'filter', type: 'strings', metavar: 'filter', help: "Provide filter values (e.g. 'label=<label>')" },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  ],
};

export function prune(argv: string[], name = 'volume prune'): Promise<number> {
  return runEngineCommand({ ...pruneSpec, name }, argv, async (p, core) => {
    const filters = filtersOf(p, 'prune volumes');
    const all = bool(p, 'all') || (filters.all ?? []).some((v) => v === 'true' || v === '1');
    const warning = all
      ? 'WARNING! This will remove all local volumes not used by at least one container.'
      : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
    if (!bool(p, 'force') && !(await confirm(`${warning}\nAre you sure you want to continue?`))) return 0;
    const r = await pruneVolumes(core, { all, filters });
    if (r.VolumesDeleted.length) print(`Deleted Volumes:\n${r.VolumesDeleted.join('\n')}\n`);
    print(`Total reclaimed space: ${humanSize4(r.SpaceReclaimed)}`);
  });
}

const SUBS: Record<string, [string, Sub]> = {
  create: ['Create a volume', create],
  inspect: ['Display detailed information on one or more volumes', inspect],
  ls: ['List volumes', ls],
  prune: ['Remove unused local volumes', prune],
  rm: ['Remove one or more volumes', rm],
};

/** `berth volume COMMAND`. */
export function run(argv: string[]): Promise<number> {
  return dispatch('volume', 'Manage volumes', SUBS, { list: 'ls', remove: 'rm' }, argv);
}
