/** The network room's records: networks (Docker's network resource) and a container's endpoints. */

export type Driver = 'bridge' | 'macvlan' | 'ipvlan' | 'host' | 'null';

export interface IpamPool {
  Subnet: string;
  Gateway?: string;
  IPRange?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface NetworkRecord {
  id: string;
  name: string;
  driver: Driver;
  created: string;
  ipv6: boolean;
  internal: boolean;
  attachable: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  ipam: IpamPool[];
  /** The bridge interface (bridge driver), or the parent link (macvlan). */
  iface: string;
  /** The default bridge (`bridge`): links, no DNS, the host's resolv.conf. */
  isDefault: boolean;
}

/** What a container asked for on one network (`--network`, `--ip`, `--network-alias`, …). */
export interface EndpointRequest {
  aliases?: string[];
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  links?: string[];
  driverOpts?: Record<string, string>;
}

/** An endpoint while its container runs: the lease and the interfaces. */
export interface EndpointState {
  ifname: string;
  hostIfname: string;
  ipv4?: string;
  ipv4Prefix?: number;
  ipv6?: string;
  ipv6Prefix?: number;
  gateway4?: string;
  gateway6?: string;
  mac: string;
}

export interface Endpoint {
  containerId: string;
  networkId: string;
  request: EndpointRequest;
  state?: EndpointState;
}

export const BRIDGE_OPT = {
  name: 'com.docker.network.bridge.name',
  mtu: 'com.docker.network.driver.mtu',
  icc: 'com.docker.network.bridge.enable_icc',
  masquerade: 'com.docker.network.bridge.enable_ip_masquerade',
  hostBinding: 'com.docker.network.bridge.host_binding_ipv4',
  defaultBridge: 'com.docker.network.bridge.default_bridge',
} as const;

export const DEFAULT_BRIDGE_IFACE = 'berth0';
export const DNS_ADDRESS = '127.0.0.11';
