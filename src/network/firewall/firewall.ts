/**
 * berth's firewall: one nftables table (`inet berth`) that berth alone owns, changed through
 * `nft -j -f -` transactions (each call one atomic transaction, plus one listing where it must
 * read what is installed). See rules.ts for the layout and docs/firewall.md for how it coexists
 * with the host's firewall.
 */
import { checkNetwork, checkPort } from './types.js';
import type { FwListing, FwNetwork, FwPort, FwPortElement, FwProto, FwState } from './types.js';
import { listTable, NftError, transact } from './nft.js';
import type { NftCommand, NftOptions } from './nft.js';
import {
  FAMILY, TABLE, USER_CHAIN, PORT_KINDS, VMAPS, HAIRPIN_SETS, addrMap, portMap, baseRules, bridgeOfChain, chainRemove, elements,
  flushMaps, networkAdd, networkRemove, portElem, skeleton,
} from './rules.js';
import type { PortElem, PortKind } from './rules.js';

export type FirewallOptions = NftOptions;

/** RFC 5952 form of an address (the form nft prints), so that listed and wanted elements compare. */
function canonical(ip: string): string {
  if (!ip.includes(':')) return ip;
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

interface Wanted { port: FwPort; elem: PortElem }

function portsOf(op: string, ports: FwPort[]): Wanted[] {
  return ports.map((p) => {
    const { family, hostIp } = checkPort(op, p);
    const elem = portElem(family, hostIp ? canonical(hostIp) : '', p.proto, p.hostPort, canonical(p.containerIp), p.containerPort);
    return { port: p, elem };
  });
}

const keyOf = (x: unknown) => JSON.stringify(x);

function describePorts(ports: FwPort[]): string {
  if (ports.length === 1) { const p = ports[0]!; return `port ${p.hostIp || '*'}:${p.hostPort}/${p.proto}`; }
  return `${ports.length} ports`;
}

/** An installed table, read back. */
interface Installed {
  chains: Set<string>;
  /** map/set name -> element key (JSON) -> [key, data] as listed */
  elems: Map<string, Map<string, { key: unknown; data: unknown }>>;
  userRules: number;
}

function readInstalled(objs: NftCommand[]): Installed {
  const inst: Installed = { chains: new Set(), elems: new Map(), userRules: 0 };
  for (const o of objs) {
    if (o.chain) inst.chains.add((o.chain as { name: string }).name);
    if (o.rule && (o.rule as { chain: string }).chain === USER_CHAIN) inst.userRules++;
    const m = (o.map ?? o.set) as { name: string; elem?: unknown[] } | undefined;
    if (!m) continue;
    const byKey = new Map<string, { key: unknown; data: unknown }>();
    for (const e of m.elem ?? []) {
      // map elements are [key, data]; set elements are the key alone
      const [key, data] = o.map ? (e as [unknown, unknown]) : [e, undefined];
      byKey.set(keyOf(key), { key, data });
    }
    inst.elems.set(m.name, byKey);
  }
  return inst;
}

function group(items: { name: string; elem: unknown }[]): Map<string, unknown[]> {
  const by = new Map<string, unknown[]>();
  for (const { name, elem } of items) {
    const list = by.get(name) ?? [];
    list.push(elem);
    by.set(name, list);
  }
  return by;
}

/** The add commands for ports: one element per map key (the last one given wins) and the hairpin elements. */
function portAdds(wanted: Wanted[]): NftCommand[] {
  const byKey = new Map<string, PortElem>();
  for (const { elem } of wanted) byKey.set(`${elem.kind} ${keyOf(elem.key)}`, elem);
  const items: { name: string; elem: unknown }[] = [];
  const hairpin = new Map<string, { name: string; elem: unknown }>();
  for (const e of byKey.values()) {
    items.push({ name: addrMap(e.kind), elem: [e.key, e.addr] }, { name: portMap(e.kind), elem: [e.key, e.port] });
    hairpin.set(`${e.hairpinSet} ${keyOf(e.hairpin)}`, { name: e.hairpinSet, elem: e.hairpin });
  }
  return [...elements('add', group(items)), ...elements('add', group([...hairpin.values()]))];
}

/** The installed DNAT element of a key: its container address and port (either may be missing). */
function installedPort(inst: Installed | null, kind: PortKind, key: string): { key: unknown; addr?: unknown; port?: unknown } | undefined {
  const a = inst?.elems.get(addrMap(kind))?.get(key);
  const p = inst?.elems.get(portMap(kind))?.get(key);
  if (!a && !p) return undefined;
  return { key: (a ?? p)!.key, addr: a?.data, port: p?.data };
}

const concatItems = (x: unknown): unknown[] => ((x as { concat?: unknown[] })?.concat ?? [x]);

export class Firewall {
  private readonly opts: NftOptions;

  constructor(opts: FirewallOptions = {}) {
    this.opts = { ...opts };
  }

  /** Applies commands; when the table or its maps are missing (first use, or after the host's
   *  firewall flushed the ruleset), retries once with the table's skeleton and base rules first. */
  private async apply(op: string, object: string, cmds: NftCommand[]): Promise<void> {
    try {
      await transact(this.opts, op, object, cmds);
    } catch (err) {
      if (!(err instanceof NftError) || !err.missing) throw err;
      await transact(this.opts, op, object, [...skeleton(), ...baseRules(), ...cmds]);
    }
  }

  private async installed(op: string): Promise<Installed | null> {
    const objs = await listTable(this.opts, op, FAMILY, TABLE);
    return objs ? readInstalled(objs) : null;
  }

  /** Installs the table and its base chains (idempotent; the user chain keeps its rules). */
  async setup(): Promise<void> {
    await transact(this.opts, 'firewall setup', `table ${FAMILY} ${TABLE}`, [...skeleton(), ...baseRules()]);
  }

  /** Adds (or refreshes) a network's chains and map elements: one transaction touching only them. */
  async addNetwork(n: FwNetwork): Promise<void> {
    const op = 'firewall add network';
    const cidrs = checkNetwork(op, n);
    await this.apply(op, `${n.id} (${n.bridge})`, networkAdd(n, cidrs));
  }

  /** Removes a network's chains and map elements; idempotent. */
  async removeNetwork(n: Pick<FwNetwork, 'id' | 'bridge'>): Promise<void> {
    const op = 'firewall remove network';
    checkNetwork(op, { ...n, subnets: [], gateways: [], internal: false, icc: true, masquerade: false });
    const object = `${n.id} (${n.bridge})`;
    try {
      await transact(this.opts, op, object, networkRemove(n.bridge));
    } catch (err) {
      if (!(err instanceof NftError) || !err.missing) throw err;
      if (!(await this.installed(op))) return; // no table: nothing of berth's is installed
      await transact(this.opts, op, object, [...skeleton(), ...baseRules(), ...networkRemove(n.bridge)]);
    }
  }

  /** Publishes ports (a container's -p list) in one transaction; idempotent. An element with the
   *  same host address, protocol and port but another target (left by a dead container) is replaced. */
  async addPorts(ports: FwPort[]): Promise<void> {
    const op = 'firewall add ports';
    const wanted = portsOf(op, ports);
    if (!wanted.length) return;
    const object = describePorts(ports);
    const adds = portAdds(wanted);
    try {
      await this.apply(op, object, adds);
    } catch (err) {
      if (!(err instanceof NftError) || !err.busy) throw err;
      const inst = await this.installed(op);
      const stale: { name: string; elem: unknown }[] = [];
      for (const { elem } of wanted) {
        const have = installedPort(inst, elem.kind, keyOf(elem.key));
        if (have?.addr !== undefined && have.addr !== elem.addr) stale.push({ name: addrMap(elem.kind), elem: [have.key, have.addr] });
        if (have?.port !== undefined && have.port !== elem.port) stale.push({ name: portMap(elem.kind), elem: [have.key, have.port] });
      }
      if (!stale.length) throw err;
      await transact(this.opts, op, object, [...elements('delete', group(stale)), ...adds]);
    }
  }

  /** Unpublishes ports; idempotent. Only elements that still point at the given container address
   *  are deleted, and a hairpin element only when no remaining port needs it. */
  async removePorts(ports: FwPort[]): Promise<void> {
    const op = 'firewall remove ports';
    const wanted = portsOf(op, ports);
    if (!wanted.length) return;
    try {
      await this.removeListed(op, ports, wanted);
    } catch (err) {
      // another berth removed an element between the listing and the transaction: list again
      if (!(err instanceof NftError) || !err.missing) throw err;
      await this.removeListed(op, ports, wanted);
    }
  }

  private async removeListed(op: string, ports: FwPort[], wanted: Wanted[]): Promise<void> {
    const inst = await this.installed(op);
    if (!inst) return;
    const dels: { name: string; elem: unknown }[] = [];
    const gone = new Set<string>();
    for (const { elem } of wanted) {
      const id = `${elem.kind} ${keyOf(elem.key)}`;
      const have = installedPort(inst, elem.kind, keyOf(elem.key));
      if (!have || have.addr !== elem.addr || have.port !== elem.port || gone.has(id)) continue;
      gone.add(id);
      dels.push({ name: addrMap(elem.kind), elem: [have.key, have.addr] }, { name: portMap(elem.kind), elem: [have.key, have.port] });
    }
    // hairpin elements still needed by the ports that stay
    const needed = new Set<string>();
    for (const kind of PORT_KINDS) {
      for (const [k, { key, data }] of inst.elems.get(addrMap(kind)) ?? []) {
        if (gone.has(`${kind} ${k}`)) continue;
        const keyItems = concatItems(key);
        const port = inst.elems.get(portMap(kind))?.get(k)?.data;
        needed.add(keyOf({ concat: [data, data, keyItems[keyItems.length - 2], port] }));
      }
    }
    for (const { elem } of wanted) {
      const k = keyOf(elem.hairpin);
      if (needed.has(k) || !inst.elems.get(elem.hairpinSet)?.has(k)) continue;
      needed.add(k); // delete it once
      dels.push({ name: elem.hairpinSet, elem: elem.hairpin });
    }
    await transact(this.opts, op, describePorts(ports), elements('delete', group(dels)));
  }

  /** Rebuilds everything berth owns from the state, in one transaction: base chains, the networks'
   *  chains and elements, the ports; removes chains of networks no longer in the state. The user
   *  chain is created if missing and never flushed. Idempotent. */
  async reload(state: FwState): Promise<void> {
    const op = 'firewall reload';
    const nets = state.networks.map((n) => ({ n, cidrs: checkNetwork(op, n) }));
    const wanted = portsOf(op, state.ports);
    const inst = await this.installed(op);
    const keep = new Set(state.networks.map((n) => n.bridge));
    const stale = [...(inst?.chains ?? [])].filter((c) => {
      const b = bridgeOfChain(c);
      return b !== undefined && !keep.has(b);
    });
    const cmds: NftCommand[] = [
      ...skeleton(),
      ...flushMaps(),
      ...baseRules(),
      ...stale.flatMap(chainRemove),
      ...nets.flatMap(({ n, cidrs }) => networkAdd(n, cidrs)),
      ...portAdds(wanted),
    ];
    await transact(this.opts, op, `table ${FAMILY} ${TABLE}`, cmds);
  }

  /** Deletes berth's table, user chain included (for uninstalling berth). Idempotent. */
  async destroy(): Promise<void> {
    const op = 'firewall destroy';
    if (!(await this.installed(op))) return;
    await transact(this.opts, op, `table ${FAMILY} ${TABLE}`, [{ delete: { table: { family: FAMILY, name: TABLE } } }]);
  }

  /** What is installed: the networks' elements and chains, the published ports. */
  async list(): Promise<FwListing> {
    const inst = await this.installed('firewall list');
    if (!inst) return { table: false, bridges: [], chains: [], ports: [], hairpin: [], userRules: 0 };
    const bridges = new Set<string>();
    for (const v of VMAPS) for (const { key } of inst.elems.get(v)?.values() ?? []) bridges.add(String(key));
    const ports: FwPortElement[] = [];
    for (const kind of PORT_KINDS) {
      for (const [k, { key, data }] of inst.elems.get(addrMap(kind)) ?? []) {
        const items = concatItems(key);
        const any = kind.endsWith('any');
        ports.push({
          proto: items[any ? 0 : 1] as FwProto,
          hostIp: any ? '' : String(items[0]),
          hostPort: Number(items[any ? 1 : 2]),
          containerIp: String(data),
          containerPort: Number(inst.elems.get(portMap(kind))?.get(k)?.data),
        });
      }
    }
    const hairpin: string[] = [];
    for (const s of HAIRPIN_SETS) {
      for (const { key } of inst.elems.get(s)?.values() ?? []) {
        const [ip, , proto, port] = concatItems(key);
        hairpin.push(`${String(ip).includes(':') ? `[${ip}]` : ip}:${port}/${proto}`);
      }
    }
    return {
      table: true,
      bridges: [...bridges].sort(),
      chains: [...inst.chains].filter((c) => bridgeOfChain(c) !== undefined).sort(),
      ports,
      hairpin: hairpin.sort(),
      userRules: inst.userRules,
    };
  }
}
