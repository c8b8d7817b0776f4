/**
 * `commit`: a new image from a container's changes. The layer is the container's diff as an OCI
 * layer (gzip tar; overlay whiteouts become `.wh.<name>` entries, opaque directories a
 * `.wh..wh..opq` entry), stored in the content store and unpacked as the next snapshot of the
 * image's chain, so the image runs at once. The parent's layers are reused as they are; the
 * config is the container's (with `--change` instructions applied) and one more history entry.
 * A container that changed nothing gives an image with no new layer (an empty-layer history
 * entry), like Docker. A running container is paused while its changes are read (`--pause`).
 */
import { createHash } from 'node:crypto';
import { constants as fsc, fstatSync, type Stats } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { BerthError, coalesce, gzipStream, usage, wrapError } from '../../lib/index.js';
import { chainIDs, containerOwner } from '../../snapshots/index.js';
import { closeFd, O_PATH, type RootlessIds, openat2, openDirPath, RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS } from '../../sys/index.js';
import {
  applyChanges, contentStore, formatReference, imageStore, MT, parseReference, snapshotter,
  type Descriptor, type ImageConfig, type ImageRecord, type Reference,
} from '../../image/index.js';
import { reconcile } from './cleanup.js';
import type { EngineCore } from './core.js';
import { snapshotChanges, type LayerEntry } from './diff.js';
import { packEntry } from './export.js';
import { readImageConfig } from './image.js';
import { pauseContainer, unpauseContainer } from './lifecycle.js';


export interface CommitOptions {
  /** `REPOSITORY[:TAG]` to tag the image with. */
  reference?: string;
  /** `--author` */
  author?: string;
  /** `--message`: the history comment. */
  message?: string;
  /** `--change`: Dockerfile instructions applied to the config. */
  changes?: string[];
  /** `--pause` (default true): pause a running container while its changes are read. */
  pause?: boolean;
}

const WH_PREFIX = '.wh.';
const WH_OPAQUE = '.wh..wh..opq';

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i + 1);
}

/** An empty whiteout file (a zero-size regular file entry). */
function marker(pack: tar.Pack, name: string, like?: { mode: number; uid: number; gid: number }): Promise<void> {
  const owner = like ? { mode: like.mode & 0o777, uid: like.uid, gid: like.gid } : { mode: 0o600 };
  return new Promise((resolve, reject) => {
    pack.entry({ name, type: 'file', size: 0, ...owner, mtime: new Date(0) }, Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
}

/** An O_PATH fd of `rel` inside `base` (the fd of `base` kept in `bases`), no link on the way or at the end followed. */
function openBeneath(bases: Map<string, number>, base: string, rel: string): number {
  let top = bases.get(base);
  if (top === undefined) bases.set(base, (top = openDirPath(base)));
  return openat2(top, rel, O_PATH | fsc.O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
}

/** The diff layer as a tar stream (Docker's overlay2 Diff, whiteouts in OCI form). */
function layerTar(entries: LayerEntry[], ids?: RootlessIds): tar.Pack {
  // rootless: the upper dir holds host (subordinate) ids; the layer holds the container's
  const owned = (st: Stats): Stats => (ids ? Object.assign(Object.create(Object.getPrototypeOf(st) as object) as Stats, st, containerOwner(ids, st.uid, st.gid)) : st);
  const pack = tar.pack();
  const links = new Map<string, string>();
  const bases = new Map<string, number>();
  (async () => {
    for (const e of entries) {
      const base = e.rel.slice(e.rel.lastIndexOf('/') + 1);
      if (e.kind === 'whiteout') {
        await marker(pack, `${parentOf(e.rel)}${WH_PREFIX}${base}`);
        continue;
      }
      // reopened inside its tree without following any link: a running container may have
      // swapped a directory on the way for a link out of it since it was listed
      let fd: number;
      try { fd = openBeneath(bases, e.base!, e.rel); } catch (err) {
        // removed or replaced by a link since it was listed: not in the layer; anything else fails the commit
        if (['ENOENT', 'ENOTDIR', 'ELOOP', 'EXDEV'].includes((err as { code?: string }).code ?? '')) continue;
        throw err;
      }
      try {
        const st = owned(fstatSync(fd));
        await packEntry(pack, fd, e.rel, st, links);
        if (e.opaque && st.isDirectory()) {
          await marker(pack, `${e.rel}/${WH_OPAQUE}`, st); // the directory's permissions and owner, as Docker writes it
        }
      } finally {
        closeFd(fd);
      }
    }
    pack.finalize();
  })().catch((err: unknown) => pack.destroy(err as Error)).finally(() => { for (const fd of bases.values()) closeFd(fd); });
  return pack;
}

interface StoredLayer { desc: Descriptor; diffID: string; size: number }

/** Write the layer blob (gzip) to the content store, hashing the uncompressed tar for its diffID. */
async function storeLayer(core: EngineCore, entries: LayerEntry[], mediaType: string, onBlob: (digest: string) => Promise<void>, ids?: RootlessIds): Promise<StoredLayer> {
  const content = contentStore(core.images);
  const hash = createHash('sha256');
  let size = 0;
  const w = await content.ingest(`commit-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`, { restart: true });
  try {
    const count = coalesce((chunk) => { hash.update(chunk); size += chunk.length; });
    await pipeline(layerTar(entries, ids) as unknown as NodeJS.ReadableStream, count, gzipStream(), w.writable());
    await onBlob(w.digest());
    const blob = await w.commit();
    return { desc: { mediaType, digest: blob.digest, size: blob.size }, diffID: `sha256:${hash.digest('hex')}`, size };
  } catch (err) {
    await w.abort();
    throw err;
  }
}

/** The image config of the commit: the container's config (see the file comment). */
function commitConfig(containerCfg: Record<string, unknown>, parent: ImageConfig, changes: string[]): Record<string, unknown> {
  const cfg: Record<string, unknown> = structuredClone(containerCfg);
  const p = (parent.config ?? {}) as Record<string, unknown>;
  for (const k of ['ExposedPorts', 'Healthcheck', 'Shell']) if (cfg[k] === undefined && p[k] !== undefined) cfg[k] = p[k];
  try {
    return applyChanges(cfg, changes);
  } catch (e) {
    if (e instanceof BerthError) throw usage('commit', e.message.replace(/^import: /, ''));
    throw e;
  }
}

function parseTarget(reference: string | undefined): Reference | undefined {
  if (!reference) return undefined;
  const r = parseReference(reference);
  if (r.digest) throw usage('commit', `invalid reference format: ${reference}: a digest cannot be used as a commit target`);
  return r;
}

/** `commit`: returns the new image's id (`sha256:…`). */
export async function commitContainer(core: EngineCore, ref: string, o: CommitOptions = {}): Promise<string> {
  const target = parseTarget(o.reference);
  let c = reconcile(core, core.store.containers.get(ref));
  const op = `commit ${c.name}`;
  const images = imageStore(core.images);
  const content = contentStore(core.images);
  const parent = await images.get(c.imageId);
  if (!parent) throw new BerthError({ kind: 'notfound', op, message: `${op}: its image ${c.imageId} is gone` });
  const parentConfig = await readImageConfig(core.images, parent, op);
  const config = commitConfig(c.config as Record<string, unknown>, parentConfig, o.changes ?? []);
  const docker = parent.manifest.mediaType === MT.dockerManifest;
  const layerMT = docker ? MT.dockerLayerGzip : MT.ociLayerGzip;
  const snaps = await snapshotter(core.images);
  const lease = await images.lease({});
  try {
    let paused = false;
    let layer: StoredLayer | undefined;
    if (o.pause !== false && c.state.status === 'running') {
      await pauseContainer(core, c.id);
      paused = true;
    }
    try {
      const { entries } = snapshotChanges(snaps, c.snapshotKey);
      if (entries.length) {
        try {
          layer = await storeLayer(core, entries, layerMT, (d) => lease.add({ digests: [d] }), snaps.ids);
        } catch (e) {
          // name the commit (a full disk says so from deep inside the content store)
          const cause = e instanceof BerthError ? e : wrapError(e, 'write layer');
          throw new BerthError({ kind: cause.kind, op, path: cause.path, errno: cause.errno, code: cause.code, message: `${op}: ${cause.message}`, cause: e });
        }
      }
    } finally {
      if (paused) await unpauseContainer(core, c.id);
    }
    let layerSize = 0;
    if (layer) {
      const res = await snaps.unpackLayer({
        parent: chainIDs(parent.diffIDs).at(-1), tarStream: content.createReadStream(layer.desc.digest), mediaType: layerMT, diffID: layer.diffID,
      });
      await lease.add({ chains: [res.chainID] });
      layerSize = res.size;
    }
    const created = new Date().toISOString();
    c = core.store.containers.get(c.id);
    const cmd = ((c.config as { Cmd?: string[] | null }).Cmd ?? []).join(' ');
    const diffIDs = [...parent.diffIDs, ...(layer ? [layer.diffID] : [])];
    const imageConfig: ImageConfig = {
      architecture: parentConfig.architecture, os: parentConfig.os,
      ...(parentConfig.variant ? { variant: parentConfig.variant } : {}),
      ...(parentConfig['os.version'] ? { 'os.version': parentConfig['os.version'] } : {}),
      ...(parentConfig['os.features'] ? { 'os.features': parentConfig['os.features'] } : {}),
      created,
      ...(o.author ? { author: o.author } : {}),
      ...(o.message ? { comment: o.message } : {}),
      container: c.id,
      config: config as ImageConfig['config'],
      rootfs: { type: 'layers', diff_ids: diffIDs },
      history: [...(parentConfig.history ?? []), {
        created, created_by: cmd, ...(o.author ? { author: o.author } : {}), ...(o.message ? { comment: o.message } : {}),
        ...(layer ? {} : { empty_layer: true }),
      }],
    };
    const cfgBlob = await content.writeBlob(JSON.stringify(imageConfig));
    const cfgDesc: Descriptor = { mediaType: docker ? MT.dockerConfig : MT.ociConfig, ...cfgBlob };
    const layers = [...parent.layers, ...(layer ? [layer.desc] : [])];
    const manifestType = docker ? MT.dockerManifest : MT.ociManifest;
    const manBlob = await content.writeBlob(JSON.stringify({ schemaVersion: 2, mediaType: manifestType, config: cfgDesc, layers }));
    await lease.add({ digests: [cfgBlob.digest, manBlob.digest] });
    const record: ImageRecord = {
      id: cfgBlob.digest, manifest: { mediaType: manifestType, ...manBlob }, config: cfgDesc, layers, diffIDs,
      repoDigests: [], created, size: parent.size + layerSize, platform: parent.platform, added: created, source: 'commit',
    };
    await images.put(record);
    let imageRef = '';
    if (target) {
      imageRef = formatReference(target);
      await images.setTag(imageRef, record.id);
      core.store.events.append({ type: 'image', action: 'tag', actorId: record.id, attributes: { name: imageRef } });
    }
    core.event('container', 'commit', c, { comment: o.message ?? '', imageID: record.id, imageRef });
    return record.id;
  } finally {
    await lease.release();
  }
}
