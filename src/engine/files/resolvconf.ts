/**
 * A container's /etc/resolv.conf as dockerd writes it (libnetwork resolvconf):
 * - source: the host's resolv.conf, or systemd-resolved's upstream file when the host's names only
 *   the 127.0.0.53 stub (and that file exists);
 * - `--network host` without DNS flags: the host's file as it is;
 * - otherwise without DNS flags: the source with loopback nameservers (127.x, ::1) removed (and
 *   IPv6 ones unless IPv6 is on); when none remain, Docker's fallback 8.8.8.8 / 8.8.4.4
 *   (+ Google's IPv6 pair with IPv6);
 * - with `--dns`, `--dns-search`, `--dns-option`: `search`, `nameserver`s, `options` rebuilt, each
 *   list taken from the flag when given, else from the source (`--dns-search .` means no search).
 */
import { promises as fsp } from 'node:fs';
import { isIP } from 'node:net';
import { wrapError } from '../../lib/index.js';
import { writeFileAtomic } from './atomic.js';

export const DEFAULT_IPV4_DNS = ['8.8.8.8', '8.8.4.4'] as const;
export const DEFAULT_IPV6_DNS = ['2001:4860:4860::8888', '2001:4860:4860::8844'] as const;
export const SYSTEMD_RESOLVED_STUB = '127.0.0.53';

export interface ResolvConfOptions {
  /** Network mode: only 'host' changes the behaviour ('none', 'bridge', ... filter loopback). */
  network?: string;
  /** The host's resolv.conf (normally /etc/resolv.conf). */
  hostResolvConf: string;
  /** systemd-resolved's upstream file (normally /run/systemd/resolve/resolv.conf). */
  systemdResolvConf?: string;
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** Keep IPv6 nameservers (default false, as on a network without IPv6). */
  ipv6?: boolean;
  /** A user-defined network: the embedded DNS server (127.0.0.11) answers, forwarding the rest
   *  to the host's servers (or `dns`) from the host's network namespace. */
  embeddedDns?: boolean;
}

export interface ParsedResolvConf { nameservers: string[]; search: string[]; options: string[] }

/** Nameservers, search domains (last `search`/`domain` line wins) and options of a resolv.conf. */
export function parseResolvConf(content: string): ParsedResolvConf {
  const out: ParsedResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of content.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.nameservers.push(rest[0]);
    else if ((key === 'search' || key === 'domain') && rest.length) out.search = rest;
    else if (key === 'options' && rest.length) out.options.push(...rest);
  }
  return out;
}

function isLoopback(ns: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ns) || ns === '::1';
}

function isIPv6(ns: string): boolean {
  return isIP(ns.replace(/%.*$/, '')) === 6;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw wrapError(err, 'read resolv.conf', path);
  }
}

/** The resolv.conf Docker starts from: the host's, or systemd-resolved's upstream file when the
 *  host's points only at the 127.0.0.53 stub. A missing host file reads as empty. */
export async function sourceResolvConf(hostResolvConf: string, systemdResolvConf?: string): Promise<{ path: string; content: string }> {
  const content = (await readIfExists(hostResolvConf)) ?? '';
  const ns = parseResolvConf(content).nameservers;
  if (systemdResolvConf && ns.length > 0 && ns.every((n) => n === SYSTEMD_RESOLVED_STUB)) {
    const alt = await readIfExists(systemdResolvConf);
    if (alt !== undefined) return { path: systemdResolvConf, content: alt };
  }
  return { path: hostResolvConf, content };
}

/** Docker's FilterResolvDNS: drop loopback (and, without IPv6, IPv6) nameserver lines; add the
 *  fallback nameservers when none remain. Comments and other lines are kept. */
export function filterResolvConf(content: string, ipv6 = false): string {
  const kept: string[] = [];
  for (const line of content.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)\s*$/.exec(line);
    if (m && (isLoopback(m[1]!) || (!ipv6 && isIPv6(m[1]!)))) continue;
    kept.push(line);
  }
  let out = kept.join('\n').replace(/\n{3,}/g, '\n\n').replace(/\n+$/, '');
  if (parseResolvConf(out).nameservers.length === 0) {
    const dns = [...DEFAULT_IPV4_DNS, ...(ipv6 ? DEFAULT_IPV6_DNS : [])];
    out += (out ? '\n' : '') + dns.map((d) => `nameserver ${d}`).join('\n');
  }
  return out + '\n';
}

/** Docker's resolvconf.Build: `search`, `nameserver`s, `options`. */
export function buildResolvConfContent(nameservers: string[], search: string[], options: string[]): string {
  let out = '';
  const s = search.join(' ').trim();
  if (s && s !== '.') out += `search ${s}\n`;
  for (const ns of nameservers) out += `nameserver ${ns}\n`;
  const o = options.join(' ').trim();
  if (o) out += `options ${o}\n`;
  return out;
}

/** The content of the container's resolv.conf. */
export async function buildResolvConf(opts: ResolvConfOptions): Promise<string> {
  const overrides = !!(opts.dns?.length || opts.dnsSearch?.length || opts.dnsOptions?.length);
  const host = opts.network === 'host';
  if (opts.embeddedDns) {
    const raw = parseResolvConf((await readIfExists(opts.hostResolvConf)) ?? '');
    const ext = opts.dns?.length ? opts.dns : raw.nameservers;
    const options = opts.dnsOptions?.length ? opts.dnsOptions : raw.options;
    const withNdots = options.some((o) => o.startsWith('ndots:')) ? options : [...options, 'ndots:0'];
    return buildResolvConfContent(['127.0.0.11'], opts.dnsSearch?.length ? opts.dnsSearch : raw.search, withNdots)
      + `\n# Based on host file: '${opts.hostResolvConf}' (internal resolver)\n# ExtServers: [${ext.map((e) => `host(${e})`).join(' ')}]\n`;
  }
  const src = await sourceResolvConf(opts.hostResolvConf, host ? undefined : opts.systemdResolvConf);
  if (!overrides) return host ? src.content : filterResolvConf(src.content, opts.ipv6 ?? false);
  const cur = parseResolvConf(src.content);
  let nameservers = opts.dns?.length ? opts.dns : cur.nameservers;
  if (!opts.dns?.length && !host) {
    // Host-derived loopback resolvers are unreachable from the container's namespace.
    nameservers = nameservers.filter((n) => !isLoopback(n) && (opts.ipv6 || !isIPv6(n)));
    if (!nameservers.length) nameservers = [...DEFAULT_IPV4_DNS, ...(opts.ipv6 ? DEFAULT_IPV6_DNS : [])];
  }
  return buildResolvConfContent(
    nameservers,
    opts.dnsSearch?.length ? opts.dnsSearch : cur.search,
    opts.dnsOptions?.length ? opts.dnsOptions : cur.options,
  );
}

export async function writeResolvConf(path: string, opts: ResolvConfOptions): Promise<void> {
  await writeFileAtomic(path, await buildResolvConf(opts), 0o644, 'write resolv.conf');
}
