/**
 * Docker image references: `[domain[:port]/]path[:tag][@sha256:hex]`, normalised the way Docker
 * does (`busybox` → `docker.io/library/busybox:latest`), with familiar forms for display.
 */
import { usage } from '../lib/index.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DOMAIN = 'index.docker.io';
export const OFFICIAL_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';

export interface Reference {
  /** registry host, e.g. `docker.io`, `localhost:5000`, `[::1]:5000` */
  domain: string;
  /** repository path inside the registry, e.g. `library/busybox` */
  path: string;
  tag?: string;
  digest?: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const HEX64 = /^[a-f0-9]{64}$/;
const NAME_MAX = 255;

function bad(ref: string, why: string): Error {
  return usage('parse reference', `invalid reference format: ${JSON.stringify(ref)}: ${why}`);
}

function validDomain(domain: string): boolean {
  let host = domain;
  let port: string | undefined;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return false;
    const ip6 = host.slice(1, end);
    if (!/^[0-9a-fA-F:.]+$/.test(ip6) || !ip6.includes(':')) return false;
    const rest = host.slice(end + 1);
    if (rest && !/^:[0-9]+$/.test(rest)) return false;
    return true;
  }
  const colon = host.lastIndexOf(':');
  if (colon >= 0) {
    port = host.slice(colon + 1);
    host = host.slice(0, colon);
    if (!/^[0-9]+$/.test(port)) return false;
  }
  return host.split('.').every((c) => DOMAIN_COMPONENT.test(c));
}

/** Split a name into domain and path the way Docker's `splitDockerDomain` does. */
function splitDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  let domain: string;
  let rest: string;
  const first = i < 0 ? '' : name.slice(0, i);
  if (i < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    rest = name;
  } else {
    domain = first;
    rest = name.slice(i + 1);
  }
  if (domain === LEGACY_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !rest.includes('/')) rest = OFFICIAL_PREFIX + rest;
  return [domain, rest];
}

/**
 * Parse and normalise a reference. With `defaultTag` (the default) a reference with neither tag
 * nor digest gets `:latest`.
 */
export function parseReference(ref: string, opts: { defaultTag?: boolean } = {}): Reference {
  const s = ref.trim();
  if (!s) throw bad(ref, 'empty reference');
  if (HEX64.test(s)) throw bad(ref, 'cannot specify 64-byte hexadecimal strings as a repository name');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(ref, `invalid digest ${JSON.stringify(digest)}`);
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest)) throw bad(ref, `invalid sha256 digest ${JSON.stringify(digest)}`);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw bad(ref, `invalid tag ${JSON.stringify(tag)}`);
  }
  if (!rest) throw bad(ref, 'missing repository name');
  const [domain, path] = splitDomain(rest);
  if (!validDomain(domain)) throw bad(ref, `invalid registry host ${JSON.stringify(domain)}`);
  if (!path) throw bad(ref, 'missing repository name');
  for (const comp of path.split('/')) {
    if (PATH_COMPONENT.test(comp)) continue;
    if (comp.toLowerCase() !== comp && PATH_COMPONENT.test(comp.toLowerCase())) {
      throw bad(ref, `repository name (${path}) must be lowercase`);
    }
    throw bad(ref, `invalid repository name component ${JSON.stringify(comp)} (allowed: lowercase letters, digits and separators . _ __ -)`);
  }
  const name = `${domain}/${path}`;
  if (name.length > NAME_MAX) throw bad(ref, `repository name must not be longer than ${NAME_MAX} characters`);
  const r: Reference = { domain, path };
  if (tag !== undefined) r.tag = tag;
  if (digest !== undefined) r.digest = digest;
  if (opts.defaultTag !== false && r.tag === undefined && r.digest === undefined) r.tag = DEFAULT_TAG;
  return r;
}

/** True when `s` parses as a reference. */
export function isReference(s: string): boolean {
  try {
    parseReference(s);
    return true;
  } catch {
    return false;
  }
}

/** Full repository name: `docker.io/library/busybox`. */
export function repositoryName(r: Reference): string {
  return `${r.domain}/${r.path}`;
}

/** Full reference string: `docker.io/library/busybox:latest`, `host/x@sha256:…`. */
export function formatReference(r: Reference): string {
  return repositoryName(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** Docker's short display name of a repository: `busybox`, `user/app`, `localhost:5000/x`. */
export function familiarName(r: Reference): string {
  if (r.domain !== DEFAULT_DOMAIN) return repositoryName(r);
  return r.path.startsWith(OFFICIAL_PREFIX) && r.path.indexOf('/', OFFICIAL_PREFIX.length) < 0 ? r.path.slice(OFFICIAL_PREFIX.length) : r.path;
}

/** Familiar display string with tag/digest: `busybox:latest`. */
export function familiarString(r: Reference): string {
  return familiarName(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** Same reference with another tag (and no digest). */
export function withTag(r: Reference, tag: string): Reference {
  if (!TAG.test(tag)) throw bad(tag, `invalid tag ${JSON.stringify(tag)}`);
  return { domain: r.domain, path: r.path, tag };
}

/** Same repository pinned to a digest (no tag). */
export function withDigest(r: Reference, digest: string): Reference {
  return { domain: r.domain, path: r.path, digest };
}

/** Normalise a full name (`busybox` → `docker.io/library/busybox:latest`). */
export function normalize(ref: string): string {
  return formatReference(parseReference(ref));
}
