/** IPv4/IPv6 addresses and prefixes as bigints: parsing, formatting, containment, overlap. */
import { isIP } from 'node:net';

export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  /** The network address (host bits cleared). */
  base: bigint;
  bits: number;
}

const width = (f: Family) => (f === 4 ? 32 : 128);

export function familyOf(ip: string): Family | 0 {
  return isIP(ip) as Family | 0;
}

export function parseIp(ip: string): { family: Family; value: bigint } | undefined {
  const f = familyOf(ip);
  if (f === 4) return { family: 4, value: ip.split('.').reduce((a, p) => (a << 8n) | BigInt(Number(p)), 0n) };
  if (f !== 6) return undefined;
  let s = ip.toLowerCase();
  let tail: bigint[] = [];
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    const v4 = parseIp(m[2]!)!.value;
    tail = [v4 >> 16n, v4 & 0xffffn];
    s = m[1]!.endsWith('::') ? m[1]! : m[1]!.slice(0, -1);
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const hs = head ? head.split(':').map((h) => BigInt(parseInt(h, 16))) : [];
  const rs = rest !== undefined && rest !== '' ? rest.split(':').map((h) => BigInt(parseInt(h, 16))) : [];
  const groups = [...hs];
  const fill = 8 - hs.length - rs.length - tail.length;
  if (rest !== undefined) for (let i = 0; i < fill; i++) groups.push(0n);
  groups.push(...rs, ...tail);
  return { family: 6, value: groups.reduce((a, g) => (a << 16n) | g, 0n) };
}

export function formatIp(family: Family, v: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: the longest run (≥ 2) of zero groups becomes ::
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function mask(family: Family, bits: number): bigint {
  const w = width(family);
  return ((1n << BigInt(w)) - 1n) ^ ((1n << BigInt(w - bits)) - 1n);
}

/** `10.1.0.0/24` → a prefix; `strict` refuses host bits (Docker: "invalid subnet … : it should be …"). */
export function parsePrefix(cidr: string): (Prefix & { hostBits: boolean }) | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!m) return undefined;
  const ip = parseIp(m[1]!);
  const bits = Number(m[2]);
  if (!ip || bits > width(ip.family)) return undefined;
  const base = ip.value & mask(ip.family, bits);
  return { family: ip.family, base, bits, hostBits: base !== ip.value };
}

export function prefixText(p: Prefix): string {
  return `${formatIp(p.family, p.base)}/${p.bits}`;
}

export function size(p: Prefix): bigint {
  return 1n << BigInt(width(p.family) - p.bits);
}

export function contains(p: Prefix, ip: string): boolean {
  const a = parseIp(ip);
  return !!a && a.family === p.family && (a.value & mask(p.family, p.bits)) === p.base;
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  if (a.family !== b.family) return false;
  const bits = Math.min(a.bits, b.bits);
  const m = mask(a.family, bits);
  return (a.base & m) === (b.base & m);
}

/** The n-th address of a prefix. */
export function nth(p: Prefix, n: bigint): string {
  return formatIp(p.family, p.base + n);
}

export function offsetOf(p: Prefix, ip: string): bigint {
  return parseIp(ip)!.value - p.base;
}

/** Reverse-lookup name (`2.0.17.172.in-addr.arpa`). */
export function reverseName(ip: string): string {
  const a = parseIp(ip)!;
  if (a.family === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const hex = a.value.toString(16).padStart(32, '0');
  return `${[...hex].reverse().join('.')}.ip6.arpa`;
}
