/** Platforms (`os/arch[/variant]`): the host's, parsing `--platform`, and choosing from an index. */
import { arch as nodeArch, platform as nodePlatform } from 'node:os';
import { readFileSync } from 'node:fs';
import { notFound, usage } from '../lib/index.js';
import type { Descriptor, Platform } from './manifest.js';

const ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', mips64el: 'mips64le', loong64: 'loong64' };

function normArch(arch: string, variant?: string): { architecture: string; variant?: string } {
  const a = arch.toLowerCase();
  switch (a) {
    case 'x86_64': case 'x86-64': case 'amd64': return { architecture: 'amd64', ...(variant && variant !== 'v1' ? { variant } : {}) };
    case 'aarch64': case 'arm64': return { architecture: 'arm64', ...(variant && variant !== 'v8' ? { variant } : {}) };
    case 'armhf': return { architecture: 'arm', variant: 'v7' };
    case 'armel': return { architecture: 'arm', variant: 'v6' };
    case 'arm': return { architecture: 'arm', variant: variant ?? 'v7' };
    case 'i386': case 'i686': return { architecture: '386' };
    default: return variant ? { architecture: a, variant } : { architecture: a };
  }
}

/** Canonical form: amd64 and arm64 drop their default variants, arm defaults to v7. */
export function normalizePlatform(p: Platform): Platform {
  const a = normArch(p.architecture, p.variant);
  const out: Platform = { os: p.os.toLowerCase(), architecture: a.architecture };
  if (a.variant) out.variant = a.variant;
  return out;
}

let hostCache: Platform | undefined;

export function hostPlatform(): Platform {
  if (hostCache) return hostCache;
  const architecture = ARCH[nodeArch()] ?? nodeArch();
  let variant: string | undefined;
  if (architecture === 'arm') {
    try {
      const m = /CPU architecture:\s*(\d+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
      if (m) variant = `v${m[1]}`;
    } catch { /* default v7 */ }
  }
  hostCache = normalizePlatform({ os: nodePlatform() === 'win32' ? 'windows' : nodePlatform(), architecture, variant });
  return hostCache;
}

/** Parse `linux/arm64/v8`, `linux/amd64`, `arm64` (os defaults to the host's). */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (!parts[0] || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw usage('platform', `invalid platform ${JSON.stringify(s)}: want os[/arch[/variant]], e.g. linux/arm64/v8`);
  }
  if (parts.length === 1) {
    const known = ['linux', 'windows', 'darwin', 'freebsd'];
    if (known.includes(parts[0]!)) return normalizePlatform({ os: parts[0]!, architecture: hostPlatform().architecture });
    return normalizePlatform({ os: hostPlatform().os, architecture: parts[0]! });
  }
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, variant: parts[2] });
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Does an image's platform satisfy the wanted one? (Variant: exact, or the image has none.) */
export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  if (!w.variant || !h.variant) return true;
  if (w.variant === h.variant) return true;
  // An armv7 host also runs v6 and v5 images; an arm64 v8.2 host runs v8 images.
  const num = (v: string) => Number.parseFloat(v.replace(/^v/, ''));
  return num(h.variant) <= num(w.variant);
}

/** Pick the best manifest for `want` from an index (exact variant first, then compatible). */
export function selectManifest(manifests: Descriptor[], want: Platform, op: string): Descriptor {
  const w = normalizePlatform(want);
  const candidates = manifests.filter((d) => platformMatches(w, d.platform) && d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest');
  const score = (d: Descriptor) => {
    const h = normalizePlatform(d.platform!);
    return (h.variant === w.variant ? 2 : 0) + (h.variant ? 1 : 0);
  };
  candidates.sort((a, b) => score(b) - score(a));
  if (candidates[0]) return candidates[0];
  const offered = manifests.map((d) => (d.platform ? formatPlatform(normalizePlatform(d.platform)) : 'unknown')).filter((p) => p !== 'unknown/unknown');
  throw notFound(op, `${op}: no matching manifest for ${formatPlatform(w)} in the manifest list entries (available: ${offered.join(', ') || 'none'})`);
}
