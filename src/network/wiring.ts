/**
 * The helper steps that wire networks: a bridge on the host, and a container's interface on it
 * (veth pair, or macvlan on a parent link) with its addresses and default route. At a container's
 * start the `parent` steps run in the helper parent after the clone and the `child` steps in the
 * container's fresh network namespace, so a start costs no process of its own; `connect` and
 * `disconnect` on a running container run the same steps standalone (`berth-helper net`).
 */
import { netStep, type NetSteps, type Step } from '../sys/index.js';
import { parsePrefix } from './addr.js';
import type { EndpointState, NetworkRecord } from './types.js';
import { BRIDGE_OPT } from './types.js';

export type Wiring = NetSteps;

export function mtuOf(net: NetworkRecord): number {
  return Number(net.options[BRIDGE_OPT.mtu] ?? 0) || 0;
}

/** The host end of a container's veth: `vb` + 10 hex of its id + its slot (≤ 15 bytes). */
export function hostIfname(containerId: string, slot: number): string {
  return `vb${containerId.slice(0, 10)}${slot.toString(36)}`;
}

/** The bridge itself (an existing one is kept). */
export function bridgeSteps(net: NetworkRecord): Step[] {
  return [netStep.bridge(net.iface, { mtu: mtuOf(net) })];
}

/** Its gateway addresses, one per step (an address already there is EEXIST: the caller skips it). */
export function gatewaySteps(net: NetworkRecord): Step[] {
  return net.ipam.filter((p) => p.Gateway).map((p) => netStep.addr(net.iface, `${p.Gateway}/${parsePrefix(p.Subnet)!.bits}`));
}

/** Forwarding, and published ports on 127.0.0.1 through the bridge. */
export function sysctlSteps(net: NetworkRecord): Step[] {
  const out = [
    netStep.sysctl('net.ipv4.ip_forward', 1),
    netStep.sysctl(`net/ipv4/conf/${net.iface}/route_localnet`, 1),
  ];
  if (net.ipv6) out.push(netStep.sysctl('net.ipv6.conf.all.forwarding', 1));
  return out;
}

export function bridgeDownSteps(net: NetworkRecord): Step[] {
  return [netStep.del(net.iface)];
}

/** Addresses, MAC, link up and the default route of an interface in the container's namespace. */
function inside(ep: EndpointState, defaultRoute: boolean): Step[] {
  const i = ep.ifname;
  const out: Step[] = [netStep.mac(i, ep.mac)];
  if (ep.ipv4) out.push(netStep.addr(i, `${ep.ipv4}/${ep.ipv4Prefix}`));
  if (ep.ipv6) out.push(netStep.addr(i, `${ep.ipv6}/${ep.ipv6Prefix}`));
  out.push(netStep.up(i));
  if (defaultRoute && ep.gateway4) out.push(netStep.route('default', ep.gateway4, i));
  if (defaultRoute && ep.gateway6) out.push(netStep.route('default', ep.gateway6, i));
  return out;
}

/** Create the container's interface: a veth on the bridge, or a macvlan/ipvlan on the parent, in `ns`. */
function outside(net: NetworkRecord, ep: EndpointState, ns: string): Step[] {
  const mtu = mtuOf(net);
  if (net.driver === 'macvlan') {
    const mode = (net.options.macvlan_mode ?? 'bridge') as 'bridge';
    return [netStep.macvlan(ep.ifname, net.iface, mode, ns, mtu)];
  }
  if (net.driver === 'ipvlan') return [netStep.ipvlan(ep.ifname, net.iface, (net.options.ipvlan_mode ?? 'l2') as 'l2', ns)];
  const h = ep.hostIfname;
  return [netStep.veth(h, ep.ifname, ns, mtu), netStep.master(h, net.iface), netStep.hairpin(h, true), netStep.up(h)];
}

/** At a container's start: parent steps (host side) and child steps (inside its new netns). */
export function startWiring(net: NetworkRecord, ep: EndpointState, defaultRoute: boolean): Wiring {
  return { parent: outside(net, ep, 'child'), child: inside(ep, defaultRoute) };
}

/** `network connect` of a running container whose network namespace is `nsPath`. */
export function connectSteps(net: NetworkRecord, ep: EndpointState, nsPath: string, defaultRoute: boolean): Step[] {
  return [...outside(net, ep, nsPath), netStep.netns(nsPath), ...inside(ep, defaultRoute), netStep.netns('self')];
}

/** `network disconnect`: delete the container's interface (a veth's host end goes with it). */
export function disconnectSteps(ep: EndpointState, nsPath: string): Step[] {
  return [netStep.netns(nsPath), netStep.del(ep.ifname), netStep.netns('self')];
}
