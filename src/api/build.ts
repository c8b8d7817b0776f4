/**
 * `POST /build`, the classic protocol (`DOCKER_BUILDKIT=0 docker build`, docker-py, compose 1.29)
 * over berth's own builder: the context tar (plain or gzip) unpacked into a temporary directory,
 * the builder's progress told as the classic builder prints it (`Step 1/3 : FROM busybox`,
 * ` ---> Using cache`, RUN output, `Successfully built <id>`, `Successfully tagged <name>`), the
 * image id as `{"aux":{"ID":…}}`, failures in-band. A client that goes away cancels the build.
 * BuildKit (`version=2`, its /session and /grpc endpoints) is not served.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { ServerResponse } from 'node:http';
import { build, DockerfileError, parseDockerfile, StepFailed, toDockerfile, type Dockerfile } from '../build/index.js';
import { extractContextTar, isContextFile } from '../build/context-tar.js';
import { familiarString, hostPlatform, imageStore, parsePlatform, parseReference } from '../image/index.js';
import { ApiError, messageOf, qBool, type ApiContext } from './http.js';
import { engineWithBuildAuth } from './images-auth.js';
import { jsonStream } from './images-transfer.js';

type J = Record<string, unknown>;

function jsonMap(q: URLSearchParams, key: string): Record<string, string | null> {
  const raw = q.get(key);
  if (!raw) return {};
  try {
    const v = JSON.parse(raw) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, string | null>;
  } catch { /* below */ }
  throw new ApiError(400, `invalid ${key}: ${JSON.stringify(raw)}: want a JSON object`);
}

/** `cachefrom`: a JSON list of images (moby's classic parameter). */
function jsonList(q: URLSearchParams, key: string): string[] {
  const raw = q.get(key);
  if (!raw) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return (v as string[]).filter(Boolean);
  } catch { /* below */ }
  throw new ApiError(400, `invalid ${key}: ${JSON.stringify(raw)}: want a JSON list of strings`);
}

/** The query as builder options; anything it cannot honour is a 400 before the body is read. */
function options(q: URLSearchParams) {
  const version = q.get('version') ?? '1';
  if (version === '2') {
    throw new ApiError(400, 'BuildKit (version=2) is not supported by berth serve: its /session and /grpc endpoints are not served; build with the classic protocol (DOCKER_BUILDKIT=0)');
  }
  if (version !== '1') throw new ApiError(400, `invalid builder version ${JSON.stringify(version)}: want 1`);
  if (qBool(q, 'squash')) throw new ApiError(400, 'squash is not supported by berth serve (it is an experimental feature of the classic builder)');
  if (q.get('remote')) throw new ApiError(400, 'a remote build context (remote=) is not supported by berth serve: send the context as the request body');
  const tags = q.getAll('t').filter(Boolean);
  for (const t of tags) {
    let ok = true;
    try { ok = !parseReference(t).digest; } catch { ok = false; }
    if (!ok) throw new ApiError(400, `invalid reference format: ${t}`);
  }
  const platform = q.get('platform');
  if (platform) {
    let p;
    try { p = parsePlatform(platform); } catch (e) { throw new ApiError(400, messageOf(e)); }
    const host = hostPlatform();
    if (p.os !== 'linux' || (p.architecture && p.architecture !== host.architecture)) {
      throw new ApiError(400, `platform ${platform} is not supported: berth builds for linux/${host.architecture} only`);
    }
  }
  const nm = q.get('networkmode') || 'default';
  const network = nm === 'bridge' ? 'default' : nm;
  if (!['default', 'none', 'host'].includes(network)) throw new ApiError(400, `network mode ${JSON.stringify(nm)} is not supported for builds: use default, bridge, none or host`);
  const buildArgs: Record<string, string> = {};
  for (const [k, v] of Object.entries(jsonMap(q, 'buildargs'))) if (v !== null && v !== undefined) buildArgs[k] = String(v);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(jsonMap(q, 'labels'))) labels[k] = v === null ? '' : String(v);
  const extraHosts = q.getAll('extrahosts').flatMap((h) => h.split(',')).filter(Boolean).map((h) => h.replace(/^([^:=]+)=/, '$1:'));
  for (const h of extraHosts) if (!/^[^:]+:.+$/.test(h)) throw new ApiError(400, `invalid extra host ${JSON.stringify(h)}: want host:ip`);
  const dockerfile = posix.normalize(q.get('dockerfile') || 'Dockerfile').replace(/^(\.\.?\/)+/, '').replace(/^\/+/, '');
  return {
    tags, dockerfile, buildArgs, labels, extraHosts, network: network as 'default' | 'none' | 'host',
    target: q.get('target') || undefined, noCache: qBool(q, 'nocache'), pull: qBool(q, 'pull'), quiet: qBool(q, 'q'),
    // the images whose recorded build steps may serve (berth's inline cache; pulled when missing)
    cacheFrom: jsonList(q, 'cachefrom'),
  };
}

/** Where each of the builder's steps sits in the classic count (`Step i/N`): by stage and position. */
function stepNumbers(df: Dockerfile, target: string | undefined) {
  let last = df.stages.length - 1;
  if (target) {
    const i = df.stages.findIndex((s) => s.name === target.toLowerCase());
    if (i >= 0) last = i;
  }
  const offsets: number[] = [];
  let n = df.globalArgs.length;
  for (const s of df.stages.slice(0, last + 1)) { offsets.push(n); n += s.instructions.length + 1; }
  const find = (label: string | undefined): number => {
    if (label === undefined) return 0;
    const i = df.stages.findIndex((s) => (s.name ?? `stage-${s.index}`) === label);
    return i < 0 ? 0 : i;
  };
  return {
    total: n,
    /** `Step i/N : TEXT` for a builder label (`[k/N]` or `[stage k/N]`) */
    line(stageLabel: string | undefined, k: number, text: string): { step: number; text: string } {
      const si = find(stageLabel);
      const s = df.stages[si]!;
      const original = k === 1 ? s.from.node.original : s.instructions[k - 2]?.node.original ?? text;
      return { step: (offsets[si] ?? 0) + k, text: text.startsWith('ONBUILD ') ? text : original };
    },
  };
}

const RE_STEP = /^#(\d+) \[(?:(.+) )?(\d+)\/(\d+)\] (.*)$/;
const RE_OUT = /^#(\d+) \d+\.\d{3} (.*)$/;

export async function postBuild(ctx: ApiContext, res: ServerResponse, q: URLSearchParams): Promise<void> {
  const o = options(q);
  const dir = mkdtempSync(join(tmpdir(), 'berth-api-build-'));
  const ac = new AbortController();
  const onClose = () => { if (!res.writableFinished) ac.abort(); };
  res.on('close', onClose);
  ctx.req.on('aborted', () => ac.abort());
  const out = jsonStream(res);
  const held: J[] = [];
  const say = (text: string) => { if (o.quiet) held.push({ stream: text }); else out.send({ stream: text }); };
  try {
    try { await extractContextTar(ctx.req, dir); } catch (e) {
      if (ac.signal.aborted) return;
      throw e instanceof ApiError ? e : new ApiError(400, `unable to read the build context: ${messageOf(e)}`);
    }
    if (!isContextFile(dir, o.dockerfile)) {
      throw new ApiError(400, `Cannot locate specified Dockerfile: ${o.dockerfile}`);
    }
    const text = readFileSync(join(dir, o.dockerfile), 'utf8');
    let df: Dockerfile;
    try { df = toDockerfile(parseDockerfile(text, posix.basename(o.dockerfile)), posix.basename(o.dockerfile)); } catch (e) {
      throw new ApiError(400, `failed to parse the Dockerfile: ${messageOf(e)}`);
    }
    if (o.target && !df.stages.some((s) => s.name === o.target!.toLowerCase())) {
      throw new ApiError(400, `failed to reach build target ${o.target} in Dockerfile`);
    }
    const steps = stepNumbers(df, o.target);
    const fromSteps = new Map<string, string>(); // builder step number -> base name (FROM lines)
    const printed = new Set<string>();
    // the base's id after a FROM, as the classic builder shows it
    const images = imageStore(ctx.core.images);
    // a RUN's container, as the classic builder names it: found by its create event once the step shows it ran
    const cursor = ctx.core.store.events.lastId();
    const seen = new Set<string>();
    const runs = new Map<string, { cid?: string }>();
    const container = (n: string): string | undefined => {
      const r = runs.get(n);
      if (!r) return undefined;
      if (!r.cid) {
        for (const e of ctx.core.store.events.query({ afterId: cursor, filters: { type: ['container'], event: ['create'] } })) {
          if (!('berth.build' in e.actor.attributes) || seen.has(e.actor.id)) continue;
          seen.add(e.actor.id);
          r.cid = e.actor.id.slice(0, 12);
          say(` ---> Running in ${r.cid}\n`);
          break;
        }
      }
      return r.cid;
    };
    let chain = Promise.resolve();
    const later = (f: () => Promise<void> | void) => { chain = chain.then(f).catch(() => undefined); };
    const log = (line: string) => {
      let m = RE_STEP.exec(line);
      if (m) {
        const [, n, stageLabel, k, , txt] = m;
        const key = `${stageLabel ?? ''}/${k}`;
        const s = steps.line(stageLabel, Number(k), txt!);
        if (printed.has(key) && txt!.startsWith('ONBUILD ')) { later(() => say(` ---> Running build trigger: ${txt!.slice(8)}\n`)); return; }
        printed.add(key);
        if (/^FROM\s/i.test(txt!) && Number(k) === 1) fromSteps.set(n!, txt!.replace(/^FROM\s+/i, '').split(/\s+/).find((w) => !w.startsWith('--'))!);
        if (/^RUN\s/i.test(txt!)) runs.set(n!, {});
        later(() => say(`Step ${s.step}/${steps.total} : ${s.text}\n`));
        return;
      }
      m = /^#(\d+) (CACHED|DONE .*)$/.exec(line);
      if (m) {
        const base = fromSteps.get(m[1]!);
        const n = m[1]!;
        if (m[2] === 'CACHED') later(() => { runs.delete(n); say(' ---> Using cache\n'); });
        else if (runs.has(n)) later(() => { const cid = container(n); if (cid) say(` ---> Removed intermediate container ${cid}\n`); });
        else if (base) {
          later(async () => {
            if (base.toLowerCase() === 'scratch') return;
            const id = await images.resolve(base, 'build').then((r) => r.record.id, () => undefined);
            if (id) say(` ---> ${id.replace(/^sha256:/, '').slice(0, 12)}\n`);
          });
        }
        return;
      }
      m = RE_OUT.exec(line);
      if (m) { const n = m[1]!; const t = m[2]!; later(() => { container(n); say(`${t}\n`); }); }
    };
    let id: string;
    try {
      const r = await build(await engineWithBuildAuth(ctx), {
        contextDir: dir, dockerfile: text, dockerfileName: posix.basename(o.dockerfile), dockerfilePath: join(dir, o.dockerfile),
        tags: o.tags, buildArgs: o.buildArgs, target: o.target, noCache: o.noCache, pull: o.pull, labels: o.labels, cacheFrom: o.cacheFrom,
        log, signal: ac.signal, addHosts: o.extraHosts, network: o.network,
      });
      await chain;
      for (const w of r.warnings) say(`${w}\n`);
      id = r.id;
    } catch (e) {
      await chain;
      if (ac.signal.aborted) return;
      throw e;
    }
    out.send({ aux: { ID: id } });
    if (o.quiet) out.send({ stream: `${id}\n` });
    else {
      say(`Successfully built ${id.replace(/^sha256:/, '').slice(0, 12)}\n`);
      for (const t of o.tags) say(`Successfully tagged ${familiarString(parseReference(t))}\n`);
    }
    res.end();
  } catch (e) {
    if (res.destroyed) return;
    const { message, code } = failure(e);
    if (!out.started && !held.length && (e instanceof ApiError || e instanceof DockerfileError)) {
      throw e instanceof DockerfileError ? new ApiError(400, message) : e;
    }
    for (const m of held.splice(0)) out.send(m);
    out.send({ errorDetail: { ...(code !== undefined ? { code } : {}), message }, error: message });
    res.end();
  } finally {
    res.off('close', onClose);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The classic builder's words for a failure: a RUN's command and exit code, else the message. */
function failure(e: unknown): { message: string; code?: number } {
  if (e instanceof StepFailed) {
    const cmd = /process "(.*)" did not complete successfully/s.exec(e.message)?.[1] ?? '';
    return { message: `The command '${cmd}' returned a non-zero code: ${e.exitCode}`, code: e.exitCode };
  }
  return { message: messageOf(e) };
}
