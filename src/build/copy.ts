/**
 * COPY and ADD as one layer tar, written without a container: sources from the context or from
 * another stage or image (wildcards as Go's path.Match, a directory's contents copied into the
 * destination, a file into `dest/` when dest ends with `/` or is a directory of the image),
 * heredoc files, `--chown` (numbers, or names looked up in the image's /etc/passwd and /etc/group),
 * `--chmod` (octal or symbolic), local tar archives extracted by ADD. Parent directories of what is copied are
 * in the layer too (with their metadata from the image, or 0755 when new), as a container diff has
 * them. The key of the step is computed from the same items (content digests, modes, owners,
 * names: never mtimes).
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { gunzipStream } from '../lib/index.js';
import { followInside, SMALL_FILE, walk, type FileSource } from './fs.js';
import { PatternMatcher, readIgnore } from './dockerignore.js';


export interface CopyItem {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  /** devices: major and minor numbers */
  devmajor?: number;
  devminor?: number;
  mode: number;
  uid: number;
  gid: number;
  /** a Date, or milliseconds since the epoch (a context's files: no Date made unless a layer is written) */
  mtime: Date | number;
  size: number;
  linkname?: string;
  /** file content: from a source, or bytes */
  from?: { src: FileSource; rel: string };
  data?: Buffer;
}

export interface CopySource { src: FileSource; pattern: string }

export interface CopyRequest {
  instr: 'COPY' | 'ADD';
  sources: CopySource[];
  contents: Array<{ name: string; data: string }>;
  /** absolute, trailing slash kept */
  dest: string;
  owner?: { uid: number; gid: number };
  chmod?: (mode: number, dir: boolean) => number;
  /** the image being built on (what exists at the destination) */
  image: FileSource;
  /** ADD: extract local archives */
  extract: boolean;
  /** `--parents`: each source keeps its path (from the context root, or from a `/./` pivot) under dest */
  parents?: boolean;
  /** `--exclude` patterns (dockerignore syntax), matched against paths relative to each source */
  exclude?: string[];
  /** ADD of http(s) URLs: files already downloaded */
  remote?: Array<{ name: string; data: Buffer; mtime: Date }>;
}

export class CopyError extends Error {}

const hasMeta = (p: string) => /[*?[\\]/.test(p);

/** Go's path.Match for one whole path (`*` and `?` never match `/`). */
export function pathMatch(pattern: string, name: string): boolean {
  let re = '^';
  const cs = [...pattern];
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < cs.length) re += `\\${cs[++i]}`;
    else if (c === '[') {
      const end = cs.indexOf(']', i + 1);
      if (end < 0) throw new CopyError(`syntax error in pattern: ${pattern}`);
      let body = cs.slice(i + 1, end).join('');
      if (body.startsWith('^')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/^\^?/, (m) => m).replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\]\\/]/g, '\\$&');
  }
  return new RegExp(`${re}$`, 'su').test(name);
}

const clean = (p: string) => posix.normalize(`/${p}`).slice(1).replace(/\/$/, '');

/** The source paths a pattern names (links on the way and at the end followed), each with the name it is copied under. */
function expandSources(s: CopySource): Array<{ rel: string; name: string }> {
  const pat = clean(s.pattern);
  if (!hasMeta(pat)) {
    const rel = followInside(s.src, pat);
    if (!s.src.lstat(rel)) throw new CopyError(`"/${pat}": not found`);
    // a source that is a link is copied as what it points to, under the link's own name (Docker, BuildKit)
    return [{ rel, name: posix.basename(pat) || posix.basename(rel) }];
  }
  const depth = pat.split('/').length;
  const out = walk(s.src, '').filter((p) => p.split('/').length === depth && pathMatch(pat, p));
  if (!out.length) throw new CopyError(`lstat /${pat}: no source files were specified`);
  return out.map((rel) => ({ rel, name: posix.basename(rel) }));
}

function isArchive(head: Buffer): 'gzip' | 'tar' | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  return undefined;
}

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function extractArchive(buf: Buffer, kind: 'gzip' | 'tar', destDir: string, add: (it: CopyItem) => void): Promise<boolean> {
  const ex = tar.extract();
  const input = kind === 'gzip' ? Readable.from([buf]).pipe(gunzipStream()) : Readable.from([buf]);
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      readAll(stream as unknown as Readable).then((data) => {
        const rel = clean(h.name);
        if (rel && !rel.startsWith('..')) {
          const type = h.type === 'directory' ? 'directory' : h.type === 'symlink' ? 'symlink' : h.type === 'link' ? 'link' : h.type === 'file' ? 'file' : undefined;
          if (type) {
            add({
              name: posix.join(destDir, rel), type, mode: (h.mode ?? 0o644) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, mtime: h.mtime ?? new Date(0),
              size: type === 'file' ? data.length : 0, ...(type === 'symlink' ? { linkname: h.linkname ?? '' } : {}),
              ...(type === 'link' ? { linkname: posix.join(destDir, clean(h.linkname ?? '')).slice(1) } : {}), ...(type === 'file' ? { data } : {}),
            });
          }
        }
        next();
      }, reject);
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
    input.on('error', reject);
  });
  input.pipe(ex);
  try { await done; return true; } catch { return false; }
}

/**
 * The destination inside the image: its parents' symlinks followed inside the root (a COPY into
 * /var/run/x writes /run/x when /var/run -> /run), and the last name too when it links to a directory.
 */
export function resolveDest(image: FileSource, dest: string): string {
  if (!dest) return dest;
  const i = dest.lastIndexOf('/');
  const parent = i < 0 ? '' : followInside(image, dest.slice(0, i));
  const full = parent ? `${parent}/${dest.slice(i + 1)}` : dest.slice(i + 1);
  if (image.lstat(full)?.isSymbolicLink()) {
    const target = followInside(image, full);
    if (image.lstat(target)?.isDirectory()) return target;
  }
  return full;
}

/** `--parents`: the part of a source before a `/./` pivot (what is not kept), cleaned. */
function parentsPivot(pattern: string): string {
  const p = pattern.replace(/^\.\//, '');
  const i = p.indexOf('/./');
  return i < 0 ? '' : clean(p.slice(0, i));
}

/** The items of a COPY/ADD layer, in tar order (parents first). */
export async function copyItems(r: CopyRequest): Promise<CopyItem[]> {
  const items = new Map<string, CopyItem>();
  const now = new Date();
  const own = r.owner ?? { uid: 0, gid: 0 };
  const dest = resolveDest(r.image, clean(r.dest));
  const destIsDir = r.dest.endsWith('/') || !!r.image.lstat(dest)?.isDirectory();
  const expanded = r.sources.map((s) => ({ s, matches: expandSources(s) }));
  const count = expanded.reduce((n, e) => n + e.matches.length, 0) + r.contents.length + (r.remote?.length ?? 0);
  if (count > 1 && !r.dest.endsWith('/')) throw new CopyError(`When using ${r.instr} with more than one source file, the destination must be a directory and end with a /`);
  const mode = (m: number, dir = false) => (r.chmod ? r.chmod(m & 0o7777, dir) : m & 0o7777);
  // items are made here for this map only: named in place
  const add = (it: CopyItem) => { if (it.name.charCodeAt(0) === 47) it.name = it.name.replace(/^\/+/, ''); items.set(it.name, it); };
  const links = new Map<string, string>();
  const addFrom = (src: FileSource, rel: string, name: string) => {
    const st = src.lstat(rel);
    if (!st) return;
    if (st.isFile() && st.nlink > 1) {
      // a hard link to a file this copy already has: kept as a link (BuildKit's copy does)
      const k = `${st.dev}:${st.ino}`;
      const first = links.get(k);
      if (first !== undefined && first !== name.replace(/^\/+/, '')) {
        add({ name, type: 'link', mode: mode(st.mode), uid: own.uid, gid: own.gid, mtime: st.mtimeMs, size: 0, linkname: first });
        return;
      }
      links.set(k, name.replace(/^\/+/, ''));
    }
    if (st.isFile()) add({ name, type: 'file', mode: mode(st.mode), uid: own.uid, gid: own.gid, mtime: st.mtimeMs, size: st.size, from: { src, rel } });
    else if (st.isDirectory()) add({ name, type: 'directory', mode: mode(st.mode, true), uid: own.uid, gid: own.gid, mtime: st.mtimeMs, size: 0 });
    else if (st.isSymbolicLink()) add({ name, type: 'symlink', mode: 0o777, uid: own.uid, gid: own.gid, mtime: st.mtimeMs, size: 0, linkname: src.readlink(rel) });
  };
  const excluded = r.exclude?.length ? new PatternMatcher(readIgnore(r.exclude.join('\n'))) : undefined;
  for (const { s, matches } of expanded) {
    const pivot = r.parents ? parentsPivot(s.pattern) : '';
    for (const { rel: m, name: srcName } of matches) {
      const st = s.src.lstat(m)!;
      const kept = r.parents ? (pivot && m.startsWith(`${pivot}/`) ? m.slice(pivot.length + 1) : m === pivot ? '' : m) : undefined;
      if (st.isDirectory()) {
        const base = kept !== undefined ? posix.join(dest, kept) : dest;
        if (base) add({ name: base, type: 'directory', mode: mode(st.mode, true), uid: own.uid, gid: own.gid, mtime: st.mtimeMs, size: 0 });
        const skipped: string[] = [];
        for (const p of walk(s.src, m)) {
          const rel = m ? p.slice(m.length + 1) : p;
          if (excluded && (skipped.some((d) => rel.startsWith(`${d}/`)) || excluded.matches(rel))) { skipped.push(rel); continue; }
          addFrom(s.src, p, base ? `${base}/${rel}` : rel);
        }
        continue;
      }
      if (excluded?.matches(srcName)) continue;
      const target = kept !== undefined ? posix.join(dest, kept) : destIsDir ? posix.join(dest, srcName) : dest;
      if (r.extract && st.isFile()) {
        const buf = await readAll(s.src.open(m));
        const kind = isArchive(buf.subarray(0, 512));
        if (kind && await extractArchive(buf, kind, dest, add)) continue;
      }
      addFrom(s.src, m, target);
    }
  }
  for (const f of r.remote ?? []) {
    add({ name: destIsDir ? posix.join(dest, f.name) : dest, type: 'file', mode: mode(0o600), uid: own.uid, gid: own.gid, mtime: f.mtime, size: f.data.length, data: f.data });
  }
  for (const c of r.contents) {
    const data = Buffer.from(c.data);
    add({ name: destIsDir ? posix.join(dest, c.name) : dest, type: 'file', mode: mode(0o644), uid: own.uid, gid: own.gid, mtime: now, size: data.length, data });
  }
  // parents of everything, from the image when they exist there: up from each name to the first
  // parent present (whose own parents are then present, or added when that name's turn comes)
  for (const name of [...items.keys()]) {
    for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
      const p = name.slice(0, i);
      if (items.has(p)) break;
      const st = r.image.lstat(p);
      items.set(p, st?.isDirectory()
        ? { name: p, type: 'directory', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: now, size: 0 }
        : { name: p, type: 'directory', mode: 0o755, uid: own.uid, gid: own.gid, mtime: now, size: 0 });
    }
  }
  const sorted = [...items.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // a hard link must come after its target in the tar: the first of a group in tar order holds the content
  if (!sorted.some((it) => it.type === 'link')) return sorted;
  const byName = new Map(sorted.map((it) => [it.name, it]));
  const canon = new Map<string, string>();
  const seen = new Set<string>();
  for (const it of sorted) {
    if (it.type === 'link' && it.linkname) {
      const t = canon.get(it.linkname) ?? it.linkname;
      const file = byName.get(t);
      if (seen.has(t) || file?.type !== 'file') it.linkname = t;
      else {
        Object.assign(it, { type: 'file', size: file.size, from: file.from, data: file.data, linkname: undefined });
        Object.assign(file, { type: 'link', size: 0, from: undefined, data: undefined, linkname: it.name });
        canon.set(t, it.name);
      }
    }
    seen.add(it.name);
  }
  return sorted;
}

/** The content key of the items (names, types, modes, owners, link targets, content digests). */
export async function itemsKey(items: CopyItem[]): Promise<string> {
  const h = createHash('sha256');
  const body = (it: CopyItem) => (it.from ? it.from.src.knownDigest?.(it.from.rel) ?? it.from.src.digest(it.from.rel)
    : it.data ? createHash('sha256').update(it.data).digest('hex') : '');
  // a few files at a time: those not in the file-hash cache are read (and their descriptors open) together
  for (let i = 0; i < items.length; i += 64) {
    const part = items.slice(i, i + 64);
    const found = part.map(body);
    const bodies = found.every((b) => typeof b === 'string') ? found : await Promise.all(found);
    part.forEach((it, j) => h.update(JSON.stringify([it.name, it.type, it.mode, it.uid, it.gid, it.linkname ?? '', it.size, bodies[j]])));
  }
  return h.digest('hex');
}

/** The items as a tar stream. */
export function itemsTar(items: CopyItem[]): Readable {
  const pack = tar.pack();
  (async () => {
    for (const it of items) {
      const header = {
        name: it.type === 'directory' ? `${it.name}/` : it.name, type: it.type, mode: it.mode, uid: it.uid, gid: it.gid, mtime: typeof it.mtime === 'number' ? new Date(it.mtime) : it.mtime,
        size: it.type === 'file' ? it.size : 0, ...(it.linkname !== undefined ? { linkname: it.linkname } : {}),
        ...(it.devmajor !== undefined ? { devmajor: it.devmajor, devminor: it.devminor ?? 0 } : {}),
      };
      if (it.type !== 'file') { await new Promise<void>((res, rej) => pack.entry(header, (e) => (e ? rej(e) : res()))); continue; }
      if (it.data) { await new Promise<void>((res, rej) => pack.entry(header, it.data!, (e) => (e ? rej(e) : res()))); continue; }
      const { src, rel } = it.from!;
      // a small file in one read and one entry: a read stream per file costs more than the file
      const small = it.size <= SMALL_FILE ? src.readSmall?.(rel, SMALL_FILE) : undefined;
      if (small) { await new Promise<void>((res, rej) => pack.entry(header, small, (e) => (e ? rej(e) : res()))); continue; }
      const body = src.open(rel);
      await new Promise<void>((res, rej) => {
        const e = pack.entry(header, (err) => (err ? rej(err) : res()));
        body.on('error', rej);
        body.pipe(e);
      });
    }
    pack.finalize();
  })().catch((e: unknown) => pack.destroy(e as Error));
  return pack as unknown as Readable;
}

/** What an earlier download of a URL left (next to its body): validators for a conditional request. */
interface Fetched { etag?: string; lastModified?: string; digest: string; mtime: string }

async function stored(dir: string, id: string): Promise<{ meta: Fetched; data: Buffer } | undefined> {
  try {
    const meta = JSON.parse(await fsp.readFile(join(dir, `${id}.json`), 'utf8')) as Fetched;
    const data = await fsp.readFile(join(dir, id));
    // a body that is not what was stored is not used (and downloaded again)
    return createHash('sha256').update(data).digest('hex') === meta.digest ? { meta, data } : undefined;
  } catch { return undefined; }
}

async function store(dir: string, id: string, meta: Fetched, data: Buffer): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const tmp = `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await fsp.writeFile(join(dir, tmp), data);
  await fsp.rename(join(dir, tmp), join(dir, id));
  await fsp.writeFile(join(dir, tmp), JSON.stringify(meta));
  await fsp.rename(join(dir, tmp), join(dir, `${id}.json`));
}

/**
 * ADD of an http(s) URL: the file's name (the URL's last path element), bytes and Last-Modified;
 * `--checksum` verified. With `storeDir`, the body and its validators are kept per URL and the next
 * download is a conditional request (If-None-Match, If-Modified-Since): a 304 reuses the kept body.
 */
export async function download(url: string, checksum: string | undefined, storeDir?: string): Promise<{ name: string; data: Buffer; mtime: Date }> {
  const id = createHash('sha256').update(url).digest('hex');
  const prev = storeDir ? await stored(storeDir, id) : undefined;
  const headers: Record<string, string> = {};
  if (prev?.meta.etag) headers['if-none-match'] = prev.meta.etag;
  if (prev?.meta.lastModified) headers['if-modified-since'] = prev.meta.lastModified;
  let res: Response;
  try { res = await fetch(url, { redirect: 'follow', headers }); } catch (e) {
    throw new CopyError(`failed to load cache key: ${url}: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`);
  }
  let data: Buffer;
  let lm: string | null;
  if (res.status === 304 && prev) {
    await res.arrayBuffer().catch(() => undefined);
    data = prev.data;
    lm = prev.meta.lastModified ?? null;
  } else {
    if (!res.ok) throw new CopyError(`failed to load cache key: invalid response status ${res.status}`);
    data = Buffer.from(await res.arrayBuffer());
    lm = res.headers.get('last-modified');
    const etag = res.headers.get('etag');
    if (storeDir && (etag || lm)) {
      await store(storeDir, id, {
        ...(etag ? { etag } : {}), ...(lm ? { lastModified: lm } : {}), digest: createHash('sha256').update(data).digest('hex'), mtime: new Date().toISOString(),
      }, data).catch(() => undefined);
    }
  }
  if (checksum) {
    const [algo, want] = checksum.split(':') as [string, string];
    const got = createHash(algo).update(data).digest('hex');
    if (got !== want) throw new CopyError(`digest mismatch ${checksum}: ${algo}:${got}`);
  }
  const name = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).at(-1) ?? '') || '__unnamed__';
  return { name, data, mtime: lm ? new Date(lm) : new Date(0) };
}
