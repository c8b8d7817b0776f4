/** An endpoint's addresses: the requested ones (checked) or the lowest free ones of its pools. */
import { BerthError, conflict } from '../../lib/index.js';
import { allocateAddress, canonical, inPool, parsePrefix, poolFamily, type EndpointRequest, type EndpointState, type NetworkRecord } from '../../network/index.js';
import type { EngineCore } from '../containers/core.js';

function lease(core: EngineCore, cid: string, net: NetworkRecord, family: 4 | 6, requested: string | undefined, op: string): { ip: string; prefix: number; gateway?: string } | undefined {
  const pool = net.ipam.find((p) => poolFamily(p) === family);
  if (!pool) return undefined;
  const nets = core.store.networks;
  let ip: string | undefined;
  if (requested) {
    ip = canonical(requested);
    if (!inPool(pool, ip)) throw new BerthError({ kind: 'invalid', op, message: `${op}: no configured subnet or ip-range contain the IP address ${requested}` });
    const holder = nets.leaseHolder(net.id, ip);
    if (holder && holder !== cid) throw conflict(op, `${op}: Address already in use`);
  } else {
    ip = allocateAddress(pool, nets.leasedOn(net.id));
    if (!ip) throw conflict(op, `${op}: no available IPv${family} addresses on network ${net.name}`);
  }
  nets.lease(net.id, ip, cid);
  return { ip, prefix: parsePrefix(pool.Subnet)!.bits, gateway: pool.Gateway };
}

/** MAC of an IPv4 address as Docker derived them (02:42 + the address), else from the id. */
function macFor(ip4: string | undefined, seed: string): string {
  if (ip4) return ['02', '42', ...ip4.split('.').map((b) => Number(b).toString(16).padStart(2, '0'))].join(':');
  return ['02', '42', ...[0, 2, 4, 6].map((i) => seed.slice(i, i + 2))].join(':');
}

/** Lease the endpoint's addresses and record its state (inside the caller's transaction). */
export function leaseFor(core: EngineCore, cid: string, net: NetworkRecord, req: EndpointRequest, slot: number, hostIf: string, op: string): EndpointState {
  const v4 = lease(core, cid, net, 4, req.ipv4, op);
  const v6 = net.ipv6 ? lease(core, cid, net, 6, req.ipv6, op) : undefined;
  const st: EndpointState = {
    ifname: `eth${slot}`, hostIfname: hostIf, mac: req.mac ?? macFor(v4?.ip, cid.slice(12)),
    ipv4: v4?.ip, ipv4Prefix: v4?.prefix, gateway4: v4?.gateway,
    ipv6: v6?.ip, ipv6Prefix: v6?.prefix, gateway6: v6?.gateway,
  };
  core.store.networks.setEndpointState(cid, net.id, st);
  return st;
}
