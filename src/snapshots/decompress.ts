/**
 * Layer decompression: gzip (zlib), zstd (fzstd, streaming) or none. The format is detected from
 * the first bytes; the media type is only a hint (registries and archives do lie about it).
 */
import { Readable } from 'node:stream';
import { Decompress as ZstdDecompress } from 'fzstd';
import { BerthError, gunzipStream } from '../lib/index.js';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

export function compressionOfMediaType(mediaType?: string): Compression | undefined {
  if (!mediaType) return undefined;
  if (/(\+|\.)gzip$/.test(mediaType)) return 'gzip';
  if (/(\+|\.)zstd$/.test(mediaType)) return 'zstd';
  if (/\.tar$/.test(mediaType)) return 'none';
  return undefined;
}

/** The compression the leading bytes show (an empty or short stream is 'none'). */
export function detectCompression(head: Uint8Array): Compression {
  const starts = (m: number[]) => head.length >= m.length && m.every((b, i) => head[i] === b);
  if (starts(GZIP_MAGIC)) return 'gzip';
  if (starts(ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

/** An error of the input stream itself (not of the data): passed on untouched. */
class SourceError {
  constructor(readonly error: unknown) {}
}

async function* gunzip(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  // Large output chunks: each chunk is a round trip to the thread pool, and 16 KiB ones make the
  // pipeline wait on latency rather than work.
  const z = gunzipStream({ chunkSize: 1 << 20 });
  const input = Readable.from(src, { objectMode: false });
  input.on('error', (err) => z.destroy(err));
  input.pipe(z);
  try {
    for await (const chunk of z) yield chunk as Buffer;
  } finally {
    input.destroy();
    z.destroy();
  }
}

async function* unzstd(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let out: Buffer[] = [];
  let ended = false;
  const d = new ZstdDecompress((chunk, final) => {
    // fzstd may hand out views of its window: copy
    if (chunk.length) out.push(Buffer.from(chunk));
    if (final) ended = true;
  });
  for await (const chunk of src) {
    d.push(chunk);
    if (out.length) { const o = out; out = []; yield* o; }
  }
  d.push(new Uint8Array(0), true);
  if (out.length) yield* out;
  if (!ended) throw new Error('truncated zstd stream');
}

async function* run(input: Readable): AsyncGenerator<Buffer> {
  const it = (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const headChunks: Buffer[] = [];
  let have = 0;
  let done = false;
  while (have < 4) {
    const r = await it.next();
    if (r.done) { done = true; break; }
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    headChunks.push(b);
    have += b.length;
  }
  const head = Buffer.concat(headChunks);
  const kind = detectCompression(head);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (done) return;
    for (;;) {
      let r: IteratorResult<unknown>;
      try { r = await it.next(); } catch (err) { throw new SourceError(err); }
      if (r.done) return;
      yield Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    }
  }
  try {
    if (kind === 'gzip') yield* gunzip(rest());
    else if (kind === 'zstd') yield* unzstd(rest());
    else yield* rest();
  } catch (err) {
    if (err instanceof SourceError) throw err.error;
    if (err instanceof BerthError) throw err;
    throw new BerthError({ kind: 'invalid', op: 'decompress layer', message: `decompress layer (${kind}): ${(err as Error)?.message ?? err}`, cause: err });
  }
}

/**
 * A readable of the uncompressed bytes of `stream`. The first bytes decide the format; `mediaType`
 * is accepted for the record only (compare with compressionOfMediaType() to warn about a lie).
 * Destroying the result destroys the source.
 */
export function decompress(stream: Readable, mediaType?: string): Readable {
  void mediaType;
  const out = Readable.from(run(stream), { objectMode: false, highWaterMark: 1 << 20 });
  out.on('close', () => { if (!stream.destroyed) stream.destroy(); });
  return out;
}
