/** Test helpers for the snapshots tests: tar building with tar-stream's pack, temp dirs, tree listings. */
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { lgetxattrs } from '../../src/sys/index.js';
import { removeTree } from '../../src/snapshots/index.js';

export interface TEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  data?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Written as PAX SCHILY.xattr.<name> records (binary values kept as bytes). */
  xattrs?: Record<string, Buffer | string>;
  pax?: Record<string, string>;
}

interface HeadersModule { encodePax(opts: { name?: string; linkname?: string | null; pax?: Record<string, unknown> }): Buffer }

let paxPatched = false;
/** tar-stream's pack writes PAX values as UTF-8 text; let Buffers through as raw bytes. */
function patchPackPax(): void {
  if (paxPatched) return;
  const req = createRequire(import.meta.url);
  const headers = req(join(dirname(req.resolve('tar-stream')), 'headers.js')) as HeadersModule;
  headers.encodePax = (opts) => {
    const recs: Buffer[] = [];
    const add = (k: string, v: Buffer) => {
      const body = Buffer.concat([Buffer.from(` ${k}=`), v, Buffer.from('\n')]);
      let len = body.length + String(body.length).length;
      if (String(len).length !== String(body.length).length) len = body.length + String(len).length;
      recs.push(Buffer.concat([Buffer.from(String(len)), body]));
    };
    if (opts.name) add('path', Buffer.from(opts.name));
    if (opts.linkname) add('linkpath', Buffer.from(opts.linkname));
    for (const [k, v] of Object.entries(opts.pax ?? {})) add(k, Buffer.isBuffer(v) ? v : Buffer.from(String(v)));
    return Buffer.concat(recs);
  };
  paxPatched = true;
}

export const T0 = new Date('2020-01-02T03:04:05Z');

/** A tar archive built entry by entry with tar-stream's pack. */
export async function buildTar(entries: TEntry[]): Promise<Buffer> {
  patchPackPax();
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = e.data === undefined ? undefined : Buffer.from(e.data);
    const pax: Record<string, unknown> = { ...e.pax };
    for (const [k, v] of Object.entries(e.xattrs ?? {})) pax[`SCHILY.xattr.${k}`] = Buffer.from(v);
    const header = {
      name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0,
      mtime: e.mtime ?? T0, linkname: e.linkname, devmajor: e.devmajor, devminor: e.devminor,
      size: type === 'file' ? (data?.length ?? 0) : 0,
      ...(Object.keys(pax).length ? { pax } : {}),
    } as unknown as tar.Header;
    await new Promise<void>((resolve, reject) => {
      if (type === 'file') pack.entry(header, data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A readable of `buf` in small chunks (so entries straddle chunk boundaries). */
export function streamOf(buf: Buffer, chunk = 1000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  return Readable.from(parts, { objectMode: false });
}

export function sha256(buf: Buffer): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

/** A fresh temp directory, removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `berth-snap-${prefix}-`));
  return { dir, cleanup: () => removeTree(dir) };
}

export interface NodeInfo {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  mtimeNs?: string;
  content?: string;
  link?: string;
  rdev?: string;
  xattrs?: Record<string, string>;
  nlink?: number;
}

/** Everything observable about a tree, keyed by relative path ('' = root). */
export function readTree(root: string, opts: { mtimes?: boolean; rootAttrs?: boolean } = {}): Record<string, NodeInfo> {
  const out: Record<string, NodeInfo> = {};
  const visit = (rel: string) => {
    const path = rel ? join(root, rel) : root;
    const st = lstatSync(path, { bigint: true });
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file'
      : st.isCharacterDevice() ? 'chr' : st.isBlockDevice() ? 'blk' : st.isFIFO() ? 'fifo' : 'other';
    const n: NodeInfo = { type, mode: (Number(st.mode) & 0o7777).toString(8), uid: Number(st.uid), gid: Number(st.gid) };
    if (opts.mtimes !== false && (type !== 'dir' || rel || opts.rootAttrs)) n.mtimeNs = String(st.mtimeNs);
    if (type === 'file') { n.content = createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16); n.nlink = Number(st.nlink); }
    if (type === 'symlink') n.link = readlinkSync(path);
    if (type === 'chr' || type === 'blk') n.rdev = String(st.rdev);
    const xa: Record<string, string> = {};
    for (const [k, v] of lgetxattrs(path)) if (!k.startsWith('trusted.overlay.')) xa[k] = v.toString('hex');
    if (Object.keys(xa).length) n.xattrs = xa;
    if (!rel && !opts.rootAttrs) { n.mode = ''; n.uid = 0; n.gid = 0; }
    out[rel] = n;
    if (type === 'dir') for (const name of readdirSync(path).sort()) visit(rel ? `${rel}/${name}` : name);
  };
  visit('');
  return out;
}
