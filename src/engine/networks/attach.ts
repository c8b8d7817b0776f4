/**
 * A container's networks while it runs: at start, lease addresses and host ports (one store
 * transaction), and compile the wiring steps the helper runs during the start itself; once it
 * runs, publish its ports and add its names to the embedded DNS tables; at its exit (or a failed
 * start), undo all of it. Everything undone is found from the store, so a killed CLI's leftovers
 * are undone by the next teardown of the container.
 */
import { existsSync, readFileSync } from 'node:fs';
import { BerthError, conflict } from '../../lib/index.js';
import { hostPortFree, netStep, runNetSteps } from '../../sys/index.js';
import {
  fwPorts, hostIfname, parseDnsConfig, portsView, startWiring,
  type DnsRecord, type EndpointState, type NetworkRecord, type PublishedPort, type Wiring,
} from '../../network/index.js';
import type { RunOptions } from '../spec/index.js';
import type { Container } from '../store/index.js';
import type { EngineCore } from '../containers/core.js';
import { parseResolvConf } from '../files/index.js';
import { ensurePredefined, networkEvent } from './records.js';
import { leaseFor } from './lease.js';
import { lockHeld } from '../containers/start-lock.js';
import { isRootless } from '../rootless/paths.js';
import type { ProxyPort } from '../../runtime/index.js';
import { rootlessJoin } from '../rootless/netns.js';

export interface NetworkStart {
  wiring: Wiring;
  /** Rootful: the host ports the monitor reserves (the firewall DNATs them to the container). */
  holdPorts: { proto: 'tcp' | 'udp' | 'sctp'; ip: string; port: number }[];
  /** Rootless: the host ports the monitor listens on and relays to the container (`port_proxy`). */
  proxyPorts: ProxyPort[];
  dnsConfig?: string;
  /** The container's addresses (for its /etc/hosts). */
  addresses: string[];
  /** Whether its resolv.conf names the embedded DNS server. */
  embeddedDns: boolean;
  /** The host's address seen from the container (`host-gateway`). */
  hostGateway?: string;
  links: { ip: string; names: string }[];
  ipv6: boolean;
  /** The published ports going into the firewall while the container starts (settled: never
   *  rejects; `publishError` tells). */
  published: Promise<void>;
  publishError?: unknown;
  /** Rootless: the user namespace the container joins (the rootless network namespace's, rootless/netns.ts). */
  userns?: string;
}

export function exposedPorts(c: Container, o: RunOptions): string[] {
  const cfg = c.config as { ExposedPorts?: Record<string, unknown> };
  return [...new Set([...Object.keys(cfg.ExposedPorts ?? {}), ...(o.expose ?? []), ...Object.keys(o.publish ?? {})])];
}

function ephemeralRange(): [number, number] {
  try {
    const [a, b] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (a && b && a <= b) return [a, b];
  } catch { /* default */ }
  return [49153, 65535];
}

const portTaken = (op: string, ip: string, port: number) =>
  conflict(op, `${op}: Bind for ${ip.includes(':') ? `[${ip}]` : ip || '0.0.0.0'}:${port} failed: port is already allocated`);

const portInUse = (op: string, ip: string, port: number, proto: string) =>
  conflict(op, `${op}: host port ${ip.includes(':') ? `[${ip}]` : ip || '0.0.0.0'}:${port}/${proto} is already in use by another process`);

/** Choose the host ports (inside the caller's transaction). */
export function allocatePorts(core: EngineCore, c: Container, o: RunOptions, op: string): PublishedPort[] {
  const nets = core.store.networks;
  const out: PublishedPort[] = [];
  const want: { key: string; HostIp: string; HostPort: string }[] = [];
  for (const [key, list] of Object.entries(o.publish ?? {})) for (const b of list) want.push({ key, ...b });
  if (o.publishAll) for (const key of exposedPorts(c, o)) if (!o.publish?.[key]) want.push({ key, HostIp: '', HostPort: '' });
  const [lo, hi] = ephemeralRange();
  for (const w of want) {
    const [cp, proto] = w.key.split('/') as [string, PublishedPort['proto']];
    const ip = w.HostIp === '0.0.0.0' || w.HostIp === '::' ? (w.HostIp === '::' ? '::' : '') : w.HostIp;
    let port = 0;
    const m = /^(\d+)(?:-(\d+))?$/.exec(w.HostPort);
    const free = (p: number) => !nets.portHolder(proto, ip, p) && !out.some((x) => x.proto === proto && x.hostPort === p);
    // a port berth chooses is also one no other process of the machine holds now (another data
    // root's containers, a host server), as moby retries its choice when the bind fails
    const bindable = (p: number) => hostPortFree(proto, ip, p);
    if (!m) {
      const used = nets.usedHostPorts(proto);
      for (let p = lo; p <= hi; p++) if (!used.has(p) && free(p) && bindable(p)) { port = p; break; }
      if (!port) throw conflict(op, `${op}: no free host port in ${lo}-${hi} for ${w.key}`);
    } else if (m[2] !== undefined) {
      for (let p = Number(m[1]); p <= Number(m[2]); p++) if (free(p) && bindable(p)) { port = p; break; }
      if (!port) throw portTaken(op, ip, Number(m[1]));
    } else {
      port = Number(m[1]);
      if (!free(port)) throw portTaken(op, ip, port);
      // rootless: pasta binds what it can and says nothing of the rest; refused here instead
      if (isRootless() && !bindable(port)) throw portInUse(op, ip, port, proto);
    }
    const p: PublishedPort = { proto, hostIp: ip, hostPort: port, containerPort: Number(cp) };
    nets.addPort(c.id, p);
    out.push(p);
  }
  return out;
}

/**
 * Leases and ports of containers that are not running and not being started (a start killed
 * between its lease and its launch leaves them): released, so their addresses and host ports
 * serve again.
 */
export async function reclaimStale(core: EngineCore, self: string, nets: NetworkRecord[]): Promise<void> {
  const ids = new Set(core.store.networks.holders());
  for (const n of nets) for (const e of core.store.networks.endpointsOn(n.id)) if (e.state) ids.add(e.containerId);
  for (const id of ids) {
    if (id === self) continue;
    const other = core.store.containers.find(id);
    if (other && ['running', 'paused', 'restarting', 'removing'].includes(other.state.status)) continue;
    if (other && lockHeld(core, id)) continue;
    await releaseNetworks(core, { id });
  }
}

/** Lease, choose ports and compile the wiring of a container about to start. */
export async function prepareNetworks(core: EngineCore, c: Container, o: RunOptions, op: string): Promise<NetworkStart | undefined> {
  const eps = core.store.networks.endpointsOf(c.id);
  if (!eps.length) return undefined;
  ensurePredefined(core);
  const room = core.network;
  const recs = eps.map((e) => core.store.networks.get(e.networkId, op));
  for (const n of recs) if (!room.isUp(n)) await room.up(n, op);
  await reclaimStale(core, c.id, recs);
  const states: EndpointState[] = [];
  let ports: PublishedPort[] = [];
  core.store.tx(() => {
    core.store.networks.release(c.id);
    eps.forEach((e, i) => states.push(leaseFor(core, c.id, recs[i]!, e.request, i, hostIfname(c.id, i), op)));
    ports = allocatePorts(core, c, o, op);
  });
  const wiring: Wiring = { parent: [], child: [] };
  let routed = false;
  recs.forEach((net, i) => {
    const st = states[i]!;
    const route = !routed && !net.internal && !!(st.gateway4 || st.gateway6);
    if (route) routed = true;
    const w = startWiring(net, st, route);
    wiring.parent.push(...w.parent);
    wiring.child.push(...w.child);
  });
  // rootless: the monitor enters the rootless network namespace, where the bridges are
  let userns: string | undefined;
  const rootless = isRootless();
  if (rootless) { // (what a rootless user network cannot have was refused at create: plan.ts)
    // --userns keep-id: a user namespace of its own, inside the rootless network namespace's
    const nested = o.userns === 'keep-id';
    const j = await rootlessJoin(core.options.runRoot, op, nested);
    wiring.pre = j.pre;
    if (nested) wiring.parentUserns = true;
    else userns = j.userns;
  }
  const user = recs.map((n, i) => ({ n, i })).filter(({ n }) => !n.isDefault);
  let dnsConfig: string | undefined;
  if (user.length) dnsConfig = room.writeDnsConf(c.id, upstreams(core, o), user.map(({ n }) => n.id));
  const first = states[0]!;
  // the rules can be in place before the container runs: their nft transaction overlaps the launch
  const gwIdx = states.findIndex((st) => st.ipv4 || st.ipv6);
  const out: Partial<NetworkStart> = {};
  // rootless: no rule of the rootless network namespace can catch the host's packets; the monitor
  // listens on the host ports itself and relays to the container (port_proxy)
  out.published = ports.length && gwIdx >= 0 && !rootless
    ? room.publish(fwPorts(recs[gwIdx]!.id, states[gwIdx]!.ipv4, states[gwIdx]!.ipv6, ports)).catch((e: unknown) => { out.publishError = e; })
    : Promise.resolve();
  return Object.assign(out, {
    wiring,
    holdPorts: rootless ? [] : ports.map((p) => ({ proto: p.proto, ip: p.hostIp, port: p.hostPort })),
    proxyPorts: rootless ? proxyPorts(ports, states[gwIdx], op) : [],
    dnsConfig,
    addresses: states.flatMap((s) => [s.ipv4, s.ipv6].filter((x): x is string => !!x)),
    embeddedDns: user.length > 0,
    hostGateway: first.gateway4,
    links: linkRecords(core, recs, o),
    ipv6: recs.some((n) => n.ipv6),
    userns,
  }) as NetworkStart;
}

/**
 * A rootless container's published ports as the monitor's relays: from the host port to the
 * container's address on its first network with one (IPv6 for a host address of IPv6 when it has
 * one). TCP and UDP only, as pasta (rootless/network.ts pastaPorts).
 */
export function proxyPorts(ports: PublishedPort[], st: EndpointState | undefined, op: string): ProxyPort[] {
  const out: ProxyPort[] = [];
  for (const p of ports) {
    if (p.proto !== 'tcp' && p.proto !== 'udp') throw new BerthError({ kind: 'usage', op, message: `${op}: -p ${p.containerPort}/${p.proto}: rootless berth forwards tcp and udp only` });
    const target = (p.hostIp.includes(':') && st?.ipv6) || st?.ipv4 || st?.ipv6;
    if (!target) throw new BerthError({ kind: 'usage', op, message: `${op}: -p ${p.containerPort}/${p.proto}: the container has no address to forward the host port to` });
    out.push({ proto: p.proto, ip: p.hostIp, port: p.hostPort, targetIp: target, targetPort: p.containerPort });
  }
  return out;
}

/** `--link name[:alias]` on the default bridge: the linked container's address under its names. */
function linkRecords(core: EngineCore, recs: NetworkRecord[], o: RunOptions): { ip: string; names: string }[] {
  const out: { ip: string; names: string }[] = [];
  const bridge = recs.find((n) => n.isDefault);
  if (!bridge) return out;
  for (const l of o.links ?? []) {
    const [name, alias] = l.split(':') as [string, string?];
    const other = core.store.containers.find(name);
    if (!other) continue;
    const st = core.store.networks.endpointsOf(other.id).find((e) => e.networkId === bridge.id)?.state;
    if (!st?.ipv4) continue;
    const names = [alias, other.name, other.id.slice(0, 12)].filter((x, i, a): x is string => !!x && a.indexOf(x) === i);
    out.push({ ip: st.ipv4, names: names.join(' ') });
  }
  return out;
}

/** Where the embedded DNS forwards: `--dns` servers, else the host's nameservers (loopback ones too:
 *  the monitor asks them from the host's network namespace). */
function upstreams(core: EngineCore, o: RunOptions): string[] {
  if (o.dns?.length) return o.dns;
  try {
    return parseResolvConf(readFileSync(core.options.resolvConf, 'utf8')).nameservers;
  } catch {
    return [];
  }
}

/** After the start: the published ports are in the firewall; the names go into the DNS tables. */
export async function commitNetworks(core: EngineCore, c: Container, net: NetworkStart): Promise<void> {
  await net.published;
  if (net.publishError) throw net.publishError;
  for (const e of core.store.networks.endpointsOf(c.id)) {
    refreshDnsTable(core, e.networkId);
    // Docker's connect event of each network at the start (its disconnect at the exit: releaseNetworks)
    const n = core.store.networks.find(e.networkId);
    if (n) networkEvent(core, 'connect', n, { container: c.id });
  }
}

/** Undo everything of a container's networks (idempotent): rules, DNS entries, leases, ports. */
export async function releaseNetworks(core: EngineCore, c: { id: string }): Promise<void> {
  const nets = core.store.networks;
  const eps = nets.endpointsOf(c.id);
  const ports = nets.portsOf(c.id);
  if (!eps.some((e) => e.state) && !ports.length) return;
  const gw = eps.find((e) => e.state?.ipv4 || e.state?.ipv6);
  if (gw && ports.length) await core.network.unpublish(fwPorts(gw.networkId, gw.state!.ipv4, gw.state!.ipv6, ports));
  core.store.tx(() => nets.release(c.id));
  for (const e of eps) {
    refreshDnsTable(core, e.networkId);
    const n = e.state ? nets.find(e.networkId) : undefined;
    if (n) networkEvent(core, 'disconnect', n, { container: c.id });
  }
  core.network.removeDnsConf(c.id);
  await deleteHostLinks(eps.map((e) => e.state?.hostIfname).filter((h): h is string => !!h));
}

/**
 * A veth's host end goes with the container's network namespace, but the kernel tears namespaces
 * down later, in a work queue (seconds on a busy machine): the ends still there are deleted now, so
 * that once a container is gone its links are too. /proc/self/net/dev lists this network
 * namespace's links (/sys/class/net shows the namespace sysfs was mounted in).
 */
async function deleteHostLinks(names: string[]): Promise<void> {
  if (!names.length) return;
  let dev = '';
  try { dev = readFileSync('/proc/self/net/dev', 'utf8'); } catch { return; }
  const present = new Set(dev.split('\n').map((l) => l.split(':')[0]!.trim()));
  const left = names.filter((n) => present.has(n));
  if (left.length) await runNetSteps(left.map((n) => netStep.del(n)), 'release the container\'s links').catch(() => undefined);
}

/** Names on a network for its embedded DNS: name, aliases, short id of each running member. */
export function refreshDnsTable(core: EngineCore, networkId: string): void {
  const net = core.store.networks.find(networkId);
  if (!net || net.isDefault || net.driver === 'host' || net.driver === 'null') return;
  const records: DnsRecord[] = [];
  for (const e of core.store.networks.endpointsOn(networkId)) {
    if (!e.state) continue;
    const c = core.store.containers.find(e.containerId);
    if (!c) continue;
    // `name.network` first: the monitor answers an address's PTR query with its first name
    const names = [`${c.name}.${net.name}`, ...dnsNames(c, e.request.aliases ?? [])];
    for (const name of names) {
      if (e.state.ipv4) records.push({ name, address: e.state.ipv4 });
      if (e.state.ipv6) records.push({ name, address: e.state.ipv6 });
    }
  }
  core.network.writeDnsTable(networkId, records);
}

/** A running container's DNS configuration after it joined or left a network: the tables of its
 *  user-defined networks now, the upstream servers it started with. */
export function rewriteDnsConf(core: EngineCore, id: string): void {
  const path = core.network.dnsConf(id);
  if (!existsSync(path)) return; // started without the embedded DNS (no user-defined network then)
  const { upstreams } = parseDnsConfig(readFileSync(path, 'utf8'));
  const user = core.store.networks.endpointsOf(id).map((e) => core.store.networks.find(e.networkId)).filter((x) => x && !x.isDefault);
  core.network.writeDnsConf(id, upstreams, user.map((x) => x!.id));
}

/** Docker's DNSNames: the container's name, its aliases on the network, its short id. */
export function dnsNames(c: Container, aliases: string[]): string[] {
  return [...new Set([c.name, ...aliases, c.id.slice(0, 12)])];
}

/** NetworkSettings.Ports of a container. */
export function containerPortsView(core: EngineCore, c: Container, o: RunOptions): Record<string, { HostIp: string; HostPort: string }[] | null> {
  return portsView(exposedPorts(c, o), core.store.networks.portsOf(c.id));
}

