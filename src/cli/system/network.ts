/** `berth network create|ls|inspect|rm|prune|connect|disconnect|reload`: Docker's network commands. */
import { usage } from '../../lib/index.js';
import {
  connectNetwork, createNetwork, disconnectNetwork, inspectNetwork, listNetworks, pruneNetworks, reloadNetworks, removeNetwork,
} from '../../engine/index.js';
import type { NetworkRecord } from '../../network/index.js';
import { bool, str, strs } from '../flags.js';
import { eachArg, io, print, printErr, runEngineCommand, type CommandSpec } from '../container/common.js';
import { formatItems } from '../image/format.js';
import { confirm, dispatch, filtersOf, printInspected, sortedKeys, type Sub } from './common.js';

const FORMAT_HELP = "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template";

function keyValues(list: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i <= 0 && flag === 'aux-address') throw usage(`network create`, `invalid argument "${kv}" for "--${flag}" flag: bad format for ${flag}: "${kv}"`);
    if (i < 0) out[kv] = ''; else out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

const createSpec: CommandSpec = {
  name: 'network create', usage: 'berth network create [OPTIONS] NETWORK', description: 'Create a network', args: [1, 1],
  flags: [
    { name: 'attachable', type: 'bool', help: 'Enable manual container attachment' },
    { name: 'aux-address', type: 'strings', metavar: 'map', help: 'Auxiliary IPv4 or IPv6 addresses used by Network driver' },
    { name: 'config-from', type: 'string' },
    { name: 'config-only', type: 'bool' },
    { name: 'driver', short: 'd', type: 'string', default: 'bridge', help: 'Driver to manage the Network' },
    { name: 'gateway', type: 'strings', help: 'IPv4 or IPv6 Gateway for the master subnet' },
    { name: 'ingress', type: 'bool' },
    { name: 'internal', type: 'bool', help: 'Restrict external access to the network' },
    { name: 'ip-range', type: 'strings', help: 'Allocate container ip from a sub-range' },
    { name: 'ipam-driver', type: 'string', default: 'default', help: 'IP Address Management Driver' },
    { name: 'ipam-opt', type: 'strings', metavar: 'map', help: 'Set IPAM driver specific options' },
    { name: 'ipv4', type: 'bool', default: true, help: 'Enable or disable IPv4 address assignment' },
    { name: 'ipv6', type: 'bool', help: 'Enable or disable IPv6 address assignment' },
    { name: 'label', type: 'strings', help: 'Set metadata on a network' },
    { name: 'opt', short: 'o', type: 'strings', metavar: 'map', help: 'Set driver specific options' },
    { name: 'scope', type: 'string' },
    { name: 'subnet', type: 'strings', help: 'Subnet in CIDR format that represents a network segment' },
  ],
};

export function create(argv: string[], name = 'network create'): Promise<number> {
  return runEngineCommand({ ...createSpec, name }, argv, async (p, core) => {
    const subnets = strs(p, 'subnet');
    const gateways = strs(p, 'gateway');
    if (gateways.length > subnets.length && subnets.length) throw usage(name, 'cannot configure more gateways than subnets');
    if (gateways.length && !subnets.length) throw usage(name, 'every ip-range or gateway must have a corresponding subnet');
    if (strs(p, 'ip-range').length && !subnets.length) throw usage(name, 'every ip-range or gateway must have a corresponding subnet');
    const { network, warnings } = await createNetwork(core, {
      name: p.args[0]!, driver: str(p, 'driver'), subnets, gateways, ipRanges: strs(p, 'ip-range'),
      auxAddresses: keyValues(strs(p, 'aux-address'), 'aux-address'), ipv6: bool(p, 'ipv6'), internal: bool(p, 'internal'),
      attachable: bool(p, 'attachable'), labels: keyValues(strs(p, 'label'), 'label'), options: keyValues(strs(p, 'opt'), 'opt'),
      ipamDriver: str(p, 'ipam-driver'),
    });
    for (const w of warnings) printErr(`WARNING: ${w}`);
    print(network.id);
  });
}

const HEADERS: Record<string, string> = { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED AT' };

function fields(n: NetworkRecord, trunc: boolean): Record<string, unknown> {
  const labels = Object.keys(n.labels).sort().map((k) => `${k}=${n.labels[k]}`).join(',');
  const f = sortedKeys({
    CreatedAt: n.created.replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC').replace(/Z$/, ' +0000 UTC'), Driver: n.driver, ID: trunc ? n.id.slice(0, 12) : n.id,
    IPv6: String(n.ipv6), Internal: String(n.internal), Labels: labels, Name: n.name, Scope: 'local',
  });
  return Object.defineProperty(f, 'Label', { value: Object.assign((k: string) => n.labels[k] ?? '', { params: ['string'] }) });
}

const lsSpec: CommandSpec = {
  name: 'network ls', usage: 'berth network ls [OPTIONS]', description: 'List networks', args: [0, 0],
  flags: [
    { name: 'filter', short: 'f', type: 'strings', metavar: 'filter', help: "Provide filter values (e.g. 'driver=bridge')" },
    { name: 'format', type: 'string', help: FORMAT_HELP },
    { name: 'no-trunc', type: 'bool', help: 'Do not truncate the output' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only display network IDs' },
  ],
};

export function ls(argv: string[], name = 'network ls'): Promise<number> {
  return runEngineCommand({ ...lsSpec, name }, argv, async (p, core) => {
    const nets = listNetworks(core, filtersOf(p, 'list networks')).sort((a, b) => a.name.localeCompare(b.name));
    const trunc = !bool(p, 'no-trunc');
    if (bool(p, 'quiet')) {
      io.out.write(nets.map((n) => (trunc ? n.id.slice(0, 12) : n.id) + '\n').join(''));
      return;
    }
    io.out.write(formatItems(str(p, 'format'), nets.map((n) => fields(n, trunc)), '{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}', HEADERS, '*formatter.networkContext'));
  });
}

const inspectSpec: CommandSpec = {
  name: 'network inspect', usage: 'berth network inspect [OPTIONS] NETWORK [NETWORK...]', description: 'Display detailed information on one or more networks', args: [1, -1],
  flags: [
    { name: 'format', short: 'f', type: 'string', help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template" },
    { name: 'verbose', short: 'v', type: 'bool', help: 'Verbose output for diagnostics' },
  ],
};

export function inspect(argv: string[], name = 'network inspect'): Promise<number> {
  return runEngineCommand({ ...inspectSpec, name }, argv, async (p, core) => {
    return printInspected(str(p, 'format'), p.args, (a) => inspectNetwork(core, a));
  });
}

const rmSpec: CommandSpec = {
  name: 'network rm', usage: 'berth network rm NETWORK [NETWORK...]', description: 'Remove one or more networks', args: [1, -1],
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Do not error if the network does not exist' }],
};

export function rm(argv: string[], name = 'network rm'): Promise<number> {
  return runEngineCommand({ ...rmSpec, name }, argv, async (p, core) => eachArg(p.args, async (ref) => {
    try {
      await removeNetwork(core, ref);
    } catch (e) {
      if (bool(p, 'force') && (e as { kind?: string }).kind === 'notfound') return;
      throw e;
    }
    print(ref);
  }));
}

const pruneSpec: CommandSpec = {
  name: 'network prune', usage: 'berth network prune [OPTIONS]', description: 'Remove all unused networks', args: [0, 0],
  flags: [
    { name: 'filter', type: 'strings', metavar: 'filter', help: "Provide filter values (e.g. 'until=<timestamp>')" },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  ],
};

export function prune(argv: string[], name = 'network prune'): Promise<number> {
  return runEngineCommand({ ...pruneSpec, name }, argv, async (p, core) => {
    const filters = filtersOf(p, 'prune networks');
    if (!bool(p, 'force') && !(await confirm('WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?'))) return 0;
    const removed = await pruneNetworks(core, filters);
    if (removed.length) print(`Deleted Networks:\n${removed.join('\n')}\n`);
  });
}

const connectSpec: CommandSpec = {
  name: 'network connect', usage: 'berth network connect [OPTIONS] NETWORK CONTAINER', description: 'Connect a container to a network', args: [2, 2],
  flags: [
    { name: 'alias', type: 'strings', help: 'Add network-scoped alias for the container' },
    { name: 'driver-opt', type: 'strings', help: 'driver options for the network' },
    { name: 'gw-priority', type: 'int' },
    { name: 'ip', type: 'string', help: 'IPv4 address (e.g., "172.30.100.104")' },
    { name: 'ip6', type: 'string', help: 'IPv6 address (e.g., "2001:db8::33")' },
    { name: 'link', type: 'strings', help: 'Add link to another container' },
    { name: 'link-local-ip', type: 'strings', help: 'Add a link-local address for the container' },
  ],
};

export function connect(argv: string[], name = 'network connect'): Promise<number> {
  return runEngineCommand({ ...connectSpec, name }, argv, async (p, core) => {
    const req: Record<string, unknown> = {};
    if (strs(p, 'alias').length) req.aliases = strs(p, 'alias');
    if (str(p, 'ip')) req.ipv4 = str(p, 'ip');
    if (str(p, 'ip6')) req.ipv6 = str(p, 'ip6');
    if (strs(p, 'link').length) req.links = strs(p, 'link');
    await connectNetwork(core, p.args[0]!, p.args[1]!, req);
  });
}

const disconnectSpec: CommandSpec = {
  name: 'network disconnect', usage: 'berth network disconnect [OPTIONS] NETWORK CONTAINER', description: 'Disconnect a container from a network', args: [2, 2],
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Force the container to disconnect from a network' }],
};

export function disconnect(argv: string[], name = 'network disconnect'): Promise<number> {
  return runEngineCommand({ ...disconnectSpec, name }, argv, async (p, core) => {
    await disconnectNetwork(core, p.args[0]!, p.args[1]!, bool(p, 'force'));
  });
}

const reloadSpec: CommandSpec = {
  name: 'network reload', usage: 'berth network reload', description: "Rebuild every bridge and firewall rule of berth's networks (after a firewall reload wiped them)", args: [0, 0],
  flags: [],
};

export function reload(argv: string[], name = 'network reload'): Promise<number> {
  return runEngineCommand({ ...reloadSpec, name }, argv, async (_p, core) => {
    await reloadNetworks(core);
  });
}

const SUBS: Record<string, [string, Sub]> = {
  connect: ['Connect a container to a network', connect],
  create: ['Create a network', create],
  disconnect: ['Disconnect a container from a network', disconnect],
  inspect: ['Display detailed information on one or more networks', inspect],
  ls: ['List networks', ls],
  prune: ['Remove all unused networks', prune],
  reload: ["Rebuild berth's bridges and firewall rules", reload],
  rm: ['Remove one or more networks', rm],
};

/** `berth network COMMAND`. */
export function run(argv: string[]): Promise<number> {
  return dispatch('network', 'Manage networks', SUBS, { list: 'ls', remove: 'rm' }, argv);
}
