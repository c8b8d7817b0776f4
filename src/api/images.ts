/** The image routes: list, inspect, pull (`POST /images/create`), tag, delete. */
import type { ServerResponse } from 'node:http';
import {
  familiarString, inspect as inspectImage, listImages, parsePlatform, parseReference,
  type ImageRow, type ListFilters, type ProgressEvent,
} from '../image/index.js';
import { imagesWithAuth } from './images-auth.js';
import { imageTarget } from './images-events.js';
import { pullImage, removeImage, tagImage as tagWithEvent } from '../engine/index.js';
import { importImage } from './images-misc.js';
import { ApiError, messageOf, qBool, qFilters, sendEmpty, sendJSON, statusOf, type ApiContext } from './http.js';

/** The request's API version is below `v` (moby drops VirtualSize from 1.44). */
const before = (version: string, v: number): boolean => {
  const [a = 0, b = 0] = version.split('.').map(Number);
  const [c, d] = String(v).split('.').map(Number) as [number, number];
  return a !== c ? a < c : b < d;
};

/** Docker's ImageSummary rows: one per image, its names gathered. */
export async function list(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const f = qFilters(q);
  const filters: ListFilters = {};
  if (f.reference) filters.reference = f.reference;
  if (f.dangling?.[0]) filters.dangling = f.dangling[0] === 'true' || f.dangling[0] === '1';
  if (f.before?.[0]) filters.before = f.before[0];
  if (f.since?.[0]) filters.since = f.since[0];
  const rows = await listImages(ctx.core.images, filters);
  const byId = new Map<string, ImageRow[]>();
  for (const r of rows) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
  const out = [...byId.values()].map((rs) => {
    const r = rs[0]!;
    return {
      Id: r.id, ParentId: '',
      RepoTags: rs.filter((x) => !x.dangling && x.tag !== '<none>').map((x) => `${x.repository}:${x.tag}`),
      RepoDigests: rs.filter((x) => x.digest !== '<none>').map((x) => `${x.repository}@${x.digest}`),
      Created: Math.floor(Date.parse(r.created) / 1000), Size: r.size, SharedSize: -1, Labels: r.labels ?? {}, Containers: -1,
      ...(before(ctx.version, 1.44) ? { VirtualSize: r.size } : {}),
    };
  });
  sendJSON(res, 200, out);
}

/** Image inspect, always with `Container`/`ContainerConfig` (docker-compose 1.29 reads them). */
export async function inspect(ctx: ApiContext, res: ServerResponse, name: string): Promise<void> {
  const j = await inspectImage(ctx.core.images, name);
  sendJSON(res, 200, { Container: '', ContainerConfig: j.Config ?? {}, ...j, ...(before(ctx.version, 1.44) ? { VirtualSize: j.Size } : {}) });
}

export async function tagImage(ctx: ApiContext, res: ServerResponse, name: string, q: URLSearchParams): Promise<void> {
  const repo = q.get('repo');
  if (!repo) throw new ApiError(400, 'repository name must have at least one component');
  const target = `${repo}:${q.get('tag') || 'latest'}`;
  await tagWithEvent(imageTarget(ctx), name, target);
  sendEmpty(res, 201);
}

export async function del(ctx: ApiContext, res: ServerResponse, name: string, q: URLSearchParams): Promise<void> {
  const items = await removeImage(imageTarget(ctx), name, { force: qBool(q, 'force'), noPrune: qBool(q, 'noprune') });
  sendJSON(res, 200, items);
}

/** `POST /images/create?fromImage=&tag=`: a JSON progress stream; errors before the first byte are HTTP errors. */
export async function create(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): Promise<void> {
  if (q.get('fromSrc')) return importImage(ctx, res, q);
  const from = q.get('fromImage');
  if (!from) throw new ApiError(400, 'fromImage or fromSrc is required');
  const t = q.get('tag');
  const ref = t ? (t.startsWith('sha256:') ? `${from}@${t}` : `${from}:${t}`) : from;
  const r = parseReference(ref);
  let started = false;
  const send = (m: Record<string, unknown>) => {
    if (!started) {
      started = true;
      res.writeHead(200, { 'Content-Type': 'application/json' });
    }
    res.write(JSON.stringify(m) + '\r\n');
  };
  // "Pulling from" comes before the registry answered: held back, so that a missing repository
  // is still a plain HTTP error (404: `docker run` then fails with 125)
  const held: Record<string, unknown>[] = [];
  const onProgress = (e: ProgressEvent) => {
    const m: Record<string, unknown> = { status: e.status };
    if (e.id) m.id = e.id;
    if (e.current !== undefined) m.progressDetail = { current: e.current, total: e.total };
    if (!started && e.status.startsWith('Pulling from')) { held.push(m); return; }
    for (const h of held.splice(0)) send(h);
    send(m);
  };
  try {
    const p = q.get('platform');
    const result = await pullImage(imageTarget(ctx, await imagesWithAuth(ctx)), ref, { onProgress, platform: p ? parsePlatform(p) : undefined });
    for (const h of held.splice(0)) send(h);
    send({ status: result.status === 'up-to-date' ? `Status: Image is up to date for ${familiarString(r)}` : `Status: Downloaded newer image for ${familiarString(r)}` });
    res.end();
  } catch (err) {
    if (!started) throw err;
    const message = messageOf(err);
    send({ errorDetail: { code: statusOf(err), message }, error: message });
    res.end();
  }
}

