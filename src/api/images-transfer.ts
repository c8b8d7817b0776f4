/**
 * Images in and out of the engine over the API: push to a registry (`POST /images/{name}/push`,
 * moby's progress stream ending with the digest and its `aux`), save (`GET /images/get`,
 * `GET /images/{name}/get`: a docker-archive tar) and load (`POST /images/load`: a tar body, plain
 * or compressed; `Loaded image: …` lines).
 */
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import {
  familiarString, parseReference, repositoryName, type ProgressEvent,
} from '../image/index.js';
import { ApiError, messageOf, qBool, statusOf, type ApiContext } from './http.js';
import { imagesWithAuth } from './images-auth.js';
import { imageTarget } from './images-events.js';
import { loadImages as loadWithEvent, pushImage as pushWithEvent, saveImages as saveWithEvent } from '../engine/index.js';

type J = Record<string, unknown>;

/** A JSON message stream: headers with the first message, each line `\r\n`-terminated as moby's. */
export function jsonStream(res: ServerResponse) {
  let started = false;
  const s = {
    get started() { return started; },
    send(m: J) {
      if (res.destroyed) return;
      if (!started) { started = true; res.writeHead(200, { 'Content-Type': 'application/json' }); }
      res.write(JSON.stringify(m) + '\r\n');
    },
    /** An error: an HTTP error when nothing was sent yet, else in-band with both fields (the CLI needs errorDetail). */
    fail(err: unknown): void {
      if (!started) throw err;
      const message = messageOf(err);
      s.send({ errorDetail: { message }, error: message });
      res.end();
    },
  };
  return s;
}

export const progressMessage = (e: ProgressEvent): J => {
  const m: J = { status: e.status };
  if (e.current !== undefined) m.progressDetail = { current: e.current, ...(e.total !== undefined ? { total: e.total } : {}) };
  else m.progressDetail = {};
  if (e.id) m.id = e.id;
  return m;
};

/** `POST /images/{name}/push?tag=`: no tag pushes every tag of the repository (`docker push -a`). */
export async function pushImage(ctx: ApiContext, res: ServerResponse, name: string, q: URLSearchParams): Promise<void> {
  const t = q.get('tag') ?? '';
  let ref: string;
  let allTags: boolean;
  try {
    const bare = parseReference(name, { defaultTag: false });
    if (bare.digest) throw new Error('cannot push a digest reference');
    ref = t ? `${repositoryName(bare)}:${t}` : name;
    allTags = !t && !bare.tag;
  } catch (e) { throw new ApiError(400, `invalid reference format: ${name}: ${messageOf(e)}`); }
  const images = await imagesWithAuth(ctx);
  const out = jsonStream(res);
  try {
    const results = await pushWithEvent(imageTarget(ctx, images), ref, { allTags, onProgress: (e) => out.send(progressMessage(e)) });
    for (const r of results) {
      out.send({ progressDetail: {}, aux: { Tag: r.tag, Digest: r.digest, Size: r.size } });
    }
    res.end();
  } catch (e) {
    out.fail(e);
  }
}

/** The response as a tar stream, its headers sent with the first bytes (a missing image is still a 404). */
function tarSink(res: ServerResponse): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      if (res.write(chunk)) cb(); else res.once('drain', () => cb());
    },
    final(cb) {
      if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      res.end(cb);
    },
    destroy(err, cb) { if (err && res.headersSent) res.destroy(); cb(err); },
  });
}

/** `GET /images/get?names=…` and `GET /images/{name}/get`. */
export async function saveImages(ctx: ApiContext, res: ServerResponse, names: string[]): Promise<void> {
  const list = names.filter(Boolean);
  if (!list.length) throw new ApiError(400, 'no images given: want names=IMAGE (repeated)');
  const sink = tarSink(res);
  res.on('close', () => { if (!res.writableFinished) sink.destroy(); });
  await saveWithEvent(imageTarget(ctx), list, sink);
}

/** `POST /images/load?quiet=`: always a JSON stream (moby answers it before loading); errors in-band. */
export async function loadImages(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const quiet = qBool(q, 'quiet');
  res.writeHead(200, { 'Content-Type': 'application/json' });
  const send = (m: J) => { if (!res.destroyed) res.write(JSON.stringify(m) + '\r\n'); };
  try {
    const loaded = await loadWithEvent(imageTarget(ctx), ctx.req, { onProgress: quiet ? undefined : (e) => send(progressMessage(e)) });
    for (const l of loaded) {
      if (!l.names.length) send({ stream: `Loaded image ID: ${l.id}\n` });
      for (const n of l.names) send({ stream: `Loaded image: ${familiarString(parseReference(n))}\n` });
    }
  } catch (e) {
    const message = messageOf(e);
    send({ errorDetail: { code: statusOf(e), message }, error: message });
  }
  res.end();
}
