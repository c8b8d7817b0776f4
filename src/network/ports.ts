/**
 * Published ports: `-p [ip:][hostPort[-range]:]containerPort[-range][/proto]` parsed as Docker's
 * go-connections nat.ParsePortSpec does, into HostConfig.PortBindings' shape; the allocation of
 * host ports happens at start (see allocatePorts).
 */
import { isIP } from 'node:net';

export type Proto = 'tcp' | 'udp' | 'sctp';

export interface PortBinding { HostIp: string; HostPort: string }
/** `"80/tcp"` → bindings (Docker's nat.PortMap). */
export type PortMap = Record<string, PortBinding[]>;

export class PortSpecError extends Error {}

function parseRange(s: string): [number, number] | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) return undefined;
  const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
  if (a > 65535 || b > 65535 || b < a) return undefined;
  return [a, b];
}

function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(':');
  const n = parts.length;
  const c = parts[n - 1]!;
  if (n === 1) return ['', '', c];
  if (n === 2) return ['', parts[0]!, c];
  if (n === 3) return [parts[0]!, parts[1]!, c];
  return [parts.slice(0, n - 2).join(':'), parts[n - 2]!, c];
}

/** One `-p` value → its entries of a port map. */
export function parsePortSpec(raw: string): PortMap {
  let [ip, hostPort, containerPort] = splitParts(raw);
  let proto = 'tcp';
  const slash = containerPort.lastIndexOf('/');
  if (slash >= 0) { proto = containerPort.slice(slash + 1); containerPort = containerPort.slice(0, slash); }
  if (ip.startsWith('[')) {
    if (!ip.endsWith(']')) throw new PortSpecError(`invalid IP address ${ip}: missing ']' in address`);
    ip = ip.slice(1, -1);
  }
  if (ip && !isIP(ip)) throw new PortSpecError(`invalid IP address: ${ip}`);
  if (!containerPort) throw new PortSpecError(`no port specified: ${raw}<empty>`);
  const cr = parseRange(containerPort);
  if (!cr) throw new PortSpecError(`invalid containerPort: ${containerPort}`);
  let hr: [number, number] | undefined;
  if (hostPort) {
    hr = parseRange(hostPort);
    if (!hr) throw new PortSpecError(`invalid hostPort: ${hostPort}`);
    if (cr[1] - cr[0] !== hr[1] - hr[0] && cr[1] !== cr[0]) {
      throw new PortSpecError(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
    }
  }
  const p = proto.toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(p)) throw new PortSpecError(`invalid proto: ${proto}`);
  const out: PortMap = {};
  for (let i = 0; i <= cr[1] - cr[0]; i++) {
    let hp = '';
    if (hr) hp = cr[0] === cr[1] ? (hr[0] === hr[1] ? String(hr[0]) : `${hr[0]}-${hr[1]}`) : String(hr[0] + i);
    (out[`${cr[0] + i}/${p}`] ??= []).push({ HostIp: ip, HostPort: hp });
  }
  return out;
}

export function mergePortMaps(into: PortMap, more: PortMap): PortMap {
  for (const [k, v] of Object.entries(more)) (into[k] ??= []).push(...v);
  return into;
}

/** `80`, `80/udp`, `8000-8010/tcp` (--expose, EXPOSE) → keys of a port set. */
export function parseExpose(raw: string): string[] {
  let [port, proto = 'tcp'] = raw.split('/') as [string, string?];
  proto = proto.toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new PortSpecError(`invalid proto: ${proto}`);
  const r = parseRange(port);
  if (!r) throw new PortSpecError(`invalid range format for --expose specification: "${raw}", error: invalid port ${port}`);
  const out: string[] = [];
  for (let p = r[0]; p <= r[1]; p++) out.push(`${p}/${proto}`);
  return out;
}

/** A published port once its host port is chosen. */
export interface PublishedPort {
  proto: Proto;
  hostIp: string;
  hostPort: number;
  containerPort: number;
}

export function portKey(p: { proto: string; containerPort: number }): string {
  return `${p.containerPort}/${p.proto}`;
}

/** NetworkSettings.Ports in Docker's shape: every exposed or bound port, null when unpublished. */
export function portsView(exposed: string[], published: PublishedPort[]): Record<string, PortBinding[] | null> {
  const out: Record<string, PortBinding[] | null> = {};
  for (const k of exposed) out[k] = null;
  for (const p of published) {
    const k = portKey(p);
    const list = (out[k] ??= []);
    if (p.hostIp === '') {
      list.push({ HostIp: '0.0.0.0', HostPort: String(p.hostPort) }, { HostIp: '::', HostPort: String(p.hostPort) });
    } else list.push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  }
  return out;
}
