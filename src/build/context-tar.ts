/**
 * A build context sent as a tar stream (the Engine API's `POST /build` body: plain or gzip, as
 * the docker CLI, docker-py and dockerode send it) unpacked into a directory, streaming: names
 * cleaned, nothing outside the directory, nothing written through a link.
 */
import { createWriteStream, existsSync, lstatSync, linkSync, mkdirSync, symlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { BerthError, gunzipStream } from '../lib/index.js';


const invalid = (message: string) => new BerthError({ kind: 'invalid', op: 'build', message: `build: context tar: ${message}` });

/** The stream with its first bytes looked at: gzip is undone; bzip2, xz and zstd are refused by name. */
async function decompressed(input: AsyncIterable<Buffer>): Promise<Readable> {
  const it = input[Symbol.asyncIterator]();
  let first = Buffer.alloc(0);
  let done = false;
  while (first.length < 6 && !done) {
    const r = await it.next();
    if (r.done) done = true; else first = Buffer.concat([first, Buffer.from(r.value)]);
  }
  const rest = async function* () {
    if (first.length) yield first;
    if (done) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield Buffer.from(r.value);
  };
  const src = Readable.from(rest());
  if (first[0] === 0x1f && first[1] === 0x8b) return src.pipe(gunzipStream());
  const other = first.subarray(0, 3).toString('latin1') === 'BZh' ? 'bzip2'
    : first.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) ? 'xz'
      : first.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])) ? 'zstd' : undefined;
  if (other) { src.destroy(); throw invalid(`${other} compression is not supported (send a plain or gzip tar)`); }
  return src;
}

/** `rel` inside `dir`, its parents created as directories (a parent that is not one is an error). */
function place(dir: string, rel: string): string {
  let p = dir;
  for (const part of rel.split('/').slice(0, -1)) {
    p = join(p, part);
    const st = existsSync(p) ? lstatSync(p) : undefined;
    if (st && !st.isDirectory()) throw invalid(`${rel}: a parent is not a directory`);
    if (!st) mkdirSync(p, { mode: 0o755 });
  }
  return join(dir, rel);
}

/** Whether `rel` is a regular file of `dir` reached without following any link. */
export function isContextFile(dir: string, rel: string): boolean {
  let p = dir;
  const parts = rel.split('/');
  for (const [i, part] of parts.entries()) {
    p = join(p, part);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st || (i < parts.length - 1 ? !st.isDirectory() : !st.isFile())) return false;
  }
  return true;
}

const clean = (name: string): string | undefined => {
  const rel = posix.normalize(`/${name}`).slice(1).replace(/\/$/, '');
  return rel && !rel.startsWith('..') ? rel : undefined;
};

/** Unpack a context tar (a stream of the request body) into `dir`, which exists and is empty. */
export async function extractContextTar(input: AsyncIterable<Buffer>, dir: string): Promise<void> {
  const src = await decompressed(input);
  const ex = tar.extract();
  ex.on('entry', (h, stream, next) => {
    const fail = (e: unknown) => { stream.resume(); ex.destroy(e as Error); };
    try {
      const rel = clean(h.name);
      if (!rel) { stream.on('end', next); stream.resume(); return; }
      const target = place(dir, rel);
      const mode = (h.mode ?? 0o644) & 0o7777;
      if (h.type === 'file' || h.type === 'contiguous-file') {
        pipeline(stream, createWriteStream(target, { mode, flags: 'wx' })).then(() => next(), fail);
        return;
      }
      if (h.type === 'directory') { if (!existsSync(target)) mkdirSync(target, { mode }); }
      else if (h.type === 'symlink') symlinkSync(h.linkname ?? '', target);
      else if (h.type === 'link') {
        const from = clean(h.linkname ?? '');
        if (!from || !isContextFile(dir, from)) throw invalid(`${rel}: hard link to ${h.linkname}: not a file of the context`);
        linkSync(join(dir, from), target);
      }
      stream.on('end', next);
      stream.resume();
    } catch (e) { fail(e); }
  });
  await pipeline(src, ex);
}
