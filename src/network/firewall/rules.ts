/**
 * The JSON of berth's nftables table (`inet berth`): base chains, maps, per-network chains and
 * port elements. Pure functions; firewall.ts sends them as transactions.
 *
 *   forward      filter, hook forward, priority filter (0): jump user; oifname vmap @fwd-in; iifname vmap @fwd-out
 *   guard        filter, hook prerouting, priority raw (-300): drop loopback source/destination from non-lo
 *   prerouting   nat, dstnat (-100): fib daddr type local jump published
 *   output       nat, output, dstnat (-100): fib daddr type local jump published
 *   published    dnat through the port maps (dnat4, dnat4any, dnat6, dnat6any: -addr and -port)
 *   postrouting  nat, srcnat (100): hairpin masquerade; oifname vmap @nat-in; iifname vmap @nat-out
 *   user         the user's chain, jumped to first in forward; berth never flushes it
 *   fwd-in-B / fwd-out-B / nat-in-B / nat-out-B   per network, B its bridge
 */
import type { Cidr, FwNetwork, FwProto } from './types.js';
import type { NftCommand } from './nft.js';

export const FAMILY = 'inet';
export const TABLE = 'berth';
export const USER_CHAIN = 'user';

const T = { family: FAMILY, table: TABLE };

export const VMAPS = ['fwd-in', 'fwd-out', 'nat-in', 'nat-out'] as const;
export type VmapName = typeof VMAPS[number];
/** The DNAT maps, by kind: the key is (host address, protocol, host port), or (protocol, host port)
 *  for the `any` kinds; one map gives the container's address, its twin the container's port (two
 *  maps, not one with `address . port` data: nft 1.0.6's JSON cannot declare such a map). */
export const PORT_KINDS = ['dnat4', 'dnat4any', 'dnat6', 'dnat6any'] as const;
export type PortKind = typeof PORT_KINDS[number];
export const addrMap = (k: PortKind) => `${k}-addr`;
export const portMap = (k: PortKind) => `${k}-port`;
export const HAIRPIN_SETS = ['hairpin4', 'hairpin6'] as const;

export const BASE_CHAINS = ['forward', 'guard', 'prerouting', 'output', 'postrouting', 'published'] as const;

/** The per-network chains of a bridge, and the map that jumps to each. */
export function netChains(bridge: string): { chain: string; vmap: VmapName }[] {
  return VMAPS.map((vmap) => ({ chain: `${vmap}-${bridge}`, vmap }));
}
const NET_CHAIN_RE = /^(fwd-in|fwd-out|nat-in|nat-out)-(.+)$/;
/** The bridge of a per-network chain name, or undefined for another chain. */
export function bridgeOfChain(name: string): string | undefined {
  return NET_CHAIN_RE.exec(name)?.[2];
}

// --- expressions -------------------------------------------------------------------------------
type Expr = Record<string, unknown>;
const meta = (key: string) => ({ meta: { key } });
const payload = (protocol: string, field: string) => ({ payload: { protocol, field } });
const match = (left: unknown, right: unknown, op = '=='): Expr => ({ match: { op, left, right } });
const concat = (...items: unknown[]) => ({ concat: items });
const prefix = (c: Cidr) => ({ prefix: { addr: c.addr, len: c.len } });
const ACCEPT = { accept: null };
const DROP = { drop: null };
const MASQ = { masquerade: null };
const l4key = [meta('l4proto'), payload('th', 'dport')];

// --- commands ----------------------------------------------------------------------------------
const add = (obj: Record<string, unknown>): NftCommand => ({ add: obj });
const rule = (chain: string, ...expr: Expr[]): NftCommand => add({ rule: { ...T, chain, expr } });
const flushChain = (name: string): NftCommand => ({ flush: { chain: { ...T, name } } });
const chain = (name: string, base?: { type: string; hook: string; prio: number }): NftCommand =>
  add({ chain: { ...T, name, ...(base ? { ...base, policy: 'accept' } : {}) } });

export function tableCmd(): NftCommand {
  return add({ table: { family: FAMILY, name: TABLE } });
}

/** The table, its maps and sets, and its chains (all `add`: idempotent, no rules). */
export function skeleton(): NftCommand[] {
  const cmds: NftCommand[] = [tableCmd()];
  for (const name of VMAPS) cmds.push(add({ map: { ...T, name, type: 'ifname', map: 'verdict' } }));
  const v4 = 'ipv4_addr', v6 = 'ipv6_addr', proto = 'inet_proto', port = 'inet_service';
  for (const k of PORT_KINDS) {
    const type = k.endsWith('any') ? [proto, port] : [k.startsWith('dnat4') ? v4 : v6, proto, port];
    cmds.push(add({ map: { ...T, name: addrMap(k), type, map: k.startsWith('dnat4') ? v4 : v6 } }));
    cmds.push(add({ map: { ...T, name: portMap(k), type, map: port } }));
  }
  cmds.push(add({ set: { ...T, name: 'hairpin4', type: [v4, v4, proto, port] } }));
  cmds.push(add({ set: { ...T, name: 'hairpin6', type: [v6, v6, proto, port] } }));
  cmds.push(chain(USER_CHAIN));
  cmds.push(chain('published'));
  cmds.push(chain('forward', { type: 'filter', hook: 'forward', prio: 0 }));
  cmds.push(chain('guard', { type: 'filter', hook: 'prerouting', prio: -300 }));
  cmds.push(chain('prerouting', { type: 'nat', hook: 'prerouting', prio: -100 }));
  cmds.push(chain('output', { type: 'nat', hook: 'output', prio: -100 }));
  cmds.push(chain('postrouting', { type: 'nat', hook: 'postrouting', prio: 100 }));
  return cmds;
}

/** The base chains' rules, after flushing them (never the user chain): idempotent. */
export function baseRules(): NftCommand[] {
  const cmds: NftCommand[] = BASE_CHAINS.map(flushChain);
  // forward: the user's chain first (Docker's DOCKER-USER), then the per-network chains
  cmds.push(rule('forward', { jump: { target: USER_CHAIN } }));
  cmds.push(rule('forward', { vmap: { key: meta('oifname'), data: '@fwd-in' } }));
  cmds.push(rule('forward', { vmap: { key: meta('iifname'), data: '@fwd-out' } }));
  // guard: route_localnet on a bridge and DNAT of 127.0.0.1 must not let other interfaces
  // reach the host's loopback (Docker's "DROP REMOTE LOOPBACK", for every port)
  const notLo = match(meta('iifname'), 'lo', '!=');
  cmds.push(rule('guard', notLo, match(payload('ip', 'daddr'), { prefix: { addr: '127.0.0.0', len: 8 } }), DROP));
  cmds.push(rule('guard', notLo, match(payload('ip', 'saddr'), { prefix: { addr: '127.0.0.0', len: 8 } }), DROP));
  cmds.push(rule('guard', notLo, match(payload('ip6', 'daddr'), '::1'), DROP));
  cmds.push(rule('guard', notLo, match(payload('ip6', 'saddr'), '::1'), DROP));
  // DNAT of traffic to a local address: from other hosts and containers (prerouting), from the host (output)
  const local = match({ fib: { result: 'type', flags: ['daddr'] } }, 'local');
  cmds.push(rule('prerouting', local, { jump: { target: 'published' } }));
  cmds.push(rule('output', local, { jump: { target: 'published' } }));
  for (const k of PORT_KINDS) {
    const family = k.startsWith('dnat4') ? 'ip' : 'ip6';
    const key = concat(...(k.endsWith('any') ? l4key : [payload(family, 'daddr'), ...l4key]));
    cmds.push(rule('published', match(meta('nfproto'), family === 'ip' ? 'ipv4' : 'ipv6'), {
      dnat: { family, addr: { map: { key, data: `@${addrMap(k)}` } }, port: { map: { key, data: `@${portMap(k)}` } } },
    }));
  }
  // hairpin: a container reaching its own published port through the host is masqueraded, so
  // that its reply goes back through the host (after DNAT: source = destination = container)
  cmds.push(rule('postrouting', match(concat(payload('ip', 'saddr'), payload('ip', 'daddr'), ...l4key), '@hairpin4'), MASQ));
  cmds.push(rule('postrouting', match(concat(payload('ip6', 'saddr'), payload('ip6', 'daddr'), ...l4key), '@hairpin6'), MASQ));
  cmds.push(rule('postrouting', { vmap: { key: meta('oifname'), data: '@nat-in' } }));
  cmds.push(rule('postrouting', { vmap: { key: meta('iifname'), data: '@nat-out' } }));
  return cmds;
}

/** A network's chains (created, flushed, filled) and its map elements: idempotent. */
export function networkAdd(n: FwNetwork, cidrs: Cidr[]): NftCommand[] {
  const B = n.bridge;
  const [fwdIn, fwdOut, natIn, natOut] = netChains(B).map((c) => c.chain) as [string, string, string, string];
  const cmds: NftCommand[] = [];
  for (const c of [fwdIn, fwdOut, natIn, natOut]) cmds.push(chain(c), flushChain(c));
  const iif = (op: string) => match(meta('iifname'), B, op);
  const oif = (op: string) => match(meta('oifname'), B, op);
  // to the containers (oifname B)
  if (n.internal) cmds.push(rule(fwdIn, iif('!='), DROP));
  cmds.push(rule(fwdIn, match({ ct: { key: 'state' } }, ['established', 'related'], 'in'), ACCEPT));
  cmds.push(rule(fwdIn, iif('=='), n.icc ? ACCEPT : DROP));
  cmds.push(rule(fwdIn, match({ ct: { key: 'status' } }, 'dnat', 'in'), ACCEPT));
  cmds.push(rule(fwdIn, DROP));
  // from the containers to elsewhere (iifname B, oifname not B)
  cmds.push(rule(fwdOut, n.internal ? DROP : ACCEPT));
  // NAT: the host's loopback-sourced connections to a published port (route_localnet)
  cmds.push(rule(natIn, match(payload('ip', 'saddr'), { prefix: { addr: '127.0.0.0', len: 8 } }), MASQ));
  if (n.masquerade && !n.internal) {
    for (const fam of [4, 6] as const) {
      const mine = cidrs.filter((c) => c.family === fam);
      if (!mine.length) continue;
      const right = mine.length === 1 ? prefix(mine[0]!) : { set: mine.map(prefix) };
      cmds.push(rule(natOut, oif('!='), match(payload(fam === 4 ? 'ip' : 'ip6', 'saddr'), right), MASQ));
    }
  }
  for (const c of netChains(B)) cmds.push(add({ element: vmapElement(c.vmap, B, c.chain) }));
  return cmds;
}

function vmapElement(vmap: VmapName, bridge: string, target: string): Record<string, unknown> {
  return { ...T, name: vmap, elem: [[bridge, { jump: { target } }]] };
}

/** Removes a network's elements and chains; idempotent (each is created first, then deleted). */
export function networkRemove(bridge: string): NftCommand[] {
  const cmds: NftCommand[] = [];
  for (const c of netChains(bridge)) cmds.push(chain(c.chain), add({ element: vmapElement(c.vmap, bridge, c.chain) }));
  for (const c of netChains(bridge)) cmds.push({ delete: { element: vmapElement(c.vmap, bridge, c.chain) } });
  for (const c of netChains(bridge)) cmds.push(flushChain(c.chain), { delete: { chain: { ...T, name: c.chain } } });
  return cmds;
}

/** Deletes a chain (after its elements are gone): flush, then delete. */
export function chainRemove(name: string): NftCommand[] {
  return [flushChain(name), { delete: { chain: { ...T, name } } }];
}

export interface PortElem {
  kind: PortKind;
  key: unknown;
  addr: string;
  port: number;
  hairpinSet: 'hairpin4' | 'hairpin6';
  hairpin: unknown;
}

/** The elements of a validated port. */
export function portElem(family: 4 | 6, hostIp: string, proto: FwProto, hostPort: number, cIp: string, cPort: number): PortElem {
  const kind: PortKind = family === 4 ? (hostIp ? 'dnat4' : 'dnat4any') : (hostIp ? 'dnat6' : 'dnat6any');
  return {
    kind,
    key: hostIp ? concat(hostIp, proto, hostPort) : concat(proto, hostPort),
    addr: cIp,
    port: cPort,
    hairpinSet: family === 4 ? 'hairpin4' : 'hairpin6',
    hairpin: concat(cIp, cIp, proto, cPort),
  };
}

/** add/delete commands for elements grouped by map or set name. */
export function elements(verb: 'add' | 'delete', byName: Map<string, unknown[]>): NftCommand[] {
  const cmds: NftCommand[] = [];
  for (const [name, elem] of byName) if (elem.length) cmds.push({ [verb]: { element: { ...T, name, elem } } });
  return cmds;
}

/** Empties the berth maps and sets (reload). */
export function flushMaps(): NftCommand[] {
  return [
    ...[...VMAPS, ...PORT_KINDS.flatMap((k) => [addrMap(k), portMap(k)])].map((name) => ({ flush: { map: { ...T, name } } })),
    ...HAIRPIN_SETS.map((name) => ({ flush: { set: { ...T, name } } })),
  ];
}
