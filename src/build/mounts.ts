/**
 * `RUN --mount=...` as BuildKit's Dockerfile frontend reads it: `type=bind` (default; from the
 * context, a stage or an image; copied into a private directory so that rw writes are discarded),
 * `type=cache` (a directory under `<data-root>/builder/mounts/cache/`, keyed by id, kept between
 * builds; sharing shared|private|locked), `type=tmpfs`, `type=secret` (from `--secret`, a file bound
 * read-only, never in a layer) and `type=ssh` (the agent socket of `--ssh ID=SOCKET`, bound in, with
 * SSH_AUTH_SOCK pointing at it). What a mount reads is part of the step's
 * key for binds (content digests); caches and secrets are not, as in BuildKit.
 */
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, createWriteStream, existsSync, lchownSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { lockFile } from '../content/index.js';
import { cacheMountRoot } from '../engine/index.js';
import { BerthError } from '../lib/index.js';
import type { FileSource } from './fs.js';
import { walk } from './fs.js';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';

export interface RunMount {
  type: MountType;
  target: string;
  /** bind/cache: stage, image or (unset) the context */
  from?: string;
  source: string;
  readonly: boolean;
  id?: string;
  sharing: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
  required: boolean;
  size?: number;
  /** secret: also (or only) as this environment variable */
  env?: string;
}

/** A `--secret id=...,src=...|env=...` of `berth build`. */
export interface BuildSecret { id: string; src?: string; env?: string }

/** A `--ssh ID[=SOCKET]` of `berth build`: an SSH agent's socket on the host. */
export interface BuildSsh { id: string; socket: string }

export class MountError extends Error {}

const TYPES = new Set(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);

function parseBool(key: string, v: string | undefined): boolean {
  if (v === undefined) return true;
  const l = v.toLowerCase();
  if (['1', 't', 'true'].includes(l)) return true;
  if (['0', 'f', 'false'].includes(l)) return false;
  throw new MountError(`invalid value for ${key}: ${v}`);
}

function parseSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) throw new MountError(`invalid size: ${v}`);
  const mul = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mul);
}

/** One `--mount` value (already expanded). */
export function parseMount(value: string, workdir: string): RunMount {
  const fields = value.split(',').map((f) => f.trim()).filter(Boolean);
  const m: RunMount = { type: 'bind', target: '', source: '', readonly: true, sharing: 'shared', required: false };
  let roSet = false;
  for (const f of fields) {
    const eq = f.indexOf('=');
    const key = (eq < 0 ? f : f.slice(0, eq)).toLowerCase();
    const v = eq < 0 ? undefined : f.slice(eq + 1);
    const need = () => { if (v === undefined) throw new MountError(`invalid field '${f}' must be a key=value pair`); return v; };
    switch (key) {
      case 'type': if (!TYPES.has(need())) throw new MountError(`unsupported mount type "${v}"`); m.type = v as MountType; break;
      case 'from': m.from = need(); break;
      case 'source': case 'src': m.source = need(); break;
      case 'target': case 'dst': case 'destination': m.target = need(); break;
      case 'readonly': case 'ro': m.readonly = parseBool(key, v); roSet = true; break;
      case 'readwrite': case 'rw': m.readonly = !parseBool(key, v); roSet = true; break;
      case 'required': m.required = parseBool(key, v); break;
      case 'id': m.id = need(); break;
      case 'sharing': {
        const s = need();
        if (s !== 'shared' && s !== 'private' && s !== 'locked') throw new MountError(`unsupported sharing value "${s}"`);
        m.sharing = s;
        break;
      }
      case 'mode': { const n = parseInt(need(), 8); if (Number.isNaN(n)) throw new MountError(`invalid value for mode: ${v}`); m.mode = n; break; }
      case 'uid': case 'gid': { const n = parseInt(need(), 10); if (Number.isNaN(n)) throw new MountError(`invalid value for ${key}: ${v}`); m[key] = n; break; }
      case 'size': m.size = parseSize(need()); break;
      case 'env': m.env = need(); break;
      default: throw new MountError(`unexpected key '${key}' in '${f}'`);
    }
  }
  if (m.type === 'ssh') {
    if (m.from) throw new MountError('ssh mount should not have a from');
    m.id ??= 'default';
    m.target ||= '/run/buildkit/ssh_agent.0';
    m.mode ??= 0o600;
  }
  if (!roSet && (m.type === 'cache' || m.type === 'tmpfs')) m.readonly = false;
  if (m.type === 'secret') {
    if (m.from) throw new MountError('secret mount should not have a from');
    m.id ??= m.target ? posix.basename(m.target) : undefined;
    if (!m.id) throw new MountError('one of source, target required');
    if (!m.target && !m.env) m.target = `/run/secrets/${m.id}`;
  }
  if (m.type === 'tmpfs' && m.from) throw new MountError('tmpfs mount should not have a from');
  if (m.type !== 'secret' && !m.target) throw new MountError('mount destination must be specified');
  if (m.target && !posix.isAbsolute(m.target)) m.target = posix.join(workdir || '/', m.target);
  if (m.target) m.target = posix.normalize(m.target);
  if (m.type === 'cache') m.id ??= m.target;
  return m;
}

/** What the mounts of one RUN need on the host while it runs; `release` undoes it. */
export interface PreparedMounts {
  binds: Array<{ type: 'bind' | 'tmpfs'; source?: string; target: string; readonly: boolean; tmpfsSize?: number }>;
  env: string[];
  release: () => Promise<void>;
}

const cacheDirName = (id: string) => createHash('sha256').update(id).digest('hex').slice(0, 32);

/** Copy one source path (file or directory tree) of a FileSource to a host path. */
export async function materialize(src: FileSource, rel: string, host: string): Promise<void> {
  const st = src.lstat(rel);
  if (!st) throw new MountError(`"/${rel}": not found`);
  const one = async (r: string, h: string) => {
    const s = src.lstat(r)!;
    if (s.isDirectory()) mkdirSync(h, { mode: s.mode & 0o7777 });
    else if (s.isSymbolicLink()) symlinkSync(src.readlink(r), h);
    else if (s.isFile()) await pipeline(src.open(r), createWriteStream(h, { mode: s.mode & 0o7777, flags: 'wx' }));
    else return;
    if (!s.isSymbolicLink()) { chmodSync(h, s.mode & 0o7777); chownSync(h, s.uid, s.gid); } else lchownSync(h, s.uid, s.gid);
  };
  await one(rel, host);
  if (st.isDirectory()) for (const p of walk(src, rel)) await one(p, join(host, rel ? p.slice(rel.length + 1) : p));
}

/** In-process locks for `sharing=locked` (a lock file beside the directory too) and the count of users for `sharing=private`. */
const locks = new Map<string, Promise<void>>();
const inUse = new Map<string, number>();

export interface MountDeps {
  root: string;
  runRoot: string;
  secrets: Map<string, BuildSecret>;
  /** `--ssh` agents by id */
  ssh?: Map<string, BuildSsh>;
  /** the FileSource of a bind/cache `from` (undefined: the context) */
  sourceOf: (from: string | undefined) => Promise<FileSource>;
  signal?: AbortSignal;
}

/** Prepare the host side of every mount (call `release` after the RUN, whatever happened). */
export async function prepareMounts(mounts: RunMount[], d: MountDeps): Promise<PreparedMounts> {
  const binds: PreparedMounts['binds'] = [];
  const env: string[] = [];
  const undo: Array<() => Promise<void>> = [];
  const release = async () => { for (const u of undo.reverse()) await u().catch(() => undefined); };
  try {
    for (const m of mounts) {
      if (m.type === 'tmpfs') { binds.push({ type: 'tmpfs', target: m.target, readonly: false, ...(m.size ? { tmpfsSize: m.size } : {}) }); continue; }
      if (m.type === 'secret') {
        const s = d.secrets.get(m.id!);
        let data: Buffer | undefined;
        if (s?.src) data = readFileSync(s.src);
        else if (s?.env !== undefined) data = process.env[s.env] !== undefined ? Buffer.from(process.env[s.env]!) : undefined;
        else if (s) data = process.env[s.id] !== undefined ? Buffer.from(process.env[s.id]!) : undefined;
        if (!data) {
          if (m.required) throw new MountError(`secret ${m.id}: not found`);
          continue;
        }
        if (m.env) env.push(`${m.env}=${data.toString('utf8')}`);
        if (!m.target) continue;
        const dir = mkdtempSync(join(d.runRoot, 'build-secret-'));
        undo.push(() => rm(dir, { recursive: true, force: true }));
        const file = join(dir, 'secret');
        writeFileSync(file, data, { mode: m.mode ?? 0o400 });
        chmodSync(file, m.mode ?? 0o400);
        chownSync(file, m.uid ?? 0, m.gid ?? 0);
        binds.push({ type: 'bind', source: file, target: m.target, readonly: true });
        continue;
      }
      if (m.type === 'ssh') {
        const agent = d.ssh?.get(m.id!);
        if (!agent) {
          if (m.required) throw new MountError(`no SSH key ${JSON.stringify(m.id)} forwarded from the client (use --ssh ${m.id}=SOCKET)`);
          continue;
        }
        binds.push({ type: 'bind', source: agent.socket, target: m.target, readonly: false });
        if (!env.some((e) => e.startsWith('SSH_AUTH_SOCK='))) env.push(`SSH_AUTH_SOCK=${m.target}`);
        continue;
      }
      if (m.type === 'bind') {
        const src = await d.sourceOf(m.from);
        const dir = mkdtempSync(join(d.runRoot, 'build-bind-'));
        undo.push(() => rm(dir, { recursive: true, force: true }));
        const host = join(dir, 'src');
        const rel = posix.normalize(`/${m.source}`).slice(1).replace(/\/$/, '');
        await materialize(src, rel, host);
        binds.push({ type: 'bind', source: host, target: m.target, readonly: m.readonly });
        continue;
      }
      // cache
      if (m.from) throw new MountError('cache mounts with from= are not supported by berth yet');
      const base = join(cacheMountRoot(d.root), cacheDirName(m.id!));
      const fresh = !existsSync(base);
      mkdirSync(base, { recursive: true, mode: 0o755 });
      if (fresh) { chmodSync(base, m.mode ?? 0o755); chownSync(base, m.uid ?? 0, m.gid ?? 0); }
      writeFileSync(join(cacheMountRoot(d.root), `${cacheDirName(m.id!)}.id`), m.id!);
      let host = base;
      if (m.sharing === 'locked') {
        const prev = locks.get(base) ?? Promise.resolve();
        let done!: () => void;
        const mine = new Promise<void>((r) => { done = r; });
        const chain = prev.then(() => mine);
        locks.set(base, chain);
        await prev;
        let unlock: (() => Promise<void>) | undefined;
        undo.push(async () => { await unlock?.(); done(); if (locks.get(base) === chain) locks.delete(base); });
        // and across processes: another build's RUN holding it is waited for
        for (;;) {
          try { unlock = await lockFile(`${base}.lock`, `cache mount ${m.id}`); break; } catch (e) {
            if (!(e instanceof BerthError) || e.kind !== 'conflict') throw e;
            if (d.signal?.aborted) throw new MountError('interrupted');
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      } else if (m.sharing === 'private') {
        const n = inUse.get(base) ?? 0;
        if (n > 0) {
          host = mkdtempSync(join(d.runRoot, 'build-cache-private-'));
          chmodSync(host, m.mode ?? 0o755);
          chownSync(host, m.uid ?? 0, m.gid ?? 0);
          const h = host;
          undo.push(() => rm(h, { recursive: true, force: true }));
        } else {
          inUse.set(base, 1);
          undo.push(async () => { inUse.delete(base); });
        }
      }
      binds.push({ type: 'bind', source: host, target: m.target, readonly: m.readonly });
    }
  } catch (e) {
    await release();
    throw e;
  }
  return { binds, env, release };
}


/** A content key of a tree of a source (names, types, modes, owners, link targets, file digests). */
export async function treeKey(src: FileSource, rel: string): Promise<string> {
  const h = createHash('sha256');
  for (const p of [rel, ...(src.lstat(rel)?.isDirectory() ? walk(src, rel) : [])]) {
    const st = src.lstat(p);
    if (!st) continue;
    h.update(JSON.stringify([p, st.mode, st.uid, st.gid, st.isSymbolicLink() ? src.readlink(p) : '', st.isFile() ? await src.digest(p) : '']));
  }
  return h.digest('hex');
}
