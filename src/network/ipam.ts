/**
 * Address management: subnet pools (Docker's defaults, never overlapping a route the host already
 * has), gateways, and sequential allocation of the lowest free address of a pool (Docker's
 * default IPAM hands a freed address out again).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { contains, formatIp, nth, overlaps, parseIp, parsePrefix, prefixText, size, type Family, type Prefix } from './addr.js';
import type { IpamPool } from './types.js';

/** Docker's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 as /20s. */
export function* defaultPools(): Generator<Prefix> {
  for (let b = 17; b <= 31; b++) yield parsePrefix(`172.${b}.0.0/16`)!;
  for (let c = 0; c < 256; c += 16) yield parsePrefix(`192.168.${c}.0/20`)!;
}

/** Routes of the current network namespace (but the default routes), from /proc/self/net. */
export function hostRoutes(): Prefix[] {
  const out: Prefix[] = [];
  try {
    for (const line of readFileSync('/proc/self/net/route', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 8) continue;
      const le = (h: string) => BigInt('0x' + h.match(/../g)!.reverse().join(''));
      const dst = le(f[1]!), m = le(f[7]!);
      let bits = 0;
      for (let x = m; x & 0x80000000n; x = (x << 1n) & 0xffffffffn) bits++;
      if (bits === 0) continue;
      out.push({ family: 4, base: dst, bits });
    }
  } catch { /* no IPv4 */ }
  try {
    for (const line of readFileSync('/proc/self/net/ipv6_route', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const bits = parseInt(f[1]!, 16);
      const dev = f[9]!;
      if (bits === 0 || dev === 'lo' || f[0]!.startsWith('fe80') || f[0]!.startsWith('ff')) continue;
      out.push({ family: 6, base: BigInt('0x' + f[0]!), bits });
    }
  } catch { /* no IPv6 */ }
  return out;
}

/** The first default pool overlapping neither the taken subnets nor a host route. */
export function pickSubnet(taken: Prefix[], routes: Prefix[], skipFirst = false): Prefix | undefined {
  let first = true;
  for (const p of defaultPools()) {
    if (skipFirst && first) { first = false; continue; }
    first = false;
    if (taken.some((t) => overlaps(t, p)) || routes.some((r) => overlaps(r, p))) continue;
    return p;
  }
  return undefined;
}

/** A random unique-local /64 (Docker 27+ gives IPv6 networks without a subnet one). */
export function ulaSubnet(): Prefix {
  const b = randomBytes(5);
  const v = (0xfdn << 120n) | (BigInt('0x' + b.toString('hex')) << 80n);
  return { family: 6, base: v, bits: 64 };
}

export function firstHost(p: Prefix): string {
  return nth(p, 1n);
}

/** Addresses of a pool that may not be handed out: network, gateway, broadcast, aux addresses. */
function reserved(pool: IpamPool, p: Prefix): Set<string> {
  const r = new Set<string>([formatIp(p.family, p.base)]);
  if (p.family === 4 && p.bits < 31) r.add(nth(p, size(p) - 1n));
  if (pool.Gateway) r.add(canonical(pool.Gateway));
  for (const a of Object.values(pool.AuxiliaryAddresses ?? {})) r.add(canonical(a));
  return r;
}

export function canonical(ip: string): string {
  const a = parseIp(ip);
  return a ? formatIp(a.family, a.value) : ip;
}

/** The lowest free address of the pool's range (IPRange, else the subnet); undefined when full. */
export function allocateAddress(pool: IpamPool, used: Set<string>): string | undefined {
  const subnet = parsePrefix(pool.Subnet)!;
  const range = pool.IPRange ? parsePrefix(pool.IPRange)! : subnet;
  const skip = reserved(pool, subnet);
  const n = size(range);
  const limit = n > 1n << 20n ? 1n << 20n : n; // a /64 is searched from its start: enough
  for (let i = 0n; i < limit; i++) {
    const ip = nth(range, i);
    if (skip.has(ip) || used.has(ip)) continue;
    return ip;
  }
  return undefined;
}

export function inPool(pool: IpamPool, ip: string): boolean {
  return contains(parsePrefix(pool.Subnet)!, ip);
}

export function poolFamily(pool: IpamPool): Family {
  return parsePrefix(pool.Subnet)!.family;
}

export { prefixText };
