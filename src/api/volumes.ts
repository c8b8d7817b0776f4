/** The volume routes: list, create, inspect, remove, prune — moby's shapes over the engine's volume use cases. */
import type { ServerResponse } from 'node:http';
import { createVolume, inspectVolume, listVolumes, pruneVolumes, removeVolume, volumeJSON } from '../engine/index.js';
import { ApiError, qBool, qFilters, readJSON, sendJSON, type ApiContext } from './http.js';

type J = Record<string, unknown>;

const cmp = (a: string, b: string): number => {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
};

const strMap = (v: unknown): Record<string, string> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as J).map(([k, x]) => [k, String(x)])) : undefined;

export function list(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): void {
  const vols = listVolumes(ctx.core, qFilters(q));
  sendJSON(res, 200, { Volumes: vols.map(volumeJSON), Warnings: [] });
}

export async function create(ctx: ApiContext, res: ServerResponse): Promise<void> {
  const b = await readJSON<J>(ctx.req);
  if (b.ClusterVolumeSpec) throw new ApiError(503, 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');
  const name = typeof b.Name === 'string' && b.Name ? b.Name : undefined;
  const driver = typeof b.Driver === 'string' && b.Driver ? b.Driver : 'local';
  if (driver !== 'local') throw new ApiError(404, `create ${name ?? 'volume'}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
  const v = await createVolume(ctx.core, {
    ...(name ? { name } : {}), driver, labels: strMap(b.Labels) ?? {}, options: strMap(b.DriverOpts) ?? {},
  });
  sendJSON(res, 201, volumeJSON(v));
}

export function inspect(ctx: ApiContext, res: ServerResponse, name: string): void {
  sendJSON(res, 200, inspectVolume(ctx.core, name));
}

export async function remove(ctx: ApiContext, res: ServerResponse, name: string, q: URLSearchParams): Promise<void> {
  await removeVolume(ctx.core, name, { force: qBool(q, 'force') });
  res.writeHead(204);
  res.end();
}

/** Before API 1.42 prune removed every unused volume; since, only anonymous ones unless the filter `all=true`. */
export async function prune(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const filters = qFilters(q);
  const report = await pruneVolumes(ctx.core, { all: cmp(ctx.version, '1.42') < 0, filters });
  sendJSON(res, 200, report);
}
