/**
 * A container's /etc/hostname and /etc/hosts as dockerd writes them (libnetwork etchosts): the
 * default records, then the `--add-host` records, then the container's own address line(s).
 * With `--network host` the host's hosts file is copied as it is, `--add-host` records appended.
 */
import { promises as fsp } from 'node:fs';
import { isIP } from 'node:net';
import { invalid, wrapError } from '../../lib/index.js';
import { writeFileAtomic } from './atomic.js';

/** One hosts record: `ip<TAB>names`. */
export interface HostRecord { ip: string; host: string }

export const DEFAULT_HOSTS_IPV4: readonly HostRecord[] = [{ ip: '127.0.0.1', host: 'localhost' }];
export const DEFAULT_HOSTS_IPV6: readonly HostRecord[] = [
  { ip: '::1', host: 'localhost ip6-localhost ip6-loopback' },
  { ip: 'fe00::0', host: 'ip6-localnet' },
  { ip: 'ff00::0', host: 'ip6-mcastprefix' },
  { ip: 'ff02::1', host: 'ip6-allnodes' },
  { ip: 'ff02::2', host: 'ip6-allrouters' },
];

export interface HostsOptions {
  hostname: string;
  domainname?: string;
  /** The container's own addresses (none with `--network none`). */
  addresses?: string[];
  /** `--add-host` records, in the order given. */
  extraHosts?: HostRecord[];
  /** Include the IPv6 default records (Docker's classic output has them; default true). */
  ipv6Defaults?: boolean;
  /** `--network host`: the host's hosts file to copy instead of the defaults (no own address line). */
  hostHostsPath?: string;
}

/** The content of /etc/hostname: the hostname and a newline (never the domain name). */
export function hostnameContent(hostname: string): string {
  if (!hostname || /[\s\0]/.test(hostname)) throw invalid('hostname file', `invalid hostname ${JSON.stringify(hostname)}`);
  return hostname + '\n';
}

/** Parse `--add-host` values: `name:ip` or `name=ip` (IPv6 addresses may contain colons). */
export function parseAddHost(value: string): HostRecord {
  const m = /^([^:=\s]+)[:=](.+)$/.exec(value);
  let ip = m?.[2]?.trim() ?? '';
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (!m) throw invalid('add-host', `invalid argument "${value}" for "--add-host" flag: bad format for add-host: "${value}"`);
  if (!isIP(ip) && ip !== 'host-gateway') throw invalid('add-host', `invalid argument "${value}" for "--add-host" flag: invalid IP address in add-host: "${ip}"`);
  return { host: m[1]!, ip };
}

function record(r: HostRecord): string {
  return `${r.ip}\t${r.host}\n`;
}

/** The names on the container's own line: the FQDN and the bare hostname when they differ. */
export function ownHostNames(hostname: string, domainname?: string): string {
  const fqdn = domainname ? `${hostname}.${domainname}` : hostname;
  const dot = fqdn.indexOf('.');
  return dot > 0 ? `${fqdn} ${fqdn.slice(0, dot)}` : fqdn;
}

/** The content of /etc/hosts for the default (non-host) case. */
export function hostsContent(opts: HostsOptions): string {
  let out = '';
  for (const r of DEFAULT_HOSTS_IPV4) out += record(r);
  if (opts.ipv6Defaults !== false) for (const r of DEFAULT_HOSTS_IPV6) out += record(r);
  for (const r of opts.extraHosts ?? []) out += record(r);
  const names = ownHostNames(opts.hostname, opts.domainname);
  for (const ip of opts.addresses ?? []) out += record({ ip, host: names });
  return out;
}

/** Build the hosts content, reading the host's file for `--network host`. */
export async function buildHosts(opts: HostsOptions): Promise<string> {
  if (opts.hostHostsPath === undefined) return hostsContent(opts);
  let base: string;
  try {
    base = await fsp.readFile(opts.hostHostsPath, 'utf8');
  } catch (err) {
    throw wrapError(err, 'read host hosts file', opts.hostHostsPath);
  }
  if (base && !base.endsWith('\n')) base += '\n';
  return base + (opts.extraHosts ?? []).map(record).join('');
}

export async function writeHostnameFile(path: string, hostname: string): Promise<void> {
  await writeFileAtomic(path, hostnameContent(hostname), 0o644, 'write hostname file');
}

export async function writeHostsFile(path: string, opts: HostsOptions): Promise<void> {
  await writeFileAtomic(path, await buildHosts(opts), 0o644, 'write hosts file');
}
