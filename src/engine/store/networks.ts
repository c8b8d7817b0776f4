/**
 * Networks, endpoints (a container's membership of a network, with what it asked for and, while
 * it runs, its interface and addresses), address leases and published host ports. A lease and a
 * port are rows with a primary key, so two CLIs can never hand out the same address or port.
 */
import { randomBytes } from 'node:crypto';
import { conflict, notFound } from '../../lib/index.js';
import type { Endpoint, EndpointRequest, EndpointState, NetworkRecord, PublishedPort } from '../../network/index.js';
import type { StoreContext } from './context.js';
import { parseJson } from './context.js';
import { nowText } from './time.js';

interface NetRow { id: string; name: string; driver: string; created: string; config: string }
interface EpRow { container_id: string; network_id: string; position: number; request: string; state: string | null }

type NetConfig = Omit<NetworkRecord, 'id' | 'name' | 'driver' | 'created'>;

function toNet(r: NetRow): NetworkRecord {
  const c = parseJson<NetConfig>(r.config, {} as NetConfig);
  return { id: r.id, name: r.name, driver: r.driver as NetworkRecord['driver'], created: r.created, ...c };
}

function toEp(r: EpRow): Endpoint {
  const e: Endpoint = { containerId: r.container_id, networkId: r.network_id, request: parseJson<EndpointRequest>(r.request, {}) };
  if (r.state) e.state = JSON.parse(r.state) as EndpointState;
  return e;
}

export class Networks {
  constructor(private readonly c: StoreContext) {}

  /** Insert a network (the caller checked the name and the subnets inside this transaction). */
  insert(n: Omit<NetworkRecord, 'id' | 'created'> & { id?: string }): NetworkRecord {
    const id = n.id ?? randomBytes(32).toString('hex');
    const { name, driver, ...rest } = n;
    delete (rest as { id?: string }).id;
    this.c.db.prepare('INSERT INTO networks (id, name, driver, created, config) VALUES (?, ?, ?, ?, ?)')
      .run(id, name, driver, nowText(), JSON.stringify(rest));
    return this.find(id)!;
  }

  all(): NetworkRecord[] {
    return (this.c.db.prepare('SELECT * FROM networks ORDER BY created, name').all() as NetRow[]).map(toNet);
  }

  /** By full id, name, or unique id prefix (Docker's order: id, name, prefix). */
  find(ref: string): NetworkRecord | undefined {
    const db = this.c.db;
    let r = db.prepare('SELECT * FROM networks WHERE id = ?').get(ref) as NetRow | undefined;
    r ??= db.prepare('SELECT * FROM networks WHERE name = ?').get(ref) as NetRow | undefined;
    if (!r && /^[0-9a-f]+$/.test(ref)) {
      const rows = db.prepare("SELECT * FROM networks WHERE id GLOB ? || '*' LIMIT 2").all(ref) as NetRow[];
      if (rows.length > 1) throw conflict('get network', `network ${ref} is ambiguous (${rows.length} matches found)`);
      r = rows[0];
    }
    return r && toNet(r);
  }

  get(ref: string, op = 'get network'): NetworkRecord {
    const n = this.find(ref);
    if (!n) throw notFound(op, `network ${ref} not found`);
    return n;
  }

  remove(id: string): void {
    this.c.db.prepare('DELETE FROM networks WHERE id = ?').run(id);
  }

  // --- endpoints ---------------------------------------------------------------------------

  addEndpoint(containerId: string, networkId: string, request: EndpointRequest): void {
    const pos = this.c.db.prepare('SELECT COALESCE(MAX(position) + 1, 0) FROM endpoints WHERE container_id = ?').pluck().get(containerId) as number;
    this.c.db.prepare('INSERT INTO endpoints (container_id, network_id, position, request) VALUES (?, ?, ?, ?)')
      .run(containerId, networkId, pos, JSON.stringify(request));
  }

  removeEndpoint(containerId: string, networkId: string): void {
    this.c.db.prepare('DELETE FROM leases WHERE container_id = ? AND network_id = ?').run(containerId, networkId);
    this.c.db.prepare('DELETE FROM endpoints WHERE container_id = ? AND network_id = ?').run(containerId, networkId);
  }

  /** A container's endpoints in the order it joined its networks. */
  endpointsOf(containerId: string): Endpoint[] {
    return (this.c.db.prepare('SELECT * FROM endpoints WHERE container_id = ? ORDER BY position').all(containerId) as EpRow[]).map(toEp);
  }

  endpointsOn(networkId: string): Endpoint[] {
    return (this.c.db.prepare('SELECT * FROM endpoints WHERE network_id = ? ORDER BY container_id').all(networkId) as EpRow[]).map(toEp);
  }

  setEndpointState(containerId: string, networkId: string, state: EndpointState | undefined): void {
    this.c.db.prepare('UPDATE endpoints SET state = ? WHERE container_id = ? AND network_id = ?')
      .run(state ? JSON.stringify(state) : null, containerId, networkId);
  }

  // --- leases ------------------------------------------------------------------------------

  leasedOn(networkId: string): Set<string> {
    return new Set(this.c.db.prepare('SELECT address FROM leases WHERE network_id = ?').pluck().all(networkId) as string[]);
  }

  lease(networkId: string, address: string, containerId: string): boolean {
    return this.c.db.prepare('INSERT OR IGNORE INTO leases (network_id, address, container_id) VALUES (?, ?, ?)')
      .run(networkId, address, containerId).changes === 1;
  }

  leaseHolder(networkId: string, address: string): string | undefined {
    return this.c.db.prepare('SELECT container_id FROM leases WHERE network_id = ? AND address = ?').pluck().get(networkId, address) as string | undefined;
  }

  /** Drop a container's leases, ports and endpoint states (its network is down). */
  release(containerId: string): void {
    this.c.db.prepare('DELETE FROM leases WHERE container_id = ?').run(containerId);
    this.c.db.prepare('DELETE FROM ports WHERE container_id = ?').run(containerId);
    this.c.db.prepare('UPDATE endpoints SET state = NULL WHERE container_id = ?').run(containerId);
  }

  // --- ports -------------------------------------------------------------------------------

  /** Who holds proto/hostPort on hostIp (an all-addresses binding — '', or rootless slirp4netns's
   *  '0.0.0.0' — conflicts with any address). */
  portHolder(proto: string, hostIp: string, hostPort: number): string | undefined {
    const q = hostIp === ''
      ? this.c.db.prepare('SELECT container_id FROM ports WHERE proto = ? AND host_port = ? LIMIT 1').pluck().get(proto, hostPort)
      : this.c.db.prepare("SELECT container_id FROM ports WHERE proto = ? AND host_port = ? AND host_ip IN ('', '0.0.0.0', ?) LIMIT 1").pluck().get(proto, hostPort, hostIp);
    return q as string | undefined;
  }

  addPort(containerId: string, p: PublishedPort): void {
    this.c.db.prepare('INSERT INTO ports (proto, host_ip, host_port, container_id, container_port) VALUES (?, ?, ?, ?, ?)')
      .run(p.proto, p.hostIp, p.hostPort, containerId, p.containerPort);
  }

  portsOf(containerId: string): PublishedPort[] {
    const rows = this.c.db.prepare('SELECT * FROM ports WHERE container_id = ? ORDER BY container_port, proto, host_ip').all(containerId) as
      { proto: PublishedPort['proto']; host_ip: string; host_port: number; container_port: number }[];
    return rows.map((r) => ({ proto: r.proto, hostIp: r.host_ip, hostPort: r.host_port, containerPort: r.container_port }));
  }

  usedHostPorts(proto: string): Set<number> {
    return new Set(this.c.db.prepare('SELECT host_port FROM ports WHERE proto = ?').pluck().all(proto) as number[]);
  }

  /** Containers holding leases or ports (for reconciliation). */
  holders(): string[] {
    return this.c.db.prepare('SELECT container_id FROM leases UNION SELECT container_id FROM ports').pluck().all() as string[];
  }
}
