/**
 * The network room's front door: bring networks up and down in the kernel (bridge, addresses,
 * sysctls, firewall), publish ports, and keep the embedded DNS's tables — all under one state
 * directory (`<run-root>/network`, gone after a reboot with the bridges and rules it describes).
 * Which containers are on which network, and their addresses, is the engine's (its SQLite store);
 * this room takes records in and touches the kernel.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Step } from '../sys/index.js';
import { bridgeDownSteps, bridgeSteps, gatewaySteps, sysctlSteps } from './wiring.js';
import { BerthError } from '../lib/index.js';
import { BRIDGE_OPT, type NetworkRecord } from './types.js';
import type { PublishedPort } from './ports.js';
import type { FwNetwork, FwPort } from './firewall/index.js';
import { sweepTemps, writeDnsConfig, writeDnsTable, type DnsRecord } from './dns/index.js';

/** What the room needs of the firewall (src/network/firewall). */
export interface FirewallApi {
  addNetwork(n: FwNetwork): Promise<void>;
  removeNetwork(n: FwNetwork): Promise<void>;
  addPorts(ports: FwPort[]): Promise<void>;
  removePorts(ports: FwPort[]): Promise<void>;
  reload(state: { networks: FwNetwork[]; ports: FwPort[] }): Promise<void>;
}

export type StepRunner = (steps: Step[], op: string) => Promise<void>;

export function fwNetwork(net: NetworkRecord): FwNetwork {
  const flag = (k: string) => net.options[k] === undefined || net.options[k] === 'true';
  return {
    id: net.id, bridge: net.iface,
    subnets: net.ipam.map((p) => p.Subnet), gateways: net.ipam.map((p) => p.Gateway ?? '').filter(Boolean),
    internal: net.internal, icc: flag(BRIDGE_OPT.icc), masquerade: flag(BRIDGE_OPT.masquerade),
  };
}

/** The container's published ports as firewall entries for one network address. */
export function fwPorts(netId: string, ip4: string | undefined, ip6: string | undefined, ports: PublishedPort[]): FwPort[] {
  const out: FwPort[] = [];
  for (const p of ports) {
    const fam = p.hostIp === '' ? 0 : p.hostIp.includes(':') ? 6 : 4;
    if (ip4 && fam !== 6) out.push({ netId, proto: p.proto, hostIp: fam === 4 ? p.hostIp : '0.0.0.0', hostPort: p.hostPort, containerIp: ip4, containerPort: p.containerPort });
    if (ip6 && fam !== 4) out.push({ netId, proto: p.proto, hostIp: fam === 6 ? p.hostIp : '::', hostPort: p.hostPort, containerIp: ip6, containerPort: p.containerPort });
  }
  return out;
}

export class NetworkRoom {
  constructor(readonly stateDir: string, readonly firewall: FirewallApi, private readonly runSteps: StepRunner) {}

  private marker(net: NetworkRecord): string {
    return join(this.stateDir, `${net.id}.up`);
  }

  /** Up since the last boot (the marker lives in the run root, like the bridge it describes). */
  isUp(net: NetworkRecord): boolean {
    if (net.driver === 'null' || net.driver === 'host') return true;
    // the marker says the rules were made since the boot; the link may have been deleted since
    return existsSync(this.marker(net)) && (net.driver !== 'bridge' || linkNames().has(net.iface));
  }

  /** Run net steps where this room's networks live (the host's namespace, or the rootless one). */
  run(steps: Step[], op: string): Promise<void> {
    return this.runSteps(steps, op);
  }

  /** Make the network's kernel side (idempotent): bridge, gateway addresses, sysctls, firewall. */
  async up(net: NetworkRecord, op: string): Promise<void> {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    if (net.driver === 'bridge') {
      await this.bridgeUp(net, op);
      await this.firewall.addNetwork(fwNetwork(net));
    }
    writeFileSync(this.marker(net), '');
  }

  /** The bridge, its gateway addresses (kept when already there) and the sysctls. */
  private async bridgeUp(net: NetworkRecord, op: string): Promise<void> {
    await this.runSteps(bridgeSteps(net), op);
    for (const s of gatewaySteps(net)) {
      await this.runSteps([s], op).catch((e: unknown) => { if (!(e instanceof BerthError && e.code === 'EEXIST')) throw e; });
    }
    await this.runSteps([...bridgeSteps(net), ...sysctlSteps(net)], op);
  }

  /** Undo up (idempotent); the default bridge keeps its interface, as docker0 does. */
  async down(net: NetworkRecord, op: string, deleteLink = true): Promise<void> {
    if (net.driver === 'bridge') {
      await this.firewall.removeNetwork(fwNetwork(net));
      if (deleteLink) await this.runSteps(bridgeDownSteps(net), op);
    }
    rmSync(this.marker(net), { force: true });
    rmSync(this.dnsTable(net.id), { force: true });
    sweepTemps(this.dnsTable(net.id));
  }

  dnsTable(netId: string): string {
    return join(this.stateDir, 'dns', `${netId}.hosts`);
  }

  dnsConf(containerId: string): string {
    return join(this.stateDir, 'dns', `${containerId}.conf`);
  }

  /** Rewrite a network's name table (atomically: the monitors read it on every query). */
  writeDnsTable(netId: string, records: DnsRecord[]): void {
    mkdirSync(join(this.stateDir, 'dns'), { recursive: true, mode: 0o755 });
    writeDnsTable(this.dnsTable(netId), records);
  }

  /** A container's DNS configuration: the upstream servers and the tables of its networks. */
  writeDnsConf(containerId: string, upstreams: string[], netIds: string[]): string {
    const p = this.dnsConf(containerId);
    mkdirSync(join(this.stateDir, 'dns'), { recursive: true, mode: 0o755 });
    writeDnsConfig(p, { upstreams, tables: netIds.map((n) => this.dnsTable(n)) });
    return p;
  }

  /** Remove a container's DNS configuration, and the temp files of writers killed mid-write. */
  removeDnsConf(containerId: string): void {
    rmSync(this.dnsConf(containerId), { force: true });
    sweepTemps(this.dnsConf(containerId));
  }

  async publish(ports: FwPort[]): Promise<void> {
    if (ports.length) await this.firewall.addPorts(ports);
  }

  async unpublish(ports: FwPort[]): Promise<void> {
    if (ports.length) await this.firewall.removePorts(ports);
  }

  /** Rebuild every rule from the records (after a firewall reload wiped berth's table). */
  async reload(nets: NetworkRecord[], ports: FwPort[], op: string): Promise<void> {
    for (const n of nets) if (n.driver === 'bridge') await this.bridgeUp(n, op);
    await this.firewall.reload({ networks: nets.filter((n) => n.driver === 'bridge').map(fwNetwork), ports });
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    for (const n of nets) writeFileSync(this.marker(n), '');
  }
}

/** The links of this process's network namespace (/proc/self/net/dev follows it; sysfs does not). */
export function linkNames(): Set<string> {
  const out = new Set<string>();
  try {
    for (const l of readFileSync('/proc/self/net/dev', 'utf8').split('\n').slice(2)) {
      const i = l.indexOf(':');
      if (i > 0) out.add(l.slice(0, i).trim());
    }
  } catch { /* none */ }
  return out;
}
