/** Docker's shapes: `network inspect` (NetworkResource) and a container's NetworkSettings. */
import type { NetworkRecord } from '../../network/index.js';
import type { RunOptions } from '../spec/index.js';
import type { Container } from '../store/index.js';
import type { EngineCore } from '../containers/core.js';
import { containerPortsView, dnsNames } from './attach.js';

const DRIVER_NAME: Record<string, string> = { null: 'null', host: 'host', bridge: 'bridge', macvlan: 'macvlan', ipvlan: 'ipvlan' };

export function networkResource(core: EngineCore, n: NetworkRecord, verbose = true): Record<string, unknown> {
  const containers: Record<string, unknown> = {};
  if (verbose) {
    for (const e of core.store.networks.endpointsOn(n.id)) {
      if (!e.state) continue;
      const c = core.store.containers.find(e.containerId);
      if (!c) continue;
      containers[c.id] = {
        Name: c.name, EndpointID: endpointId(c.id, n.id), MacAddress: e.state.mac,
        IPv4Address: e.state.ipv4 ? `${e.state.ipv4}/${e.state.ipv4Prefix}` : '',
        IPv6Address: e.state.ipv6 ? `${e.state.ipv6}/${e.state.ipv6Prefix}` : '',
      };
    }
  }
  return {
    Name: n.name, Id: n.id, Created: n.created, Scope: 'local', Driver: DRIVER_NAME[n.driver] ?? n.driver,
    EnableIPv4: n.driver !== 'null' && n.driver !== 'host', EnableIPv6: n.ipv6,
    IPAM: { Driver: 'default', Options: null, Config: n.ipam.map((p) => ({ ...p })) },
    Internal: n.internal, Attachable: n.attachable, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
    Containers: containers, Options: n.options, Labels: n.labels,
  };
}

/** A stable endpoint id: the container and network ids hashed together, as 64 hex. */
export function endpointId(containerId: string, networkId: string): string {
  let out = '';
  for (let i = 0; i < 64; i++) out += (parseInt(containerId[i]!, 16) ^ parseInt(networkId[63 - i]!, 16)).toString(16);
  return out;
}

/** Networks looked up once for a whole listing (by id or name). */
export type NetworkMemo = Map<string, NetworkRecord | undefined>;

export function networkSettings(core: EngineCore, c: Container, o: RunOptions, memo?: NetworkMemo): Record<string, unknown> {
  // a listing of many containers looks up the same few networks again and again: once each
  const find = (ref: string): NetworkRecord | undefined => {
    if (!memo) return core.store.networks.find(ref);
    if (!memo.has(ref)) memo.set(ref, core.store.networks.find(ref));
    return memo.get(ref);
  };
  const mode = String((c.hostConfig as { NetworkMode?: string }).NetworkMode ?? 'none');
  const networks: Record<string, unknown> = {};
  const eps = core.store.networks.endpointsOf(c.id);
  let primary: Record<string, unknown> | undefined;
  for (const e of eps) {
    const n = find(e.networkId);
    if (!n) continue;
    const st = e.state;
    const req = e.request;
    const ipam = req.ipv4 || req.ipv6 ? { IPv4Address: req.ipv4 ?? '', IPv6Address: req.ipv6 ?? '' } : null;
    const entry = {
      IPAMConfig: ipam, Links: req.links?.length ? req.links : null, Aliases: n.isDefault ? null : (req.aliases?.length ? req.aliases : null),
      MacAddress: st?.mac ?? '', DriverOpts: req.driverOpts ?? null, NetworkID: n.id,
      EndpointID: st ? endpointId(c.id, n.id) : '', Gateway: st?.gateway4 ?? '', IPAddress: st?.ipv4 ?? '',
      IPPrefixLen: st?.ipv4Prefix ?? 0, IPv6Gateway: st?.gateway6 ?? '', GlobalIPv6Address: st?.ipv6 ?? '',
      GlobalIPv6PrefixLen: st?.ipv6Prefix ?? 0, DNSNames: n.isDefault ? null : dnsNames(c, req.aliases ?? []),
    };
    networks[n.name] = entry;
    if (n.isDefault) primary = entry;
  }
  if (!eps.length && !mode.startsWith('container:')) {
    // `host` / `none`: Docker lists the network with an empty endpoint (a joiner lists none)
    networks[mode] = {
      IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', DriverOpts: null, NetworkID: find(mode)?.id ?? '',
      EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
    };
  }
  const p = (primary ?? {}) as Record<string, unknown>;
  const pid = c.state.pid;
  return {
    Bridge: '', SandboxID: '', SandboxKey: pid ? `/proc/${pid}/ns/net` : '',
    Ports: c.state.status === 'running' || c.state.status === 'paused' ? containerPortsView(core, c, o) : {},
    HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
    EndpointID: p.EndpointID ?? '', Gateway: p.Gateway ?? '', GlobalIPv6Address: p.GlobalIPv6Address ?? '', GlobalIPv6PrefixLen: p.GlobalIPv6PrefixLen ?? 0,
    IPAddress: p.IPAddress ?? '', IPPrefixLen: p.IPPrefixLen ?? 0, IPv6Gateway: p.IPv6Gateway ?? '', MacAddress: p.MacAddress ?? '',
    Networks: networks,
  };
}
