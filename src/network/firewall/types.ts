/** The firewall's input: the networks and published ports berth's state says must exist. */
import { isIP } from 'node:net';
import { BerthError } from '../../lib/index.js';

export interface FwNetwork {
  /** the network's id (for messages; chains and map elements are keyed by the bridge name) */
  id: string;
  /** the bridge device, unique on the host (≤ 15 characters) */
  bridge: string;
  /** the network's IPv4 and/or IPv6 subnets, as CIDRs */
  subnets: string[];
  /** the bridge's addresses (informational: the firewall does not need them) */
  gateways: string[];
  /** no route in or out: anything entering or leaving the bridge, except within it, is dropped */
  internal: boolean;
  /** inter-container traffic on the same bridge is accepted (Docker's enable_icc) */
  icc: boolean;
  /** traffic from the subnets leaving by another interface is masqueraded (Docker's enable_ip_masquerade) */
  masquerade: boolean;
}

export type FwProto = 'tcp' | 'udp' | 'sctp';

export interface FwPort {
  /** the network the container address belongs to */
  netId: string;
  proto: FwProto;
  /** '' = every local address of the container address's family; '0.0.0.0' and '::' mean the same */
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

export interface FwState {
  networks: FwNetwork[];
  ports: FwPort[];
}

/** A published port as installed (list()): the map element, without the network id. */
export interface FwPortElement {
  proto: FwProto;
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

export interface FwListing {
  /** the table exists */
  table: boolean;
  /** bridges with elements in the forward/NAT jump maps */
  bridges: string[];
  /** the per-network chains present (`fwd-in-<bridge>`, …) */
  chains: string[];
  /** published ports in the DNAT maps */
  ports: FwPortElement[];
  /** hairpin masquerade elements (container address, protocol, container port) */
  hairpin: string[];
  /** rules in the user chain (berth never touches them) */
  userRules: number;
}

export interface Cidr { family: 4 | 6; addr: string; len: number }

const BRIDGE_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const PROTOS = new Set(['tcp', 'udp', 'sctp']);

function invalid(op: string, object: string, cause: string): BerthError {
  return new BerthError({ kind: 'invalid', op, message: `${op} ${object}: ${cause}` });
}

export function parseCidr(op: string, s: string): Cidr {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  const fam = m ? isIP(m[1]!) : 0;
  const len = m ? Number(m[2]) : -1;
  if (!m || !fam || len > (fam === 4 ? 32 : 128)) throw invalid(op, s, 'not a subnet (CIDR)');
  return { family: fam as 4 | 6, addr: m[1]!, len };
}

export function checkNetwork(op: string, n: FwNetwork): Cidr[] {
  if (!BRIDGE_RE.test(n.bridge) || n.bridge === 'lo') throw invalid(op, `network ${n.id}`, `bad bridge name ${JSON.stringify(n.bridge)}`);
  return n.subnets.map((s) => parseCidr(op, s));
}

/** The family of a port's addresses (4 or 6) and its host address ('' for all). */
export function checkPort(op: string, p: FwPort): { family: 4 | 6; hostIp: string } {
  const what = `port ${p.hostIp || '*'}:${p.hostPort}/${p.proto}`;
  if (!PROTOS.has(p.proto)) throw invalid(op, what, `unknown protocol ${JSON.stringify(p.proto)}`);
  for (const n of [p.hostPort, p.containerPort]) {
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw invalid(op, what, `bad port number ${n}`);
  }
  const family = isIP(p.containerIp);
  if (!family) throw invalid(op, what, `bad container address ${JSON.stringify(p.containerIp)}`);
  const hostIp = p.hostIp === '0.0.0.0' || p.hostIp === '::' ? '' : p.hostIp;
  if (hostIp && isIP(hostIp) !== family) {
    throw invalid(op, what, `host address ${hostIp} and container address ${p.containerIp} are of different families`);
  }
  return { family: family as 4 | 6, hostIp };
}
