/**
 * The helper steps that wire networks: a bridge on the host, and a container's interface on it
 * (veth pair, or macvlan on a parent link) with its addresses and default route. At a container's
 * start the `parent` steps run in the helper parent after the clone and the `child` steps in the
 * container's fresh network namespace, so a start costs no process of its own; `connect` and
 * `disconnect` on a running container run the same steps standalone (`berth-helper net`).
 */
import { step, type Step } from '../sys/index.js';
import { parsePrefix } from './addr.js';
import type { EndpointState, NetworkRecord } from './types.js';
import { BRIDGE_OPT } from './types.js';

export interface Wiring { parent: Step[]; child: Step[] }

export function mtuOf(net: NetworkRecord): number {
  return Number(net.options[BRIDGE_OPT.mtu] ?? 0) || 0;
}

/** The host end of a container's veth: `vb` + 10 hex of its id + its slot (≤ 15 bytes). */
export function hostIfname(containerId: string, slot: number): string {
  return `vb${containerId.slice(0, 10)}${slot.toString(36)}`;
}

/** Steps that make a bridge network's bridge, its gateway addresses and its sysctls (idempotent). */
export function bridgeUpSteps(net: NetworkRecord): Step[] {
  const br = net.iface;
  const out: Step[] = [step('link_bridge', [br, mtuOf(net), ''], `create bridge ${br}`, br)];
  for (const pool of net.ipam) {
    if (!pool.Gateway) continue;
    const bits = parsePrefix(pool.Subnet)!.bits;
    out.push(step('addr_add', [br, `${pool.Gateway}/${bits}`], `add address ${pool.Gateway}/${bits} to ${br}`, br));
  }
  out.push(step('link_up', [br], `bring up ${br}`, br));
  out.push(step('sysctl', ['net/ipv4/ip_forward', '1'], 'enable IPv4 forwarding', 'net.ipv4.ip_forward'));
  out.push(step('sysctl', [`net/ipv4/conf/${br}/route_localnet`, '1'], `allow published ports on 127.0.0.1 through ${br}`, `net.ipv4.conf.${br}.route_localnet`));
  if (net.ipv6) {
    out.push(step('sysctl', ['net/ipv6/conf/all/forwarding', '1'], 'enable IPv6 forwarding', 'net.ipv6.conf.all.forwarding'));
  }
  return out;
}

export function bridgeDownSteps(net: NetworkRecord): Step[] {
  return [step('link_del', [net.iface], `delete bridge ${net.iface}`, net.iface)];
}

/** Addresses, MAC, link up and the default route of an interface in the container's namespace. */
function inside(ep: EndpointState, defaultRoute: boolean): Step[] {
  const i = ep.ifname;
  const out: Step[] = [step('link_mac', [i, ep.mac], `set ${i}'s MAC address to ${ep.mac}`, i)];
  if (ep.ipv4) out.push(step('addr_add', [i, `${ep.ipv4}/${ep.ipv4Prefix}`], `add address ${ep.ipv4}/${ep.ipv4Prefix} to ${i}`, i));
  if (ep.ipv6) out.push(step('addr_add', [i, `${ep.ipv6}/${ep.ipv6Prefix}`], `add address ${ep.ipv6}/${ep.ipv6Prefix} to ${i}`, i));
  out.push(step('link_up', [i], `bring up ${i}`, i));
  if (defaultRoute && ep.gateway4) out.push(step('route_add', ['default', ep.gateway4, i], `add default route via ${ep.gateway4}`, i));
  if (defaultRoute && ep.gateway6) out.push(step('route_add', ['default', ep.gateway6, i], `add default route via ${ep.gateway6}`, i));
  return out;
}

/** Create the container's end: a veth on the bridge, or a macvlan on the parent link, in `ns`. */
function outside(net: NetworkRecord, ep: EndpointState, ns: string): { steps: Step[]; tmpName?: string } {
  const mtu = mtuOf(net);
  if (net.driver === 'macvlan') {
    const mode = net.options.macvlan_mode ?? 'bridge';
    return {
      steps: [step('link_macvlan', [ep.hostIfname, net.iface, mode, ns, mtu], `create macvlan ${ep.hostIfname} on ${net.iface}`, net.iface)],
      tmpName: ep.hostIfname,
    };
  }
  if (net.driver === 'ipvlan') {
    const mode = net.options.ipvlan_mode ?? 'l2';
    return {
      steps: [step('link_ipvlan', [ep.hostIfname, net.iface, mode, ns], `create ipvlan ${ep.hostIfname} on ${net.iface}`, net.iface)],
      tmpName: ep.hostIfname,
    };
  }
  const h = ep.hostIfname;
  return {
    steps: [
      step('link_veth', [h, ep.ifname, ns, mtu], `create veth pair ${h} / ${ep.ifname}`, h),
      step('link_master', [h, net.iface], `attach ${h} to bridge ${net.iface}`, h),
      step('link_hairpin', [h, 1], `set hairpin mode on ${h}`, h),
      step('link_up', [h], `bring up ${h}`, h),
    ],
  };
}

/** At a container's start: parent steps (host side) and child steps (inside its new netns). */
export function startWiring(net: NetworkRecord, ep: EndpointState, defaultRoute: boolean): Wiring {
  const o = outside(net, ep, 'child');
  const child = o.tmpName ? [step('link_rename', [o.tmpName, ep.ifname], `rename ${o.tmpName} to ${ep.ifname}`, o.tmpName)] : [];
  child.push(...inside(ep, defaultRoute));
  return { parent: o.steps, child };
}

/** `network connect` of a running container whose network namespace is `nsPath`. */
export function connectSteps(net: NetworkRecord, ep: EndpointState, nsPath: string, defaultRoute: boolean): Step[] {
  const o = outside(net, ep, nsPath);
  const out = [...o.steps, step('netns', [nsPath], 'enter the container\'s network namespace', nsPath)];
  if (o.tmpName) out.push(step('link_rename', [o.tmpName, ep.ifname], `rename ${o.tmpName} to ${ep.ifname}`, o.tmpName));
  out.push(...inside(ep, defaultRoute), step('netns', ['self'], 'return to the host network namespace'));
  return out;
}

/** `network disconnect`: delete the container's interface (a veth's host end goes with it). */
export function disconnectSteps(ep: EndpointState, nsPath: string): Step[] {
  return [
    step('netns', [nsPath], 'enter the container\'s network namespace', nsPath),
    step('link_del', [ep.ifname], `delete ${ep.ifname}`, ep.ifname),
    step('netns', ['self'], 'return to the host network namespace'),
  ];
}

/** After an exit: a host end left behind (the container's namespace outlived by a joiner). */
export function cleanupSteps(ep: EndpointState): Step[] {
  return [step('link_del', [ep.hostIfname], `delete ${ep.hostIfname}`, ep.hostIfname)];
}
