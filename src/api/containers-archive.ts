/**
 * `docker cp` over the API: `HEAD`/`GET /containers/{id}/archive?path=` (the path's stat in the
 * `X-Docker-Container-Path-Stat` header, base64 JSON with Go's os.FileMode; GET adds the tar) and
 * `PUT …/archive?path=&noOverwriteDirNonDir=&copyUIDGID=` (a tar extracted into the directory
 * `path`), over the engine's cp, which resolves every path inside the container's root.
 */
import type { ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { archiveFromContainer, extractToContainer, reconcile, statContainerPath, type PathStat } from '../engine/index.js';
import { ApiError, qBool, type ApiContext } from './http.js';

/** A unix st_mode as Go's os.FileMode (what the docker CLI decodes). */
export function goFileMode(mode: number): number {
  let m = mode & 0o777;
  switch (mode & 0o170000) {
    case 0o040000: m += 2 ** 31; break; // ModeDir
    case 0o120000: m += 2 ** 27; break; // ModeSymlink
    case 0o010000: m += 2 ** 25; break; // ModeNamedPipe
    case 0o140000: m += 2 ** 24; break; // ModeSocket
    case 0o060000: m += 2 ** 26; break; // ModeDevice
    case 0o020000: m += 2 ** 26 + 2 ** 21; break; // ModeDevice | ModeCharDevice
    default: break;
  }
  if (mode & 0o4000) m += 2 ** 23; // setuid
  if (mode & 0o2000) m += 2 ** 22; // setgid
  if (mode & 0o1000) m += 2 ** 20; // sticky
  return m;
}

const statHeader = (st: PathStat): string =>
  Buffer.from(JSON.stringify({ name: st.name, size: st.size, mode: goFileMode(st.mode), mtime: st.mtime, linkTarget: st.linkTarget })).toString('base64');

function pathOf(q: URLSearchParams): string {
  const p = q.get('path');
  if (!p) throw new ApiError(400, 'Bad parameters: path cannot be empty');
  return p;
}

export async function statArchive(ctx: ApiContext, res: ServerResponse, ref: string, q: URLSearchParams): Promise<void> {
  const c = reconcile(ctx.core, ctx.core.store.containers.get(ref));
  const st = await statContainerPath(ctx.core, c.id, pathOf(q));
  res.writeHead(200, { 'X-Docker-Container-Path-Stat': statHeader(st), 'Content-Length': 0 });
  res.end();
}

export async function getArchive(ctx: ApiContext, res: ServerResponse, ref: string, q: URLSearchParams): Promise<void> {
  const c = reconcile(ctx.core, ctx.core.store.containers.get(ref));
  await archiveFromContainer(ctx.core, c.id, pathOf(q), async (st, archive) => {
    res.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': statHeader(st) });
    try {
      await pipeline(archive, res);
    } catch (err) {
      res.destroy(err as Error);
    }
  });
}

export async function putArchive(ctx: ApiContext, res: ServerResponse, ref: string, q: URLSearchParams): Promise<void> {
  const c = reconcile(ctx.core, ctx.core.store.containers.get(ref));
  const path = pathOf(q);
  // the engine ends the archive it is given on failure: a stand-in, so that the request is drained
  // and the client (still sending) gets the error instead of a cut connection
  const body = new PassThrough();
  ctx.req.pipe(body);
  try {
    await extractToContainer(ctx.core, c.id, path, body, {
      noOverwriteDirNonDir: qBool(q, 'noOverwriteDirNonDir'), copyUIDGID: qBool(q, 'copyUIDGID'),
    });
  } catch (err) {
    ctx.req.unpipe(body);
    if (!ctx.req.readableEnded) {
      const ended = new Promise((r) => { ctx.req.once('end', r); ctx.req.once('close', r); });
      ctx.req.resume();
      await ended;
    }
    throw err;
  }
  res.writeHead(200, { 'Content-Length': 0 });
  res.end();
}
