/**
 * The network routes: list, inspect, create, remove, connect, disconnect, prune — moby's shapes
 * and status codes over the engine's network use cases. Also the translation of Docker's
 * EndpointSettings (connect's `EndpointConfig`, create's `NetworkingConfig`) into the engine's
 * endpoint request.
 */
import type { ServerResponse } from 'node:http';
import {
  connectNetwork, createNetwork, disconnectNetwork, inspectNetwork, listNetworks, networkResource, pruneNetworks, removeNetwork,
  type NetworkCreateRequest, type spec,
} from '../engine/index.js';
import { BerthError } from '../lib/index.js';
import { ApiError, qFilters, readJSON, sendJSON, type ApiContext } from './http.js';

type J = Record<string, unknown>;
type Endpoint = Omit<spec.NetworkJoin, 'network'>;

const strMap = (v: unknown): Record<string, string> | undefined => {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  return Object.fromEntries(Object.entries(v as J).map(([k, x]) => [k, String(x)]));
};
const strList = (v: unknown): string[] | undefined => (Array.isArray(v) && v.length ? v.map(String) : undefined);

/** Docker's EndpointSettings (Aliases, IPAMConfig, MacAddress, Links, DriverOpts) as the engine's endpoint request. */
export function endpointRequest(cfg: unknown): Endpoint {
  const e = (cfg ?? {}) as J;
  const ipam = (e.IPAMConfig ?? {}) as J;
  const out: Endpoint = {};
  const aliases = strList(e.Aliases);
  if (aliases) out.aliases = aliases;
  if (typeof ipam.IPv4Address === 'string' && ipam.IPv4Address) out.ipv4 = ipam.IPv4Address;
  if (typeof ipam.IPv6Address === 'string' && ipam.IPv6Address) out.ipv6 = ipam.IPv6Address;
  if (typeof e.MacAddress === 'string' && e.MacAddress) out.mac = e.MacAddress;
  const links = strList(e.Links);
  if (links) out.links = links;
  const opts = strMap(e.DriverOpts);
  if (opts && Object.keys(opts).length) out.driverOpts = opts;
  return out;
}

/**
 * `POST /containers/create`'s `NetworkingConfig.EndpointsConfig` as the engine's network joins,
 * the one `HostConfig.NetworkMode` names first (the key `default` is the default network).
 * Undefined when the body names no endpoint.
 */
export function networkJoins(body: J): spec.NetworkJoin[] | undefined {
  const eps = ((body.NetworkingConfig ?? {}) as J).EndpointsConfig;
  if (!eps || typeof eps !== 'object' || !Object.keys(eps).length) return undefined;
  const mode = String(((body.HostConfig ?? {}) as J).NetworkMode ?? '');
  const joins = Object.entries(eps as J).map(([name, cfg]) => ({ network: name === 'default' ? '' : name, ...endpointRequest(cfg) }));
  // the CLI's plain `run` sends one empty endpoint (`default`, or the --network): NetworkMode says it all
  if (joins.length === 1 && Object.keys(joins[0]!).length === 1) return undefined;
  const primary = joins.findIndex((j) => j.network === (mode === 'default' ? '' : mode));
  if (primary > 0) joins.unshift(...joins.splice(primary, 1));
  return joins;
}

/** moby answers 403 for a predefined network or one still in use. */
const forbidden = (e: unknown): unknown => (e instanceof BerthError && e.kind === 'conflict' ? new ApiError(403, e.message.replace(/^berth: /, '')) : e);

export function list(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): void {
  const nets = listNetworks(ctx.core, qFilters(q));
  sendJSON(res, 200, nets.map((n) => networkResource(ctx.core, n, false)));
}

export function inspect(ctx: ApiContext, res: ServerResponse, ref: string, q: URLSearchParams): void {
  const scope = q.get('scope');
  if (scope && scope !== 'local') throw new ApiError(404, `network ${ref} not found`);
  sendJSON(res, 200, inspectNetwork(ctx.core, ref));
}

export async function create(ctx: ApiContext, res: ServerResponse): Promise<void> {
  const b = await readJSON<J>(ctx.req);
  if (typeof b.Name !== 'string' || !b.Name) throw new ApiError(400, 'network name is empty');
  if (b.ConfigOnly || b.ConfigFrom && (b.ConfigFrom as J).Network) throw new ApiError(400, `create network ${b.Name}: config-only networks are not supported`);
  if (b.Ingress) throw new ApiError(503, 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');
  const ipam = (b.IPAM ?? {}) as J;
  const req: NetworkCreateRequest = {
    name: b.Name, driver: typeof b.Driver === 'string' && b.Driver ? b.Driver : 'bridge',
    ipv6: b.EnableIPv6 === true, internal: !!b.Internal, attachable: !!b.Attachable,
    labels: strMap(b.Labels) ?? {}, options: strMap(b.Options) ?? {},
  };
  if (typeof ipam.Driver === 'string' && ipam.Driver) req.ipamDriver = ipam.Driver;
  const ipamOpts = strMap(ipam.Options);
  if (ipamOpts && Object.keys(ipamOpts).length) throw new ApiError(400, `create network ${b.Name}: IPAM driver options are not supported`);
  for (const p of (Array.isArray(ipam.Config) ? ipam.Config : []) as J[]) {
    if (p.Subnet) (req.subnets ??= []).push(String(p.Subnet));
    if (p.Gateway) (req.gateways ??= []).push(String(p.Gateway));
    if (p.IPRange) (req.ipRanges ??= []).push(String(p.IPRange));
    const aux = strMap(p.AuxiliaryAddresses ?? p.AuxAddress);
    if (aux) req.auxAddresses = { ...req.auxAddresses, ...aux };
  }
  if (req.driver === 'host' || req.driver === 'null') throw new ApiError(403, `only one instance of "${req.driver}" network is allowed`);
  const { network, warnings } = await createNetwork(ctx.core, req);
  sendJSON(res, 201, { Id: network.id, Warning: warnings.join('\n') });
}

export async function remove(ctx: ApiContext, res: ServerResponse, ref: string): Promise<void> {
  try { await removeNetwork(ctx.core, ref); } catch (e) { throw forbidden(e); }
  res.writeHead(204);
  res.end();
}

const ok = (res: ServerResponse) => { res.writeHead(200, { 'Content-Length': 0 }); res.end(); };

export async function connect(ctx: ApiContext, res: ServerResponse, ref: string): Promise<void> {
  const b = await readJSON<J>(ctx.req);
  if (typeof b.Container !== 'string' || !b.Container) throw new ApiError(400, 'connect network: no container given');
  try { await connectNetwork(ctx.core, ref, b.Container, endpointRequest(b.EndpointConfig)); } catch (e) { throw forbidden(e); }
  ok(res);
}

export async function disconnect(ctx: ApiContext, res: ServerResponse, ref: string): Promise<void> {
  const b = await readJSON<J>(ctx.req);
  if (typeof b.Container !== 'string' || !b.Container) throw new ApiError(400, 'disconnect network: no container given');
  try { await disconnectNetwork(ctx.core, ref, b.Container, b.Force === true); } catch (e) { throw forbidden(e); }
  ok(res);
}

export async function prune(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const names = await pruneNetworks(ctx.core, qFilters(q));
  sendJSON(res, 200, { NetworksDeleted: names });
}
