/**
 * `network create|ls|inspect|rm|prune|connect|disconnect|reload`: Docker's use cases over the
 * store's records and the network room (the kernel side).
 */
import { BerthError, conflict, invalid } from '../../lib/index.js';
import { connectSteps, disconnectSteps, fwPorts, linkNames, hostIfname, type EndpointRequest, type EndpointState, type NetworkRecord } from '../../network/index.js';
import { netStep, runNetSteps } from '../../sys/index.js';
import { matchLabels, parseUntil, type Filters } from '../store/index.js';
import type { EngineCore } from '../containers/core.js';
import { reconcile } from '../containers/cleanup.js';
import { ensurePredefined, insertNetwork, networkEvent, PREDEFINED, type NetworkCreateRequest } from './records.js';
import { refreshDnsTable, rewriteDnsConf } from './attach.js';
import { leaseFor } from './lease.js';
import { networkResource } from './shape.js';
import { PASTA_MODE, refuseUserNetwork } from '../rootless/network.js';
import { isSlirpMode } from '../rootless/slirp.js';
import { isRootless } from '../rootless/paths.js';
import { stopRootlessNetns } from '../rootless/netns.js';

const event = networkEvent;

export async function createNetwork(core: EngineCore, req: NetworkCreateRequest): Promise<{ network: NetworkRecord; warnings: string[] }> {
  const op = 'create network';
  const warnings = ensurePredefined(core);
  if ((PREDEFINED as readonly string[]).includes(req.name)) throw conflict(op, `network with name ${req.name} already exists`);
  refuseUserNetwork(op, req.driver || 'bridge'); // rootless: bridges only, in the rootless network namespace
  const n = insertNetwork(core, req);
  try {
    if (n.driver === 'macvlan' || n.driver === 'ipvlan') {
      if (!linkNames().has(n.iface)) throw invalid(op, `${n.driver}: the parent interface ${n.iface} does not exist`);
      if (n.driver === 'ipvlan') await probeIpvlan(n, op);
    }
    await core.network.up(n, op);
  } catch (e) {
    await core.network.down(n, op).catch(() => undefined);
    core.store.tx(() => core.store.networks.remove(n.id));
    throw e;
  }
  event(core, 'create', n);
  return { network: n, warnings };
}

async function probeIpvlan(n: NetworkRecord, op: string): Promise<void> {
  const name = `bp${process.pid.toString(36)}`.slice(0, 15);
  try {
    await runNetSteps([netStep.ipvlan(name, n.iface, 'l2', '-'), netStep.del(name)], op);
  } catch (e) {
    if (e instanceof BerthError && (e.code === 'EOPNOTSUPP' || e.code === 'ENOTSUP')) {
      throw new BerthError({ kind: 'invalid', op, message: 'ipvlan: the kernel has no ipvlan support (CONFIG_IPVLAN)', cause: e });
    }
    throw e;
  }
}

export const NETWORK_FILTER_KEYS = ['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling'] as const;

export function listNetworks(core: EngineCore, filters: Filters = {}): NetworkRecord[] {
  ensurePredefined(core);
  for (const k of Object.keys(filters)) {
    if (!(NETWORK_FILTER_KEYS as readonly string[]).includes(k)) throw invalid('list networks', `invalid filter '${k}'`);
  }
  const used = (n: NetworkRecord) => core.store.networks.endpointsOn(n.id).length > 0;
  return core.store.networks.all().filter((n) => {
    if (filters.driver && !filters.driver.some((d) => d === n.driver)) return false;
    if (filters.id && !filters.id.some((i) => n.id.startsWith(i))) return false;
    if (filters.name && !filters.name.some((x) => n.name.includes(x))) return false;
    if (filters.scope && !filters.scope.includes('local')) return false;
    if (filters.label && !matchLabels(n.labels, filters.label)) return false;
    if (filters.type) {
      const builtin = (PREDEFINED as readonly string[]).includes(n.name);
      for (const t of filters.type) if (t !== 'custom' && t !== 'builtin') throw invalid('list networks', `invalid filter: 'type'='${t}'`);
      if (!filters.type.some((t) => (t === 'builtin') === builtin)) return false;
    }
    if (filters.dangling) {
      const want = filters.dangling.includes('true') || filters.dangling.includes('1');
      if ((PREDEFINED as readonly string[]).includes(n.name)) return false;
      if (used(n) === want) return false;
    }
    return true;
  });
}

export function inspectNetwork(core: EngineCore, ref: string): Record<string, unknown> {
  ensurePredefined(core);
  return networkResource(core, core.store.networks.get(ref, 'inspect network'));
}

export async function removeNetwork(core: EngineCore, ref: string): Promise<NetworkRecord> {
  const op = 'remove network';
  ensurePredefined(core);
  const n = core.store.networks.get(ref, op);
  if ((PREDEFINED as readonly string[]).includes(n.name)) {
    throw new BerthError({ kind: 'conflict', op, code: 'FORBIDDEN', message: `${n.name} is a pre-defined network and cannot be removed` });
  }
  const users = core.store.networks.endpointsOn(n.id);
  if (users.length) {
    throw conflict(op, `error while removing network: network ${n.name} id ${n.id} has active endpoints`);
  }
  await core.network.down(n, op);
  core.store.tx(() => {
    if (core.store.networks.endpointsOn(n.id).length) throw conflict(op, `error while removing network: network ${n.name} id ${n.id} has active endpoints`);
    core.store.networks.remove(n.id);
  });
  event(core, 'destroy', n);
  // rootless: the user's last network takes the rootless network namespace with it (rootless/netns.ts)
  if (isRootless() && !core.store.networks.all().some((x) => !(PREDEFINED as readonly string[]).includes(x.name))) stopRootlessNetns(core.options.runRoot);
  return n;
}

export async function pruneNetworks(core: EngineCore, filters: Filters = {}): Promise<string[]> {
  ensurePredefined(core);
  const until = filters.until ? parseUntil('prune networks', filters.until[0]!) : undefined;
  const out: string[] = [];
  for (const n of core.store.networks.all()) {
    if ((PREDEFINED as readonly string[]).includes(n.name)) continue;
    if (core.store.networks.endpointsOn(n.id).length) continue;
    if (filters.label && !matchLabels(n.labels, filters.label)) continue;
    if (until !== undefined && Date.parse(n.created) >= until) continue;
    try {
      await removeNetwork(core, n.id);
      out.push(n.name);
    } catch { /* in use meanwhile */ }
  }
  return out;
}

export interface ConnectRequest extends EndpointRequest { }

/** `network connect`: join a network; hot when the container runs (a new ethN at once). */
export async function connectNetwork(core: EngineCore, netRef: string, ref: string, req: ConnectRequest = {}): Promise<void> {
  const op = 'connect network';
  ensurePredefined(core);
  const n = core.store.networks.get(netRef, op);
  const c = reconcile(core, core.store.containers.get(ref));
  const mode = String((c.hostConfig as { NetworkMode?: string }).NetworkMode ?? '');
  if (n.driver === 'host' || n.driver === 'null' || mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
    throw conflict(op, `container cannot be disconnected from host network or connected to host network`);
  }
  if (n.isDefault && (req.ipv4 || req.ipv6)) throw invalid(op, 'user specified IP address is supported on user defined networks only');
  if (n.isDefault && req.aliases?.length) throw invalid(op, 'network-scoped alias is supported only for containers in user defined networks');
  const existing = core.store.networks.endpointsOf(c.id);
  if (existing.some((e) => e.networkId === n.id)) {
    throw conflict(op, `endpoint with name ${c.name} already exists in network ${n.name}`);
  }
  const live = c.state.status === 'running' || c.state.status === 'paused';
  // rootless: a running container can take a new interface only where root of the rootless network
  // namespace's user namespace may reach it: when it joined that user namespace (a user network's)
  if (live && isRootless() && (mode === PASTA_MODE || isSlirpMode(mode))) {
    throw conflict(op, `${op} ${n.name}: container ${c.name} runs on the rootless default network (${mode}), in a user namespace of its own that the rootless network namespace cannot reach; stop it first, or run it on a user-defined network`);
  }
  core.store.tx(() => core.store.networks.addEndpoint(c.id, n.id, req));
  if (!live) { event(core, 'connect', n, { container: c.id }); return; }
  try {
    await hotConnect(core, c.id, c.state.pid, n, req, existing.length, op);
  } catch (e) {
    core.store.tx(() => core.store.networks.removeEndpoint(c.id, n.id));
    throw e;
  }
  event(core, 'connect', n, { container: c.id });
}

async function hotConnect(core: EngineCore, id: string, pid: number, n: NetworkRecord, req: EndpointRequest, slotHint: number, op: string): Promise<void> {
  if (!core.network.isUp(n)) await core.network.up(n, op);
  const used = new Set(core.store.networks.endpointsOf(id).map((e) => e.state?.ifname).filter(Boolean));
  let slot = slotHint;
  while (used.has(`eth${slot}`)) slot++;
  const st: EndpointState = core.store.tx(() => leaseFor(core, id, n, req, slot, hostIfname(id, slot), op));
  const routed = core.store.networks.endpointsOf(id).some((e) => e.networkId !== n.id && e.state && (e.state.gateway4 || e.state.gateway6));
  // a failure here is undone by the caller (removeEndpoint drops the lease with the endpoint)
  await core.network.run(connectSteps(n, st, `/proc/${pid}/ns/net`, !routed && !n.internal), op); // rootless: in the rootless network namespace
  refreshDnsTable(core, n.id);
  rewriteDnsConf(core, id);
}

/** `network disconnect`: leave a network; hot when the container runs. */
export async function disconnectNetwork(core: EngineCore, netRef: string, ref: string, force = false): Promise<void> {
  const op = 'disconnect network';
  ensurePredefined(core);
  const n = core.store.networks.get(netRef, op);
  const c = reconcile(core, core.store.containers.get(ref));
  const ep = core.store.networks.endpointsOf(c.id).find((e) => e.networkId === n.id);
  if (!ep) {
    if (force) return;
    throw conflict(op, `container ${c.id} is not connected to network ${n.name}`);
  }
  if (ep.state && (c.state.status === 'running' || c.state.status === 'paused')) {
    const ports = core.store.networks.portsOf(c.id);
    const first = core.store.networks.endpointsOf(c.id).find((e) => e.state?.ipv4 || e.state?.ipv6);
    if (first?.networkId === n.id && ports.length) await core.network.unpublish(fwPorts(n.id, ep.state.ipv4, ep.state.ipv6, ports));
    await core.network.run(disconnectSteps(ep.state, `/proc/${c.state.pid}/ns/net`), op).catch((e: unknown) => { if (!force) throw e; });
  }
  core.store.tx(() => core.store.networks.removeEndpoint(c.id, n.id));
  refreshDnsTable(core, n.id);
  rewriteDnsConf(core, c.id);
  event(core, 'disconnect', n, { container: c.id });
}

/** `network reload`: rebuild bridges and every rule from the records (after a firewall reload). */
export async function reloadNetworks(core: EngineCore): Promise<number> {
  const op = 'reload networks';
  ensurePredefined(core);
  const nets = core.store.networks.all().filter((n) => n.driver === 'bridge' && (core.network.isUp(n) || !n.isDefault));
  const ports = [];
  for (const id of core.store.networks.holders()) {
    const eps = core.store.networks.endpointsOf(id);
    const gw = eps.find((e) => e.state?.ipv4 || e.state?.ipv6);
    if (gw) ports.push(...fwPorts(gw.networkId, gw.state!.ipv4, gw.state!.ipv6, core.store.networks.portsOf(id)));
  }
  await core.network.reload(nets, ports, op);
  return nets.length;
}
