/**
 * Which endpoints serve a registry domain: mirrors (for docker.io) then the registry itself; which
 * may use plain http (localhost and registries configured insecure); which CAs to trust.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { usage } from '../../lib/index.js';
import { DEFAULT_DOMAIN } from '../reference.js';

export interface RegistryHostsConfig {
  /** hosts (`host[:port]`) or CIDRs (`10.0.0.0/8`) where plain http and unverified TLS are allowed */
  insecure?: string[];
  /** mirrors of docker.io, e.g. `https://mirror.example.com` or `http://localhost:5001` */
  mirrors?: string[];
  /** Docker-style per-registry CA directory: `<certsDir>/<host:port>/*.crt` (default /etc/docker/certs.d) */
  certsDir?: string;
  /** extra CA bundle files, PEM */
  caFiles?: string[];
}

export interface Endpoint {
  /** `host[:port]` used in URLs (`registry-1.docker.io` for docker.io) */
  host: string;
  /** the registry domain credentials are looked up for */
  domain: string;
  /** URL path prefix (mirrors may have one), no trailing slash */
  prefix: string;
  /** schemes to try, in order */
  schemes: ('https' | 'http')[];
  /** accept any TLS certificate (insecure registries only) */
  skipVerify: boolean;
  mirror: boolean;
}

const SYSTEM_CA_FILES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

function hostOnly(hostport: string): string {
  if (hostport.startsWith('[')) return hostport.slice(1, hostport.indexOf(']'));
  const i = hostport.lastIndexOf(':');
  return i >= 0 && hostport.indexOf(':') === i ? hostport.slice(0, i) : hostport;
}

export function isLocalhost(hostport: string): boolean {
  const h = hostOnly(hostport).toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h.endsWith('.localhost');
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((a, b) => (a << 8) + Number(b), 0) >>> 0;
}

function inCidr(host: string, cidr: string): boolean {
  const [net, bitsS] = cidr.split('/');
  const bits = Number(bitsS);
  if (!net || isIP(net) !== 4 || isIP(host) !== 4 || !(bits >= 0 && bits <= 32)) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (ipv4ToInt(host) & mask) === (ipv4ToInt(net) & mask);
}

export class RegistryHosts {
  readonly config: RegistryHostsConfig;
  private caCache = new Map<string, string[] | undefined>();

  constructor(config: RegistryHostsConfig = {}) {
    this.config = config;
    for (const m of config.mirrors ?? []) {
      try {
        const u = new URL(m);
        if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
      } catch {
        throw usage('registry mirrors', `invalid registry mirror ${JSON.stringify(m)}: want an http(s) URL`);
      }
    }
  }

  isInsecure(hostport: string): boolean {
    if (isLocalhost(hostport)) return true;
    const h = hostOnly(hostport);
    return (this.config.insecure ?? []).some((e) => {
      const x = e.replace(/^https?:\/\//, '').replace(/\/$/, '');
      return x === hostport || x === h || (x.includes('/') && inCidr(h, x));
    });
  }

  /** Endpoints to try for pulling from `domain` (mirrors first for docker.io), or pushing to it. */
  endpoints(domain: string, purpose: 'pull' | 'push'): Endpoint[] {
    const out: Endpoint[] = [];
    if (domain === DEFAULT_DOMAIN && purpose === 'pull') {
      for (const m of this.config.mirrors ?? []) {
        const u = new URL(m);
        const host = u.host;
        const insecure = this.isInsecure(host);
        const schemes: Endpoint['schemes'] = u.protocol === 'http:' ? (insecure ? ['http'] : []) : insecure ? ['https', 'http'] : ['https'];
        if (!schemes.length) continue; // plain http mirror not marked insecure: skipped, like Docker
        out.push({ host, domain, prefix: u.pathname.replace(/\/+$/, ''), schemes, skipVerify: insecure, mirror: true });
      }
    }
    const host = domain === DEFAULT_DOMAIN ? 'registry-1.docker.io' : domain;
    const insecure = this.isInsecure(host);
    out.push({ host, domain, prefix: '', schemes: insecure ? ['https', 'http'] : ['https'], skipVerify: insecure, mirror: false });
    return out;
  }

  /** CA certificates (PEM) to trust for `hostport`: Node's roots, the system bundle, certs.d, the extra CA files. */
  ca(hostport: string): string[] | undefined {
    if (this.caCache.has(hostport)) return this.caCache.get(hostport);
    const extra: string[] = [];
    const dir = join(this.config.certsDir ?? '/etc/docker/certs.d', hostport);
    try {
      if (existsSync(dir)) for (const f of readdirSync(dir)) if (f.endsWith('.crt') && !f.endsWith('.cert')) extra.push(readFileSync(join(dir, f), 'utf8'));
    } catch { /* unreadable: ignore */ }
    for (const f of this.config.caFiles ?? []) extra.push(readFileSync(f, 'utf8'));
    // Node's own extra CAs, which an explicit CA list would leave out; BERTH_EXTRA_CA_CERTS is
    // where the berth front moves NODE_EXTRA_CA_CERTS (Node reads that file at every start)
    for (const f of new Set([process.env.BERTH_EXTRA_CA_CERTS, process.env.NODE_EXTRA_CA_CERTS])) {
      if (f) try { extra.push(readFileSync(f, 'utf8')); } catch { /* unreadable: ignored, as Node does */ }
    }
    let system: string | undefined;
    for (const f of SYSTEM_CA_FILES) {
      try { system = readFileSync(f, 'utf8'); break; } catch { /* next */ }
    }
    const list = [...(createRequire(import.meta.url)('node:tls') as typeof import('node:tls')).rootCertificates, ...(system ? [system] : []), ...extra];
    this.caCache.set(hostport, list);
    return list;
  }

  /** Client certificate from certs.d (`client.cert` + `client.key`), when present. */
  clientCert(hostport: string): { cert: string; key: string } | undefined {
    const dir = join(this.config.certsDir ?? '/etc/docker/certs.d', hostport);
    try {
      return { cert: readFileSync(join(dir, 'client.cert'), 'utf8'), key: readFileSync(join(dir, 'client.key'), 'utf8') };
    } catch {
      return undefined;
    }
  }
}
