/**
 * Container endpoints over the engine's own operations: top, pause/unpause, rename, update,
 * changes (diff), export, commit, prune — each a thin adapter with moby's status codes.
 */
import type { ServerResponse } from 'node:http';
import {
  commitContainer, containerChanges, exportContainer, pauseContainer, pruneContainers, reconcile, renameContainer, topContainer,
  unpauseContainer, updateContainer, type EngineCore, type UpdateRequest,
} from '../engine/index.js';
import type { Container } from '../engine/store/index.js';
import { ApiError, qBool, qFilters, readJSON, sendEmpty, sendJSON, type ApiContext } from './http.js';

const get = (core: EngineCore, ref: string): Container => reconcile(core, core.store.containers.get(ref));

export async function top(ctx: ApiContext, res: ServerResponse, ref: string, q: URLSearchParams): Promise<void> {
  sendJSON(res, 200, await topContainer(ctx.core, get(ctx.core, ref).id, q.get('ps_args') ?? ''));
}

export async function pause(ctx: ApiContext, res: ServerResponse, ref: string): Promise<void> {
  await pauseContainer(ctx.core, get(ctx.core, ref).id);
  sendEmpty(res, 204);
}

export async function unpause(ctx: ApiContext, res: ServerResponse, ref: string): Promise<void> {
  await unpauseContainer(ctx.core, get(ctx.core, ref).id);
  sendEmpty(res, 204);
}

export function rename(ctx: ApiContext, res: ServerResponse, ref: string, q: URLSearchParams): void {
  const c = get(ctx.core, ref);
  const name = (q.get('name') ?? '').replace(/^\//, '');
  if (!name) throw new ApiError(400, 'Neither old nor new names may be empty');
  if (name === c.name) throw new ApiError(409, `Renaming a container with the same name as its current name`);
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) throw new ApiError(400, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  renameContainer(ctx.core, c.id, name);
  sendEmpty(res, 204);
}

const n = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const s = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/** `POST /containers/{id}/update`: Docker's UpdateConfig (resources and restart policy). */
export async function update(ctx: ApiContext, res: ServerResponse, ref: string): Promise<void> {
  const b = await readJSON<Record<string, unknown>>(ctx.req);
  const rp = b.RestartPolicy as { Name?: string; MaximumRetryCount?: number } | undefined;
  const req: UpdateRequest = {
    memory: n(b.Memory), memorySwap: n(b.MemorySwap), memoryReservation: n(b.MemoryReservation), nanoCpus: n(b.NanoCpus),
    cpuShares: n(b.CpuShares), cpuPeriod: n(b.CpuPeriod), cpuQuota: n(b.CpuQuota), cpuRtPeriod: n(b.CpuRealtimePeriod),
    cpuRtRuntime: n(b.CpuRealtimeRuntime), cpusetCpus: s(b.CpusetCpus), cpusetMems: s(b.CpusetMems), blkioWeight: n(b.BlkioWeight),
    kernelMemory: n(b.KernelMemory),
  };
  // PidsLimit: null/absent unchanged, 0 or -1 unlimited (moby)
  if (typeof b.PidsLimit === 'number') req.pidsLimit = b.PidsLimit;
  if (rp && typeof rp.Name === 'string' && rp.Name !== '') {
    req.restartPolicy = { Name: rp.Name, MaximumRetryCount: rp.MaximumRetryCount ?? 0 } as UpdateRequest['restartPolicy'];
  }
  for (const k of Object.keys(req) as (keyof UpdateRequest)[]) if (req[k] === undefined) delete req[k];
  const r = await updateContainer(ctx.core, get(ctx.core, ref).id, req);
  sendJSON(res, 200, { Warnings: r.warnings });
}

export async function changes(ctx: ApiContext, res: ServerResponse, ref: string): Promise<void> {
  const list = await containerChanges(ctx.core, get(ctx.core, ref).id);
  sendJSON(res, 200, list.length ? list : null);
}

/** `GET /containers/{id}/export`: a tar of the container's filesystem, streamed. */
export async function exportTar(ctx: ApiContext, res: ServerResponse, ref: string): Promise<void> {
  const c = get(ctx.core, ref);
  res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  try {
    await exportContainer(ctx.core, c.id, res);
  } catch (err) {
    res.destroy(err as Error); // the client sees a cut stream, as with moby
  }
}

/** `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`: 201 `{Id}`. */
export async function commit(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const ref = q.get('container');
  if (!ref) throw new ApiError(400, 'missing container parameter');
  await readJSON(ctx.req); // the config to merge: the CLI sends an empty one
  const c = get(ctx.core, ref);
  const repo = q.get('repo') ?? '';
  const tag = q.get('tag') ?? '';
  if (!repo && tag) throw new ApiError(400, 'invalid reference format: a tag needs a repository');
  const id = await commitContainer(ctx.core, c.id, {
    reference: repo ? (tag ? `${repo}:${tag}` : repo) : undefined,
    author: q.get('author') || undefined, message: q.get('comment') || undefined,
    changes: q.getAll('changes').flatMap((v) => v.split('\n')).filter((v) => v.trim()), pause: qBool(q, 'pause', true),
  });
  sendJSON(res, 201, { Id: id });
}

/** `POST /containers/prune?filters=`: `{ContainersDeleted, SpaceReclaimed}`. */
export async function prune(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const r = await pruneContainers(ctx.core, qFilters(q));
  sendJSON(res, 200, { ContainersDeleted: r.ContainersDeleted, SpaceReclaimed: r.SpaceReclaimed });
}
