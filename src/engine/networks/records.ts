/**
 * Network records: the predefined `bridge`, `host` and `none` (made on first use, the default
 * bridge on a pool no host route overlaps), and `network create`'s checks with Docker's errors.
 */
import { randomBytes } from 'node:crypto';
import { BerthError, conflict, invalid, notFound } from '../../lib/index.js';
import {
  BRIDGE_OPT, canonical, contains, DEFAULT_BRIDGE_IFACE, firstHost, hostRoutes, overlaps, parsePrefix, pickSubnet, prefixText, ulaSubnet,
  type Driver, type IpamPool, type NetworkRecord, type Prefix,
} from '../../network/index.js';
import type { EngineCore } from '../containers/core.js';

export const PREDEFINED = ['bridge', 'host', 'none'] as const;

export interface NetworkCreateRequest {
  name: string;
  driver?: string;
  subnets?: string[];
  gateways?: string[];
  ipRanges?: string[];
  auxAddresses?: Record<string, string>;
  ipv6?: boolean;
  internal?: boolean;
  attachable?: boolean;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  /** `--ipam-driver` (only `default`). */
  ipamDriver?: string;
}

const daemon = (op: string, kind: 'invalid' | 'conflict' | 'notfound', message: string) =>
  kind === 'conflict' ? conflict(op, message) : kind === 'notfound' ? notFound(op, message) : invalid(op, message);

function takenSubnets(core: EngineCore): Prefix[] {
  return core.store.networks.all().flatMap((n) => n.ipam.map((p) => parsePrefix(p.Subnet)!));
}

/** The predefined networks, made in one transaction on first use; the warnings to show. */
export function ensurePredefined(core: EngineCore): string[] {
  const nets = core.store.networks;
  if (nets.find('none') && nets.find('host') && (core.options.bridge === 'none' || nets.find('bridge'))) return [];
  const warnings: string[] = [];
  core.store.tx(() => {
    if (!nets.find('none')) nets.insert({ name: 'none', driver: 'null', ...blank('') });
    if (!nets.find('host')) nets.insert({ name: 'host', driver: 'host', ...blank('') });
    if (core.options.bridge !== 'none' && !nets.find('bridge')) {
      const routes = hostRoutes();
      const first = parsePrefix('172.17.0.0/16')!;
      const p = pickSubnet(takenSubnets(core), routes);
      if (!p) throw new BerthError({ kind: 'system', op: 'create default bridge', message: 'create default bridge: every default address pool overlaps a host route or a network' });
      if (!overlaps(p, first)) warnings.push(`default bridge: ${prefixText(first)} overlaps a route of this host; using ${prefixText(p)}`);
      const iface = core.options.bridge || DEFAULT_BRIDGE_IFACE;
      nets.insert({
        name: 'bridge', driver: 'bridge', ...blank(iface), isDefault: true,
        ipam: [{ Subnet: prefixText(p), Gateway: firstHost(p) }],
        options: {
          [BRIDGE_OPT.defaultBridge]: 'true', [BRIDGE_OPT.icc]: 'true', [BRIDGE_OPT.masquerade]: 'true',
          [BRIDGE_OPT.hostBinding]: '0.0.0.0', [BRIDGE_OPT.name]: iface, [BRIDGE_OPT.mtu]: '1500',
        },
      });
    }
  });
  return warnings;
}

function blank(iface: string): Omit<NetworkRecord, 'id' | 'created' | 'name' | 'driver'> {
  return { ipv6: false, internal: false, attachable: false, labels: {}, options: {}, ipam: [], iface, isDefault: false };
}

/** `network create` with Docker's checks; the record only (the kernel side is brought up by the caller). */
export function insertNetwork(core: EngineCore, req: NetworkCreateRequest): NetworkRecord {
  const op = 'create network';
  const driver = (req.driver || 'bridge') as Driver;
  if (!['bridge', 'macvlan', 'ipvlan'].includes(driver)) {
    if ((driver as string) === 'overlay') throw daemon(op, 'invalid', 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');
    throw daemon(op, 'notfound', `plugin "${driver}" not found`);
  }
  if (req.ipamDriver && req.ipamDriver !== 'default') throw daemon(op, 'notfound', `plugin "${req.ipamDriver}" not found`);
  if (!req.name) throw daemon(op, 'invalid', 'network name is empty');
  const subnets = req.subnets ?? [];
  const gateways = [...(req.gateways ?? [])];
  const ranges = [...(req.ipRanges ?? [])];
  const opts = { ...(req.options ?? {}) };
  const ipam: IpamPool[] = [];
  const given: Prefix[] = [];
  for (const s of subnets) {
    const p = parsePrefix(s);
    if (!p) throw daemon(op, 'invalid', `invalid CIDR address: ${s}`);
    if (p.hostBits) throw daemon(op, 'invalid', `invalid subnet ${s}: it should be ${prefixText(p)}`);
    if (given.some((g) => overlaps(g, p))) throw daemon(op, 'invalid', `invalid pool request: Pool overlaps with other one on this address space`);
    given.push(p);
    ipam.push({ Subnet: prefixText(p) });
  }
  for (const g of gateways) {
    const i = ipam.findIndex((pool, k) => !pool.Gateway && contains(given[k]!, g));
    if (i < 0) throw daemon(op, 'invalid', `no matching subnet for gateway ${g}`);
    ipam[i]!.Gateway = canonical(g);
  }
  for (const r of ranges) {
    const rp = parsePrefix(r);
    if (!rp) throw daemon(op, 'invalid', `invalid CIDR address: ${r}`);
    const i = ipam.findIndex((pool, k) => !pool.IPRange && overlaps(given[k]!, rp) && rp.bits >= given[k]!.bits);
    if (i < 0) throw daemon(op, 'invalid', `no matching subnet for range ${r}`);
    ipam[i]!.IPRange = prefixText(rp);
  }
  for (const [k, a] of Object.entries(req.auxAddresses ?? {})) {
    const i = ipam.findIndex((_, j) => contains(given[j]!, a));
    if (i < 0) throw daemon(op, 'invalid', `no matching subnet for aux-address ${a}`);
    (ipam[i]!.AuxiliaryAddresses ??= {})[k] = canonical(a);
  }
  if (driver === 'macvlan' || driver === 'ipvlan') {
    if (!opts.parent) throw daemon(op, 'invalid', `${driver}: a parent interface is required (-o parent=IFACE): this kernel has no dummy link driver to make one`);
  }
  const id = randomBytes(32).toString('hex');
  let rec: NetworkRecord | undefined;
  core.store.tx(() => {
    if (core.store.networks.find(req.name)?.name === req.name) throw daemon(op, 'conflict', `network with name ${req.name} already exists`);
    const taken = takenSubnets(core);
    for (const p of given) {
      if (taken.some((t) => overlaps(t, p))) throw daemon(op, 'invalid', 'invalid pool request: Pool overlaps with other one on this address space');
    }
    if (!given.some((p) => p.family === 4)) {
      const p = pickSubnet(taken, driver === 'bridge' ? hostRoutes() : [], true);
      if (!p) throw daemon(op, 'invalid', 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
      ipam.unshift({ Subnet: prefixText(p) });
      given.unshift(p);
    }
    if (req.ipv6 && !given.some((p) => p.family === 6)) {
      const p = ulaSubnet();
      ipam.push({ Subnet: prefixText(p) });
      given.push(p);
    }
    if (!req.ipv6 && given.some((p) => p.family === 6)) {
      // Docker 28 turns IPv6 on for a network given an IPv6 subnet only with --ipv6
      throw daemon(op, 'invalid', 'an IPv6 subnet was given without --ipv6');
    }
    for (const [k, pool] of ipam.entries()) if (!pool.Gateway) pool.Gateway = firstHost(given[k]!);
    const iface = driver === 'bridge' ? (opts[BRIDGE_OPT.name] || `br-${id.slice(0, 12)}`) : opts.parent!;
    if (driver === 'bridge' && iface.length > 15) throw daemon(op, 'invalid', `bridge name ${iface}: longer than 15 characters`);
    if (driver === 'bridge' && core.store.networks.all().some((n) => n.driver === 'bridge' && n.iface === iface)) {
      throw daemon(op, 'conflict', `bridge name ${iface} is already used by another network`);
    }
    rec = core.store.networks.insert({
      id, name: req.name, driver, ipv6: !!req.ipv6, internal: !!req.internal, attachable: !!req.attachable,
      labels: req.labels ?? {}, options: opts, ipam, iface, isDefault: false,
    });
  });
  return rec!;
}

/** `--network X` → a record (`bridge`, `host`, `none`, a name, an id or an id prefix). */
export function resolveNetwork(core: EngineCore, ref: string, op: string): NetworkRecord {
  ensurePredefined(core);
  const n = core.store.networks.find(ref);
  if (!n) throw notFound(op, `network ${ref} not found`);
  return n;
}

/** A network event (Docker's attributes: name, type, and the container for connect/disconnect). */
export function networkEvent(core: EngineCore, action: string, n: NetworkRecord, extra: Record<string, string> = {}): void {
  core.store.events.append({ type: 'network', action, actorId: n.id, attributes: { name: n.name, type: n.driver, ...extra } });
}
