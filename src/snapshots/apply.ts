/**
 * Applying one uncompressed layer tar to a directory, as containerd does: 'overlay' mode writes
 * an overlayfs upper directory (whiteouts become 0:0 character devices, opaque markers the
 * trusted.overlay.opaque xattr); 'naive' mode edits a full copy of the parent (whiteouts delete).
 * The diffID is the sha256 of every byte of the tar stream.
 */
import { createHash } from 'node:crypto';
import {
  type Stats, closeSync, constants, fchmodSync, fchownSync, linkSync, mkdirSync, openSync, realpathSync, symlinkSync, writeSync, chmodSync,
} from 'node:fs';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { BerthError, wrapError } from '../lib/index.js';
import { S_IFBLK, S_IFCHR, S_IFIFO, futimens, lchown, lsetxattr, lutimens, mknod } from '../sys/index.js';
import { UnsafeEntry, entryMeta, splitEntryPath, type EntryMeta } from './entry.js';
import { LayerFS, isWhiteoutDevice, parentOf, setOpaque } from './layerfs.js';
import { hookRawPax } from './tarpax.js';
import { removeTree } from './fsutil.js';

export type ApplyMode = 'overlay' | 'naive';

export interface ApplyOptions {
  mode: ApplyMode;
  /** Overlay mode: the lower layers' directories, nearest first (used to create missing parents like theirs). */
  parents?: string[];
  /**
   * Rootless: instead of chown(2) (which an ordinary user cannot do), each entry's path, ids and
   * mode (undefined for a symlink) are handed here; the caller chowns them in a user namespace
   * (rootless.ts) and may refuse ids it cannot map.
   */
  owner?: (path: string, uid: number, gid: number, mode: number | undefined, name: string) => void;
  /** Rootless: the same for a directory made like a lower layer's, with that one's host ids. */
  ownerHost?: (path: string, uid: number, gid: number, mode: number) => void;
  /** The xattr marking opaque directories (rootless: user.overlay.opaque, for overlay's `userxattr`). */
  opaqueXattr?: string;
}

export interface ApplyResult {
  diffID: string;
  size: number;
}

const WH_PREFIX = '.wh.';
const WH_OPAQUE = '.wh..wh..opq';
const EOPNOTSUPP = 95;
const EPERM = 1;

/** The part of tar-stream's (streamx) extractor used here. */
interface ExtractLike {
  on(event: 'entry', fn: (header: unknown, stream: unknown, next: (err?: Error) => void) => void): void;
  on(event: string, fn: (arg?: unknown) => void): void;
  once(event: string, fn: () => void): void;
  write(chunk: Buffer): boolean;
  end(): void;
  destroy(err?: Error): void;
}

interface Header {
  name: string; type?: string | null; linkname?: string | null; size?: number;
  devmajor?: number; devminor?: number; uid?: number; gid?: number; mode?: number; mtime?: Date; pax?: unknown;
}

class Applier {
  constructor(private readonly fs: LayerFS, private readonly owner?: ApplyOptions['owner']) {}

  private chown(path: string, uid: number, gid: number, mode: number | undefined, fd?: number): void {
    if (this.owner) this.owner(path, uid, gid, mode, path === this.fs.root ? '/' : path.slice(this.fs.root.length + 1));
    else if (fd !== undefined) fchownSync(fd, uid, gid);
    else lchown(path, uid, gid);
  }

  async entry(h: Header, data: AsyncIterable<Buffer>): Promise<void> {
    const parts = splitEntryPath(h.name);
    const type = h.type ?? 'unknown';
    if (type === 'file' || type === 'contiguous-file') return this.file(parts, h, data);
    await drain(data);
    const base = parts[parts.length - 1];
    if (base?.startsWith(WH_PREFIX)) return this.whiteout(parts, h);
    const meta = entryMeta(h);
    switch (type) {
      case 'directory': return this.dir(parts, meta);
      case 'symlink': return this.symlink(parts, h.linkname ?? '', meta);
      case 'link': return this.hardlink(parts, h.linkname ?? '');
      case 'character-device': return this.node(parts, S_IFCHR, meta, h.devmajor ?? 0, h.devminor ?? 0);
      case 'block-device': return this.node(parts, S_IFBLK, meta, h.devmajor ?? 0, h.devminor ?? 0);
      case 'fifo': return this.node(parts, S_IFIFO, meta, 0, 0);
      default: throw new UnsafeEntry(`unsupported entry type ${type}`);
    }
  }

  /**
   * Create an entry with `make`, its parents made real directories first. Something already at
   * the path (EEXIST) is removed and `make` retried, except a directory when `keepDir`.
   */
  private place(parts: string[], make: (path: string) => void, keepDir = false): { rel: string; path: string; before?: Stats; kept?: boolean } {
    if (!parts.length) throw new UnsafeEntry('only a directory may name the layer root');
    this.fs.ensureDirs(parts.slice(0, -1));
    const rel = parts.join('/');
    const path = this.fs.abs(rel);
    this.fs.inLayer.add(rel);
    this.fs.touchDir(parentOf(rel));
    try {
      make(path);
      return { rel, path };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const before = this.fs.clear(rel, keepDir);
    if (keepDir && before?.isDirectory()) return { rel, path, before, kept: true };
    make(path);
    return { rel, path, before };
  }

  private async file(parts: string[], h: Header, data: AsyncIterable<Buffer>): Promise<void> {
    if (parts[parts.length - 1]?.startsWith(WH_PREFIX)) { await drain(data); return this.whiteout(parts, h); }
    const meta = entryMeta(h);
    let fd = -1;
    const { path } = this.place(parts, (p) => { fd = openSync(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600); });
    try {
      for await (const chunk of data) {
        for (let off = 0; off < chunk.length;) off += writeSync(fd, chunk, off, chunk.length - off);
      }
      this.chown(path, meta.uid, meta.gid, meta.mode, fd);
      fchmodSync(fd, meta.mode);
      this.xattrs(path, meta, false);
      futimens(fd, meta.atime, meta.mtime, path);
    } finally {
      closeSync(fd);
    }
  }

  private dir(parts: string[], meta: EntryMeta): void {
    let rel = '';
    let path = this.fs.abs('');
    if (parts.length) {
      const r = this.place(parts, (p) => mkdirSync(p, 0o700), true);
      ({ rel, path } = r);
      // a whiteout from earlier in this layer turned into a directory: the lowers stay hidden
      if (!r.kept && r.before && this.fs.mode === 'overlay' && isWhiteoutDevice(r.before)) setOpaque(path, this.fs.opaqueXattr);
    }
    this.chown(path, meta.uid, meta.gid, meta.mode);
    chmodSync(path, meta.mode);
    this.xattrs(path, meta, false);
    this.fs.dirTimes.set(rel, { atime: meta.atime, mtime: meta.mtime });
  }

  private symlink(parts: string[], target: string, meta: EntryMeta): void {
    if (target.includes('\0')) throw new UnsafeEntry('symlink target contains a NUL byte');
    const { path } = this.place(parts, (p) => symlinkSync(target, p));
    this.chown(path, meta.uid, meta.gid, undefined);
    this.xattrs(path, meta, true);
    lutimens(path, meta.atime, meta.mtime);
  }

  private hardlink(parts: string[], linkname: string): void {
    const tparts = splitEntryPath(linkname, 'hardlink target');
    const trel = tparts.join('/');
    if (!tparts.length || !this.fs.inLayer.has(trel)) throw new UnsafeEntry(`hardlink target ${linkname} is not in this layer`);
    if (this.fs.verifyExisting(tparts).isDirectory()) throw new UnsafeEntry(`hardlink target ${linkname} is a directory`);
    if (parts.join('/') === trel) return;
    this.place(parts, (p) => {
      // clearing the link's path may have removed a directory on the target's path: check every time
      this.fs.verifyExisting(tparts);
      linkSync(this.fs.abs(trel), p);
    });
  }

  private node(parts: string[], type: number, meta: EntryMeta, major: number, minor: number): void {
    const { path } = this.place(parts, (p) => mknod(p, type | (meta.mode & 0o777), major, minor));
    this.chown(path, meta.uid, meta.gid, meta.mode);
    chmodSync(path, meta.mode);
    this.xattrs(path, meta, false);
    lutimens(path, meta.atime, meta.mtime);
  }

  private whiteout(parts: string[], h: Header): void {
    const base = parts[parts.length - 1]!;
    const dirParts = parts.slice(0, -1);
    const dirRel = dirParts.join('/');
    if (base === WH_OPAQUE) {
      this.fs.ensureDirs(dirParts);
      if (this.fs.mode === 'overlay') setOpaque(this.fs.abs(dirRel), this.fs.opaqueXattr);
      else this.fs.removeNotInLayer(dirRel);
      return;
    }
    if (base.startsWith(WH_PREFIX + WH_PREFIX)) return; // other aufs metadata (.wh..wh.plnk ...): ignored like Docker
    const name = base.slice(WH_PREFIX.length);
    if (!name || name === '.' || name === '..') throw new UnsafeEntry(`whiteout of ${JSON.stringify(name)}`);
    const rel = dirRel ? `${dirRel}/${name}` : name;
    if (this.fs.inLayer.has(rel)) return; // a whiteout only hides what lower layers have
    if (!this.fs.ensureDirs(dirParts, 'if-visible')) return; // nothing below to hide
    const path = this.fs.abs(rel);
    if (this.fs.mode === 'naive') { this.fs.remove(rel); return; }
    const st = this.fs.clear(rel, false);
    if (!st || !isWhiteoutDevice(st)) this.fs.touchDir(dirRel);
    mknod(path, S_IFCHR, 0, 0);
    const meta = entryMeta(h);
    this.chown(path, meta.uid, meta.gid, undefined);
  }

  private xattrs(path: string, meta: EntryMeta, symlink: boolean): void {
    for (const [name, value] of meta.xattrs) {
      try {
        lsetxattr(path, name, value);
      } catch (err) {
        const e = (err as BerthError).errno;
        // like Docker: filesystems without xattrs (or user.* on a symlink) are not fatal
        if (e === EOPNOTSUPP || (e === EPERM && symlink)) continue;
        throw err;
      }
    }
  }
}

async function drain(data: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of data) { /* discard */ }
}

/** An error while writing one entry, naming the entry; refused entries and bad tar data are 'invalid'. */
function entryError(dir: string, name: string, err: unknown): BerthError {
  const prefix = `unpack layer: entry ${JSON.stringify(name)}`;
  if (err instanceof UnsafeEntry) return new BerthError({ kind: 'invalid', op: 'unpack layer', path: dir, message: `${prefix}: ${err.message}` });
  if (err instanceof BerthError) {
    return new BerthError({ kind: err.kind, op: 'unpack layer', path: err.path ?? dir, errno: err.errno, code: err.code, message: `${prefix}: ${err.message}`, cause: err });
  }
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code && /^E[A-Z]+$/.test(code)) {
    const w = wrapError(err, 'write', (err as NodeJS.ErrnoException).path);
    return new BerthError({ kind: w.kind, op: 'unpack layer', path: w.path ?? dir, errno: w.errno, code: w.code, message: `${prefix}: ${w.message}`, cause: err });
  }
  return new BerthError({ kind: 'invalid', op: 'unpack layer', path: dir, message: `${prefix}: ${(err as Error)?.message ?? err}`, cause: err });
}

/**
 * Apply an uncompressed layer tar to `dir` (which must exist). Throws a BerthError (kind
 * 'invalid', op 'unpack layer') for an entry that would create or write anything outside `dir`;
 * the directory is then partially written: remove it with removeLayerDir(). The stream is
 * consumed to its end, or destroyed on failure.
 */
export async function applyLayer(tarStream: Readable, dir: string, opts: ApplyOptions): Promise<ApplyResult> {
  let root: string;
  try { root = realpathSync(dir); } catch (err) { tarStream.destroy(); throw wrapError(err, 'unpack layer', dir); }
  const fs = new LayerFS(root, opts.mode, opts.parents, opts.opaqueXattr);
  fs.ownerHost = opts.ownerHost;
  const applier = new Applier(fs, opts.owner);
  const hash = createHash('sha256');
  let size = 0;
  let failure: unknown;
  const extract = (tar.extract as (o: object) => unknown)({ allowUnknownFormat: true }) as ExtractLike; // v7 tars too
  hookRawPax(extract);
  extract.on('entry', (header, stream, next) => {
    const h = header as Header;
    applier.entry(h, stream as unknown as AsyncIterable<Buffer>).then(() => next(), (err: unknown) => {
      failure ??= entryError(dir, h.name, err);
      next(failure as Error);
    });
  });
  const ended = new Promise<void>((resolve, reject) => {
    extract.on('finish', () => resolve());
    extract.on('error', reject);
    extract.on('close', () => reject(failure ?? new Error('tar extraction stopped')));
  });
  ended.catch(() => {});
  let sourceError: { error: unknown } | undefined;
  try {
    if (opts.mode === 'overlay') fs.inheritRoot();
    const it = (tarStream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    for (;;) {
      let r: IteratorResult<Buffer>;
      try { r = await it.next(); } catch (error) { sourceError = { error }; throw error; }
      if (r.done) break;
      hash.update(r.value);
      size += r.value.length;
      if (!extract.write(r.value)) await Promise.race([new Promise<void>((res) => extract.once('drain', () => res())), ended]);
    }
    extract.end();
    await ended;
    fs.finish();
  } catch (err) {
    tarStream.destroy();
    extract.destroy();
    if (sourceError) {
      // the stream failed (network, decompression, digest check...): keep its error
      const e = sourceError.error;
      if (e instanceof BerthError) throw e;
      throw new BerthError({ kind: 'system', op: 'unpack layer', path: dir, message: `unpack layer ${dir}: reading the layer: ${(e as Error)?.message ?? e}`, cause: e });
    }
    const e = failure ?? err;
    if (e instanceof BerthError) throw e;
    throw new BerthError({ kind: 'invalid', op: 'unpack layer', path: dir, message: `unpack layer ${dir}: ${(e as Error)?.message ?? e}`, cause: e });
  }
  return { diffID: `sha256:${hash.digest('hex')}`, size };
}

/** Remove a partially applied layer directory (refuses if something is mounted inside it). */
export function removeLayerDir(dir: string): void {
  removeTree(dir);
}
