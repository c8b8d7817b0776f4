/**
 * `berth build -o`: the final stage's filesystem written out instead of an image —
 * `type=local,dest=DIR` (files, modes and owners as in the image) or `type=tar,dest=FILE|-`
 * (one uncompressed tar); hard links stay links, devices and FIFOs stay themselves. `type=image` (the default) writes the image as before.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, createWriteStream, lchownSync, linkSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { itemsTar, type CopyItem } from './copy.js';
import { walk, type FileSource } from './fs.js';

export interface BuildOutput { type: 'image' | 'local' | 'tar'; dest?: string }

/** `-o` value → output (buildx's CSV form, or a bare path: local). */
export function parseOutput(v: string): BuildOutput {
  if (!v.includes('=')) return v === '-' ? { type: 'tar', dest: '-' } : { type: 'local', dest: v };
  const out: { type?: string; dest?: string } = {};
  for (const f of v.split(',')) {
    const i = f.indexOf('=');
    const k = i < 0 ? f : f.slice(0, i);
    const val = i < 0 ? '' : f.slice(i + 1);
    if (k === 'type') out.type = val;
    else if (k === 'dest') out.dest = val;
    else if (!['name', 'push', 'compression', 'oci-mediatypes'].includes(k)) throw new Error(`unexpected key '${k}' in '${f}'`);
  }
  if (!out.type) throw new Error('type is required for output');
  if (out.type === 'docker' || out.type === 'moby') out.type = 'image';
  if (!['image', 'local', 'tar'].includes(out.type)) throw new Error(`output type ${out.type} is not supported by berth (image, local, tar)`);
  if (out.type !== 'image' && !out.dest) throw new Error(`dest is required for ${out.type} exporter`);
  return { type: out.type as BuildOutput['type'], ...(out.dest ? { dest: out.dest } : {}) };
}

/** A device's major and minor numbers from st_rdev (glibc's encoding). */
function devNumbers(rdev: number): { devmajor: number; devminor: number } {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  return { devmajor: ((lo >>> 8) & 0xfff) | ((hi & 0xfffff000) >>> 0), devminor: (lo & 0xff) | ((lo >>> 12) & 0xfff00) };
}

/**
 * The entries of `src` as tar items, walk order: hard links of a file kept as links to its first
 * name (same layer, same inode), devices and FIFOs as themselves.
 */
export function fsItems(src: FileSource): CopyItem[] {
  const items: CopyItem[] = [];
  const seen = new Map<string, string>();
  for (const rel of walk(src, '')) {
    const st = src.lstat(rel)!;
    const base = { name: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime, size: 0 };
    if (st.isDirectory()) items.push({ ...base, type: 'directory' });
    else if (st.isSymbolicLink()) items.push({ ...base, type: 'symlink', linkname: src.readlink(rel) });
    else if (st.isFile()) {
      const k = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? seen.get(k) : undefined;
      if (first !== undefined) { items.push({ ...base, type: 'link', linkname: first }); continue; }
      if (st.nlink > 1) seen.set(k, rel);
      items.push({ ...base, type: 'file', size: st.size, from: { src, rel } });
    } else if (st.isCharacterDevice() || st.isBlockDevice()) items.push({ ...base, type: st.isCharacterDevice() ? 'character-device' : 'block-device', ...devNumbers(st.rdev) });
    else if (st.isFIFO()) items.push({ ...base, type: 'fifo' });
  }
  return items;
}

/** Write the filesystem of `src` to a directory (created; its existing entries are overwritten only where the image has them). */
export async function exportLocal(src: FileSource, dest: string): Promise<void> {
  mkdirSync(dest, { recursive: true });
  for (const name of src.readdir('')) {
    if (readdirSync(dest).includes(name)) await rm(join(dest, name), { recursive: true, force: true });
  }
  for (const it of fsItems(src)) {
    const host = join(dest, it.name);
    if (it.type === 'directory') mkdirSync(host, { mode: it.mode });
    else if (it.type === 'symlink') { symlinkSync(it.linkname!, host); lchownSync(host, it.uid, it.gid); continue; }
    else if (it.type === 'link') { linkSync(join(dest, it.linkname!), host); continue; }
    else if (it.type === 'file') await pipeline(it.from!.src.open(it.from!.rel), createWriteStream(host, { mode: it.mode, flags: 'wx' }));
    else if (it.type === 'fifo') execFileSync('mkfifo', [host]);
    else execFileSync('mknod', [host, it.type === 'character-device' ? 'c' : 'b', String(it.devmajor), String(it.devminor)]);
    chownSync(host, it.uid, it.gid);
    chmodSync(host, it.mode);
  }
}

/** Write the filesystem of `src` as a tar stream. */
export async function exportTar(src: FileSource, out: Writable): Promise<void> {
  await pipeline(itemsTar(fsItems(src)), out);
}
