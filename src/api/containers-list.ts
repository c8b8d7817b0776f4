/**
 * `GET /containers/json`: the store's filters (id, name, label, status, ancestor, exited, before,
 * since, volume) plus those moby answers from elsewhere: health (the monitor's state), network,
 * publish/expose (the ports), is-task (no swarm: no task); `size=1` adds SizeRw and SizeRootFs.
 */
import type { ServerResponse } from 'node:http';
import { checkHealthFilter, healthStatus, healthSuffix, ingestHealthEvents, reconcile, type NetworkMemo } from '../engine/index.js';
import { imageStore, snapshotter } from '../image/index.js';
import type { Container } from '../engine/store/index.js';
import { summary } from './containers.js';
import { ApiError, qBool, qFilters, qInt, sendJSON, type ApiContext } from './http.js';

interface PortRow { PrivatePort: number; PublicPort?: number; Type: string }

/** moby's publish/expose value: `port[/proto]` or `from-to[/proto]`. */
function portMatcher(v: string): (port: number, proto: string) => boolean {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(v);
  if (!m) throw new ApiError(400, `invalid filter value: ${v}`);
  const lo = Number(m[1]);
  const hi = m[2] ? Number(m[2]) : lo;
  const proto = m[3] ?? 'tcp';
  return (port, p) => port >= lo && port <= hi && p === proto;
}

async function sizes(ctx: ApiContext, c: Container): Promise<{ SizeRw: number; SizeRootFs: number }> {
  const snaps = await snapshotter(ctx.core.images);
  let rw = 0;
  try { rw = (await snaps.usage(c.snapshotKey)).size; } catch { /* gone */ }
  const img = await imageStore(ctx.core.images).get(c.imageId);
  return { SizeRw: rw, SizeRootFs: rw + (img?.size ?? 0) };
}

export async function list(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const filters = qFilters(q);
  const take = (k: string) => { const v = filters[k]; delete filters[k]; return v?.length ? v : undefined; };
  const health = take('health');
  if (health) checkHealthFilter(health, 'list containers');
  const networks = take('network');
  const publish = take('publish')?.map(portMatcher);
  const expose = take('expose')?.map(portMatcher);
  const isTask = take('is-task');
  const tagged = new Map<string, string>();
  for (const a of filters.ancestor ?? []) {
    try { tagged.set(a, (await imageStore(ctx.core.images).resolve(a, 'list containers')).record.id); } catch { /* no match */ }
  }
  let rows = ctx.core.store.containers.list({ all: qBool(q, 'all'), limit: qInt(q, 'limit') || undefined, filters }, (v) => (tagged.has(v) ? [tagged.get(v)!] : []))
    .map((c) => reconcile(ctx.core, c));
  if (isTask?.some((v) => v === 'true' || v === '1')) rows = [];
  const out: Record<string, unknown>[] = [];
  const memo = new Map() as NetworkMemo; // the networks, looked up once for all rows
  for (const c of rows) {
    ingestHealthEvents(ctx.core, c);
    if (health && !health.includes(healthStatus(ctx.core, c))) continue;
    const row = summary(ctx.core, c, healthSuffix(ctx.core, c), memo);
    const nets = (row.NetworkSettings as { Networks: Record<string, { NetworkID?: string }> }).Networks;
    if (networks && !networks.some((n) => Object.entries(nets).some(([name, ep]) => name === n || (!!ep.NetworkID && ep.NetworkID.startsWith(n))))) continue;
    const ports = row.Ports as PortRow[];
    if (publish && !publish.some((m) => ports.some((p) => p.PublicPort !== undefined && m(p.PublicPort, p.Type)))) continue;
    if (expose && !expose.some((m) => ports.some((p) => m(p.PrivatePort, p.Type)))) continue;
    if (qBool(q, 'size')) Object.assign(row, await sizes(ctx, c));
    out.push(row);
  }
  sendJSON(res, 200, out);
}
