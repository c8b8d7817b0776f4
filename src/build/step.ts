/**
 * One stage, step by step: FROM (an image pulled by policy, `scratch`, or an earlier stage), the
 * base image's ONBUILD triggers, then each instruction — keyed, looked up in the cache, else
 * executed (RUN in a container, COPY/ADD/WORKDIR as a layer tar, the rest on the config) — with
 * its history entry as BuildKit writes it.
 */
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { BerthError, mark } from '../lib/index.js';
import {
  haveBuildLayers, resolveImage, runBuildStep, storeBuildLayer, type BuildImage, type BuildRunRequest,
} from '../engine/index.js';
import { stepKey } from './cache.js';
import {
  checkStopSignal, envMap, type RuntimeConfig, exposedPorts, goQ, healthcheck, healthHistory, parseChmod, resolveChown, setEnv,
} from './config.js';
import { copyItems, CopyError, download, itemsKey, itemsTar, type CopyItem, type CopySource } from './copy.js';
import { LayersSource, type FileSource } from './fs.js';
import { GitError, gitSources, isGitSource } from './git.js';
import { stageRef } from './graph.js';
import { toInstruction, type Instruction, type Stage } from './instructions.js';
import { expandWord, type Env } from './lex.js';
import { DockerfileError, parseHeredocWord, parseLine, chompHeredoc } from './parser.js';
import { MountError, parseMount, prepareMounts, treeKey, type RunMount } from './mounts.js';
import { readText, StepFailed, type StepContext } from './step-context.js';
import { CACHE_FIELD, trailStep, type CacheStep } from './inline-cache.js';

export { StepFailed, type StepContext } from './step-context.js';

const COMMENT = 'buildkit.dockerfile.v0';
/** Changes when what the builder makes of a step changes (old entries are then never hit). */
const CACHE_FORMAT = 2;
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const TAIL_LINES = 8;

export class Step {
  private img!: BuildImage;
  private key = '';
  /** ARGs declared in this stage: name → value (undefined: declared, unset) */
  private readonly args = new Map<string, string | undefined>();
  private cmdSet = false;
  private k = 1;
  /** each step's key and where its state ends (the image's inline cache record) */
  private trail: CacheStep[] = [];

  constructor(private readonly c: StepContext, private readonly stage: Stage) {}

  private fail(ins: Instruction, msg: string): never {
    throw new DockerfileError(this.c.df.file, ins.node.line, `${ins.name}: ${msg}`, ins.name);
  }

  /** The variables an instruction's words expand with: ARGs in scope, overridden by ENV. */
  private env(): Env {
    const m = new Map<string, string>();
    for (const [k, v] of this.args) if (v !== undefined) m.set(k, v);
    for (const [k, v] of envMap(this.img.config.config ?? {})) m.set(k, v);
    return m;
  }

  private expand(ins: Instruction, w: string, raw = false): string {
    try { return expandWord(w, this.env(), { escape: this.c.df.escape, rawQuotes: raw }); } catch (e) { return this.fail(ins, (e as Error).message); }
  }

  private history(createdBy: string, empty: boolean): void {
    const cfg = this.img.config;
    cfg.history = [...(cfg.history ?? []), { created: new Date().toISOString(), created_by: createdBy, comment: COMMENT, ...(empty ? { empty_layer: true } : {}) }];
  }

  async run(): Promise<{ img: BuildImage; key: string; trail: CacheStep[] }> {
    await this.from();
    const base = this.img.config.config?.OnBuild ?? [];
    if (base.length) {
      this.img.config.config!.OnBuild = null;
      for (const t of base) await this.instruction(toInstruction(parseLine(t, this.c.df.escape, this.stage.from.node.line), this.c.df.file), `ONBUILD ${t}`);
    }
    for (const ins of this.stage.instructions) {
      this.k++;
      await this.instruction(ins);
    }
    return { img: this.img, key: this.key, trail: this.trail };
  }

  private async from(): Promise<void> {
    const s = this.stage;
    const n = this.c.nextStep();
    const t0 = Date.now();
    const name = (() => { try { return expandWord(s.base, this.c.globals, { escape: this.c.df.escape }); } catch (e) { return this.fail(s.from, (e as Error).message); } })();
    const dep = stageRef(this.c.df, name, s.index, true);
    this.c.log(`#${n} ${this.c.stageLabel(s, 1)} FROM ${name}`);
    if (dep) {
      const r = await this.c.stageResult(dep.index);
      this.img = structuredClone(r.img);
      this.key = stepKey('stage', r.key);
      this.trail = [...r.trail];
    } else if (name.toLowerCase() === 'scratch') {
      const arch = this.c.globals.get('TARGETARCH')!;
      this.img = { layers: [], diffIDs: [], docker: true, platform: { os: 'linux', architecture: arch }, size: 0,
        config: { architecture: arch, os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] } };
      this.key = stepKey('scratch', CACHE_FORMAT);
    } else {
      let r;
      const platform = s.platform ? expandWord(s.platform, this.c.globals, { escape: this.c.df.escape }) : undefined;
      try { r = await resolveImage(this.c.core.images, name, { pull: this.c.pull ? 'always' : 'missing', events: this.c.core.store.events, ...(platform ? { platform } : {}) }); } catch (e) {
        throw new DockerfileError(this.c.df.file, s.from.node.line, `FROM ${name}: ${(e as Error).message}`, 'FROM');
      }
      const { record, config } = r;
      this.img = {
        layers: record.layers, diffIDs: record.diffIDs, docker: record.manifest.mediaType.includes('docker'), platform: record.platform, size: record.size,
        config: { ...structuredClone(config), history: config.history ?? [] },
      };
      delete (this.img.config as { container?: string }).container;
      delete (this.img.config as unknown as Record<string, unknown>)[CACHE_FIELD];
      this.key = stepKey('from', CACHE_FORMAT, record.id);
    }
    this.normalize();
    this.c.log(`#${n} DONE ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }

  /** The base's config as BuildKit carries it: the OCI fields (and Docker's three), PATH set. */
  private normalize(): void {
    const src = (this.img.config.config ?? {}) as Record<string, unknown>;
    const keep = ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell'];
    const cfg: Record<string, unknown> = {};
    for (const k of keep) if (src[k] !== undefined && src[k] !== null && src[k] !== '') cfg[k] = src[k];
    const env = (cfg.Env as string[] | undefined) ?? [];
    if (!env.some((e) => e.startsWith('PATH='))) cfg.Env = [DEFAULT_PATH, ...env];
    this.img.config.config = cfg as RuntimeConfig;
  }

  /** Look up, or execute, one instruction. */
  private async instruction(ins: Instruction, shown?: string): Promise<void> {
    if (this.c.signal?.aborted) throw new BerthError({ kind: 'system', op: 'build', message: 'build: interrupted' });
    const n = this.c.nextStep();
    const label = this.c.stageLabel(this.stage, this.k);
    const text = shown ?? ins.node.original;
    this.c.log(`#${n} ${label} ${text}`);
    const t0 = Date.now();
    this.c.counters.steps++;
    const exec = this.plan(ins, n, label, text);
    const prepared = await exec.prepare();
    const key = stepKey(this.key, ins.name, prepared.key);
    mark(`build: #${n} keyed`);
    let hit = this.c.noCache ? undefined : await this.c.cache.get(key);
    if (!hit && !this.c.noCache && this.c.seeds.has(key)) {
      // a step of a --cache-from image: its state, kept in the local cache from now on
      hit = structuredClone(this.c.seeds.get(key)!);
      if (await haveBuildLayers(this.c.core, hit.layers, hit.diffIDs, this.c.storedBlobs)) await this.c.cache.put(key, hit);
    }
    if (hit && await haveBuildLayers(this.c.core, hit.layers, hit.diffIDs, this.c.storedBlobs)) {
      this.img = hit;
      this.key = key;
      this.trail.push(trailStep(this.img, key, this.trail));
      this.c.counters.cached++;
      this.c.log(`#${n} CACHED`);
      return;
    }
    await exec.apply();
    this.img.config.rootfs = { type: 'layers', diff_ids: this.img.diffIDs };
    this.img.config.created = new Date().toISOString();
    this.key = key;
    this.trail.push(trailStep(this.img, key, this.trail));
    await this.c.cache.put(key, this.img);
    this.c.log(`#${n} DONE ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }

  private cfg() { return (this.img.config.config ??= {}); }

  /** What an instruction is keyed by (prepare) and what it does (apply). */
  private plan(ins: Instruction, n: number, label: string, text: string): { prepare: () => Promise<{ key: unknown }>; apply: () => Promise<void> } {
    const meta = (key: unknown, fn: () => string) => ({ prepare: async () => ({ key }), apply: async () => { this.history(fn(), true); } });
    const a = ins.args;
    const x = (w: string) => this.expand(ins, w);
    switch (ins.name) {
      case 'ENV': {
        const kv: string[] = [];
        for (let i = 0; i < a.length; i += 2) kv.push(x(a[i]!), x(a[i + 1]!));
        for (let i = 0; i < kv.length; i += 2) if (!kv[i]) this.fail(ins, 'ENV names can not be blank');
        return meta(kv, () => {
          for (let i = 0; i < kv.length; i += 2) setEnv(this.cfg(), kv[i]!, kv[i + 1]!);
          const parts: string[] = [];
          for (let i = 0; i < kv.length; i += 2) parts.push(`${kv[i]}=${kv[i + 1]}`);
          return `ENV ${parts.join(' ')}`;
        });
      }
      case 'LABEL': {
        const kv: string[] = [];
        for (let i = 0; i < a.length; i += 2) kv.push(x(a[i]!), x(a[i + 1]!));
        return meta(kv, () => {
          const labels = { ...(this.cfg().Labels ?? {}) };
          const parts: string[] = [];
          for (let i = 0; i < kv.length; i += 2) { labels[kv[i]!] = kv[i + 1]!; parts.push(`${kv[i]}=${kv[i + 1]}`); }
          this.cfg().Labels = labels;
          return `LABEL ${parts.join(' ')}`;
        });
      }
      case 'ARG': {
        const parts: string[] = [];
        for (const w of a) {
          const i = w.indexOf('=');
          const name = i < 0 ? w : w.slice(0, i);
          this.c.used.add(name);
          const value = this.c.buildArgs.has(name) ? this.c.buildArgs.get(name)
            : i >= 0 ? x(w.slice(i + 1)) : this.c.globals.get(name);
          this.args.set(name, value);
          parts.push(value === undefined ? name : `${name}=${value}`);
        }
        // keyed by the names only: a value reaches the cache through the steps that use it (a RUN's
        // environment, an expanded word), so a changed arg no step uses breaks nothing (BuildKit)
        return meta(a.map((w) => w.split('=')[0]), () => `ARG ${parts.join(' ')}`);
      }
      case 'WORKDIR': {
        let wd = x(a[0]!);
        if (!posix.isAbsolute(wd)) wd = posix.join(this.cfg().WorkingDir || '/', wd);
        wd = posix.normalize(wd);
        return { prepare: async () => ({ key: wd }), apply: async () => {
          this.cfg().WorkingDir = wd;
          const img = await this.c.layersOf(this.img);
          if (wd !== '/' && !img.lstat(wd.slice(1))?.isDirectory()) {
            const items: Awaited<ReturnType<typeof copyItems>> = [];
            const now = new Date();
            const parts = wd.slice(1).split('/');
            for (let i = 1; i <= parts.length; i++) {
              const p = parts.slice(0, i).join('/');
              const st = img.lstat(p);
              items.push(st?.isDirectory() ? { name: p, type: 'directory', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: now, size: 0 }
                : { name: p, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: now, size: 0 });
            }
            await this.addLayer(itemsTar(items), `WORKDIR ${wd}`);
          } else this.history(`WORKDIR ${wd}`, true);
        } };
      }
      case 'USER': { const u = x(a[0]!); return meta(u, () => { this.cfg().User = u; return `USER ${u}`; }); }
      case 'EXPOSE': {
        let ports: string[];
        try { ports = exposedPorts(a.map(x)); } catch (e) { return this.fail(ins, (e as Error).message); }
        return meta(ports, () => {
          const ep = { ...(this.cfg().ExposedPorts ?? {}) };
          for (const p of ports) ep[p] = {};
          this.cfg().ExposedPorts = ep;
          return `EXPOSE map[${[...ports].sort().map((p) => `${p}:{}`).join(' ')}]`;
        });
      }
      case 'VOLUME': {
        const vols = a.map(x);
        if (vols.some((v) => !v.trim())) this.fail(ins, 'VOLUME specified can not be an empty string');
        return meta(vols, () => {
          const v = { ...(this.cfg().Volumes ?? {}) };
          for (const p of vols) v[p] = {};
          this.cfg().Volumes = v;
          return `VOLUME [${vols.join(' ')}]`;
        });
      }
      case 'STOPSIGNAL': {
        const s = x(a[0]!);
        try { checkStopSignal(s); } catch (e) { return this.fail(ins, (e as Error).message); }
        return meta(s, () => { this.cfg().StopSignal = s; return `STOPSIGNAL ${s}`; });
      }
      case 'CMD': case 'ENTRYPOINT': {
        const argv = ins.json ? a : [...(this.cfg().Shell ?? ['/bin/sh', '-c']), ...a];
        const clearsCmd = ins.name === 'ENTRYPOINT' && !this.cmdSet;
        if (ins.name === 'CMD') this.cmdSet = true;
        return meta([argv, ins.json, clearsCmd], () => {
          if (ins.name === 'CMD') this.cfg().Cmd = argv;
          else { this.cfg().Entrypoint = argv; if (clearsCmd) this.cfg().Cmd = null; }
          return `${ins.name} ${goQ(argv)}`;
        });
      }
      case 'SHELL': return meta(a, () => { this.cfg().Shell = a; return `SHELL [${a.join(' ')}]`; });
      case 'HEALTHCHECK': {
        let h;
        try { h = healthcheck(a, ins.json, ins.flags); } catch (e) { return this.fail(ins, (e as Error).message); }
        return meta(h, () => { this.cfg().Healthcheck = h; return healthHistory(h); });
      }
      case 'ONBUILD': {
        const t = ins.node.next!;
        const trigger = `${t.word.toUpperCase()}${t.original.slice(t.word.length)}`;
        return meta(trigger, () => { this.cfg().OnBuild = [...(this.cfg().OnBuild ?? []), trigger]; return `ONBUILD ${trigger}`; });
      }
      case 'MAINTAINER': return meta(a[0], () => { this.img.config.author = a[0]; return `MAINTAINER ${a[0]}`; });
      case 'RUN': return this.runPlan(ins, n, label, text);
      case 'COPY': case 'ADD': return this.copyPlan(ins);
      default: return this.fail(ins, 'not supported');
    }
  }

  private async addLayer(tar: Readable, createdBy: string): Promise<void> {
    const l = await storeBuildLayer(this.c.core, tar, this.img.diffIDs, this.img.docker, this.c.lease);
    this.img.layers = [...this.img.layers, l.desc];
    this.img.diffIDs = [...this.img.diffIDs, l.diffID];
    this.img.size += l.size;
    this.history(createdBy, false);
  }

  private runPlan(ins: Instruction, n: number, label: string, text: string): { prepare: () => Promise<{ key: unknown }>; apply: () => Promise<void> } {
    const security = (ins.flags.security as string | undefined) ?? 'sandbox';
    if (security !== 'sandbox' && security !== 'insecure') this.fail(ins, `unsupported security mode ${security}`);
    if (security === 'insecure' && !this.c.allow.has('security.insecure')) {
      throw new BerthError({ kind: 'invalid', op: 'build', message: `build: ${this.c.df.file}:${ins.node.line}: RUN --security=insecure: security.insecure is not allowed (berth build --allow security.insecure)` });
    }
    let mounts: RunMount[] = [];
    try { mounts = ((ins.flags.mount as string[] | undefined) ?? []).map((w) => parseMount(this.expand(ins, w), this.cfg().WorkingDir || '/')); } catch (e) {
      return this.fail(ins, (e as Error).message);
    }
    const net = (ins.flags.network as string | undefined) ?? this.c.network;
    if (!['default', 'none', 'host'].includes(net)) this.fail(ins, `unsupported network mode ${net}`);
    const shell = this.cfg().Shell ?? ['/bin/sh', '-c'];
    const files: Array<{ target: string; data: string; mode: number }> = [];
    let argv: string[];
    if (ins.json) argv = ins.args;
    else if (ins.heredocs.length === 1 && parseHeredocWord(ins.args[0]!.trim())?.name === ins.heredocs[0]!.name) {
      const h = ins.heredocs[0]!;
      const content = h.chomp ? chompHeredoc(h.content) : h.content;
      if (content.startsWith('#!')) {
        // a script with its interpreter: run as a file, as BuildKit does (/dev/pipes/NAME)
        const target = posix.join('/dev/pipes', h.name);
        files.push({ target, data: content, mode: 0o755 });
        argv = [target];
      } else argv = [...shell, content];
    } else {
      argv = [...shell, ins.heredocs.reduce((s, h) => `${s}\n${h.content}${h.name}`, ins.args[0]!)];
    }
    const envOverride = envMap(this.cfg());
    const argEnv: string[] = [];
    // the history names every ARG in scope, with ENV's value where an ENV overrides it (BuildKit's runCommandString)
    const shownArgs: string[] = [];
    for (const [k, v] of this.args) {
      if (v === undefined) continue;
      if (!envOverride.has(k)) argEnv.push(`${k}=${v}`);
      shownArgs.push(`${k}=${envOverride.get(k) ?? v}`);
    }
    const proxies: string[] = [];
    for (const [k, v] of this.c.buildArgs) if (/^(https?|ftp|no|all)_proxy$/i.test(k) && !this.args.has(k)) proxies.push(`${k}=${v}`);
    // default: the engine's default bridge, as Docker's builders; without one, the host's network
    const network = net === 'none' ? 'none' : net === 'host' || this.c.core.options.bridge === 'none' ? 'host' : 'bridge';
    const mountKeys: unknown[] = [];
    return {
      prepare: async () => {
        for (const m of mounts) {
          const { type, target, from, source, readonly, id, sharing, mode, uid, gid, required, size, env } = m;
          let content: unknown;
          if (type === 'bind') {
            const { src, key } = await this.sourceFor(ins, from);
            const rel = posix.normalize(`/${source}`).slice(1).replace(/\/$/, '');
            if (!src.lstat(rel)) this.fail(ins, `failed to compute cache key: "/${rel}": not found`);
            content = [key, await treeKey(src, rel)];
          }
          mountKeys.push([type, target, from, source, readonly, id, sharing, mode, uid, gid, required, size, env, content]);
        }
        return { key: [argv, argEnv, shownArgs, net, files, mountKeys, security, this.c.addHosts] };
      },
      apply: async () => {
        const image = await this.c.layersOf(this.img);
        const stubs: string[] = [];
        for (const m of mounts) {
          if (!m.target) continue;
          const parts = m.target.slice(1).split('/');
          for (let i = 1; i <= parts.length; i++) {
            const p = parts.slice(0, i).join('/');
            if (!image.lstat(p)) stubs.push(p);
          }
        }
        let prepared;
        try {
          prepared = await prepareMounts(mounts, {
            root: this.c.core.options.root, runRoot: this.c.core.options.runRoot, secrets: this.c.secrets, ssh: this.c.ssh,
            sourceOf: async (from) => (await this.sourceFor(ins, from)).src,
            ...(this.c.signal ? { signal: this.c.signal } : {}),
          });
        } catch (e) {
          if (e instanceof MountError) return this.fail(ins, e.message);
          throw e;
        }
        try { await this.execRun(ins, n, label, text, argv, [...argEnv, ...proxies, ...prepared.env], network, files, shownArgs, {
          mounts: prepared.binds.map((b) => ({ ...b })), stubs, privileged: security === 'insecure', extraHosts: this.c.addHosts,
        }); } finally { await prepared.release(); }
      },
    };
  }

  /** Where a COPY --from or a RUN --mount from= reads: a stage, an image or (unset) the context; with its key. */
  private async sourceFor(ins: Instruction, fromWord: string | undefined): Promise<{ src: FileSource; key: unknown }> {
    if (fromWord === undefined) return { src: this.c.context, key: 'context' };
    const ref = this.expand(ins, fromWord);
    const st = stageRef(this.c.df, ref, this.stage.index, false);
    if (st) { const r = await this.c.stageResult(st.index); return { src: await this.c.layersOf(r.img), key: r.key }; }
    return { src: await this.c.imageSource(ref), key: ref };
  }

  private async execRun(ins: Instruction, n: number, label: string, text: string, argv: string[], env: string[], network: 'none' | 'host' | 'bridge',
    files: Array<{ target: string; data: string; mode: number }>, shownArgs: string[], extra: Pick<BuildRunRequest, 'mounts' | 'stubs' | 'privileged' | 'extraHosts'>): Promise<void> {
    const t0 = Date.now();
    const lines: string[] = [];
    let partial = '';
    const onOutput = (d: Buffer) => {
      const parts = (partial + d.toString('utf8')).split('\n');
      partial = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        if (lines.length > TAIL_LINES) lines.shift();
        this.c.log(`#${n} ${((Date.now() - t0) / 1000).toFixed(3)} ${l}`);
      }
    };
    const res = await runBuildStep(this.c.core, this.img, { cmd: argv, env, network, onOutput, signal: this.c.signal, files, ...extra }, this.c.lease);
    if (partial) { lines.push(partial); this.c.log(`#${n} ${((Date.now() - t0) / 1000).toFixed(3)} ${partial}`); }
    if (this.c.signal?.aborted) throw new BerthError({ kind: 'system', op: 'build', message: 'build: interrupted' });
    if (res.exitCode !== 0) {
      this.c.log(`#${n} ERROR: process "${argv.join(' ')}" did not complete successfully: exit code: ${res.exitCode}`);
      throw new StepFailed(`${this.c.df.file}:${ins.node.line}`, label, text, argv, res.exitCode, lines.slice(-TAIL_LINES));
    }
    const createdBy = `RUN ${shownArgs.length ? `|${shownArgs.length} ${shownArgs.join(' ')} ` : ''}${argv.join(' ')} # buildkit`;
    if (res.layer) {
      this.img.layers = [...this.img.layers, res.layer.desc];
      this.img.diffIDs = [...this.img.diffIDs, res.layer.diffID];
      this.img.size += res.layer.size;
      this.history(createdBy, false);
    } else this.history(createdBy, true);
  }

  private copyPlan(ins: Instruction): { prepare: () => Promise<{ key: unknown }>; apply: () => Promise<void> } {
    const f = ins.flags;
    for (const bad of ['unpack'] as const) {
      if (f[bad] !== undefined) this.fail(ins, `--${bad} is not supported by berth yet`);
    }
    const words = ins.args.map((w) => this.expand(ins, w));
    const destWord = words.at(-1)!;
    const srcs = words.slice(0, -1);
    const gits = ins.name === 'ADD' ? srcs.filter(isGitSource) : [];
    if (f['keep-git-dir'] !== undefined && !gits.length) this.fail(ins, '--keep-git-dir can only be used with a git source');
    const urls = ins.name === 'ADD' ? srcs.filter((s) => /^https?:\/\//.test(s) && !gits.includes(s)) : [];
    const checksum = typeof f.checksum === 'string' ? this.expand(ins, f.checksum) : undefined;
    if (checksum !== undefined && (urls.length !== 1 || srcs.length !== 1)) this.fail(ins, 'checksum can\'t be specified for non-HTTP(S) sources');
    if (checksum !== undefined && !/^sha(256|384|512):[0-9a-f]+$/.test(checksum)) this.fail(ins, `invalid checksum digest format: ${checksum}`);
    const exclude = ((f.exclude as string[] | undefined) ?? []).map((e) => this.expand(ins, e));
    const wd = this.cfg().WorkingDir || '/';
    let dest = posix.isAbsolute(destWord) ? destWord : posix.join(wd, destWord) + (destWord.endsWith('/') || destWord === '.' ? '/' : '');
    if (destWord.endsWith('/') && !dest.endsWith('/')) dest += '/';
    const contents = ins.contents.map((c) => ({ name: c.path, data: c.expand ? this.expand(ins, c.data, true) : c.data }));
    let items: Awaited<ReturnType<typeof copyItems>> | undefined;
    let gitMeta: { commits: string[]; meta: Set<CopyItem> } = { commits: [], meta: new Set() };
    return {
      prepare: async () => {
        const { src: from, key: fromKey } = await this.sourceFor(ins, typeof f.from === 'string' ? f.from : undefined);
        const image = await this.c.layersOf(this.img);
        let owner: { uid: number; gid: number } | undefined;
        let chmod: ((m: number, dir: boolean) => number) | undefined;
        try {
          if (typeof f.chown === 'string') {
            const spec = this.expand(ins, f.chown);
            owner = /^\d+(:\d+)?$/.test(spec) ? resolveChown(spec, undefined, undefined) : resolveChown(spec, await readText(image, 'etc/passwd'), await readText(image, 'etc/group'));
          }
          if (typeof f.chmod === 'string') chmod = parseChmod(this.expand(ins, f.chmod));
          const sources: CopySource[] = srcs.filter((p) => !urls.includes(p) && !gits.includes(p)).map((p) => ({ src: from, pattern: p }));
          const remote = [];
          for (const u of urls) remote.push(await download(u, checksum, posix.join(this.c.core.options.root, 'builder', 'http')));
          // git sources: cloned, copied like a context directory, their bytes read before the clone goes
          const repos = await gitSources(gits, this.c.core.options.runRoot, f['keep-git-dir'] === true, this.c.signal);
          try {
            sources.push(...repos.sources);
            items = await copyItems({
              instr: ins.name as 'COPY' | 'ADD', sources, contents, dest, owner, chmod, extract: ins.name === 'ADD' && f.from === undefined && !gits.length,
              // --link: the layer is made on nothing (no symlink of the image followed, new parents 0755)
              image: f.link === true ? new LayersSource([]) : image,
              parents: f.parents === true, exclude, remote,
            });
            gitMeta = await repos.inline(items);
          } finally { repos.cleanup(); }
        } catch (e) {
          if (e instanceof CopyError || e instanceof GitError || !(e instanceof BerthError)) return this.fail(ins, (e as Error).message);
          throw e;
        }
        return { key: [fromKey, srcs, dest, gitMeta.commits, await itemsKey(items.filter((it) => !gitMeta.meta.has(it)))] };
      },
      apply: async () => {
        const shownFlags = ins.node.flags.filter((x) => !x.startsWith('--link')).join(' ');
        await this.addLayer(itemsTar(items!), `${ins.name} ${shownFlags ? `${shownFlags} ` : ''}${[...srcs, ...contents.map((c) => `<<${c.name}`)].join(' ')} ${destWord} # buildkit`);
      },
    };
  }
}
