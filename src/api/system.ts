/**
 * `GET /system/df` (moby's DiskUsage: LayersSize, Images, Containers, Volumes, BuildCache),
 * `POST /build/prune`, and the swarm endpoints, which answer 503 as moby does on a node that is
 * not part of a swarm (docker-py's tests leave the swarm in every tearDown and accept only 503/406).
 */
import type { ServerResponse } from 'node:http';
import { diskUsage, inspectContainer, volumeJSON, type EngineCore } from '../engine/index.js';
import type { store } from '../engine/index.js';
import { BuildCache } from '../build/index.js';
import { ApiError, sendJSON, type ApiContext } from './http.js';

const secs = (iso: string | null | undefined): number => (iso ? Math.floor(Date.parse(iso) / 1000) : 0);

const ago = (iso: string | null | undefined): string => {
  const s = Math.max(0, (Date.now() - Date.parse(iso ?? '')) / 1000);
  if (!Number.isFinite(s)) return '';
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${Math.floor(s)} seconds`;
  if (s < 120) return 'About a minute';
  if (s < 3600) return `${Math.floor(s / 60)} minutes`;
  if (s < 5400) return 'About an hour';
  if (s < 172800) return `${Math.round(s / 3600)} hours`;
  return `${Math.floor(s / 86400)} days`;
};

function status(c: store.Container): string {
  const s = c.state;
  if (s.status === 'running') return `Up ${ago(s.startedAt)}`;
  if (s.status === 'paused') return `Up ${ago(s.startedAt)} (Paused)`;
  if (s.status === 'exited' && s.finishedAt) return `Exited (${s.exitCode}) ${ago(s.finishedAt)} ago`;
  if (s.status === 'dead') return 'Dead';
  return 'Created';
}

/** A container as moby's df lists it: the list summary plus SizeRw (SizeRootFs is not measured: 0). */
function containerRow(core: EngineCore, c: store.Container, sizeRw: number): Record<string, unknown> {
  const j = inspectContainer(core, c) as Record<string, any>;
  return {
    Id: c.id, Names: [`/${c.name}`], Image: c.image, ImageID: c.imageId,
    Command: [j.Path, ...(j.Args ?? [])].filter((x) => x !== undefined && x !== '').join(' '),
    Created: secs(c.created), Ports: [], SizeRw: sizeRw, SizeRootFs: 0, Labels: c.labels ?? {},
    State: c.state.status, Status: status(c), HostConfig: { NetworkMode: j.HostConfig?.NetworkMode ?? '' },
    NetworkSettings: { Networks: j.NetworkSettings?.Networks ?? {} }, Mounts: j.Mounts ?? [],
  };
}

const DF_TYPES = ['container', 'image', 'volume', 'build-cache'];

export async function df(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const types = q.getAll('type');
  for (const t of types) if (!DF_TYPES.includes(t)) throw new ApiError(400, `invalid type: ${t}`);
  const want = (t: string) => !types.length || types.includes(t);
  const du = await diskUsage(ctx.core);
  const body: Record<string, unknown> = {};
  if (want('image')) {
    body.LayersSize = du.LayersSize;
    body.Images = du.Images.map((i) => ({
      Id: i.Id, ParentId: '', RepoTags: i.RepoTags, RepoDigests: [], Created: secs(i.Created), Size: i.Size,
      SharedSize: i.SharedSize, VirtualSize: i.Size, Labels: null, Containers: i.Containers,
    }));
  }
  if (want('container')) body.Containers = du.Containers.map((c) => containerRow(ctx.core, c.container, c.SizeRw));
  if (want('volume')) body.Volumes = du.Volumes.map((v) => ({ ...volumeJSON(v.volume), UsageData: { Size: v.Size, RefCount: v.RefCount } }));
  if (want('build-cache')) {
    body.BuildCache = du.BuildCache.map((b) => ({
      ID: b.ID, Parents: null, Type: b.CacheType === 'ingest' ? 'regular' : b.CacheType, Description: b.Description ?? `ingest ${b.ID}`,
      InUse: b.InUse, Shared: false, Size: b.Size, CreatedAt: b.LastUsedAt, LastUsedAt: b.LastUsedAt, UsageCount: 0,
    }));
  }
  sendJSON(res, 200, body);
}

/**
 * `POST /build/prune`: the builder's cache (step records, ADD's downloads, `RUN --mount=type=cache`
 * directories), as `berth builder prune`; the layers they named go with the next image GC when no
 * image uses them.
 */
export async function buildPrune(ctx: ApiContext, res: ServerResponse): Promise<void> {
  const r = await new BuildCache(ctx.core.options.root).prune();
  sendJSON(res, 200, { CachesDeleted: [], SpaceReclaimed: r.bytes });
}

/** moby's errNoSwarm: what every swarm endpoint answers on a node outside a swarm. */
export function noSwarm(_ctx: ApiContext, res: ServerResponse): void {
  sendJSON(res, 503, { message: 'This node is not part of a swarm' });
}
