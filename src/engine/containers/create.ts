/**
 * `create`: a container record (status created), its writable snapshot on the image's layers,
 * its data directory and its volumes. Anything that fails undoes what was done before it.
 */
import { mkdir, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { BerthError, invalid, mark } from '../../lib/index.js';
import { chainIDs } from '../../snapshots/index.js';
import { hostCgroupVersion } from '../../cgroups/index.js';
import { snapshotter } from '../../image/index.js';
import { checkBindSources, effectiveConfig, type MountSpec, type RunOptions } from '../spec/index.js';
import { createVolumeDir } from '../files/index.js';
import { randomId, type Container } from '../store/index.js';
import type { EngineCore } from './core.js';
import { dockerConfig, dockerHostConfig, type CreateFlags } from './docker-shape.js';
import { mergeHealthcheck, validateHealthcheck } from './health.js';
import { resolveImage, type ImageRequest } from './image.js';
import { planNetworks } from '../networks/plan.js';
import { isRootless } from '../rootless/paths.js';
import { checkRootlessResources } from '../rootless/spec.js';

export interface CreateRequest extends ImageRequest, CreateFlags {
  image: string;
  options?: RunOptions;
  name?: string;
  /** Docker's create warnings (the CLI prints `WARNING: …`). */
  onWarning?: (message: string) => void;
}

/** What dockerd does on a cgroup v2 host: a private cgroup namespace by default; settings v2
 *  has no file for are discarded with its warnings instead of failing at start. */
export function adaptToCgroupV2(opts: RunOptions, warn: (message: string) => void, version = hostCgroupVersion()): void {
  if (version !== 2) return;
  opts.cgroupns ||= 'private';
  if (opts.oomKillDisable !== undefined) {
    if (opts.oomKillDisable) warn('Your kernel does not support OomKillDisable. OomKillDisable discarded.');
    delete opts.oomKillDisable;
  }
  if (opts.memorySwappiness !== undefined && opts.memorySwappiness !== -1) {
    warn('Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.');
    delete opts.memorySwappiness;
  }
}

/** The key under which the engine keeps the run options in HostConfig (hidden by inspect). */
export const RUN_OPTIONS_KEY = 'BerthRunOptions';

const clean = (p: string) => posix.normalize(p).replace(/(.)\/$/, '$1');

/** `--volumes-from c[:ro|:rw]`: the other container's volume and bind mounts. */
function volumesFrom(core: EngineCore, refs: string[] | undefined): MountSpec[] {
  const out: MountSpec[] = [];
  for (const spec of refs ?? []) {
    const [ref, mode] = spec.split(':');
    if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw invalid('create container', `invalid mode for volumes-from: ${mode}`);
    const src = core.store.containers.get(ref!);
    const opts = (src.hostConfig[RUN_OPTIONS_KEY] ?? {}) as RunOptions;
    for (const m of opts.mounts ?? []) {
      if (m.type === 'tmpfs') continue;
      out.push({ ...m, readonly: mode === 'ro' ? true : mode === 'rw' ? false : m.readonly });
    }
  }
  return out;
}

/**
 * All mounts of the container with every volume named: the user's, then `--volumes-from`, then
 * an anonymous volume for each image volume no other mount covers (Docker's order of precedence).
 */
export function planMounts(core: EngineCore | null, opts: RunOptions, imageVolumes: string[], from?: string[]): MountSpec[] {
  const mounts: MountSpec[] = (opts.mounts ?? []).map((m) => ({ ...m, target: clean(m.target) }));
  const taken = new Set(mounts.map((m) => m.target));
  for (const t of Object.keys(opts.tmpfs ?? {})) taken.add(clean(t));
  if (core) {
    for (const m of volumesFrom(core, from)) {
      if (taken.has(clean(m.target))) continue;
      taken.add(clean(m.target));
      mounts.push(m);
    }
  }
  for (const v of imageVolumes) {
    const t = clean(v);
    if (taken.has(t)) continue;
    taken.add(t);
    mounts.push({ type: 'volume', target: t, readonly: false });
  }
  for (const m of mounts) if (m.type === 'volume' && !m.source) m.source = randomId();
  return mounts;
}

export async function createContainer(core: EngineCore, req: CreateRequest): Promise<Container> {
  const op = 'create container';
  const opts: RunOptions = { ...(req.options ?? {}) };
  for (const mode of [opts.network, opts.pid, opts.ipc]) {
    if (mode?.startsWith('container:')) core.store.containers.get(mode.slice('container:'.length)); // must exist
  }
  adaptToCgroupV2(opts, req.onWarning ?? (() => {}));
  if (isRootless()) checkRootlessResources(opts, op); // refused before a record exists (start checks again: update)
  const joins = planNetworks(core, opts, op);
  mark('create');
  const image = await resolveImage(core.images, req.image, { ...req, events: core.store.events });
  mark('image resolved');
  // Docker's config errors (no command, bad workdir, bad stop signal) before anything is made.
  const probeCfg = effectiveConfig(image.config, opts, { id: '0'.repeat(64) });
  const mounts = planMounts(core, opts, probeCfg.volumes, req.volumesFrom);
  checkBindSources(mounts);
  opts.mounts = mounts;
  const volumes = mounts.filter((m) => m.type === 'volume').map((m) => ({
    name: m.source, destination: m.target, rw: !m.readonly,
    anonymous: /^[0-9a-f]{64}$/.test(m.source!) && !(req.options?.mounts ?? []).some((u) => u.source === m.source),
  }));
  const flags: CreateFlags = {
    ...req,
    logMaxSize: req.logMaxSize ?? core.options.logMaxSize,
    logMaxFile: req.logMaxFile ?? core.options.logMaxFile,
  };
  validateHealthcheck(opts.healthcheck, op);
  const hostConfig = dockerHostConfig(opts, flags);
  hostConfig[RUN_OPTIONS_KEY] = opts;
  const snapsP = snapshotter(core.images);
  let rec: Container | undefined;
  try {
    rec = core.store.containers.create({
      name: req.name,
      image: req.image,
      imageId: image.record.id,
      config: {},
      hostConfig,
      volumes: volumes.map((v) => ({ name: v.name, destination: v.destination, rw: v.rw, anonymous: v.anonymous })),
      driver: 'overlay2',
      platform: image.record.platform?.os ?? 'linux',
    });
    mark('record created');
    const id = rec.id;
    const cfg = effectiveConfig(image.config, opts, { id });
    const config = dockerConfig(cfg, req.image, opts, flags);
    // --userns keep-id (podman): the user's own ids are the container's user unless --user says otherwise
    if (opts.userns === 'keep-id' && !opts.user) config.User = `${process.geteuid?.()}:${process.getegid?.()}`;
    const exposed = [...Object.keys(image.config.config?.ExposedPorts ?? {}), ...(opts.expose ?? []), ...Object.keys(opts.publish ?? {})];
    if (exposed.length) config.ExposedPorts = Object.fromEntries([...new Set(exposed)].map((k) => [k, {}]));
    const health = mergeHealthcheck(opts.healthcheck, image.config.config?.Healthcheck);
    if (health) config.Healthcheck = health;
    if (opts.healthOnFailure && opts.healthOnFailure !== 'none') config.HealthcheckOnFailureAction = opts.healthOnFailure;
    const paths = core.paths(id);
    const snaps = await snapsP;
    const chain = chainIDs(image.record.diffIDs);
    const key = `container-${id}`;
    await snaps.prepare(key, chain.at(-1), { labels: { 'berth.container': id } });
    mark('snapshot prepared');
    await mkdir(paths.dataDir, { recursive: true, mode: 0o710 });
    const newVolumes: string[] = [];
    for (const v of rec.volumes) if ((await createVolumeDir(core.options.root, v.name)).created) newVolumes.push(v.name);
    rec = core.store.tx(() => {
      const r = core.store.containers.update(id, { config, labels: cfg.labels, snapshotKey: key, bundleDir: paths.dataDir });
      for (const j of joins) core.store.networks.addEndpoint(id, j.net.id, j.request);
      for (const v of newVolumes) core.store.events.append({ type: 'volume', action: 'create', actorId: v, attributes: { driver: 'local' } });
      core.event('container', 'create', r, { image: req.image, name: r.name });
      return r;
    });
    return rec;
  } catch (e) {
    if (rec) await undoCreate(core, rec).catch(() => undefined);
    throw e instanceof BerthError ? e : new BerthError({ kind: 'system', op, message: `${op}: ${(e as Error).message}`, cause: e });
  }
}

async function undoCreate(core: EngineCore, rec: Container): Promise<void> {
  const snaps = await snapshotter(core.images);
  if (snaps.stat(`container-${rec.id}`)) await snaps.remove(`container-${rec.id}`);
  await rm(core.paths(rec.id).dataDir, { recursive: true, force: true });
  const { removedVolumes } = core.store.containers.remove(rec.id, { force: true, volumes: true });
  for (const v of removedVolumes) await rm(posix.dirname(v.mountpoint), { recursive: true, force: true });
}
