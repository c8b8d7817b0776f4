/** Docker's `--filter key=value` arguments: parsing, validation, and matching of containers. */
import { invalid } from '../../lib/index.js';
import { isStatus } from './states.js';
import type { Container, ContainerStatus, Filters, Labels } from './types.js';

/** `['status=running', 'label=a=b']` → `{ status: ['running'], label: ['a=b'] }`. */
export function parseFilters(args: readonly string[], op = 'filter'): Filters {
  const out: Filters = {};
  for (const a of args) {
    const i = a.indexOf('=');
    if (i <= 0) throw invalid(op, `bad format of filter (expected name=value): ${a}`);
    const key = a.slice(0, i).trim().toLowerCase();
    (out[key] ??= []).push(a.slice(i + 1));
  }
  return out;
}

export function checkFilterKeys(op: string, filters: Filters, allowed: readonly string[]): void {
  for (const k of Object.keys(filters)) {
    if (!allowed.includes(k)) throw invalid(op, `invalid filter '${k}'`);
  }
}

/** `key` (present) or `key=value`; every spec must match. */
export function matchLabels(labels: Labels, specs: readonly string[] | undefined): boolean {
  if (!specs?.length) return true;
  return specs.every((s) => {
    const i = s.indexOf('=');
    if (i < 0) return Object.hasOwn(labels, s);
    return Object.hasOwn(labels, s.slice(0, i)) && labels[s.slice(0, i)] === s.slice(i + 1);
  });
}

/** Docker's `label!=`: no spec may match. */
export function matchNotLabels(labels: Labels, specs: readonly string[] | undefined): boolean {
  return !specs?.length || specs.every((s) => !matchLabels(labels, [s]));
}

export const PS_FILTER_KEYS = ['id', 'name', 'label', 'label!', 'status', 'ancestor', 'exited', 'before', 'since', 'volume'] as const;

export interface ContainerMatcher {
  statuses?: Set<ContainerStatus>;
  match(c: Container): boolean;
}

/**
 * Compile ps filters. `lookupCreated` resolves a container reference (for before/since) to its
 * creation time; `ancestorIds` optionally maps an ancestor value to image ids (the engine knows
 * the image tree); without it an ancestor matches the stored reference, the image id or its prefix.
 */
export function compileContainerFilters(
  op: string, filters: Filters,
  lookupCreated: (ref: string) => string,
  ancestorIds?: (value: string) => string[] | undefined,
): ContainerMatcher {
  checkFilterKeys(op, filters, PS_FILTER_KEYS);
  const statuses = filters.status?.length ? new Set<ContainerStatus>() : undefined;
  for (const s of filters.status ?? []) {
    if (!isStatus(s)) throw invalid(op, `invalid filter 'status=${s}': must be one of created, restarting, running, removing, paused, exited, dead`);
    statuses!.add(s);
  }
  const exited = (filters.exited ?? []).map((v) => {
    if (!/^-?\d+$/.test(v.trim())) throw invalid(op, `invalid filter 'exited=${v}': not an integer`);
    return Number(v);
  });
  const names = (filters.name ?? []).map((v) => {
    try { return new RegExp(v); } catch { throw invalid(op, `invalid filter 'name=${v}': not a regular expression`); }
  });
  const ids = filters.id ?? [];
  for (const v of ids) if (!/^[0-9a-f]*$/.test(v)) throw invalid(op, `invalid filter 'id=${v}': not a hexadecimal id prefix`);
  const before = filters.before?.map(lookupCreated);
  const since = filters.since?.map(lookupCreated);
  const ancestors = (filters.ancestor ?? []).map((v) => ({ v, ids: ancestorIds?.(v) }));
  const volumes = filters.volume ?? [];

  const match = (c: Container): boolean => {
    if (statuses && !statuses.has(c.state.status)) return false;
    if (ids.length && !ids.some((p) => c.id.startsWith(p))) return false;
    // as dockerd: the name with and without its leading '/' (so `^x$` and `^/x$` both match)
    if (names.length && !names.some((re) => re.test('/' + c.name) || re.test(c.name))) return false;
    if (!matchLabels(c.labels, filters.label) || !matchNotLabels(c.labels, filters['label!'])) return false;
    if (exited.length) {
      const stopped = c.state.status === 'exited' || c.state.status === 'dead' || c.state.status === 'created';
      if (!stopped || c.state.startedAt === null || !exited.includes(c.state.exitCode)) return false;
    }
    if (before && !before.every((t) => c.created < t)) return false;
    if (since && !since.every((t) => c.created > t)) return false;
    if (ancestors.length && !ancestors.some((a) => matchAncestor(c, a.v, a.ids))) return false;
    if (volumes.length && !volumes.some((v) => c.volumes.some((m) => m.name === v || m.destination === v))) return false;
    return true;
  };
  return statuses ? { statuses, match } : { match };
}

function matchAncestor(c: Container, value: string, ids: string[] | undefined): boolean {
  if (ids) return ids.includes(c.imageId);
  if (c.image === value || c.imageId === value) return true;
  const hex = c.imageId.replace(/^sha256:/, '');
  const v = value.replace(/^sha256:/, '');
  if (/^[0-9a-f]{4,64}$/.test(v) && hex.startsWith(v)) return true;
  // `busybox` matches a container created from `busybox:latest`.
  return !value.includes(':') && c.image === `${value}:latest`;
}

export const PRUNE_FILTER_KEYS = ['until', 'label', 'label!'] as const;

/** Docker's prune `until`: a timestamp (RFC 3339 or Unix seconds) or a Go duration before now. */
export function parseUntil(op: string, value: string, nowMs = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const dur = /^(?:(\d+(?:\.\d+)?)(h|m|s|ms))+$/.test(value)
    ? [...value.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)].reduce((t, [, n, u]) => t + Number(n) * ({ h: 3600e3, m: 60e3, s: 1e3, ms: 1 } as Record<string, number>)[u], 0)
    : undefined;
  if (dur !== undefined) return nowMs - dur;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw invalid(op, `invalid filter 'until=${value}': not a timestamp or duration`);
  return t;
}
