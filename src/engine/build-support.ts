/**
 * What `berth build` needs from the engine: image records written from a layer list and a config,
 * layers stored from a tar stream (gzip blob + the unpacked snapshot of the chain), a RUN step
 * (a container of the current state, its diff committed as one layer, the container, its
 * volumes and the temporary image record removed whatever happens), and the directories of an
 * image's layers for reading files (/etc/passwd) without mounting anything.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { coalesce, gzipStream } from '../lib/index.js';
import {
  contentStore, imageStore, MT, snapshotter, type Descriptor, type ImageConfig, type ImageRecord, type Lease, type Platform,
} from '../image/index.js';
import { chainIDs } from '../snapshots/index.js';
import { lgetxattr } from '../sys/index.js';
import { lockOwnerAlive, ownerTag } from '../content/index.js';
import type { MountSpec } from './spec/index.js';
import { commitContainer, killContainer, removeContainer, runContainer, type EngineCore } from './containers/index.js';


const BUILD_LABEL = 'berth.build';

/** Where `RUN --mount=type=cache` directories live (one per id, named by a digest of it, with `<name>.id` holding the id). */
export const cacheMountRoot = (root: string) => join(root, 'builder', 'mounts', 'cache');

async function treeBytes(p: string): Promise<number> {
  const st = await lstat(p).catch(() => undefined);
  if (!st?.isDirectory()) return st?.size ?? 0;
  let n = 0;
  for (const e of await readdir(p).catch(() => [] as string[])) n += await treeBytes(join(p, e));
  return n;
}

/** The cache mounts of a data root, for `system df`'s Build Cache row. */
export async function cacheMountUsage(root: string): Promise<Array<{ id: string; name: string; size: number; lastUsed: Date; inUse: boolean }>> {
  const dir = cacheMountRoot(root);
  const out = [];
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    if (n.includes('.')) continue;
    const id = await readFile(join(dir, `${n}.id`), 'utf8').catch(() => n);
    const st = await lstat(join(dir, n)).catch(() => undefined);
    const lock = await readFile(join(dir, `${n}.lock`), 'utf8').catch(() => undefined);
    out.push({ id, name: n, size: await treeBytes(join(dir, n)), lastUsed: st?.mtime ?? new Date(0), inUse: lock !== undefined && lockOwnerAlive(lock) });
  }
  return out;
}
const STEP_SOURCE = 'build-step ';
/** Names this process (pid and start) on what a step makes, so that a later build can tell a killed builder's leftovers. */
const OWNER = `${process.pid} ${ownerTag()}`;

/**
 * What builders killed during a RUN left (kill -9): their step containers and temporary images,
 * removed when no live process owns them.
 */
export async function sweepBuildLeftovers(core: EngineCore): Promise<void> {
  for (const c of core.store.containers.list({ all: true })) {
    const owner = c.labels[BUILD_LABEL];
    if (owner && !lockOwnerAlive(owner)) await removeContainer(core, c.id, { force: true, volumes: true }).catch(() => undefined);
  }
  // a marker per running step names its owner: the image records are read only when one is dead
  const dir = join(core.options.root, 'builder', 'steps');
  const dead: string[] = [];
  for (const m of await readdir(dir).catch(() => [] as string[])) {
    const owner = await readFile(join(dir, m), 'utf8').catch(() => '');
    if (!lockOwnerAlive(owner)) dead.push(m);
  }
  if (!dead.length) return;
  const images = imageStore(core.images);
  for (const r of await images.list()) {
    if (!r.source?.startsWith(STEP_SOURCE) || lockOwnerAlive(r.source.slice(STEP_SOURCE.length))) continue;
    if (core.store.containers.list({ all: true }).some((c) => c.imageId === r.id)) continue;
    if (!(await images.tagsOf(r.id)).length) await images.delete(r.id).catch(() => undefined);
  }
  for (const m of dead) await rm(join(dir, m), { force: true });
}

export interface BuildImage {
  layers: Descriptor[];
  diffIDs: string[];
  config: ImageConfig;
  /** docker or OCI manifests (as the base image) */
  docker: boolean;
  platform: Platform;
  /** bytes of the uncompressed layers */
  size: number;
}

export interface BuiltLayer { desc: Descriptor; diffID: string; size: number }

/** Write the config and manifest blobs and the image record (untagged). */
export async function writeBuildImage(core: EngineCore, img: BuildImage, lease?: Lease, source = 'build'): Promise<ImageRecord> {
  const content = contentStore(core.images);
  const cfgBlob = await content.writeBlob(JSON.stringify(img.config));
  const cfgDesc: Descriptor = { mediaType: img.docker ? MT.dockerConfig : MT.ociConfig, ...cfgBlob };
  const manifestType = img.docker ? MT.dockerManifest : MT.ociManifest;
  const manBlob = await content.writeBlob(JSON.stringify({ schemaVersion: 2, mediaType: manifestType, config: cfgDesc, layers: img.layers }));
  await lease?.add({ digests: [cfgBlob.digest, manBlob.digest] });
  const now = new Date().toISOString();
  const record: ImageRecord = {
    id: cfgBlob.digest, manifest: { mediaType: manifestType, ...manBlob }, config: cfgDesc, layers: img.layers, diffIDs: img.diffIDs,
    repoDigests: [], created: img.config.created ?? now, size: img.size, platform: img.platform, added: now, source,
  };
  await imageStore(core.images).put(record);
  return record;
}

/** Store an uncompressed layer tar (gzip blob) and unpack it on top of `parentDiffIDs`. */
export async function storeBuildLayer(core: EngineCore, tar: Readable, parentDiffIDs: string[], docker: boolean, lease: Lease): Promise<BuiltLayer> {
  const content = contentStore(core.images);
  const mediaType = docker ? MT.dockerLayerGzip : MT.ociLayerGzip;
  const hash = createHash('sha256');
  let size = 0;
  const w = await content.ingest(`build-${process.pid}-${randomBytes(6).toString('hex')}`, { restart: true });
  let desc: Descriptor;
  try {
    const count = coalesce((chunk) => { hash.update(chunk); size += chunk.length; });
    await pipeline(tar, count, gzipStream(), w.writable());
    await lease.add({ digests: [w.digest()] });
    const blob = await w.commit();
    desc = { mediaType, digest: blob.digest, size: blob.size };
  } catch (e) {
    await w.abort();
    throw e;
  }
  const diffID = `sha256:${hash.digest('hex')}`;
  const snaps = await snapshotter(core.images);
  const res = await snaps.unpackLayer({ parent: chainIDs(parentDiffIDs).at(-1), tarStream: content.createReadStream(desc.digest), mediaType, diffID });
  await lease.add({ chains: [res.chainID] });
  return { desc, diffID, size: res.size };
}

/**
 * Whether a layer chain is still stored (blobs and unpacked snapshots): a cache entry is usable.
 * `known`: blobs a build already found (not looked up again; those found are added).
 */
export async function haveBuildLayers(core: EngineCore, layers: Descriptor[], diffIDs: string[], known?: Set<string>): Promise<boolean> {
  const content = contentStore(core.images);
  for (const l of layers) {
    if (known?.has(l.digest)) continue;
    if (!(await content.has(l.digest))) return false;
    known?.add(l.digest);
  }
  const snaps = await snapshotter(core.images);
  return chainIDs(diffIDs).every((c) => snaps.stat(c)?.kind === 'committed');
}

/** The fs directories of an image's layers, top first (empty for `scratch`). */
export async function buildLayerDirs(core: EngineCore, diffIDs: string[]): Promise<string[]> {
  if (!diffIDs.length) return [];
  return (await snapshotter(core.images)).layerDirs(chainIDs(diffIDs).at(-1)!);
}

export interface BuildRunRequest {
  /** the argv (shell form already wrapped) */
  cmd: string[];
  /** extra environment (build args in scope), `K=V` */
  env: string[];
  network: 'none' | 'host' | 'bridge';
  /** output of the step as it comes */
  onOutput?: (chunk: Buffer) => void;
  /** aborted: the step's container is killed */
  signal?: AbortSignal;
  /** files bound read-only into the container for the step (heredoc scripts under /dev/pipes) */
  files?: Array<{ target: string; data: string; mode: number }>;
  /** `RUN --mount`s (binds of host directories/files, tmpfs) */
  mounts?: MountSpec[];
  /** mount points absent from the image: removed from the diff when the run left them empty (BuildKit's mount stubs) */
  stubs?: string[];
  /** `--security=insecure` (allowed by `--allow security.insecure`) */
  privileged?: boolean;
  /** `--add-host` entries (`name:ip`) */
  extraHosts?: string[];
}

export interface BuildRunResult {
  exitCode: number;
  /** the new layer; undefined when the step changed nothing */
  layer?: BuiltLayer;
}

/**
 * Empty mount points the run created (`stubs`: paths absent from the image) out of the container's
 * upper directory, deepest first; then their parents that exist in the image, when overlay only
 * copied them up for the stub (empty, not opaque, same mode and owner as below).
 */
async function removeStubs(core: EngineCore, id: string, stubs: string[]): Promise<void> {
  const snaps = await snapshotter(core.images);
  const [upper, ...lowers] = snaps.layerDirs(core.store.containers.get(id).snapshotKey);
  const rels = [...new Set(stubs.map((s) => s.replace(/^\/+/, '')).filter(Boolean))].sort((x, y) => y.split('/').length - x.split('/').length);
  const parents = new Set<string>();
  for (const rel of rels) {
    const p = join(upper!, rel);
    const st = await lstat(p).catch(() => undefined);
    if (st?.isDirectory()) { if (!(await readdir(p)).length) await rmdir(p); } else if (st?.isFile() && st.size === 0) await rm(p);
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    if (parent && !rels.includes(parent)) parents.add(parent);
  }
  for (const rel of [...parents].sort((x, y) => y.split('/').length - x.split('/').length)) {
    const p = join(upper!, rel);
    const st = await lstat(p).catch(() => undefined);
    if (!st?.isDirectory() || (await readdir(p)).length || lgetxattr(p, 'trusted.overlay.opaque')?.toString() === 'y') continue;
    let below;
    for (const l of lowers) { below = await lstat(join(l, rel)).catch(() => undefined); if (below) break; }
    if (below?.isDirectory() && below.mode === st.mode && below.uid === st.uid && below.gid === st.gid) await rmdir(p);
  }
}

/**
 * One RUN step: a container of `img` (its config: env, user, workdir), the command run attached;
 * on success its diff is stored as a layer. The container and the temporary image go in any case.
 */
export async function runBuildStep(core: EngineCore, img: BuildImage, req: BuildRunRequest, lease: Lease): Promise<BuildRunResult> {
  const images = imageStore(core.images);
  const markers = join(core.options.root, 'builder', 'steps');
  await mkdir(markers, { recursive: true });
  const marker = join(markers, randomBytes(8).toString('hex'));
  await writeFile(marker, OWNER);
  // a config of its own (never the id of a user's image, nor of another build's step)
  const temp = await writeBuildImage(core, { ...img, config: { ...img.config, container: `berth-build-step-${randomBytes(8).toString('hex')}` } }, lease, `${STEP_SOURCE}${OWNER}`);
  const sink = { write: (d: Buffer) => { req.onOutput?.(d); return true; } } as unknown as NodeJS.WritableStream;
  let id: string | undefined;
  let filesDir: string | undefined;
  const mounts: MountSpec[] = [...(req.mounts ?? [])];
  if (req.files?.length) {
    filesDir = await mkdtemp(join(core.options.runRoot, 'build-files-'));
    for (const [i, f] of req.files.entries()) {
      const host = join(filesDir, String(i));
      await writeFile(host, f.data, { mode: f.mode });
      mounts.push({ type: 'bind', source: host, target: f.target, readonly: true });
    }
  }
  const mine = (cid: string) => core.store.containers.get(cid).imageId === temp.id;
  const onAbort = () => {
    for (const c of core.store.containers.list({ all: true })) if (c.imageId === temp.id) void killContainer(core, c.id, 'SIGKILL').catch(() => undefined);
  };
  req.signal?.addEventListener('abort', onAbort);
  try {
    if (req.signal?.aborted) return { exitCode: 130 };
    const res = await runContainer(core, {
      image: temp.id, pull: 'never',
      options: {
        cmd: req.cmd, entrypoint: [], env: req.env, network: req.network, labels: { [BUILD_LABEL]: OWNER }, ...(mounts.length ? { mounts } : {}),
        ...(req.privileged ? { privileged: true } : {}), ...(req.extraHosts?.length ? { extraHosts: req.extraHosts } : {}),
      },
    }, { stdout: sink, stderr: sink });
    id = res.id;
    const exitCode = res.exitCode ?? 255;
    if (exitCode !== 0 || req.signal?.aborted || !mine(id)) return { exitCode: exitCode || 130 };
    if (req.stubs?.length) await removeStubs(core, id, req.stubs);
    const committed = await commitContainer(core, id, { pause: false });
    const rec = await images.get(committed);
    await images.delete(committed);
    if (!rec || rec.layers.length === img.layers.length) return { exitCode };
    const desc = rec.layers.at(-1)!;
    const diffID = rec.diffIDs.at(-1)!;
    await lease.add({ digests: [desc.digest], chains: [chainIDs(rec.diffIDs).at(-1)!] });
    return { exitCode, layer: { desc, diffID, size: rec.size - temp.size } };
  } finally {
    req.signal?.removeEventListener('abort', onAbort);
    if (id) await removeContainer(core, id, { force: true, volumes: true }).catch(() => undefined);
    else {
      // a create that failed half-way: any container of this image
      for (const c of core.store.containers.list({ all: true })) {
        if (c.imageId === temp.id) await removeContainer(core, c.id, { force: true, volumes: true }).catch(() => undefined);
      }
    }
    if (filesDir) await rm(filesDir, { recursive: true, force: true });
    await images.delete(temp.id).catch(() => undefined);
    await rm(marker, { force: true });
  }
}
