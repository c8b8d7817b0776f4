/**
 * The smaller image endpoints: history, import (`POST /images/create?fromSrc=-`), prune,
 * distribution inspect (`GET /distribution/{name}/json`) and search (not served: a clear error).
 */
import type { ServerResponse } from 'node:http';
import {
  familiarString, history, parsePlatform, parseReference, registry, registryClient, type PruneOptions,
} from '../image/index.js';
import { ApiError, messageOf, qFilters, sendJSON, type ApiContext } from './http.js';
import { imagesWithAuth } from './images-auth.js';
import { jsonStream } from './images-transfer.js';
import { imageTarget } from './images-events.js';
import { importImage as importWithEvent, pruneUnusedImages as pruneWithEvent } from '../engine/index.js';

/** `GET /images/{name}/history`: newest first; Tags null below the top (moby's nil slice). */
export async function imageHistory(ctx: ApiContext, res: ServerResponse, name: string): Promise<void> {
  const rows = await history(ctx.core.images, name);
  sendJSON(res, 200, rows.map((r) => ({
    Id: r.id, Created: r.created ? Math.floor(Date.parse(r.created) / 1000) : 0, CreatedBy: r.createdBy,
    Tags: r.tags.length ? r.tags : null, Size: r.size, Comment: r.comment,
  })));
}

/**
 * `POST /images/create?fromSrc=-&repo=&tag=&changes=&message=&platform=`: the body is a root
 * filesystem tar. A URL source is refused (berth fetches nothing on the daemon's behalf).
 */
export async function importImage(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const src = q.get('fromSrc')!;
  if (src !== '-') throw new ApiError(400, `import from a URL (fromSrc=${src}) is not supported by berth serve: send the tar as the request body (fromSrc=-)`);
  const repo = q.get('repo') ?? '';
  const tag = q.get('tag') ?? '';
  let reference: string | undefined;
  if (repo) {
    try {
      const r = parseReference(repo, { defaultTag: false });
      reference = tag ? `${repo.replace(/:[^:/]+$/, r.tag ? '' : '$&')}:${tag}` : repo;
      parseReference(reference);
    } catch (e) { throw new ApiError(400, `invalid reference format: ${repo}: ${messageOf(e)}`); }
  }
  const p = q.get('platform');
  let platform;
  if (p) { try { platform = parsePlatform(p); } catch (e) { throw new ApiError(400, messageOf(e)); } }
  const changes = q.getAll('changes').filter(Boolean);
  const out = jsonStream(res);
  try {
    const id = await importWithEvent(imageTarget(ctx), ctx.req, {
      ...(reference ? { reference } : {}), changes, message: q.get('message') ?? undefined, source: '-', ...(platform ? { platform } : {}),
    });
    out.send({ status: id });
    res.end();
  } catch (e) {
    out.fail(e);
  }
}

/** `POST /images/prune`: filters dangling (false: every unused image), until, label, label!. */
export async function pruneImages(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const f = qFilters(q);
  for (const k of Object.keys(f)) if (!['dangling', 'until', 'label', 'label!'].includes(k)) throw new ApiError(400, `invalid filter '${k}'`);
  const opts: PruneOptions = {};
  const d = f.dangling?.[0];
  if (d !== undefined) {
    if (!['true', 'false', '1', '0'].includes(d.toLowerCase())) throw new ApiError(400, `invalid filter 'dangling=${d}'`);
    opts.all = d === 'false' || d === '0';
  }
  const until = f.until?.[0];
  if (until) {
    const secs = /^\d+(\.\d+)?$/.test(until) ? Number(until) * 1000 : undefined;
    const dur = /^(\d+)(s|m|h)$/.exec(until);
    const t = secs ?? (dur ? Date.now() - Number(dur[1]) * { s: 1e3, m: 6e4, h: 3.6e6 }[dur[2] as 's' | 'm' | 'h'] : Date.parse(until));
    if (!Number.isFinite(t)) throw new ApiError(400, `invalid filter 'until=${until}'`);
    opts.until = new Date(t);
  }
  const labels = [
    ...(f.label ?? []).map((l) => ({ l, negate: false })), ...(f['label!'] ?? []).map((l) => ({ l, negate: true })),
  ].map(({ l, negate }) => { const i = l.indexOf('='); return i < 0 ? { key: l, negate } : { key: l.slice(0, i), value: l.slice(i + 1), negate }; });
  if (labels.length) opts.labels = labels;
  const r = await pruneWithEvent(imageTarget(ctx), opts);
  sendJSON(res, 200, { ImagesDeleted: r.ImagesDeleted.length ? r.ImagesDeleted : null, SpaceReclaimed: r.SpaceReclaimed });
}

/** `GET /distribution/{name}/json`: the registry's descriptor of the reference and its platforms. */
export async function distribution(ctx: ApiContext, res: ServerResponse, name: string): Promise<void> {
  let ref;
  try { ref = parseReference(name); } catch (e) { throw new ApiError(400, `invalid reference format: ${messageOf(e)}`); }
  const images = await imagesWithAuth(ctx);
  const client = registryClient(images, ref.domain);
  const m = await client.getManifest(ref.path, ref.digest ?? ref.tag ?? 'latest', { op: `distribution ${familiarString(ref)}` });
  let platforms: unknown[] = m.index ? m.index.manifests.filter((d) => d.platform).map((d) => d.platform) : [];
  const cfg = m.manifest?.config;
  if (cfg && cfg.size <= 1 << 20) {
    // a single manifest: its platform is in the config (moby fetches it too)
    const parts: Buffer[] = [];
    let n = 0;
    await registry.fetchBlob(client, ref.path, cfg, { offset: () => n, write: async (c) => { parts.push(c); n += c.length; } });
    const c = JSON.parse(Buffer.concat(parts).toString('utf8')) as { architecture?: string; os?: string; variant?: string };
    platforms = [{ architecture: c.architecture ?? '', os: c.os ?? '', ...(c.variant ? { variant: c.variant } : {}) }];
  }
  sendJSON(res, 200, { Descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length }, Platforms: platforms });
}

export function search(): never {
  throw new ApiError(501, 'search is not supported by berth serve: it queries no registry index (browse the registry instead)');
}
