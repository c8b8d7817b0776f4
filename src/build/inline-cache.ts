/**
 * The build cache carried by an image (`--cache-from IMAGE`), as BuildKit's inline cache
 * (`moby.buildkit.cache.v0` in the config) or the classic builder's matching of a cache-from
 * image's history: every image berth builds records, in a config field of its own, the cache key
 * of each step of its last stage (and of the stages it is `FROM`) with where that step's state
 * ends in the image (layers, history entries), its runtime config and times. A build on a machine
 * whose cache is empty reads that record from the images it is given and rebuilds each state from
 * the image itself: a step whose key is there is CACHED, the rest run. The keys are berth's own
 * (content digests of what COPY/ADD use, the instruction, the args it uses, the parent's key), so
 * a hit means what a local cache entry means. The field is not inherited by images built FROM it.
 */
import type { ImageRecord } from '../image/index.js';
import type { BuildImage } from '../engine/index.js';
import type { RuntimeConfig } from './config.js';

/** The image config field (top level, beside `history`). */
export const CACHE_FIELD = 'berth.build.cache.v1';

/** One step: its key, the counts of layers and history entries of its state, size, created, and the runtime config when it changed. */
export interface CacheStep {
  k: string;
  l: number;
  h: number;
  s: number;
  t?: string;
  /** the runtime config (`config`), when not the same as the step before's */
  c?: RuntimeConfig;
  /** the author (MAINTAINER), when set */
  a?: string;
}

/** The step just done, for the trail of its stage (`prev`: the stage's trail so far). */
export function trailStep(img: BuildImage, key: string, prev: CacheStep[]): CacheStep {
  const cfg = img.config;
  const runtime = cfg.config ?? {};
  let last: RuntimeConfig | undefined;
  for (let i = prev.length - 1; i >= 0 && !last; i--) last = prev[i]!.c;
  const same = last !== undefined && JSON.stringify(last) === JSON.stringify(runtime);
  return {
    k: key, l: img.diffIDs.length, h: cfg.history?.length ?? 0, s: img.size,
    ...(cfg.created !== undefined ? { t: cfg.created } : {}), ...(same ? {} : { c: structuredClone(runtime) }),
    ...(cfg.author !== undefined ? { a: cfg.author } : {}),
  };
}

const isStep = (x: unknown): x is CacheStep => {
  const s = x as CacheStep;
  return !!s && typeof s.k === 'string' && /^[0-9a-f]{64}$/.test(s.k) && Number.isInteger(s.l) && s.l >= 0 && Number.isInteger(s.h) && s.h >= 0
    && typeof s.s === 'number' && (s.t === undefined || typeof s.t === 'string') && (s.a === undefined || typeof s.a === 'string')
    && (s.c === undefined || (typeof s.c === 'object' && s.c !== null && !Array.isArray(s.c)));
};

/**
 * The states an image's record names, by key (none when it has no record). Each is the image cut
 * at its step: the first `l` layers, the first `h` history entries, the runtime config then in force,
 * every other field as the image has it (and in its order: the last state is the image itself).
 */
export function seedsOf(record: ImageRecord, config: Record<string, unknown>): Map<string, BuildImage> {
  const out = new Map<string, BuildImage>();
  const steps = config[CACHE_FIELD];
  if (!Array.isArray(steps) || !steps.every(isStep)) return out;
  const template = structuredClone(config);
  delete template[CACHE_FIELD];
  const history = (template.history as unknown[] | undefined) ?? [];
  let runtime: RuntimeConfig | undefined;
  for (const st of steps) {
    if (st.c) runtime = st.c;
    if (!runtime || st.l > record.diffIDs.length || st.l > record.layers.length || st.h > history.length) break;
    const cfg = structuredClone(template);
    cfg.config = structuredClone(runtime);
    cfg.rootfs = { type: 'layers', diff_ids: record.diffIDs.slice(0, st.l) };
    cfg.history = history.slice(0, st.h);
    if (st.t !== undefined) cfg.created = st.t; else delete cfg.created;
    if (st.a !== undefined) cfg.author = st.a; else delete cfg.author;
    out.set(st.k, {
      layers: record.layers.slice(0, st.l), diffIDs: record.diffIDs.slice(0, st.l), config: cfg as unknown as BuildImage['config'],
      docker: record.manifest.mediaType.includes('docker'), platform: record.platform, size: st.s,
    });
  }
  return out;
}
