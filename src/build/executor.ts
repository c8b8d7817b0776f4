/**
 * The builder: the stages the target needs, each run as soon as what it needs is built (stages
 * that do not depend on each other run in parallel), every step keyed and looked up in the cache,
 * RUN through a container of the engine, COPY/ADD/WORKDIR written as layers directly, metadata
 * instructions on the config; progress as BuildKit's plain lines; the image written and tagged
 * at the end. A failed step leaves no container, no temporary image, no tag.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError, mark } from '../lib/index.js';
import { formatReference, imageStore, parseReference, type Lease } from '../image/index.js';
import { buildLayerDirs, resolveImage, sweepBuildLeftovers, writeBuildImage, type BuildImage, type EngineCore } from '../engine/index.js';
import { BuildCache } from './cache.js';
import { FileHashes } from './hashes.js';
import { PatternMatcher, readIgnore } from './dockerignore.js';
import { ContextSource, LayersSource, type FileSource } from './fs.js';
import { dependencies, neededStages, targetIndex } from './graph.js';
import { toDockerfile, type Dockerfile, type Stage } from './instructions.js';
import { expandWord, LexError } from './lex.js';
import { parseDockerfile, DockerfileError } from './parser.js';
import { Step, type StepContext } from './step.js';
import { exportLocal, exportTar, type BuildOutput } from './export.js';
import type { Writable } from 'node:stream';
import type { BuildSecret, BuildSsh } from './mounts.js';
import { CACHE_FIELD, seedsOf, type CacheStep } from './inline-cache.js';

export interface BuildOptions {
  /** the context directory; undefined: an empty context */
  contextDir?: string;
  dockerfile: string;
  /** the Dockerfile's name for messages and `<name>.dockerignore` (default `Dockerfile`) */
  dockerfileName?: string;
  /** the Dockerfile's path, when it is a file (for `<path>.dockerignore`) */
  dockerfilePath?: string;
  tags?: string[];
  /** `--build-arg`: undefined value = from the environment */
  buildArgs?: Record<string, string | undefined>;
  target?: string;
  noCache?: boolean;
  pull?: boolean;
  /** `--cache-from`: images whose recorded steps may be used (pulled when missing) */
  cacheFrom?: string[];
  labels?: Record<string, string>;
  /** one progress line (no newline) */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** `--secret id=...,src=...|env=...` */
  secrets?: BuildSecret[];
  /** `--ssh ID=SOCKET`: SSH agents RUN --mount=type=ssh reaches */
  ssh?: BuildSsh[];
  /** `--allow` entitlements (security.insecure) */
  allow?: string[];
  /** `--add-host name:ip` for the RUNs */
  addHosts?: string[];
  /** `--network` of the RUNs (default: the engine's default bridge) */
  network?: 'default' | 'none' | 'host';
  /** `-o`: local/tar write the final filesystem instead of an image */
  output?: BuildOutput;
  /** where `type=tar,dest=-` goes */
  stdout?: Writable;
}

export interface BuildResult { id: string; steps: number; cached: number; warnings: string[] }

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
const PROXY = ['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY'];
export const PREDEFINED_PROXY = new Set([...PROXY, ...PROXY.map((p) => p.toLowerCase())]);

function platformArgs(): Map<string, string> {
  const arch = ARCH[process.arch] ?? process.arch;
  const m = new Map<string, string>();
  for (const p of ['TARGET', 'BUILD']) {
    m.set(`${p}PLATFORM`, `linux/${arch}`); m.set(`${p}OS`, 'linux'); m.set(`${p}ARCH`, arch); m.set(`${p}VARIANT`, '');
  }
  return m;
}

function ignoreFor(o: BuildOptions): PatternMatcher {
  const files = [o.dockerfilePath ? `${o.dockerfilePath}.dockerignore` : undefined, o.contextDir ? join(o.contextDir, '.dockerignore') : undefined];
  for (const f of files) if (f && existsSync(f)) return new PatternMatcher(readIgnore(readFileSync(f, 'utf8')));
  return new PatternMatcher([]);
}

/** Build: returns the image id. Throws BerthError (DockerfileError for the file's own errors). */
export async function build(core: EngineCore, o: BuildOptions): Promise<BuildResult> {
  const file = o.dockerfileName ?? 'Dockerfile';
  const parsed = parseDockerfile(o.dockerfile, file);
  const df: Dockerfile = toDockerfile(parsed, file);
  const log = o.log ?? (() => undefined);
  const warnings = [...df.warnings];
  if (df.syntax) log(`#0 syntax=${df.syntax}: berth builds with its built-in Dockerfile frontend`);
  const buildArgs = new Map<string, string>();
  for (const [k, v] of Object.entries(o.buildArgs ?? {})) {
    const val = v ?? process.env[k];
    if (val !== undefined) buildArgs.set(k, val);
  }
  const used = new Set<string>();
  // global ARGs: usable by FROM lines (and as defaults for a stage's redeclared ARG)
  const globals = platformArgs();
  for (const ins of df.globalArgs) {
    for (const w of ins.args) {
      const i = w.indexOf('=');
      const name = i < 0 ? w : w.slice(0, i);
      used.add(name);
      let value: string | undefined;
      try { value = buildArgs.get(name) ?? (i < 0 ? undefined : expandWord(w.slice(i + 1), globals, { escape: df.escape })); } catch (e) {
        throw new DockerfileError(file, ins.node.line, (e as Error).message, 'ARG');
      }
      if (value !== undefined) globals.set(name, value);
    }
  }
  const expandGlobal = (s: string) => {
    try { return expandWord(s, globals, { escape: df.escape }); } catch (e) { throw new DockerfileError(file, 1, (e as LexError).message); }
  };
  const deps = dependencies(df, expandGlobal);
  const target = targetIndex(df, o.target);
  const needed = neededStages(df, deps, target);
  mark('build: parsed');
  const hashes = await FileHashes.load(core.options.root);
  mark('build: file hashes loaded');
  const context = new ContextSource(o.contextDir ?? '/nonexistent-empty-context', ignoreFor(o), hashes);
  const cache = new BuildCache(core.options.root);
  const images = imageStore(core.images);
  await sweepBuildLeftovers(core);
  const lease: Lease = await images.lease({});
  let stepNo = 0;
  const counters = { steps: 0, cached: 0 };
  const results = new Map<number, Promise<{ img: BuildImage; key: string; trail: CacheStep[] }>>();
  const views = new Map<string, Promise<FileSource>>();
  const ctx: StepContext = {
    core, df, cache, lease, context, buildArgs, used, globals, log, signal: o.signal, noCache: !!o.noCache, pull: !!o.pull, counters, storedBlobs: new Set(), seeds: new Map(),
    secrets: new Map((o.secrets ?? []).map((s) => [s.id, s])), ssh: new Map((o.ssh ?? []).map((s) => [s.id, s])), allow: new Set(o.allow ?? []), addHosts: o.addHosts ?? [], network: o.network ?? 'default',
    nextStep: () => ++stepNo,
    stageResult: (i: number) => runStage(i),
    layersOf: (img: BuildImage): Promise<FileSource> => {
      // one view per layer chain in a build (a view memoises its lookups)
      const k = img.diffIDs.at(-1) ?? '';
      let v = views.get(k);
      if (!v) views.set(k, (v = buildLayerDirs(core, img.diffIDs).then((dirs) => new LayersSource(dirs, hashes))));
      return v;
    },
    imageSource: async (ref: string) => {
      const r = await resolveImage(core.images, ref, { pull: o.pull ? 'always' : 'missing', events: core.store.events });
      return new LayersSource(await buildLayerDirs(core, r.record.diffIDs), hashes);
    },
    stageLabel: (s: Stage, k: number) => {
      const n = s.instructions.length + 1;
      return df.stages.length === 1 ? `[${k}/${n}]` : `[${s.name ?? `stage-${s.index}`} ${k}/${n}]`;
    },
  };
  function runStage(i: number): Promise<{ img: BuildImage; key: string; trail: CacheStep[] }> {
    let p = results.get(i);
    if (!p) {
      p = new Step(ctx, df.stages[i]!).run();
      results.set(i, p);
    }
    return p;
  }
  try {
    if (!o.noCache) for (const ref of o.cacheFrom ?? []) await cacheFrom(core, ref, ctx.nextStep(), ctx.seeds, log, warnings);
    // every needed stage starts now; each waits only for what it uses
    const all = needed.map((i) => runStage(i));
    const settled = await Promise.allSettled(all);
    const failed = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
    const { img, trail } = await runStage(target);
    mark('build: steps done');
    const n = ctx.nextStep();
    if (o.output && o.output.type !== 'image') {
      const dest = o.output.dest!;
      log(`#${n} exporting to ${o.output.type === 'local' ? 'client directory' : 'client tarball'}`);
      const fsrc = await ctx.layersOf(img);
      if (o.output.type === 'local') await exportLocal(fsrc, dest);
      else await exportTar(fsrc, dest === '-' ? o.stdout! : createWriteStream(dest, { mode: 0o644 }));
      log(`#${n} copying files to ${dest === '-' ? 'stdout' : dest} done`);
      log(`#${n} DONE 0.0s`);
      return { id: '', steps: counters.steps, cached: counters.cached, warnings };
    }
    log(`#${n} exporting to image`);
    const final: BuildImage = structuredClone(img);
    final.config.config ??= {};
    if (o.labels && Object.keys(o.labels).length) final.config.config.Labels = { ...(final.config.config.Labels ?? {}), ...o.labels };
    // the steps' keys, for a build elsewhere with --cache-from this image
    (final.config as unknown as Record<string, unknown>)[CACHE_FIELD] = trail;
    // an unchanged rebuild finds its image and tags as they are, and writes nothing
    const known = await images.get(`sha256:${createHash('sha256').update(JSON.stringify(final.config)).digest('hex')}`);
    const rec = known ?? await writeBuildImage(core, final, lease);
    log(`#${n} writing image ${rec.id} done`);
    for (const t of o.tags ?? []) {
      const ref = parseReference(t);
      if (ref.digest) throw new BerthError({ kind: 'usage', op: 'build', message: `build: invalid tag ${t}: a digest cannot be used as a tag` });
      const name = formatReference(ref);
      if (await images.getTag(name) === rec.id) { log(`#${n} naming to ${name} done`); continue; }
      await images.setTag(name, rec.id);
      core.store.events.append({ type: 'image', action: 'tag', actorId: rec.id, attributes: { name } });
      log(`#${n} naming to ${name} done`);
    }
    log(`#${n} DONE 0.0s`);
    mark('build: image written');
    const unused = [...buildArgs.keys()].filter((k) => !used.has(k) && !PREDEFINED_PROXY.has(k));
    if (unused.length) warnings.push(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed`);
    return { id: rec.id, steps: counters.steps, cached: counters.cached, warnings };
  } finally {
    context.close();
    await hashes.save().catch(() => undefined);
    await lease.release();
  }
}


/** The steps recorded in a `--cache-from` image, into `seeds` (pulled when not stored; an image that cannot be had is a warning). */
async function cacheFrom(core: EngineCore, ref: string, n: number, seeds: Map<string, BuildImage>, log: (l: string) => void, warnings: string[]): Promise<void> {
  const t0 = Date.now();
  log(`#${n} importing cache manifest from ${ref}`);
  try {
    const r = await resolveImage(core.images, ref, { pull: 'missing', events: core.store.events });
    const found = seedsOf(r.record, r.config as unknown as Record<string, unknown>);
    if (!found.size) warnings.push(`[Warning] --cache-from ${ref}: the image has no berth build cache record (it was not built by berth)`);
    for (const [k, v] of found) if (!seeds.has(k)) seeds.set(k, v);
  } catch (e) {
    warnings.push(`[Warning] --cache-from ${ref}: ${(e as Error).message}`);
  }
  log(`#${n} DONE ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}
