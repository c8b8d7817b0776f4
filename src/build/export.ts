/**
 * `berth build -o`: the final stage's filesystem written out instead of an image —
 * `type=local,dest=DIR` (files, modes and owners as in the image) or `type=tar,dest=FILE|-`
 * (one uncompressed tar). `type=image` (the default) writes the image as before.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { itemsTar, type CopyItem } from './copy.js';
import { walk, type FileSource } from './fs.js';
import { materialize } from './mounts.js';

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

/** Write the filesystem of `src` to a directory (created; its existing entries are overwritten only where the image has them). */
export async function exportLocal(src: FileSource, dest: string): Promise<void> {
  mkdirSync(dest, { recursive: true });
  for (const name of src.readdir('')) {
    const host = join(dest, name);
    if (readdirSync(dest).includes(name)) await import('node:fs/promises').then((f) => f.rm(host, { recursive: true, force: true }));
    await materialize(src, name, host);
  }
}

/** Write the filesystem of `src` as a tar stream. */
export async function exportTar(src: FileSource, out: Writable): Promise<void> {
  const items: CopyItem[] = [];
  for (const rel of walk(src, '')) {
    const st = src.lstat(rel)!;
    const base = { name: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime, size: 0 };
    if (st.isDirectory()) items.push({ ...base, type: 'directory' });
    else if (st.isSymbolicLink()) items.push({ ...base, type: 'symlink', linkname: src.readlink(rel) });
    else if (st.isFile()) items.push({ ...base, type: 'file', size: st.size, from: { src, rel } });
  }
  await pipeline(itemsTar(items), out);
}
